"""The demo's issue-14 facts, with a few planted violations of S11, P2, D1 and I3.

docs/facts.md §7 and docs/rules-inputs.md: the exchange platform reports refreshes
(S11), providers record PIAs before providing personal information (P2), 网信办
approves sharing core data (D1), departments and ndrc report their year (I3). The
demo records them as a compliant zone would, except for the planted cases, which it
counts in the summary's ``findings`` (judged as of the dates below) and names in
``planted`` (the findings' subjects):

- S11: three resources with a cycle of at most a quarter last refreshed on 06-02
  (late at the year's end); every other resource is refreshed on 12-30.
- P2: two resources with personal items that are granted to other departments get
  no PIA (``findings["P2"]`` counts the resources; each has a finding per recipient).
- D1 (数据安全法 §21): the catalogue holds core data only in not_shareable resources
  (51号: they are never granted), so core data is provided only by the planted
  ``resource_not_shareable`` accesses that read a core item. 网信办 specially approves
  sharing the first core resource (the whole resource: every recipient), so its
  provisions are covered; every other core resource so provided is planted
  (``findings["D1"]`` counts the resources; each has a finding per recipient).
- I3: one department reports its year late (01-08), one never; the zone's report is
  compiled and approved in January (``findings["I3"]`` as of 01-31 of the next year).
- F6, F7 (seed §三(五)17): in December, construction funds for the filing still
  awaiting ndrc's review, and funds beyond the filed investment of an accepted
  project (F7 may also hold for O&M grants above a filing's O&M amount).
- I4 (seed §三(五)17 跟踪): every approved project not yet accepted reports its
  progress on 07-01 and 12-01, but one, which never does (reviewed in February, so
  late by the year's end).
- I5 (评价): ndrc evaluates every project accepted in November on 12-20, but one,
  found once 365 days have passed since its acceptance (as of the next year's end).

PIAs and the approval are recorded before the year's accesses (the rules judge a
provision against what is on record before it, docs/rules-inputs.md).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time
from typing import Protocol
from uuid import UUID

from ledger.application import GovLedger
from ledger.domain import AccessReport, FundKind, FundOutcome, Sensitivity
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.domain.refresh import RefreshReport
from ops.demo.planning import PlannedRequest
from ops.demo.zone import DEMO_YEAR, DEPARTMENTS, FEN_PER_WAN, ITEM_SENSITIVITY, PROJECTS, Cast

SHORT_CYCLES = ("daily", "weekly", "monthly", "quarterly", "real_time")
PERSONAL = (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL)
STALE, LATE, MISSING = 3, "housing", "planning"


class Loader(Protocol):
    """What the plants use of ``ops.demo.loading.DemoLoader`` (named here, so this module
    needs nothing of the loader's and the loader imports it without a circle)."""

    app: GovLedger
    cast: Cast
    codes: dict[str, str]  # resource name -> code
    system_ids: dict[str, UUID]  # system name -> id
    using_system: dict[str, str]  # department -> the system its staff use (id text)
    filing_ids: dict[str, UUID]  # project name -> filing id
    tally: dict[str, Counter[str]]


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), CST)


def before_the_year(loader: Loader, plans: list[PlannedRequest]) -> None:
    """PIAs for the personal resources but two, and one core-data approval."""
    app, cast = loader.app, loader.cast
    shared = Counter(p.resource for p in plans if p.outcome in ("approved", "revoked"))
    personal: list[str] = []
    core: list[tuple[str, str]] = []
    for code in loader.codes.values():
        resource = app.resource(code)
        provider = resource.provider_department
        if any(i.sensitivity in PERSONAL for i in resource.items):
            personal.append(code)
        if any(i.sensitivity is Sensitivity.CORE for i in resource.items):
            core.append((code, provider))
    planted = sorted((c for c in personal if shared[c]), key=lambda c: (-shared[c], c))[:2]
    for code in personal:
        if code in planted:
            continue
        resource = app.resource(code)
        app.record_impact_assessment(
            cast.provider(resource.provider_department),
            department=resource.provider_department, reference=f"PIA-{DEMO_YEAR}-{code}",
            resource_code=code, recipient_department=None, request_id=None,
            conclusion="acceptable_with_measures", summary="去标识化、最小必要后提供",
            assessed_at=resource.registered_at,
        )  # fmt: skip
    loader.tally["findings"]["P2"] += len(planted)
    loader.tally["planted:P2"].update(planted)
    for code, _provider in core[:1]:  # D1's contrast: approved for every recipient
        app.approve_core_data_sharing(
            cast.cac, reference=f"网信核〔{DEMO_YEAR}〕1号", resource_code=code,
            recipient_department=None, request_id=None,
            approving_authority="区委网络安全和信息化委员会", valid_until=None,
            approved_at=app.resource(code).registered_at,
        )  # fmt: skip
        loader.tally["counts"]["core_data_approvals"] += 1
        loader.tally["core_approved"][code] += 1


def provided(loader: Loader, report: AccessReport) -> None:
    """D1's plant, noted as each access is judged: a catalogued resource whose core items
    are read by a department other than its provider (the approved one included)."""
    if not any(ITEM_SENSITIVITY.get(item) is Sensitivity.CORE for item in report.items):
        return
    if report.resource_code not in loader.codes.values():
        return  # an unknown resource: nothing is provided
    if loader.app.resource(report.resource_code).provider_department != report.department:
        loader.tally["core_provided"][report.resource_code] += 1


