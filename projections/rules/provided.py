"""P2 and D1: personal information or core data provided to another department.

domain.md "Compliance rules": P2 — personal information provided to another
department with no personal-information protection impact assessment on record
(PIPL §55(3), §56); D1 — ``core`` data shared without a recorded special approval
(数据安全法 §21). A provision is a grant approved (its granted items, at its
``decided_at``) or an access served (the items read, at its ``accessed_at``) to a
department other than the provider (docs/rules-inputs.md "P2", "D1"). A finding is
about the resource (its subject is the code, so the register marks the resource):
its detail names the recipient, its position is the provision's.

Judged once per fact, against the assessments and approvals folded before it
(position order), dated by the provision's business time:
- P2 is covered by an assessment of the provider for the resource, assessed at or
  before the provision, not concluding ``not_acceptable``, matching the grant, or
  the recipient, or the whole resource (both null). One finding per (resource,
  recipient): the first uncovered provision; later ones repeat it (an access that
  quotes no grant under a grant already found is the same finding).
- D1 is covered by an approval for the resource in force at the provision
  (``approved_at`` ≤ t < min(``valid_until``, ``withdrawn_at``)) matching alike.
  One finding per (resource, recipient, approval that lapsed): a provision after an
  approval ends is a new finding citing the lapsed approval.
"""

from __future__ import annotations

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
    """P2 and D1 of ``ZoneFold``; ``_flagged`` keeps what is already found."""

    _flagged: set[str]

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
        code, provider = resource["code"], resource["provider_department"]
        key = f"P2:{code}:{recipient}"
        if key in self._flagged:
            return
        for pia in self.state.get("assessments", {}).get(code, ()):
            if (
                pia["department"] == provider
                and pia["assessed_at"] <= epoch
                and pia["conclusion"] != "not_acceptable"
                and _matches(pia, recipient, grant)
            ):
                return
        self._flagged.add(key)
        self._finding(
            "P2", code, "resource", provider, [*resource["positions"], position],
            position, datetime.fromtimestamp(epoch, CST),
            f"personal items {', '.join(items)} of {code} provided to {recipient} "
            f"(position {position}) with no personal-information impact assessment on record",
            key=key,
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
        code, provider = resource["code"], resource["provider_department"]
        lapsed: dict[str, Any] | None = None
        for approval in self.state.get("core_approvals", {}).values():
            if approval["resource_code"] != code or not _matches(approval, recipient, grant):
                continue
            if approval["approved_at"] > epoch:
                continue
            ends = [t for t in (approval["valid_until"], approval["withdrawn_at"]) if t is not None]
            end = min(ends) if ends else None
            if end is None or epoch < end:
                return  # in force
            if lapsed is None or end > lapsed["_end"]:
                lapsed = {**approval, "_end": end}
        key = f"D1:{code}:{recipient}:{lapsed['reference'] if lapsed else ''}"
        if key in self._flagged:
            return
        self._flagged.add(key)
        evidence = [*resource["positions"], position, *(lapsed["positions"] if lapsed else ())]
        why = f"approval {lapsed['reference']} no longer in force" if lapsed else "no approval"
        self._finding(
            "D1", code, "resource", provider, evidence, position,
            datetime.fromtimestamp(epoch, CST),
            f"core items {', '.join(items)} of {code} provided to {recipient} "
            f"(position {position}): {why}",
            key=key,
        )  # fmt: skip
