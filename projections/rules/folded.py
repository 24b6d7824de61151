"""The rules an event proves at the moment it happens, judged while the zone is folded.

domain.md "Compliance rules": S1–S5 and P1 from an access's verdict (and S3 again on
a lapsed grant: an access on an expired or revoked grant that reads items the grant
never gave is S2 and S3), S12 and D2 when a resource is shared without its
safeguards, F1–F4 at a fund decision against the state then. F5 and S7 are one line
each where their fact is folded (``projections.zone``). Severities and names come
from the one catalogue (``projections.rules.catalogue``). S12, D2 and S3 on a lapsed
grant are judged by business time whatever the recording order: a fact recorded late
re-dates or withdraws them (docs/projections.md §Recorded late).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.facts import CST, AccessState, uuid_text
from projections.rules.fund_state import FundStateRules
from projections.rules.fund_sums import FundSumRules

# AccessReason value -> rule (severities: projections.rules.catalogue). PURPOSE_MISMATCH
# is P1 on sensitive items.
ACCESS_RULES: dict[str, str] = {
    "resource_not_shareable": "S1",
    "no_grant": "S2",
    "grant_expired": "S2",
    "grant_revoked": "S2",
    "items_beyond_grant": "S3",
    "purpose_mismatch": "S4",
    "unknown_resource": "S5",
}


# The S2 reasons of a grant no longer in force: S3 is then judged on the lapsed grant.
LAPSED = frozenset({"grant_expired", "grant_revoked"})


def verdict_rules(
    reasons: list[str], items: list[str], sensitive: set[str]
) -> dict[str, list[str]]:
    """Rule -> the verdict's reasons for it (PURPOSE_MISMATCH on sensitive items is P1)."""
    found: dict[str, list[str]] = {}
    for reason in reasons:
        rule = ACCESS_RULES[reason]
        if reason == "purpose_mismatch" and sensitive.intersection(items):
            rule = "P1"
        found.setdefault(rule, []).append(reason)
    return found


def on_lapsed_grant(reasons: list[str]) -> bool:
    """An S2 verdict on an expired or revoked grant, S3 left to judge on that grant."""
    return "items_beyond_grant" not in reasons and not LAPSED.isdisjoint(reasons)


# The safeguards S12 asks of a shared resource (domain.md S12): state key -> name.
SAFEGUARDS = (("owner", "owner"), ("controller", "controller"), ("assessment", "risk assessment"))