def core_unapproved(loader: Loader) -> None:
    """D1 planted: the core resources provided in the year, but the approved one."""
    planted = sorted(set(loader.tally["core_provided"]) - set(loader.tally["core_approved"]))
    loader.tally["counts"]["core_data_provisions"] = sum(loader.tally["core_provided"].values())
    if planted:
        loader.tally["findings"]["D1"] += len(planted)
        loader.tally["planted:D1"].update(planted)


def after_the_year(loader: Loader) -> None:
    """Refreshes at the year's end (three stale), December's funds, the annual reports."""
    app, cast = loader.app, loader.cast
    core_unapproved(loader)
    december_funds(loader)
    progress_reports(loader)
    evaluations(loader)
    reports: list[RefreshReport] = []
    stale: list[str] = []
    for code in sorted(loader.codes.values()):
        cycle = app.resource(code).update_cycle.value
        if cycle == "irregular":
            continue
        when = date(DEMO_YEAR, 12, 30)
        if cycle in SHORT_CYCLES and len(stale) < STALE:
            stale.append(code)
            when = date(DEMO_YEAR, 6, 2)
        reports.append(RefreshReport(f"refresh-{code}-{when.isoformat()}", code, _at(when)))
    app.record_refreshes(cast.platform, reports)
    loader.tally["counts"]["refreshes"] += len(reports)
    loader.tally["findings"]["S11"] += len(stale)
    loader.tally["planted:S11"].update(stale)
    for code, _, _ in DEPARTMENTS:
        if code == MISSING:
            continue
        day = date(DEMO_YEAR + 1, 1, 8) if code == LATE else date(DEMO_YEAR, 12, 20)
        app.submit_department_report(
            cast.clerk(code), department=code, year=DEMO_YEAR, reference=f"{code}-{DEMO_YEAR}",
            summary="年度数据共享情况", submitted_at=_at(day),
        )  # fmt: skip
        loader.tally["counts"]["annual_reports"] += 1
    app.submit_zone_report(
        cast.ndrc, year=DEMO_YEAR, reference=f"高新区{DEMO_YEAR}年度共享情况",
        summary="全区汇总", submitted_at=_at(date(DEMO_YEAR + 1, 1, 20)),
    )  # fmt: skip
    app.approve_zone_report(
        cast.ndrc, DEMO_YEAR, approving_body="区政务数据共享工作领导小组",
        reference=f"领导小组批复〔{DEMO_YEAR + 1}〕1号",
        approved_at=_at(date(DEMO_YEAR + 1, 1, 28)),
    )  # fmt: skip
    loader.tally["findings"]["I3"] += 2
    loader.tally["planted:I3"].update([f"{MISSING}:{DEMO_YEAR}", f"{LATE}:{DEMO_YEAR}"])


def december_funds(loader: Loader) -> None:
    """F6 and F7 planted: each a construction grant of 10 December."""
    pending = next(p for p in PROJECTS if p.review == "pending")
    spent = next(p for p in PROJECTS if p.review == "approved" and p.funds and p.accepted)
    for n, (spec, wan, rule) in enumerate(
        ((pending, pending.investment_wan // 3, "F6"), (spent, 50, "F7"))
    ):
        decided = loader.app.decide_funds(
            loader.cast.finance, kind=FundKind.CONSTRUCTION_FUNDS, year=DEMO_YEAR,
            department=spec.department, amount_fen=wan * FEN_PER_WAN,
            outcome=FundOutcome.GRANTED, rationale="年底追加建设经费",
            filing_id=loader.filing_ids[spec.name], project_name=spec.name,
            decided_at=_at(date(DEMO_YEAR, 12, 10), 10 + n),
            idempotency_key=f"demo-{DEMO_YEAR}-{rule}",  # the same id for the same seed
        )  # fmt: skip
        loader.tally["funds"]["construction_funds_granted"] += 1
        loader.tally["counts"]["fund_decisions"] += 1
        loader.tally["findings"][rule] += 1
        loader.tally[f"planted:{rule}"][decided.hex] += 1


def progress_reports(loader: Loader) -> None:
    """I4 planted: one approved, not yet accepted project never reports its progress."""
    building = [p for p in PROJECTS if p.review == "approved" and not p.accepted]
    for n, spec in enumerate(building):
        filing = loader.filing_ids[spec.name]
        if n == 0:
            loader.tally["findings"]["I4"] += 1
            loader.tally["planted:I4"][filing.hex] += 1
            continue
        for month, percent in ((7, 40), (12, 80)):
            loader.app.report_project_progress(
                loader.cast.clerk(spec.department), filing, stage="construction",
                progress_percent=percent, spent_fen=0, summary="按计划建设",
                reported_at=_at(date(DEMO_YEAR, month, 1)),
                idempotency_key=f"demo-{DEMO_YEAR}-I4-{n}-{month}",
            )  # fmt: skip
            loader.tally["counts"]["progress_reports"] += 1


def evaluations(loader: Loader) -> None:
    """I5 planted: one project accepted in November is never evaluated."""
    for n, spec in enumerate(p for p in PROJECTS if p.review == "approved" and p.accepted):
        filing = loader.filing_ids[spec.name]
        if n == 0:
            loader.tally["findings"]["I5"] += 1
            loader.tally["planted:I5"][filing.hex] += 1
            continue
        loader.app.evaluate_project(
            loader.cast.ndrc, filing, rating="good", summary="按期建成，共享接入到位",
            evaluated_at=_at(date(DEMO_YEAR, 12, 20)),
        )  # fmt: skip
        loader.tally["counts"]["project_evaluations"] += 1
