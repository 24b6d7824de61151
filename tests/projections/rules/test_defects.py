"""Issue 12's defects in the views, each on a small ledger worked by hand (both backends).

(a) a fund decision naming a project but citing no filing is F3; (b) an access on an
expired grant that reads items never granted is S2 and S3; (c) registrations and system
changes are dated by their business time (docs/facts.md §1), so I1 fires for a system
registered before any other dated fact and as-of answers see it only from then; (d) S6
counts working days in the calendar in force at submission (docs/facts.md §3, §5).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    FundKind,
    FundOutcome,
    ResourceItem,
    Sensitivity,
    SharingType,
    SystemInventory,
)
from ledger.domain.district_calendar import CalendarSpec
from ledger.store.connect import application_env, init_ledger
from projections.query import Views, open_views
from tests.projections.scenario import (
    ADMIN,
    FINANCE,
    GONGAN,
    MINZHENG,
    PURPOSE,
    Clock,
    Recorder,
    Scenario,
    _entry,
    cst,
    report,
)

INVENTORY = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")


def _ledger(settings: Settings, now: datetime) -> tuple[GovLedger, Clock, Recorder]:
    init_ledger(settings)
    clock = Clock(now)
    app = GovLedger(env=application_env(settings), clock=clock)
    return app, clock, Recorder(app, clock, Scenario(settings))


def _departments(app: GovLedger, at: datetime | None = None) -> None:
    for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局")):
        app.register_department(ADMIN, code, name, occurred_at=at)


def _rules(views: Views, as_of: date | None = None) -> Counter[str]:
    return Counter(f.rule for f in views.findings(views.moment(as_of=as_of)))


def test_funds_naming_a_project_with_no_filing_are_f3_even_with_a_system(
    settings: Settings,
) -> None:
    app, _, _ = _ledger(settings, cst(7, 1))
    try:
        _departments(app)
        system = app.register_system(MINZHENG, "minzheng", INVENTORY)
        app.decide_funds(
            FINANCE, kind=FundKind.OM_FUNDS, year=2026, department="minzheng",
            amount_fen=100_000, outcome=FundOutcome.GRANTED, rationale="年度运维",
            system_id=system, project_name="低保系统升级",
        )  # fmt: skip
        app.decide_funds(  # O&M of a system alone, no project: no filing needed
            FINANCE, kind=FundKind.OM_FUNDS, year=2026, department="minzheng",
            amount_fen=100_000, outcome=FundOutcome.GRANTED, rationale="年度运维",
            system_id=system,
        )  # fmt: skip
    finally:
        app.close()
    with open_views(settings, catch_up=True) as views:
        found = [f for f in views.findings(views.moment()) if f.rule == "F3"]
    assert len(found) == 1 and "低保系统升级" in found[0].detail


def test_an_access_on_an_expired_grant_beyond_its_items_is_s2_and_s3(settings: Settings) -> None:
    app, _, rec = _ledger(settings, cst(5, 20))
    try:
        _departments(app)
        items = [
            ResourceItem("姓名", Sensitivity.PERSONAL),
            ResourceItem("住址", Sensitivity.PERSONAL),
        ]
        app.register_resource(GONGAN, _entry("RK-0001", "人口", items, SharingType.CONDITIONAL))
        request = rec.at(cst(6, 1)).submit_request(
            MINZHENG, requester_department="minzheng", resource_code="RK-0001",
            items=["姓名"], purpose=PURPOSE, legal_basis="《社会救助暂行办法》",
            period_start=date(2026, 6, 1), period_end=date(2026, 6, 30),
        )  # fmt: skip
        rec.at(cst(6, 2)).approve_request(GONGAN, request, ["姓名"], cst(6, 10, 0))
        rec.at(cst(6, 12, 12))
        rec.accesses(
            report("e-1", cst(6, 12), "mz-01", "minzheng", "RK-0001", ("姓名", "住址"), PURPOSE,
                   request),
            report("e-2", cst(6, 12, 11), "mz-01", "minzheng", "RK-0001", ("姓名",), PURPOSE),
        )  # fmt: skip
    finally:
        app.close()
    with open_views(settings, catch_up=True) as views:
        found = views.findings(views.moment(), subject_kinds={"access"})
    by_subject = {(f.subject, f.rule) for f in found}
    # (P2, personal items with no PIA on record, is on the grant: one per recipient.)
    assert by_subject == {("e-1", "S2"), ("e-1", "S3"), ("e-2", "S2")}
    s3 = next(f for f in found if f.rule == "S3")
    assert "住址" in s3.detail and s3.severity == "high"


def test_registrations_are_dated_by_business_time(settings: Settings) -> None:
    """Back-filled: recorded in 2026, the system was registered on 2025-01-10."""
    app, _, _ = _ledger(settings, cst(6, 1))
    registered = datetime(2025, 1, 10, 9, tzinfo=cst(1, 1).tzinfo)
    try:
        _departments(app, registered)
        app.register_system(
            MINZHENG, "minzheng", INVENTORY, holds_personal_data=False, occurred_at=registered
        )
    finally:
        app.close()
    with open_views(settings, catch_up=True) as views:
        assert not views.zone(views.moment(as_of=date(2025, 1, 9))).systems
        assert len(views.zone(views.moment(as_of=date(2025, 1, 10))).systems) == 1
        # 180 idle days from 2025-01-10 09:00 end on 2025-07-09 09:00.
        assert _rules(views, date(2025, 7, 8))["I1"] == 0
        assert _rules(views, date(2025, 7, 9))["I1"] == 1
        (zombie,) = views.findings(views.moment(as_of=date(2025, 7, 9)), rule="I1")
    assert zombie.time.date() == date(2025, 7, 9)


def test_s6_counts_working_days_in_the_calendar_in_force(settings: Settings) -> None:
    """Submitted Wed 2026-09-30: Monday–Friday due 10-14; with 10-01..10-08 off and Sat
    10-10 worked, the 10th working day is 10-21 (10-09, 10, 12–16, 19, 20, 21)."""
    app, _, rec = _ledger(settings, cst(9, 1))
    try:
        _departments(app)
        items = [ResourceItem("姓名", Sensitivity.PERSONAL)]
        app.register_resource(GONGAN, _entry("RK-0001", "人口", items, SharingType.CONDITIONAL))
        rec.at(cst(9, 30)).submit_request(
            MINZHENG, requester_department="minzheng", resource_code="RK-0001",
            items=["姓名"], purpose=PURPOSE, legal_basis="《社会救助暂行办法》",
            period_start=date(2026, 10, 1), period_end=date(2026, 12, 31),
        )  # fmt: skip
        holidays = tuple(date(2026, 10, d) for d in range(1, 9))
        spec = CalendarSpec((2026,), holidays, (date(2026, 10, 10),), {
            t.value: 10 for t in SharingType
        })  # fmt: skip
        assert rec.at(cst(10, 1)).record_calendar(ADMIN, spec)  # the first: covers history
    finally:
        app.close()
    with open_views(settings, catch_up=True) as views:
        assert _rules(views, date(2026, 10, 15))["S6"] == 0
        assert _rules(views, date(2026, 10, 21))["S6"] == 0
        assert _rules(views, date(2026, 10, 22))["S6"] == 1
