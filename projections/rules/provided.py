"""P2 and D1: personal information or core data provided to another department.

domain.md "Compliance rules": P2 — personal information provided to another
department with no personal-information protection impact assessment on record
(PIPL §55(3), §56); D1 — ``core`` data shared without a recorded special approval
(数据安全法 §21). A provision is a grant approved (its granted items, at its
``decided_at``) or an access served (the items read, at its ``accessed_at``) to a
department other than the provider (docs/rules-inputs.md "P2", "D1"). A finding is
about the resource (its subject is the code, so the register marks the resource):
its detail names the recipient, its position is the provision's.

Judged by business time, whatever the order facts are recorded in (issue 12 item 3:
recording a history late gives the findings recording it live gives). The state keeps,
per (resource, recipient, grant quoted), the provisions the judgment needs: for P2 the
earliest (an assessment covers every provision at or after it, so the earliest is the
one to cover), for D1 each distinct instant (an approval covers an interval). A
provision, an assessment or an approval folded later is judged again against them, and
a finding is re-dated or withdrawn (``FoldCore._finding(replace=True)``, ``_withdraw``).
- P2 is covered by an assessment of the provider for the resource, assessed at or
  before the provision, not concluding ``not_acceptable``, matching the grant, or
  the recipient, or the whole resource (both null). One finding per (resource,
  recipient), dated by the earliest uncovered provision.
- D1 is covered by an approval for the resource in force at the provision
  (``approved_at`` ≤ t < min(``valid_until``, ``withdrawn_at``)) matching alike.
  One finding per (resource, recipient, approval that lapsed), dated by the earliest
  uncovered provision: a provision after an approval ends is a new finding citing the
  lapsed approval.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

from projections.facts import CST
from projections.fold_core import FoldCore

PERSONAL = frozenset({"personal", "sensitive_personal"})


def guarded_items(resource: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(personal item names, core item names) of a resource."""
    items = resource["items"]
    personal = sorted(i["name"] for i in items if i["sensitivity"] in PERSONAL)
    core = sorted(i["name"] for i in items if i["sensitivity"] == "core")
    return personal, core


def _matches(cover: dict[str, Any], recipient: str, grant: str | None) -> bool:
    request, to = cover["request_id"], cover["recipient_department"]
    if request is None and to is None:
        return True
    return (request is not None and request == grant) or (to is not None and to == recipient)


