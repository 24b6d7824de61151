"""Rectifications folded from the ledger, the register of them, and rule R1 (overdue).

docs/facts.md §8: a finding's 整改通知 (deadline, responsible department), the
department's 整改报告 and the auditor's verification. The zone fold
(projections/zone.py) hands the three kinds to :func:`fold`, which keeps each
rectification in the zone state with the business time of each step; the
judgments read that state as of the moment asked about:

- :func:`register`: each rectification's status as of the moment — ``open``
  (notified, reported or not accepted, deadline not passed), ``overdue`` (the
  end of the deadline day, China Standard Time, has passed without an accepted
  verification at or before the moment) or ``accepted``;
- :func:`overdue`: rule R1 (projections/rules/catalogue.py), one finding per
  overdue rectification, dated at the end of its deadline day.

A step's business time after the moment is not yet a fact then: as of a date,
the fold has only the facts effective by it; as of a position, a verification
dated later than the moment does not yet count as acceptance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from projections.facts import CST, Fact, day, when

TOPICS = ("Rectification.Notified", "Rectification.Reported", "Rectification.Verified")
State = dict[str, Any]


def fold(state: State, fact: Fact) -> None:
    """Apply one rectification fact to the zone state (plain JSON, snapshot-safe)."""
    items: dict[str, Any] = state.setdefault("rectifications", {})
    d, step = fact.data, fact.topic.partition(".")[2]
    if step == "Notified":
        notified = when(d["notified_at"])
        deadline = day(d["deadline"])
        assert notified is not None and deadline is not None
        items[fact.entity] = {
            "rectification_id": fact.entity,
            "finding_id": d["finding_id"],
            "rule": d.get("rule"),
            "department": d["department"],
            "reference": d["reference"],
            "requirement": d["requirement"],
            "deadline": deadline.isoformat(),
            "notified_at": notified.timestamp(),
            "steps": [],  # (step, epoch, accepted or None, reference or reason)
            "positions": [fact.position],
        }
        return
    item = items.get(fact.entity)
    if item is None:
        return
    item["positions"].append(fact.position)
    if step == "Reported":
        at = when(d["reported_at"])
        assert at is not None
        item["steps"].append(["reported", at.timestamp(), None, d["reference"]])
    elif step == "Verified":
        at = when(d["verified_at"])
        assert at is not None
        item["steps"].append(["verified", at.timestamp(), bool(d["accepted"]), d["reason"]])


def deadline_end(deadline: date) -> datetime:
    """The first moment after the deadline day, China Standard Time."""
    return datetime.combine(deadline + timedelta(days=1), time(), CST)


@dataclass(frozen=True)
class RectificationEntry:
    """One row of the rectification register as of a moment."""

    rectification_id: str
    finding_id: str
    rule: str | None
    department: str
    reference: str
    requirement: str
    deadline: date
    status: str  # open | overdue | accepted
    step: str  # notified | reported | not_accepted | accepted: the last step by the moment
    reports: int
    accepted_at: datetime | None
    positions: tuple[int, ...]


def _entry(item: dict[str, Any], reference: datetime) -> RectificationEntry:
    limit = reference.timestamp()
    step, reports, accepted_at = "notified", 0, None
    for kind, epoch, accepted, _text in item["steps"]:
        if epoch > limit:
            break
        if kind == "reported":
            step, reports = "reported", reports + 1
        else:
            step = "accepted" if accepted else "not_accepted"
            if accepted:
                accepted_at = datetime.fromtimestamp(epoch, CST)
    deadline = date.fromisoformat(item["deadline"])
    if accepted_at is not None:
        status = "accepted"
    elif reference >= deadline_end(deadline):
        status = "overdue"
    else:
        status = "open"
    return RectificationEntry(
        item["rectification_id"], item["finding_id"], item["rule"], item["department"],
        item["reference"], item["requirement"], deadline, status, step, reports, accepted_at,
        tuple(item["positions"]),
    )  # fmt: skip


def register(state: State, reference: datetime) -> list[RectificationEntry]:
    """Every rectification notified by ``reference``, by deadline then finding."""
    limit = reference.timestamp()
    entries = [
        _entry(item, reference)
        for item in state.get("rectifications", {}).values()
        if item["notified_at"] <= limit
    ]
    return sorted(entries, key=lambda e: (e.deadline, e.finding_id))


def overdue(
    state: State, reference: datetime
) -> Iterator[tuple[str, str, list[int], datetime, str]]:
    """R1: (subject, department, positions, since, detail) of each overdue rectification."""
    for entry in register(state, reference):
        if entry.status == "overdue":
            yield (
                entry.rectification_id,
                entry.department,
                list(entry.positions),
                deadline_end(entry.deadline),
                f"rectification of finding {entry.finding_id} ({entry.reference}) by "
                f"{entry.department} not accepted by its deadline {entry.deadline.isoformat()} "
                f"(last step: {entry.step})",
            )
