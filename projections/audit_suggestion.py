"""Audit suggestions folded from the ledger, and the register of their adoption.

docs/facts.md §8: the auditor's 审计建议, the department's 采纳情况反馈 (adopted,
partially or not adopted, with an explanation) and the auditor's 核实. The zone
fold (projections/zone.py) hands the three kinds to :func:`fold`, which keeps each
suggestion in the zone state with the business time of each step; :func:`register`
reads that state as of the moment asked about — the adoption the department last
declared by then, and whether the auditor had confirmed it. The audit report's
以往审计建议采纳情况 (《国家审计准则》第一百二十二条) and the console's 整改台账 read
it through ``Views.audit_suggestions``; no rule judges adoption (a suggestion may be
declined with reasons), so there is no finding here.

A step's business time after the moment is not yet a fact then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.facts import CST, Fact, when

TOPICS = ("AuditSuggestion.Issued", "AuditSuggestion.Responded", "AuditSuggestion.Confirmed")
State = dict[str, Any]


def fold(state: State, fact: Fact) -> None:
    """Apply one suggestion fact to the zone state (plain JSON, snapshot-safe)."""
    items: dict[str, Any] = state.setdefault("audit_suggestions", {})
    d, step = fact.data, fact.topic.partition(".")[2]
    if step == "Issued":
        issued = when(d["issued_at"])
        assert issued is not None
        items[fact.entity] = {
            "suggestion_id": fact.entity,
            "reference": d["reference"],
            "number": int(d["number"]),
            "department": d["department"],
            "year": int(d["year"]),
            "suggestion": d["suggestion"],
            "finding_id": d.get("finding_id"),
            "issued_at": issued.timestamp(),
            # (step, epoch, adoption or confirmed, reference or reason, explanation)
            "steps": [],
            "positions": [fact.position],
        }
        return
    item = items.get(fact.entity)
    if item is None:
        return
    item["positions"].append(fact.position)
    if step == "Responded":
        at = when(d["responded_at"])
        assert at is not None
        item["steps"].append(
            ["responded", at.timestamp(), d["adoption"], d["reference"], d["explanation"]]
        )
    elif step == "Confirmed":
        at = when(d["confirmed_at"])
        assert at is not None
        item["steps"].append(["confirmed", at.timestamp(), bool(d["confirmed"]), d["reason"], ""])


@dataclass(frozen=True)
class SuggestionEntry:
    """One audit suggestion as of a moment."""

    suggestion_id: str
    reference: str  # the audit report's 文号
    number: int  # the item within it
    department: str
    year: int  # the audited year
    suggestion: str
    finding_id: str | None
    # issued | responded | returned | confirmed: the last step by the moment
    status: str
    adoption: str | None  # adopted | partially | not_adopted: the last response by then
    explanation: str
    responses: int
    responded_at: datetime | None
    positions: tuple[int, ...]


def _entry(item: dict[str, Any], limit: float) -> SuggestionEntry:
    status, adoption, explanation, responses, responded_at = "issued", None, "", 0, None
    for kind, epoch, value, _text, said in item["steps"]:
        if epoch > limit:
            break
        if kind == "responded":
            status, adoption, explanation = "responded", value, said
            responses, responded_at = responses + 1, datetime.fromtimestamp(epoch, CST)
        else:
            status = "confirmed" if value else "returned"
    return SuggestionEntry(
        item["suggestion_id"], item["reference"], item["number"], item["department"],
        item["year"], item["suggestion"], item["finding_id"], status, adoption, explanation,
        responses, responded_at, tuple(item["positions"]),
    )  # fmt: skip


def register(state: State, reference: datetime) -> list[SuggestionEntry]:
    """Every suggestion issued by ``reference``, by audited year, 文号 and item number."""
    limit = reference.timestamp()
    entries = [
        _entry(item, limit)
        for item in state.get("audit_suggestions", {}).values()
        if item["issued_at"] <= limit
    ]
    return sorted(entries, key=lambda e: (e.year, e.reference, e.number))
