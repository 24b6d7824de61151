"""Access verdicts judged again when a fact recorded late changes the terms at their time.

domain.md S1 and S2 judge an access by the terms "at the access time" (business time).
The platform's verdict is judged once, at ingest (``security.access.evaluate_access``),
among the terms on record then; a grant's approval or revocation, or a reclassification,
recorded *after* an access but dated at or before it changes the terms at that access's
time. When the fold meets such a fact, it selects the accesses already folded whose
``accessed_at`` the fact covers (the views keep what a judgment needs in each access's
``events`` row, read through ``FoldCore.folded_accesses``), judges each again with the
one engine, ``security.access.evaluate_access``, against the fold's terms, and where the
verdict changes closes and opens finding versions (S1–S4, P1, S3 on a lapsed grant) at
the late fact's position (docs/projections.md §Recorded late, §Findings are versions).

What is selected: for a grant's approval or revocation dated T, the accesses of the
grant's department to its resource, quoting that grant or none, at or after T; for a
reclassification dated T, the accesses to the resource at or after T, before the next
classification. Whether any folded access can be covered is known from the state
(``state["access_latest"]``: the latest ``accessed_at`` per resource and department,
provider's own reads left out), so a fact recorded in order reads nothing. The current
verdict of an access judged again is kept in ``state["rejudged"]`` (position -> reasons)
only while it differs from the recorded one. An access recorded as S5 (its code not in
the catalogue on record) is not judged again: S5 is judged on record, not by time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import orjson

from ledger.domain import AccessReport, SharingType
from projections.facts import CST
from projections.rules.folded import FoldedRules, on_lapsed_grant, verdict_rules
from security.access import GrantTerms, ResourceTerms, SharingReadModel, evaluate_access

# An access as the views keep it: position, platform event id, accessor, department,
# resource code, items read (JSON), purpose ('' for none), grant quoted (32 hex digits or
# None), accessed_at (epoch seconds), the recorded verdict's reasons (comma-joined).
FoldedAccess = tuple[int, str, str, str, str, str, str | None, str | None, float, str]

_SHARING = frozenset(t.value for t in SharingType)
_GRANTED = frozenset({"approved", "revoked", "expired"})


class FoldedAccesses(Protocol):
    """The accesses folded before position ``before`` to resource ``code`` with
    ``since <= accessed_at < until`` (no bound: None), of ``department`` if given, in
    position order (``projections.view_rows.FoldedAccessRows``)."""

    def __call__(
        self, code: str, since: float, until: float | None, before: int, department: str | None
    ) -> list[FoldedAccess]: ...


def classify(resource: dict[str, Any], epoch: float, sharing_type: str) -> None:
    """Keep a classification with the business time it is in force from, sorted by it,
    ties in recording order (``Resource.classified``, which ``sharing_type_at`` reads)."""
    classified = resource.setdefault("classified", [])
    classified.append([epoch, sharing_type])
    classified.sort(key=lambda pair: pair[0])


def _grant_terms(request: dict[str, Any]) -> GrantTerms | None:
    """What ``security.access.grant_terms`` makes of the request, from the fold's state."""
    if request["status"] not in _GRANTED or not request["expires_at"] or not request["decided_at"]:
        return None
    revoked = request["revoked_at"]
    return GrantTerms(
        grant_id=UUID(request["request_id"]),
        department=request["requester_department"],
        resource_code=request["resource_code"],
        items=frozenset(request["granted_items"]),
        purpose=request["purpose"],
        approved_at=datetime.fromisoformat(request["decided_at"]),
        expires_at=datetime.fromisoformat(request["expires_at"]),
        revoked_at=datetime.fromisoformat(revoked) if revoked else None,
    )


def _report(row: FoldedAccess) -> AccessReport | None:
    """The access as the platform reported it, as far as the verdict reads it."""
    _, event_id, accessor, department, code, items, purpose, grant, epoch, _ = row
    try:
        quoted = UUID(grant) if grant else None
    except ValueError:
        quoted = UUID(int=0)  # not a grant's id: quotes no grant on record (S2)
    read = orjson.loads(items)
    if not isinstance(read, list) or not all(isinstance(item, str) for item in read):
        return None
    return AccessReport(
        event_id, accessor, department, None, code, tuple(read), 0, purpose or None, quoted,
        None, datetime.fromtimestamp(epoch, CST),
    )  # fmt: skip


