"""Registers of the plan's follow-up obligations as the views hold them at a moment: each
filing's life after review (seed §三(五)17 申报、跟踪、验收、评价) and the core-data
approvals beside the D1 findings named (数据安全法 §21). docs/reports.md "How figures
are computed". (The annual sharing reports, seed 四(二), are the departments' register's:
``projections.department_register``.)

These are readers, not rules: they list the recorded facts (business time at or before
the moment) so a report can print them next to the views' findings of I4, I5 and D1;
whether a project is untracked or a provision unapproved is the rules' judgment
(``projections.rules.obligations``, ``projections.rules.provided``), never decided here.
Pure functions over the zone's folded state; nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.facts import CST
from projections.model import Finding

State = dict[str, Any]


def _at(epoch: float | None, reference: datetime) -> datetime | None:
    """An epoch of business time, or None when it is after the moment asked about."""
    if epoch is None or epoch > reference.timestamp():
        return None
    return datetime.fromtimestamp(epoch, CST)


def _iso(text: str | None, reference: datetime) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.astimezone(CST) if moment <= reference else None


@dataclass(frozen=True)
class FilingFollowUp:
    """A filing after its review: progress reports (跟踪), acceptance (验收) and evaluation
    (评价) recorded at or before the moment; ``positions`` cite every one of them."""

    filing_id: str
    name: str
    builder: str
    status: str
    reviewed_at: datetime | None
    progress_reports: int
    last_progress_at: datetime | None
    last_stage: str | None
    last_percent: int | None
    spent_fen: int | None
    accepted_at: datetime | None
    evaluated_at: datetime | None
    rating: str | None
    positions: tuple[int, ...]


def filing_follow_up(state: State, reference: datetime) -> list[FilingFollowUp]:
    """Each filing in the order filed, with its life after review as of ``reference``."""
    out = []
    for f in sorted(state["filings"].values(), key=lambda f: f["positions"][0]):
        reports = [
            p for p in f.get("progress") or () if _at(p["reported_at"], reference) is not None
        ]
        last = max(reports, key=lambda p: (p["reported_at"], p["position"]), default=None)
        evaluation = f.get("evaluation")
        evaluated = _at(evaluation["evaluated_at"], reference) if evaluation else None
        cited = [*f["positions"], *(p["position"] for p in reports)]
        if evaluated is not None:
            cited.append(evaluation["position"])
        out.append(
            FilingFollowUp(
                f["filing_id"],
                f["name"],
                f["builder"],
                f["status"],
                _iso(f.get("reviewed_at"), reference),
                len(reports),
                _at(last["reported_at"], reference) if last else None,
                last["stage"] if last else None,
                last["progress_percent"] if last else None,
                last["spent_fen"] if last else None,
                _iso(f.get("accepted_at"), reference),
                evaluated,
                evaluation["rating"] if evaluated is not None and evaluation else None,
                tuple(sorted(set(cited))),
            )
        )
    return out


@dataclass(frozen=True)
class CoreApproval:
    """A special approval of core data (CoreDataApproval.Granted) recorded by the moment."""

    reference: str
    resource_code: str
    recipient_department: str | None
    approved_at: datetime
    valid_until: datetime | None
    withdrawn_at: datetime | None
    positions: tuple[int, ...]


@dataclass(frozen=True)
class CoreDataShared:
    """A D1 finding of the views, named: the resource, the recipient, and the approval
    that had lapsed (None: there was none)."""

    finding: Finding
    resource_code: str
    recipient: str | None
    lapsed_reference: str | None
    position: int | None  # the first uncovered provision's (the grant or the access)


@dataclass(frozen=True)
class CoreData:
    """What the risk report says of core data: the approvals and the D1 findings named."""

    core_resources: tuple[str, ...]
    approvals: tuple[CoreApproval, ...]
    shared: tuple[CoreDataShared, ...]


def core_data(state: State, reference: datetime, d1: Sequence[Finding]) -> CoreData:
    """The core resources, the approvals at ``reference`` and the views' D1 findings
    ``d1``, each named by its recipient and the approval that had lapsed.

    The views' zone state folds the facts but accesses (``Views._facts_fold``), so the
    fold's keys of D1 findings on accesses are not in it: the names are read from the
    finding's own detail, as ``projections.rules.provided`` writes it (``… provided to
    RECIPIENT (position N): no approval`` or ``approval REF no longer in force``)."""
    approvals = tuple(
        CoreApproval(
            a["reference"],
            a["resource_code"],
            a["recipient_department"],
            datetime.fromtimestamp(a["approved_at"], CST),
            None if a["valid_until"] is None else datetime.fromtimestamp(a["valid_until"], CST),
            _at(a["withdrawn_at"], reference),
            tuple(a["positions"]),
        )
        for a in state.get("core_approvals", {}).values()
        if _at(a["approved_at"], reference) is not None
    )
    core = tuple(
        sorted(
            r["code"]
            for r in state["resources"].values()
            if any(i["sensitivity"] == "core" for i in r["items"])
        )
    )
    shared = tuple(
        CoreDataShared(f, f.subject, *_named(f.detail))
        for f in sorted(d1, key=lambda f: (f.subject, f.time))
    )
    return CoreData(core, tuple(sorted(approvals, key=lambda a: a.positions)), shared)


_D1_DETAIL = re.compile(r" provided to (?P<recipient>\S+) \(position (?P<position>\d+)\): "
                        r"(?:approval (?P<lapsed>.+) no longer in force|no approval)$")  # fmt: skip


def _named(detail: str) -> tuple[str | None, str | None, int | None]:
    """(recipient, lapsed approval, provision's position) of a D1 finding's detail; Nones
    if unreadable."""
    match = _D1_DETAIL.search(detail)
    if match is None:
        return None, None, None
    return match["recipient"], match["lapsed"], int(match["position"])
