"""S11, I3 and the project follow-up rules, judged at the moment asked about.

- S11 (编制指南 "动态更新"; domain.md): a resource not refreshed within its
  ``update_cycle``. Due at the latest refresh (``ResourceRefresh.Reported``,
  business time ≤ the moment), else its registration, plus the cycle and the grace
  (``projections.rules.limits``); late once the moment passes that.
- I3 (seed 四(二)): a department with no report of year *y* submitted by
  ``department_report_due`` of *y* (default 12-31); the zone's compiled report by
  ``zone_report_due`` of *y*+1 (default 01-31), and the leading group's approval of
  it by then plus ``zone_approval_grace_days``. A late report stays a finding and
  cites the report. Judged for departments registered before the deadline.
- I4, I5 (seed §三(五)17 "申报、跟踪、验收、评价"): an approved project not yet
  accepted with no progress report for ``project_tracking_interval_days``; an
  accepted project with no evaluation ``project_evaluation_days`` after acceptance.

Every finding is dated when it became due (docs/facts.md §1), and its evidence is
the positions named in docs/rules-inputs.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from ledger.domain.calendar import WorkingCalendar
from projections.facts import CST
from projections.rules.calendars import calendar_at, working_calendar
from projections.rules.limits import (
    CIO_GRACE_DAYS,
    DEPARTMENT_REPORT_DUE,
    PROCESSOR_END_GRACE_DAYS,
    PROJECT_EVALUATION_DAYS,
    PROJECT_TRACKING_INTERVAL_DAYS,
    QUALITY_OBJECTION_WORKING_DAYS,
    REFRESH_GRACE_DAYS,
    ZONE_APPROVAL_GRACE_DAYS,
    ZONE_REPORT_DUE,
    cycle_days,
    end_of_day,
    limit,
    month_day,
)

State = dict[str, Any]
Row = Callable[[str, str, str, "str | None", list[int], datetime, str], Any]
ZONE = "zone"


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, CST)


def stale_resources(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """S11 at ``reference``."""
    refreshes = state.get("refreshes", {})
    grace = limit(state, reference, "refresh_grace_days", REFRESH_GRACE_DAYS)
    for resource in state["resources"].values():
        days = cycle_days(state, reference, resource["update_cycle"])
        registered = resource.get("registered_at")
        if days is None or not registered:
            continue
        code, positions = resource["code"], list(resource["positions"])
        last = refreshes.get(code)
        since = datetime.fromisoformat(registered)
        if last is not None and last["refreshed_at"] <= reference.timestamp():
            since = max(since, _at(last["refreshed_at"]))
            positions.append(last["position"])
        due = since + timedelta(days=days + grace)
        if reference > due:
            yield row(
                "S11", code, "resource", resource["provider_department"], positions, due,
                f"{code} ({resource['update_cycle']}) not refreshed since "
                f"{since.astimezone(CST):%Y-%m-%d}, due by {due.astimezone(CST):%Y-%m-%d %H:%M}",
            )  # fmt: skip


def annual_reports(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """I3 at ``reference``: departments' reports, then the zone's and its approval."""
    reports = state.get("annual_reports", {})
    departments = [d for d in state["departments"].values() if d.get("registered_at")]
    if not departments:
        return
    first = min(datetime.fromisoformat(d["registered_at"]).year for d in departments)
    now = reference.timestamp()
    for year in range(first, reference.astimezone(CST).year + 1):
        due_text = month_day(state, reference, "department_report_due", DEPARTMENT_REPORT_DUE)
        due = end_of_day(year, due_text)
        if reference < due:
            continue
        for d in departments:
            if datetime.fromisoformat(d["registered_at"]) >= due:
                continue
            report = reports.get(f"{d['code']}:{year}")
            yield from _late(row, report, reference, due, d["code"], year,
                             [d["position"]], f"department {d['code']}")  # fmt: skip
        zone_due = end_of_day(year + 1, month_day(state, reference, "zone_report_due",
                                                  ZONE_REPORT_DUE))  # fmt: skip
        if reference < zone_due:
            continue
        zone = reports.get(f"{ZONE}:{year}")
        positions = [d["position"] for d in departments]
        yield from _late(row, zone, reference, zone_due, ZONE, year, positions, "the zone")
        grace = limit(state, reference, "zone_approval_grace_days", ZONE_APPROVAL_GRACE_DAYS)
        approval_due = zone_due + timedelta(days=grace)
        approved = zone["approved_at"] if zone is not None else None
        in_time = approved is not None and approved < min(approval_due, reference).timestamp()
        if (
            zone is not None
            and zone["submitted_at"] <= now
            and reference >= approval_due
            and (not in_time)
        ):
            yield row(
                "I3", f"{ZONE}:{year}:approval", "annual_report", "ndrc", zone["positions"],
                approval_due,
                f"the zone's {year} sharing report not approved by the leading group "
                f"by {(approval_due - timedelta(days=1)):%Y-%m-%d}",
            )  # fmt: skip


def _late(
    row: Row,
    report: dict[str, Any] | None,
    reference: datetime,
    due: datetime,
    scope: str,
    year: int,
    positions: list[int],
    who: str,
) -> Iterator[Any]:
    deadline = f"{(due - timedelta(days=1)):%Y-%m-%d}"
    submitted = None if report is None else report["submitted_at"]
    if submitted is not None and submitted > reference.timestamp():
        submitted = None  # not submitted yet at the moment asked
    if submitted is not None and submitted < due.timestamp():
        return
    department = None if scope == ZONE else scope
    if submitted is None:
        detail = f"{who}: no {year} sharing report by {deadline}"
    else:
        positions = [*positions, *report["positions"][:1]] if report else positions
        detail = f"{who}: {year} sharing report submitted late ({_at(submitted):%Y-%m-%d})"
    yield row("I3", f"{scope}:{year}", "annual_report", department or "ndrc", positions, due,
              detail)  # fmt: skip


def project_follow_up(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """I4 (tracking) and I5 (evaluation) at ``reference``."""
    interval = limit(state, reference, "project_tracking_interval_days",
                     PROJECT_TRACKING_INTERVAL_DAYS)  # fmt: skip
    evaluate = limit(state, reference, "project_evaluation_days", PROJECT_EVALUATION_DAYS)
    now = reference.timestamp()
    for filing in state["filings"].values():
        fid, builder = filing["filing_id"], filing["builder"]
        if filing["status"] == "approved" and filing.get("reviewed_at"):
            reports = [p for p in filing.get("progress", ()) if p["reported_at"] <= now]
            last = max(reports, key=lambda p: p["reported_at"], default=None)
            since = (datetime.fromisoformat(filing["reviewed_at"]) if last is None
                     else _at(last["reported_at"]))  # fmt: skip
            due = since + timedelta(days=interval)
            if reference > due:
                positions = [*filing["positions"], *([last["position"]] if last else [])]
                yield row("I4", fid, "filing", builder, positions, due,
                          f"project {filing['name']}: no progress report since "
                          f"{since.astimezone(CST):%Y-%m-%d}")  # fmt: skip
        accepted = filing.get("accepted_at")
        if filing["status"] == "accepted" and accepted:
            evaluation = filing.get("evaluation")
            due = datetime.fromisoformat(accepted) + timedelta(days=evaluate)
            done = evaluation is not None and evaluation["evaluated_at"] <= now
            if reference > due and not (done and evaluation["evaluated_at"] <= due.timestamp()):
                yield row("I5", fid, "filing", builder, filing["positions"], due,
                          f"project {filing['name']}: accepted "
                          f"{datetime.fromisoformat(accepted):%Y-%m-%d}, not evaluated "
                          f"within {evaluate} days")  # fmt: skip


def departments_without_cio(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """I6 at ``reference``: no CIO on record ``cio_grace_days`` after registration."""
    grace = limit(state, reference, "cio_grace_days", CIO_GRACE_DAYS)
    for department in state["departments"].values():
        registered, named = department.get("registered_at"), department.get("cio_named_at")
        if not registered or (named and datetime.fromisoformat(named) <= reference):
            continue
        due = datetime.fromisoformat(registered) + timedelta(days=grace)
        if reference > due:
            code = department["code"]
            yield row("I6", code, "department", code, [department["position"]], due,
                      f"department {code}: no CIO named within {grace} days of its "
                      f"registration ({datetime.fromisoformat(registered):%Y-%m-%d})")  # fmt: skip


def lapsed_entrustments(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """D3 at ``reference``: past ``period_end`` plus the grace, no end on record."""
    grace = limit(state, reference, "processor_end_grace_days", PROCESSOR_END_GRACE_DAYS)
    for pid, processor in state.get("processors", {}).items():
        ended = processor["ended_at"]
        if ended is not None and ended <= reference.timestamp():
            continue
        period_end = processor["period_end"]
        due = end_of_day(int(period_end[:4]), period_end[5:]) + timedelta(days=grace)
        if reference >= due:
            name, contract = processor["processor_name"], processor["contract_reference"]
            yield row("D3", pid, "processor", processor["department"], processor["positions"][:1],
                      due, f"{name} ({contract}): period ended {period_end}, "
                      "no end of the entrustment on record")  # fmt: skip


def unresolved_objections(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """S13 at ``reference``: unresolved past the working days in force when raised."""
    now = reference.timestamp()
    for oid, objection in state.get("objections", {}).items():
        resolved = objection["resolved_at"]
        if objection["raised_at"] > now or (resolved is not None and resolved <= now):
            continue
        raised = _at(objection["raised_at"])
        days = limit(state, raised, "quality_objection_working_days",
                     QUALITY_OBJECTION_WORKING_DAYS)  # fmt: skip
        calendar = calendar_at(state, raised)
        working = working_calendar(calendar) if calendar is not None else WorkingCalendar()
        last = working.add_working_days(raised.date(), days)
        due = end_of_day(last.year, f"{last:%m-%d}")
        if reference >= due:
            code = objection["resource_code"]
            provider = state["resources"].get(code, {}).get("provider_department")
            yield row("S13", oid, "objection", provider or objection["department"],
                      objection["positions"], due,
                      f"{objection['department']}'s objection to {code} raised "
                      f"{raised:%Y-%m-%d}, unresolved after {days} working days")  # fmt: skip