class ProvidedRules(FoldCore):
    """P2 and D1 of ``ZoneFold``; ``state["provided_found"]`` keeps what is found (key ->
    the finding's business time)."""

    def _provided(
        self,
        resource: dict[str, Any],
        recipient: str,
        items: list[str],
        grant: str | None,
        position: int,
        epoch: float,
    ) -> None:
        """Judge one provision of ``items`` of ``resource`` to ``recipient`` at ``epoch``."""
        personal, core = resource.get("personal_items"), resource.get("core_items")
        if personal is None or core is None:  # a state folded before these keys
            personal, core = guarded_items(resource)
        given = set(items)
        if personal and given.intersection(personal):
            self._p2(resource, recipient, sorted(given.intersection(personal)), grant,
                     position, epoch)  # fmt: skip
        if core and given.intersection(core):
            self._d1(resource, recipient, sorted(given.intersection(core)), grant,
                     position, epoch)  # fmt: skip

    def _p2(
        self,
        resource: dict[str, Any],
        recipient: str,
        items: list[str],
        grant: str | None,
        position: int,
        epoch: float,
    ) -> None:
        groups = _groups(self.state, "provisions", resource["code"], recipient)
        first = groups.get(grant or "")
        if first is not None and first[0] <= epoch:
            return  # an earlier provision of the same grant is judged already
        groups[grant or ""] = [epoch, position, items]
        self._judge_p2(resource, recipient)

    def _judge_p2(self, resource: dict[str, Any], recipient: str) -> None:
        code, provider = resource["code"], resource["provider_department"]
        pias = [
            pia for pia in self.state.get("assessments", {}).get(code, ())
            if pia["department"] == provider and pia["conclusion"] != "not_acceptable"
        ]  # fmt: skip
        uncovered = [
            (epoch, position, items)
            for grant, (epoch, position, items) in _groups(
                self.state, "provisions", code, recipient
            ).items()
            if not any(
                pia["assessed_at"] <= epoch and _matches(pia, recipient, grant or None)
                for pia in pias
            )
        ]
        key = f"P2:{code}:{recipient}"
        found = self.state.setdefault("provided_found", {})
        before = found.get(key)
        if not uncovered:
            if before is not None:
                del found[key]
                self._withdraw("P2", key)
            return
        epoch, position, items = min(uncovered, key=lambda u: (u[0], u[1]))
        if before == epoch:
            return
        found[key] = epoch
        self._finding(
            "P2", code, "resource", provider, [*resource["positions"], position],
            position, datetime.fromtimestamp(epoch, CST),
            f"personal items {', '.join(items)} of {code} provided to {recipient} "
            f"(position {position}) with no personal-information impact assessment on record",
            key=key, replace=before is not None,
        )  # fmt: skip

    def _d1(
        self,
        resource: dict[str, Any],
        recipient: str,
        items: list[str],
        grant: str | None,
        position: int,
        epoch: float,
    ) -> None:
        times = _groups(self.state, "core_provisions", resource["code"], recipient)
        provisions = times.setdefault(grant or "", [])
        at = bisect.bisect_left(provisions, [epoch])
        if at < len(provisions) and provisions[at][0] == epoch:
            return  # the same instant, the same judgment
        provisions.insert(at, [epoch, position, items])
        lapsed = self._d1_lapsed(resource["code"], recipient, grant or "", epoch)
        if lapsed is None:
            return
        key = _d1_key(resource["code"], recipient, lapsed)
        before = self.state.setdefault("provided_found", {}).get(key)
        if before is None or epoch < before:
            self._d1_finding(resource, recipient, key, lapsed, [epoch, position, items], before)

    def _d1_lapsed(
        self, code: str, recipient: str, grant: str, epoch: float
    ) -> dict[str, Any] | None:
        """None if an approval covers the provision; else the approval that lapsed last
        before it (``{}``: none was ever in force)."""
        lapsed: dict[str, Any] = {}
        for approval in self.state.get("core_approvals", {}).values():
            if approval["resource_code"] != code or not _matches(
                approval, recipient, grant or None
            ):
                continue
            if approval["approved_at"] > epoch:
                continue
            ends = [t for t in (approval["valid_until"], approval["withdrawn_at"]) if t is not None]
            end = min(ends) if ends else None
            if end is None or epoch < end:
                return None  # in force
            if not lapsed or end > lapsed["_end"]:
                lapsed = {**approval, "_end": end}
        return lapsed

    def _d1_finding(
        self,
        resource: dict[str, Any],
        recipient: str,
        key: str,
        lapsed: dict[str, Any],
        provision: list[Any],
        before: float | None,
    ) -> None:
        epoch, position, items = provision
        code = resource["code"]
        self.state.setdefault("provided_found", {})[key] = epoch
        evidence = [*resource["positions"], position, *lapsed.get("positions", ())]
        why = f"approval {lapsed['reference']} no longer in force" if lapsed else "no approval"
        self._finding(
            "D1", code, "resource", resource["provider_department"], evidence, position,
            datetime.fromtimestamp(epoch, CST),
            f"core items {', '.join(items)} of {code} provided to {recipient} "
            f"(position {position}): {why}",
            key=key, replace=before is not None,
        )  # fmt: skip

    def _rejudge_provided(self, code: str) -> None:
        """An assessment or an approval folded (perhaps recorded late): P2 and D1 of
        ``code`` judged again over every provision kept."""
        resource = self.state["resources"].get(code)
        if resource is None:
            return
        for recipient in self.state.get("provisions", {}).get(code, {}):
            self._judge_p2(resource, recipient)
        found = self.state.setdefault("provided_found", {})
        for recipient, grants in self.state.get("core_provisions", {}).get(code, {}).items():
            earliest: dict[str, tuple[list[Any], dict[str, Any]]] = {}
            for grant, provisions in grants.items():
                for provision in provisions:
                    lapsed = self._d1_lapsed(code, recipient, grant, provision[0])
                    if lapsed is None:
                        continue
                    key = _d1_key(code, recipient, lapsed)
                    if key not in earliest or provision[0] < earliest[key][0][0]:
                        earliest[key] = (provision, lapsed)
            prefix = f"D1:{code}:{recipient}:"
            for key in [k for k in found if k.startswith(prefix) and k not in earliest]:
                del found[key]
                self._withdraw("D1", key)
            for key, (provision, lapsed) in earliest.items():
                if found.get(key) != provision[0]:
                    self._d1_finding(resource, recipient, key, lapsed, provision, found.get(key))


def _groups(state: dict[str, Any], name: str, code: str, recipient: str) -> dict[str, Any]:
    """The provisions kept for (``code``, ``recipient``), by grant quoted ("" for none)."""
    by_code: dict[str, dict[str, Any]] = state.setdefault(name, {}).setdefault(code, {})
    return by_code.setdefault(recipient, {})


def _d1_key(code: str, recipient: str, lapsed: dict[str, Any]) -> str:
    return f"D1:{code}:{recipient}:{lapsed['reference'] if lapsed else ''}"
