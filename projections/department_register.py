"""The departments' register: each department's CIO, its annual sharing report of a year
and its self-inspection report, as of a moment (docs/projections.md "Query API").

What a security officer or an auditor asks about a department (seed 四(四) 信息主管,
四(二) 年度共享情况报告, §三(一)1 自查报告) is shown here as the facts on record at the
moment's business time; whether a report was late or is missing is judged once, by the
rules (I3, I6, I9 in ``projections.rules``), and the console marks the rows with those
findings. This module reports the due dates in force (``projections.rules.limits``) so a
reader sees what the rule compared, and judges nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from projections.declarations import first_dated
from projections.facts import CST
from projections.rules.limits import (
    DEPARTMENT_REPORT_DUE,
    ZONE_REPORT_DUE,
    end_of_day,
    month_day,
)

State = dict[str, Any]
ZONE = "zone"  # the scope of the zone's compiled report (projections.rules.obligations)


@dataclass(frozen=True)
class ReportOnRecord:
    """An annual sharing report, or a self-inspection report, as recorded by the moment."""

    reference: str
    submitted_at: datetime
    approved_at: datetime | None  # the leading group's approval (the zone's report only)
    positions: tuple[int, ...]


@dataclass(frozen=True)
class DepartmentEntry:
    code: str
    name: str
    position: int  # its registration
    cio_name: str | None  # None: no CIO named by the moment (I6)
    cio_named_at: datetime | None
    annual_report: ReportOnRecord | None  # of the register's year (I3)
    self_inspection: ReportOnRecord | None  # the first on record (I9)


@dataclass(frozen=True)
class DepartmentRegister:
    year: int
    report_due: date  # the last day for the departments' reports of ``year``
    zone_report_due: date  # the last day for the zone's compiled report
    zone_report: ReportOnRecord | None
    departments: tuple[DepartmentEntry, ...]


def default_year(state: State, reference: datetime) -> int:
    """The latest year whose departments' reports are due by ``reference``."""
    due = month_day(state, reference, "department_report_due", DEPARTMENT_REPORT_DUE)
    year = reference.astimezone(CST).year
    return year if reference >= end_of_day(year, due) else year - 1


def register(
    state: State, reference: datetime, year: int, department: str | None = None
) -> DepartmentRegister:
    """Every department registered (or ``department``), by code, as of ``reference``."""
    reports = state.get("annual_reports", {})
    due = end_of_day(year, month_day(state, reference, "department_report_due",
                                     DEPARTMENT_REPORT_DUE))  # fmt: skip
    zone_due = end_of_day(year + 1, month_day(state, reference, "zone_report_due",
                                              ZONE_REPORT_DUE))  # fmt: skip
    entries = []
    for code, d in sorted(state["departments"].items()):
        if department is not None and code != department:
            continue
        named = d.get("cio_since") or d.get("cio_named_at")  # when the CIO shown was named
        named_at = datetime.fromisoformat(named) if named else None
        if named_at is not None and named_at > reference:
            named_at = None  # named later in business time than the moment asked
        entries.append(
            DepartmentEntry(
                code, d["name"], d["position"], d["cio_name"] if named_at else None, named_at,
                _annual(reports.get(f"{code}:{year}"), reference),
                _inspection(state, code, reference),
            )
        )  # fmt: skip
    return DepartmentRegister(
        year,
        (due - timedelta(days=1)).date(),
        (zone_due - timedelta(days=1)).date(),
        _annual(reports.get(f"{ZONE}:{year}"), reference),
        tuple(entries),
    )


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, CST)


def _annual(report: dict[str, Any] | None, reference: datetime) -> ReportOnRecord | None:
    if report is None or report["submitted_at"] > reference.timestamp():
        return None
    approved = report["approved_at"]
    if approved is not None and approved > reference.timestamp():
        approved = None
    return ReportOnRecord(
        report["reference"],
        _at(report["submitted_at"]),
        None if approved is None else _at(approved),
        tuple(report["positions"][: 1 if approved is None else 2]),
    )


def _inspection(state: State, code: str, reference: datetime) -> ReportOnRecord | None:
    found = first_dated(state, "self_inspection", code)
    if found is None or found.at > reference.timestamp():
        return None
    return ReportOnRecord(found.reference, _at(found.at), None, (found.position,))