class RejudgedRules(FoldedRules):
    """S1–S4 and P1 of accesses folded before a grant or classification recorded late."""

    folded_accesses: FoldedAccesses | None

    def _rejudge_grant(self, request: dict[str, Any], since: datetime | None) -> None:
        """A grant approved or revoked from ``since``: the accesses of its department to its
        resource, quoting it or no grant, at or after then, judged again."""
        if since is None or self.folded_accesses is None:
            return
        department, code = request["requester_department"], request["resource_code"]
        latest = self.state["access_latest"].get(code, {}).get(department)
        epoch = since.timestamp()
        if latest is None or latest < epoch:
            return  # no access folded at or after it: recorded in order
        grant = request["request_id"]
        rows = self.folded_accesses(code, epoch, None, self.folding, department)
        self._rejudge(code, [row for row in rows if row[7] in (None, grant)])

    def _rejudge_classified(self, resource: dict[str, Any], epoch: float) -> None:
        """A classification in force from ``epoch``: the accesses to the resource from then
        until the next classification, judged again."""
        latest = self.state["access_latest"].get(resource["code"])
        if self.folded_accesses is None or not latest or max(latest.values()) < epoch:
            return
        later = [since for since, _ in resource["classified"] if since > epoch]
        until = min(later) if later else None
        self._rejudge(
            resource["code"],
            self.folded_accesses(resource["code"], epoch, until, self.folding, None),
        )

    def _sharing_model(self, code: str) -> SharingReadModel | None:
        """The terms the engine reads, as folded up to the fact being folded: the resource
        with its classifications by business time, and the grants for it."""
        resource = self.state["resources"].get(code)
        if resource is None or resource["sharing_type"] not in _SHARING:
            return None
        classified = tuple(
            (datetime.fromtimestamp(since, CST), SharingType(sharing))
            for since, sharing in resource.get("classified", ())
            if sharing in _SHARING
        )
        terms = ResourceTerms(
            code, resource["provider_department"], SharingType(resource["sharing_type"]),
            frozenset(resource["sensitive_personal"]), classified,
        )  # fmt: skip
        grants = []
        for request in self.state["requests"].values():
            if request["resource_code"] == code:
                try:
                    found = _grant_terms(request)
                except ValueError:  # an id or a time the engine cannot read: no grant
                    continue
                if found is not None:
                    grants.append(found)
        return SharingReadModel.build((terms,), grants)

    def _rejudge(self, code: str, rows: list[FoldedAccess]) -> None:
        model = self._sharing_model(code) if rows else None
        if model is None:
            return
        provider = model.resources[code].provider_department
        judged: dict[str, list[str]] = self.state["rejudged"]
        for row in rows:
            key, recorded = str(row[0]), [r for r in row[9].split(",") if r]
            old = judged.get(key, recorded)
            if row[3] == provider or "unknown_resource" in old:
                continue
            report = _report(row)
            if report is None:
                continue
            new = [reason.value for reason in evaluate_access(report, model).reasons]
            if sorted(new) == sorted(old):
                continue
            if sorted(new) == sorted(recorded):
                del judged[key]
            else:
                judged[key] = new
            self._verdict_changed(row, list(report.items), old, new)

    def _verdict_changed(
        self, row: FoldedAccess, items: list[str], old: list[str], new: list[str]
    ) -> None:
        """Close the findings the old verdict made and open the new one's, at the fact
        being folded; a finding both make alike stands as it is."""
        position, event_id, accessor, department, code, _, _, grant, epoch, _ = row
        resource = self.state["resources"][code]
        sensitive = set(resource["sensitive_personal"])
        prefix = f"{accessor} ({department}) read {code}: "
        evidence = [position, *self._grant_positions(grant), self.folding]
        was = {
            rule: prefix + ", ".join(why)
            for rule, why in verdict_rules(old, items, sensitive).items()
        }
        now = {
            rule: prefix + ", ".join(why)
            for rule, why in verdict_rules(new, items, sensitive).items()
        }
        proofs = dict.fromkeys(now, evidence)
        kept = [event_id, epoch, items, position, grant, accessor, ""]
        if on_lapsed_grant(old):  # S3 on the lapsed grant, as it stands
            stored = self._let_go(department, code, position)
            _, _, detail = self._lapsed_s3(department, code, stored or kept)
            if detail and (stored is None or stored[6]):
                was["S3"] = detail
        if on_lapsed_grant(new):
            kept[6], lapsed_evidence, detail = self._lapsed_s3(department, code, kept)
            if detail:
                now["S3"], proofs["S3"] = detail, [*lapsed_evidence, self.folding]
            if not self._settled(department, code, kept):
                key = f"{department}\x1f{code}"
                self.state["lapsed_accesses"].setdefault(key, []).append(kept)
        at = datetime.fromtimestamp(epoch, CST)
        for rule in sorted(was.keys() | now.keys()):
            before, after = was.get(rule), now.get(rule)
            if before == after:
                continue
            if after is None:
                self._withdraw(rule, event_id)
            else:
                self._finding(
                    rule, event_id, "access", department, proofs[rule], position, at, after,
                    replace=before is not None,
                )  # fmt: skip

    def _let_go(self, department: str, code: str, position: int) -> list[Any] | None:
        """Take the access at ``position`` out of the lapsed accesses kept for S3."""
        key = f"{department}\x1f{code}"
        kept = self.state["lapsed_accesses"].get(key, [])
        for i, access in enumerate(kept):
            if access[3] == position:
                del kept[i]
                if not kept:
                    del self.state["lapsed_accesses"][key]
                return list(access)
        return None