class FoldedRules(FundStateRules, FundSumRules):
    """The rule families of ``ZoneFold`` proven by one fact."""

    _by_user: dict[tuple[str, str], list[str]] | None

    def _shared(
        self,
        code: str,
        department: str,
        position: int,
        at: datetime | None,
        epoch: float | None = None,
    ) -> None:
        """S12 and D2: a resource shared (grant approved, access served) without its
        safeguards, judged at its first share in business time (``state["first_shares"]``:
        code -> [epoch, position, department]), whatever the order it was recorded in."""
        resource = self.state["resources"].get(code)
        if resource is None or department == resource["provider_department"]:
            return
        if at is not None:
            epoch = at.timestamp()
        if epoch is None:
            epoch = self.state["clock_epoch"] or 0.0
        first = self.state["first_shares"].get(code)
        if first is not None and first[0] <= epoch:
            return  # an earlier share is judged already
        self.state["first_shares"][code] = [epoch, position, department]
        self._judge_shared(resource)

    def _safeguarded(self, resource: dict[str, Any], safeguard: str, epoch: float) -> None:
        """An owner, a controller or a risk assessment on record from ``epoch`` (its
        business time): S12 and D2 judged again if the resource was shared."""
        since = resource.setdefault("safeguarded_at", {})
        if since.get(safeguard) is None or epoch < since[safeguard]:
            since[safeguard] = epoch
            if resource["code"] in self.state["first_shares"]:
                self._judge_shared(resource)

    def _judge_shared(self, resource: dict[str, Any]) -> None:
        code = resource["code"]
        epoch, position, department = self.state["first_shares"][code]
        since = resource.get("safeguarded_at") or {}

        def lacked(safeguard: str) -> bool:
            on_record = since.get(safeguard)
            return on_record is None or on_record > epoch

        missing = [
            name
            for safeguard, name in SAFEGUARDS
            if lacked(safeguard)
        ]  # fmt: skip
        important = any(i["sensitivity"] == "important" for i in resource["items"])
        found = self.state["shared_found"]
        for rule, due, detail in (
            ("S12", bool(missing), f"{code} shared with {department} without {', '.join(missing)}"),
            (
                "D2",
                important and lacked("assessment"),
                f"important data of {code} shared before any risk assessment",
            ),
        ):
            before = found.get(f"{rule}:{code}")  # [time, detail] as found
            if due and before != [epoch, detail]:
                found[f"{rule}:{code}"] = [epoch, detail]
                self._finding(
                    rule, code, "resource", resource["provider_department"],
                    [*resource["positions"], position], position,
                    datetime.fromtimestamp(epoch, CST), detail, replace=before is not None,
                )  # fmt: skip
            elif not due and before is not None:
                del found[f"{rule}:{code}"]
                self._withdraw(rule, code)

    def _fund_rules(self, decision: dict[str, Any], position: int, at: datetime | None) -> None:
        """F1–F8 against the state at the decision (seed §三(三)12, §三(一)3, §三(五)17);
        F1–F4 and F6 as of its business time (``projections.rules.fund_state``), F7 and F8
        over the decisions and accesses by business time (``.fund_sums``)."""
        self._fund_state_rules(decision, position, at)  # F1–F4, F6 (fund_state)
        self._fund_sums(decision)  # F7, F8 (fund_sums)

    def _access_findings(
        self,
        position: int,
        a: AccessState,
        resource: dict[str, Any] | None,
        reasons: list[str],
        at: datetime,
    ) -> None:
        evidence = [position, *self._grant_positions(a.grant_id)]
        sensitive = set(resource["sensitive_personal"]) if resource else set()
        if on_lapsed_grant(reasons):
            self._lapsed_access(position, a, at.timestamp())
        for rule, why in verdict_rules(reasons, a.items, sensitive).items():
            self._finding(
                rule, a.platform_event_id, "access", a.department, evidence,
                position, at,
                f"{a.accessor_id} ({a.department}) read {a.resource_code}: " + ", ".join(why),
            )  # fmt: skip

    def _lapsed_access(self, position: int, a: AccessState, epoch: float) -> None:
        """S3 on an access under a grant no longer in force (S2: expired or revoked): the
        items it read that the grant never gave (domain.md S2 and S3 both hold). The
        access is kept (``state["lapsed_accesses"]``) and judged again when a grant of
        its department for its resource changes, the grant may be recorded after it,
        until its judgment is final (``_settled``): then it is no longer kept, so the
        state grows with the accesses a fact recorded late can still change, not with
        every lapsed access."""
        kept = [a.platform_event_id, epoch, list(a.items), position,
                uuid_text(a.grant_id), a.accessor_id, ""]  # fmt: skip
        self._judge_lapsed(a.department, a.resource_code, kept)
        if not self._settled(a.department, a.resource_code, kept):
            key = f"{a.department}\x1f{a.resource_code}"
            self.state["lapsed_accesses"].setdefault(key, []).append(kept)

    def _rejudge_lapsed(self, request: dict[str, Any]) -> None:
        """A grant submitted, decided, revoked or expired: S3 of the lapsed accesses of
        its department for its resource judged again; those now settled are let go."""
        department, code = request["requester_department"], request["resource_code"]
        key = f"{department}\x1f{code}"
        accesses = self.state["lapsed_accesses"].get(key)
        if not accesses:
            return
        for kept in accesses:
            self._judge_lapsed(department, code, kept)
        left = [kept for kept in accesses if not self._settled(department, code, kept)]
        if len(left) < len(accesses):
            if left:
                self.state["lapsed_accesses"][key] = left
            else:
                del self.state["lapsed_accesses"][key]

    def _settled(self, department: str, code: str, kept: list[Any]) -> bool:
        """No fact recorded later can change this access's S3 (docs/projections.md
        §Recorded late): it quotes a grant on record that is another department's or
        resource's (never its lapsed grant) or is decided (a request is decided once:
        its granted items and expiry never change, ``_lapsed_grant`` reads only it). An
        access quoting no grant, or one not yet recorded or decided, stays kept: a grant
        recorded late may be the one that lapsed before it."""
        quoted = self._quoted(kept[4], kept[1])
        if quoted is None:
            return False
        mine = (quoted["requester_department"], quoted["resource_code"]) == (department, code)
        return not mine or quoted["status"] != "pending"

    def _judge_lapsed(self, department: str, code: str, kept: list[Any]) -> None:
        event_id, epoch, _, position, _, _, judged = kept
        now, evidence, detail = self._lapsed_s3(department, code, kept)
        if now == judged:
            return
        kept[6] = now
        if not now:
            self._withdraw("S3", event_id)
            return
        self._finding(
            "S3", event_id, "access", department, evidence, position,
            datetime.fromtimestamp(epoch, CST), detail, replace=bool(judged),
        )  # fmt: skip

    def _lapsed_s3(self, department: str, code: str, kept: list[Any]) -> tuple[str, list[int], str]:
        """S3 of a kept lapsed access as the state stands: (its judgment, '' if none: the
        lapsed grant and the items beyond it), its evidence and its detail."""
        _, epoch, items, position, grant, accessor, _ = kept
        lapsed = self._lapsed_grant(department, code, grant, epoch)
        beyond = sorted(set(items) - set(lapsed["granted_items"])) if lapsed else []
        if lapsed is None or not beyond:
            return "", [], ""
        return (
            f"{lapsed['request_id']}:{','.join(beyond)}",
            [position, *self._grant_positions(grant), *lapsed["positions"]],
            f"{accessor} ({department}) read {code}: "
            f"items_beyond_grant ({', '.join(beyond)} never granted)",
        )

    def _quoted(self, grant: str | None, epoch: float) -> dict[str, Any] | None:
        """The request an access quotes, if it had been submitted by the access's time: one
        submitted later was not there to be quoted then (business time), whatever the
        order the two were recorded in, and the access is judged as quoting none."""
        quoted: dict[str, Any] | None = self.state["requests"].get(grant or "")
        if quoted is None or datetime.fromisoformat(quoted["submitted_at"]).timestamp() > epoch:
            return None
        return quoted

    def _lapsed_grant(
        self, department: str, code: str, grant: str | None, epoch: float
    ) -> dict[str, Any] | None:
        """The grant the S2 verdict names: the quoted one if it is this department's for
        this resource, else theirs that ended last before the access (security.access)."""
        requests = self.state["requests"]
        user = (department, code)
        quoted = self._quoted(grant, epoch)
        if quoted is not None:
            ok = (quoted["requester_department"], quoted["resource_code"]) == user
            return quoted if ok and quoted["expires_at"] else None
        if self._by_user is None:
            self._by_user = {}
            for request_id, r in requests.items():
                key = (r["requester_department"], r["resource_code"])
                self._by_user.setdefault(key, []).append(request_id)
        ended: list[tuple[float, dict[str, Any]]] = []
        for request_id in self._by_user.get(user, ()):
            r = requests[request_id]
            if not r["expires_at"]:
                continue
            end = datetime.fromisoformat(r["expires_at"]).timestamp()
            if r["revoked_at"]:
                end = min(end, datetime.fromisoformat(r["revoked_at"]).timestamp())
            if end <= epoch:
                ended.append((end, r))
        return max(ended, key=lambda pair: pair[0])[1] if ended else None
