"""Issue 14's rules worked by hand on small ledgers, as of several dates (both backends).

S11 (not refreshed within the update cycle), P2 (personal information provided with
no PIA), D1 (core data shared with no approval in force), I3 (annual reports late or
missing), F6 (funds before the architecture review), F7 (above the filed or revised
amounts), F8 (O&M for a little-used system), I4 and I5 (project not tracked, not
evaluated), one test each. docs/rules-inputs.md gives the inputs and the defaults used
here; the expectations are worked by hand from it (in the comments), before the due
date, at it, and after a later fact that clears it or not, with a case that must not be
flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    Actor,
    FundKind,
    FundOutcome,
    ResourceItem,
    Role,
    Sensitivity,
    SharingType,
    SystemInventory,
    UpdateCycle,
)
from ledger.domain.access import AccessReport
from ledger.domain.refresh import RefreshReport
from ledger.store.connect import application_env, init_ledger
from projections.facts import CST
from projections.query import Finding, open_views
from tests.projections.scenario import (
    ADMIN,
    FINANCE,
    GONGAN,
    JIAOYU,
    MINZHENG,
    OFFICER,
    PLATFORM,
    PURPOSE,
    Clock,
    Recorder,
    Scenario,
    _entry,
    report,
)

NDRC = Actor("ndrc-1", Role.NDRC, None)
GONGAN_CLERK = Actor("gongan-clerk", Role.DEPARTMENT_CLERK, "gongan")
INVENTORY = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=CST)


@pytest.fixture
def rec(settings: Settings) -> Iterator[Recorder]:
    init_ledger(settings)
    clock = Clock(at(2027, 6, 30))
    app = GovLedger(env=application_env(settings), clock=clock)
    for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局"), ("jiaoyu", "区教育局")):
        app.register_department(ADMIN, code, name, occurred_at=at(2025, 3, 1))
    try:
        yield Recorder(app, clock, Scenario(settings))
    finally:
        app.close()


def found(settings: Settings, rule: str, on: date) -> list[Finding]:
    with open_views(settings, catch_up=True) as views:
        return views.findings(views.moment(as_of=on), rule=rule)


def subjects(settings: Settings, rule: str, on: date) -> set[str]:
    return {f.subject for f in found(settings, rule, on)}


def test_s11_a_resource_late_past_its_cycle_and_grace(settings: Settings, rec: Recorder) -> None:
    app = rec.app
    items = [ResourceItem("姓名", Sensitivity.GENERAL)]
    daily = replace(_entry("RK-0001", "人口", items, SharingType.UNCONDITIONAL),
                    update_cycle=UpdateCycle.DAILY)  # fmt: skip
    weekly = replace(_entry("RK-0002", "法人", items, SharingType.UNCONDITIONAL),
                     update_cycle=UpdateCycle.WEEKLY)  # fmt: skip
    app.register_resource(GONGAN, daily, occurred_at=at(2026, 5, 20))
    app.register_resource(GONGAN, weekly, occurred_at=at(2026, 5, 20))
    app.record_refreshes(PLATFORM, [
        RefreshReport("rf-1", "RK-0001", at(2026, 5, 21)),
        RefreshReport("rf-2", "RK-0001", at(2026, 5, 25)),
        RefreshReport("rf-x", "RK-9999", at(2026, 5, 25)),  # not in the catalogue: no S11
    ])  # fmt: skip
    # daily: due 1 day + 1 day's grace after the last refresh (05-21 10:00 -> 05-23 10:00)
    assert subjects(settings, "S11", date(2026, 5, 22)) == set()
    late = found(settings, "S11", date(2026, 5, 23))
    assert [f.subject for f in late] == ["RK-0001"]
    assert late[0].time.isoformat().startswith("2026-05-23T10:00") and late[0].severity == "medium"
    assert subjects(settings, "S11", date(2026, 5, 25)) == set()  # refreshed again
    assert subjects(settings, "S11", date(2026, 5, 27)) == {"RK-0001"}
    # weekly, never refreshed: due 7 + 1 days after its registration (05-28 10:00)
    assert subjects(settings, "S11", date(2026, 5, 28)) == {"RK-0001", "RK-0002"}


def _personal_resource(app: GovLedger) -> None:
    items = [ResourceItem("姓名", Sensitivity.PERSONAL), ResourceItem("户籍", Sensitivity.CORE)]
    app.register_resource(GONGAN, _entry("RK-0001", "人口", items, SharingType.CONDITIONAL),
                          occurred_at=at(2026, 5, 20))  # fmt: skip


def _request(rec: Recorder, who: Actor, dept: str, day: int) -> UUID:
    return rec.app.submit_request(
        who, requester_department=dept, resource_code="RK-0001", items=["姓名"],
        purpose=PURPOSE, legal_basis="《社会救助暂行办法》", period_start=date(2026, 6, 1),
        period_end=date(2026, 12, 31), submitted_at=at(2026, 6, day),
    )  # fmt: skip


def _pia(app: GovLedger, ref: str, recipient: str | None, conclusion: str, day: int) -> None:
    app.record_impact_assessment(
        GONGAN, department="gongan", reference=ref, resource_code="RK-0001",
        recipient_department=recipient, request_id=None, conclusion=conclusion,
        summary="评估", assessed_at=at(2026, 6, day, 9),
    )  # fmt: skip


def test_p2_personal_items_provided_with_no_pia(settings: Settings, rec: Recorder) -> None:
    app = rec.app
    _personal_resource(app)
    _pia(app, "PIA-1", "minzheng", "acceptable", 1)
    _pia(app, "PIA-2", "jiaoyu", "not_acceptable", 1)
    mz = _request(rec, MINZHENG, "minzheng", 1)
    app.approve_request(GONGAN, mz, ["姓名"], at(2026, 12, 31), decided_at=at(2026, 6, 2))
    jy = _request(rec, JIAOYU, "jiaoyu", 1)
    app.approve_request(GONGAN, jy, ["姓名"], at(2026, 12, 31), decided_at=at(2026, 6, 5))
    rec.accesses(
        report("a-1", at(2026, 6, 3), "mz-1", "minzheng", "RK-0001", ("姓名",), PURPOSE, mz),
        report("a-2", at(2026, 6, 3, 11), "mz-1", "minzheng", "RK-0001", ("姓名",), PURPOSE),
    )  # fmt: skip
    assert subjects(settings, "P2", date(2026, 6, 2)) == set()  # PIA-1 covers minzheng
    # a-2 cites no grant: PIA-1 names the recipient, so it covers it too
    assert subjects(settings, "P2", date(2026, 6, 4)) == set()
    # jiaoyu's grant: the only PIA for it concluded not to provide
    p2 = found(settings, "P2", date(2026, 6, 5))
    assert [(f.subject, f.subject_kind) for f in p2] == [("RK-0001", "resource")]
    assert "jiaoyu" in p2[0].detail and p2[0].severity == "medium"
    assert p2[0].department == "gongan" and p2[0].time.isoformat().startswith("2026-06-05")


def test_d1_core_items_shared_outside_an_approval_in_force(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    _personal_resource(app)
    app.approve_core_data_sharing(
        OFFICER, reference="网信核-1", resource_code="RK-0001", recipient_department="minzheng",
        request_id=None, approving_authority="区委网信委", valid_until=at(2026, 6, 10),
        approved_at=at(2026, 6, 1),
    )  # fmt: skip
    rec.accesses(
        report("c-1", at(2026, 6, 5), "mz-1", "minzheng", "RK-0001", ("户籍",), PURPOSE),
        report("c-2", at(2026, 6, 6), "jy-1", "jiaoyu", "RK-0001", ("户籍",), PURPOSE),
        report("c-3", at(2026, 6, 12), "mz-1", "minzheng", "RK-0001", ("户籍",), PURPOSE),
        report("c-4", at(2026, 6, 13), "mz-1", "minzheng", "RK-0001", ("户籍",), PURPOSE),
        report("c-5", at(2026, 6, 14), "gongan-1", "gongan", "RK-0001", ("户籍",), PURPOSE),
    )  # fmt: skip
    assert subjects(settings, "D1", date(2026, 6, 5)) == set()
    (jiaoyu,) = found(settings, "D1", date(2026, 6, 6))
    assert jiaoyu.subject == "RK-0001" and "to jiaoyu" in jiaoyu.detail
    d1 = found(settings, "D1", date(2026, 6, 30))
    # c-3: the approval lapsed on 06-10 (cited); c-4 repeats c-3; c-5 is the provider's own
    assert len(d1) == 2
    lapsed = next(f for f in d1 if "to minzheng" in f.detail)
    assert lapsed.severity == "critical" and "网信核-1" in lapsed.detail
    assert lapsed.time.isoformat().startswith("2026-06-12")
    assert len(lapsed.positions) > len(jiaoyu.positions)


def test_i3_reports_late_or_missing(settings: Settings, rec: Recorder) -> None:
    app = rec.app
    for who, dept, day in (
        (GONGAN_CLERK, "gongan", at(2025, 12, 20)),
        (JIAOYU, "jiaoyu", at(2025, 12, 31, 23)),
    ):
        app.submit_department_report(who, department=dept, year=2025, reference=f"{dept}-2025",
                                     summary="年度共享情况", submitted_at=day)  # fmt: skip
    app.submit_department_report(MINZHENG, department="minzheng", year=2025,
                                 reference="mz-2025", summary="年度共享情况",
                                 submitted_at=at(2026, 1, 5))  # fmt: skip
    zone = app.submit_zone_report(NDRC, year=2025, reference="zone-2025", summary="全区汇总",
                                  submitted_at=at(2026, 1, 20))  # fmt: skip
    app.approve_zone_report(NDRC, 2025, approving_body="领导小组", reference="批复-1",
                            approved_at=at(2026, 2, 10))  # fmt: skip
    assert zone
    assert subjects(settings, "I3", date(2025, 12, 31)) == set()
    assert subjects(settings, "I3", date(2026, 1, 1)) == {"minzheng:2025"}
    late = found(settings, "I3", date(2026, 1, 10))
    assert [f.subject for f in late] == ["minzheng:2025"] and "late" in late[0].detail
    assert subjects(settings, "I3", date(2026, 2, 1)) == {"minzheng:2025", "zone:2025:approval"}
    # the approval came late: the finding stays; 2026's reports are not due before 12-31
    assert subjects(settings, "I3", date(2026, 12, 31)) == {"minzheng:2025", "zone:2025:approval"}
    missing = subjects(settings, "I3", date(2027, 1, 1))
    assert {"gongan:2026", "minzheng:2026", "jiaoyu:2026"} <= missing
    assert "zone:2026" not in missing  # due 2027-01-31


def _filing(rec: Recorder, name: str, systems: tuple[UUID, ...] = ()) -> UUID:
    """A filing of minzheng's: construction 1,000,000 fen, O&M 100,000 fen a year."""
    return rec.app.file_project(
        MINZHENG, name=name, builder="minzheng", investment_fen=1_000_000,
        om_cost_fen=100_000, funding_channel="财政", resource_codes=[], system_ids=list(systems),
        mlps_filed=True, catalogue_preregistered=True, occurred_at=at(2025, 1, 10),
    )  # fmt: skip


def _decide(
    rec: Recorder,
    filing: UUID | None,
    kind: FundKind,
    year: int,
    fen: int,
    when: datetime,
    *,
    system: UUID | None = None,
    outcome: FundOutcome = FundOutcome.GRANTED,
) -> str:
    return rec.app.decide_funds(
        FINANCE, kind=kind, year=year, department="minzheng", amount_fen=fen, outcome=outcome,
        rationale="经费安排", filing_id=filing, system_id=system, decided_at=when,
    ).hex  # fmt: skip


def head(settings: Settings, rule: str) -> set[str]:
    """The rule's subjects at the views' head (every finding, whatever its date)."""
    with open_views(settings, catch_up=True) as views:
        return {f.subject for f in views.findings(views.moment(at=views.position), rule=rule)}


def test_f6_funds_granted_before_the_architecture_review(settings: Settings, rec: Recorder) -> None:
    """F6 (docs/rules-inputs.md "Funds granted while the filing still awaits review"): a
    grant citing a filing with neither approval nor rejection dated at or before its
    ``decided_at``. Dated at the decision; an approval dated later does not clear it, one
    recorded late but dated before the decision does."""
    app, build = rec.app, FundKind.CONSTRUCTION_FUNDS
    pending = _filing(rec, "甲项目")  # approved on 03-01, after its first grant
    early = _decide(rec, pending, build, 2025, 100_000, at(2025, 2, 1))
    withheld = _decide(rec, pending, build, 2025, 100_000, at(2025, 2, 15),
                       outcome=FundOutcome.WITHHELD)  # not granted: no F6  # fmt: skip
    app.review_project(NDRC, pending, True, "通过", occurred_at=at(2025, 3, 1))
    after = _decide(rec, pending, build, 2025, 100_000, at(2025, 4, 1))  # reviewed: no F6
    rejected = _filing(rec, "乙项目")
    app.review_project(NDRC, rejected, False, "不通过", occurred_at=at(2025, 2, 10))
    to_rejected = _decide(rec, rejected, build, 2025, 100_000, at(2025, 3, 1))  # F4, not F6
    back_dated = _filing(rec, "丙项目")
    late = _decide(rec, back_dated, build, 2025, 100_000, at(2025, 5, 1))

    assert subjects(settings, "F6", date(2025, 1, 31)) == set()
    f6 = found(settings, "F6", date(2025, 2, 1))
    assert [f.subject for f in f6] == [early]
    assert f6[0].severity == "high" and f6[0].time.isoformat().startswith("2025-02-01T10:00")
    # the approval dated 03-01 is later than the grant: the finding stays
    assert subjects(settings, "F6", date(2025, 4, 30)) == {early}
    assert subjects(settings, "F6", date(2025, 5, 1)) == {early, late}
    assert {withheld, after, to_rejected}.isdisjoint(head(settings, "F6"))
    assert to_rejected in head(settings, "F4")
    # 丙's approval recorded now, dated 04-20: it was reviewed before the grant of 05-01
    app.review_project(NDRC, back_dated, True, "通过", occurred_at=at(2025, 4, 20))
    assert head(settings, "F6") == {early}
    assert subjects(settings, "F6", date(2025, 12, 31)) == {early}


def test_f7_granted_above_the_filed_or_revised_amounts(settings: Settings, rec: Recorder) -> None:
    """F7 (docs/rules-inputs.md "Granted above filed amounts"): construction grants of a
    filing summed over all years, O&M grants per year, each against the amounts in force
    at the decision (the latest revision dated at or before it); one finding per decision
    that leaves the sum above them."""
    app, build, om = rec.app, FundKind.CONSTRUCTION_FUNDS, FundKind.OM_FUNDS
    system = app.register_system(MINZHENG, "minzheng", INVENTORY, occurred_at=at(2024, 1, 1))
    filing = _filing(rec, "低保系统建设", (system,))
    other = _filing(rec, "另一项目")  # its grants are not summed with the first's
    app.review_project(NDRC, filing, True, "通过", occurred_at=at(2025, 1, 20))
    app.review_project(NDRC, other, True, "通过", occurred_at=at(2025, 1, 20))
    _decide(rec, filing, build, 2025, 600_000, at(2025, 2, 1))  # 600k ≤ 1.0M
    _decide(rec, other, build, 2025, 900_000, at(2025, 2, 1))  # the other filing: 900k
    c2 = _decide(rec, filing, build, 2025, 500_000, at(2025, 4, 1))  # 1.1M > 1.0M
    app.revise_filed_amounts(
        NDRC, filing, reference="调概-1", investment_fen=1_200_000, om_cost_fen=100_000,
        reason="扩容", revised_at=at(2025, 5, 1),
    )  # fmt: skip
    _decide(rec, filing, build, 2025, 50_000, at(2025, 6, 1))  # 1.15M ≤ 1.2M
    _decide(rec, filing, build, 2025, 500_000, at(2025, 6, 15), outcome=FundOutcome.WITHHELD)
    c5 = _decide(rec, filing, build, 2026, 100_000, at(2025, 7, 1))  # 1.25M > 1.2M
    _decide(rec, filing, om, 2026, 80_000, at(2026, 1, 15), system=system)  # 80k ≤ 100k
    o2 = _decide(rec, filing, om, 2026, 30_000, at(2026, 2, 1), system=system)  # 110k > 100k
    _decide(rec, filing, om, 2027, 90_000, at(2027, 1, 10), system=system)  # 2027: 90k

    assert subjects(settings, "F7", date(2025, 3, 31)) == set()
    (crossing,) = found(settings, "F7", date(2025, 4, 1))
    assert crossing.subject == c2 and crossing.severity == "high"
    assert crossing.time.isoformat().startswith("2025-04-01T10:00")
    assert subjects(settings, "F7", date(2025, 6, 30)) == {c2}
    assert subjects(settings, "F7", date(2025, 7, 1)) == {c2, c5}
    assert subjects(settings, "F7", date(2026, 1, 31)) == {c2, c5}
    assert subjects(settings, "F7", date(2027, 12, 31)) == {c2, c5, o2}
    # a revision recorded now, dated 06-20, raises the amount to 1.5M: 07-01's 1.25M is
    # within it; 04-01's 1.1M was judged against the 1.0M then in force and stays
    app.revise_filed_amounts(
        NDRC, filing, reference="调概-2", investment_fen=1_500_000, om_cost_fen=100_000,
        reason="再次调整", revised_at=at(2025, 6, 20),
    )  # fmt: skip
    assert head(settings, "F7") == {c2, o2}
    assert subjects(settings, "F7", date(2025, 12, 31)) == {c2}


def test_f8_om_funds_for_a_little_used_system(settings: Settings, rec: Recorder) -> None:
    """F8 (docs/rules-inputs.md "O&M for little-used systems"): an O&M grant to a system
    with fewer than 12 accesses in the 365 days ending with the decision's day (business
    time, whenever recorded), unless registered less than a year before."""
    app, om = rec.app, FundKind.OM_FUNDS

    def system(name: str, registered: datetime) -> UUID:
        inventory = replace(INVENTORY, name=name)
        return app.register_system(MINZHENG, "minzheng", inventory, occurred_at=registered)

    def use(sid: UUID, prefix: str, days: list[date]) -> None:
        rec.accesses(*(
            AccessReport(f"{prefix}-{i}", "mz-1", "minzheng", str(sid), "RK-0001", ("姓名",), 1,
                         PURPOSE, None, "10.0.0.1", datetime.combine(d, time(10), CST))
            for i, d in enumerate(days)
        ))  # fmt: skip

    little = system("甲系统", at(2024, 1, 1))
    busy = system("乙系统", at(2024, 1, 1))
    new = system("丙系统", at(2025, 6, 1))  # less than a year before the grant: not judged
    use(little, "l", [date(2025, m, 1) for m in (3, 6, 9)])  # 3 in the year
    use(busy, "b", [date(2025, 2, 1) + timedelta(days=25 * i) for i in range(12)])  # 12
    filing = _filing(rec, "运维项目", (little, busy, new))
    app.review_project(NDRC, filing, True, "通过", occurred_at=at(2025, 1, 20))
    to_little = _decide(rec, filing, om, 2026, 10_000, at(2026, 1, 15), system=little)
    to_busy = _decide(rec, filing, om, 2026, 10_000, at(2026, 1, 15), system=busy)
    to_new = _decide(rec, filing, om, 2026, 10_000, at(2026, 1, 15), system=new)
    withheld = _decide(rec, filing, om, 2026, 10_000, at(2026, 1, 20), system=little,
                       outcome=FundOutcome.WITHHELD)  # fmt: skip

    assert subjects(settings, "F8", date(2026, 1, 14)) == set()
    (f8,) = found(settings, "F8", date(2026, 1, 15))
    assert f8.subject == to_little and f8.severity == "medium"
    assert f8.time.isoformat().startswith("2026-01-15T10:00")
    assert subjects(settings, "F8", date(2026, 12, 31)) == {to_little}
    assert {to_busy, to_new, withheld}.isdisjoint(head(settings, "F8"))
    # the platform back-fills 9 accesses of 2025 to 甲系统: 12 in the year, not little-used
    use(little, "l-late", [date(2025, 4, d) for d in range(1, 10)])
    assert head(settings, "F8") == set()
    assert subjects(settings, "F8", date(2026, 1, 15)) == set()


def test_i4_project_not_tracked_within_the_interval(settings: Settings, rec: Recorder) -> None:
    """I4 (docs/rules-inputs.md "Projects after filing"): an approved, not yet accepted
    filing with no progress report for 183 days since the last one (else its review).
    Dated when due; a later report clears it from its day."""
    app = rec.app
    tracked_late = _filing(rec, "甲项目")
    accepted = _filing(rec, "乙项目")
    _filing(rec, "丙项目")  # never reviewed: not tracked, not judged
    for filing in (tracked_late, accepted):
        app.review_project(NDRC, filing, True, "通过", occurred_at=at(2025, 3, 1))

    def progress(filing: UUID, when: datetime) -> None:
        app.report_project_progress(
            MINZHENG, filing, stage="construction", progress_percent=40, spent_fen=100_000,
            summary="进展", reported_at=when,
        )  # fmt: skip

    progress(tracked_late, at(2025, 6, 1))  # due 2025-12-01 10:00
    progress(accepted, at(2025, 6, 1))
    progress(accepted, at(2025, 11, 1))  # due 2026-05-03 10:00, but accepted before
    progress(tracked_late, at(2025, 12, 10))  # due again 2026-06-11 10:00
    app.accept_project(NDRC, accepted, accepted_at=at(2026, 2, 1))

    assert subjects(settings, "I4", date(2025, 11, 30)) == set()
    (due,) = found(settings, "I4", date(2025, 12, 1))
    assert (due.subject, due.severity, due.department) == (tracked_late.hex, "low", "minzheng")
    assert due.time.isoformat().startswith("2025-12-01T10:00")
    assert subjects(settings, "I4", date(2025, 12, 9)) == {tracked_late.hex}
    assert subjects(settings, "I4", date(2025, 12, 10)) == set()  # reported again
    assert subjects(settings, "I4", date(2026, 6, 10)) == set()  # 乙 accepted on 02-01
    assert subjects(settings, "I4", date(2026, 6, 11)) == {tracked_late.hex}


def test_i5_accepted_project_not_evaluated_in_time(settings: Settings, rec: Recorder) -> None:
    """I5 (docs/rules-inputs.md "Projects after filing"): an accepted project with no
    evaluation within 365 days of its acceptance. A late evaluation does not clear it
    (none was made within the period); one within it, even at the last hour, does."""
    app = rec.app
    late, on_time, last_hour = (_filing(rec, n) for n in ("甲项目", "乙项目", "丙项目"))
    for filing in (late, on_time, last_hour):
        app.review_project(NDRC, filing, True, "通过", occurred_at=at(2025, 2, 1))
        app.accept_project(NDRC, filing, accepted_at=at(2025, 3, 1))  # due 2026-03-01 10:00

    def evaluate(filing: UUID, when: datetime) -> None:
        app.evaluate_project(NDRC, filing, rating="good", summary="评价", evaluated_at=when)

    evaluate(on_time, at(2025, 12, 1))
    evaluate(last_hour, at(2026, 3, 1, 9))
    evaluate(late, at(2026, 4, 1))

    assert subjects(settings, "I5", date(2026, 2, 28)) == set()
    (due,) = found(settings, "I5", date(2026, 3, 1))
    assert (due.subject, due.severity, due.department) == (late.hex, "low", "minzheng")
    assert due.time.isoformat().startswith("2026-03-01T10:00")
    assert subjects(settings, "I5", date(2026, 3, 31)) == {late.hex}
    assert subjects(settings, "I5", date(2026, 4, 1)) == {late.hex}  # evaluated late
    assert subjects(settings, "I5", date(2027, 1, 1)) == {late.hex}


def test_i6_department_without_a_cio(settings: Settings, rec: Recorder) -> None:
    app = rec.app
    # all three registered 2025-03-01 10:00; 30 days' grace: due 2025-03-31 10:00
    app.name_cio(GONGAN_CLERK, "gongan", "张伟", occurred_at=at(2025, 3, 15))
    app.name_cio(GONGAN_CLERK, "gongan", "李娜", occurred_at=at(2025, 6, 1))  # a successor
    app.name_cio(MINZHENG, "minzheng", "王芳", occurred_at=at(2025, 5, 1))  # late
    assert subjects(settings, "I6", date(2025, 3, 30)) == set()
    late = found(settings, "I6", date(2025, 3, 31))
    assert {f.subject for f in late} == {"minzheng", "jiaoyu"}
    assert all(f.time.isoformat().startswith("2025-03-31T10:00") for f in late)
    assert {f.severity for f in late} == {"low"}
    assert subjects(settings, "I6", date(2025, 4, 30)) == {"minzheng", "jiaoyu"}
    # named on 05-01: no longer without a CIO; jiaoyu never names one
    assert subjects(settings, "I6", date(2025, 5, 1)) == {"jiaoyu"}
    assert subjects(settings, "I6", date(2026, 1, 1)) == {"jiaoyu"}


def test_d3_entrustment_past_its_period_with_no_end(settings: Settings, rec: Recorder) -> None:
    app = rec.app
    system = app.register_system(GONGAN_CLERK, "gongan", INVENTORY, occurred_at=at(2025, 4, 1))

    def entrust(reference: str, end: date) -> UUID:
        return app.entrust_processor(
            GONGAN_CLERK, department="gongan", contract_reference=reference,
            processor_name="某科技公司", processor_credit_code="91320505MA1XXXXX0X",
            tasks=["operate"], system_ids=(system,), period_start=date(2025, 5, 1),
            period_end=end, occurred_at=at(2025, 4, 20),
        )  # fmt: skip

    lapsed = entrust("HT-1", date(2025, 12, 31))  # never ended: due 2026-01-31 00:00
    ended = entrust("HT-2", date(2025, 12, 31))
    app.end_processor(GONGAN_CLERK, ended, reason="数据已返还", occurred_at=at(2026, 1, 10))
    late = entrust("HT-3", date(2025, 12, 31))
    app.end_processor(GONGAN_CLERK, late, reason="合同期满", occurred_at=at(2026, 3, 1))
    assert subjects(settings, "D3", date(2026, 1, 30)) == set()
    due = found(settings, "D3", date(2026, 1, 31))
    assert {f.subject for f in due} == {lapsed.hex, late.hex}
    assert all(f.time.isoformat().startswith("2026-01-31T00:00") for f in due)
    assert {(f.severity, f.department) for f in due} == {("medium", "gongan")}
    # HT-3's end is recorded on 03-01: no longer lapsed from then on
    assert subjects(settings, "D3", date(2026, 3, 1)) == {lapsed.hex}
    assert subjects(settings, "D3", date(2027, 1, 1)) == {lapsed.hex}


def test_s13_quality_objection_unresolved_past_the_working_days(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    _personal_resource(app)  # RK-0001, provided by gongan

    def objection(text: str) -> UUID:
        return app.raise_quality_objection(
            MINZHENG, department="minzheng", resource_code="RK-0001", items=("姓名",),
            description=text, raised_at=at(2026, 6, 1),  # a Monday
        )  # fmt: skip

    open_, on_time, late = objection("姓名为空"), objection("姓名错字"), objection("重复记录")
    app.resolve_quality_objection(GONGAN, on_time, resolution="已更正", resolved_at=at(2026, 6, 10))
    app.resolve_quality_objection(GONGAN, late, resolution="已去重", resolved_at=at(2026, 6, 20))
    # 10 working days after 06-01 (Mon–Fri, no calendar recorded): the last is 06-15
    assert subjects(settings, "S13", date(2026, 6, 15)) == set()
    due = found(settings, "S13", date(2026, 6, 16))
    assert {f.subject for f in due} == {open_.hex, late.hex}
    assert all(f.time.isoformat().startswith("2026-06-16T00:00") for f in due)
    assert {(f.severity, f.department) for f in due} == {("low", "gongan")}
    assert subjects(settings, "S13", date(2026, 6, 20)) == {open_.hex}  # resolved late
    assert subjects(settings, "S13", date(2026, 12, 31)) == {open_.hex}


def test_i7_cloud_targets_at_each_year_end(settings: Settings, rec: Recorder) -> None:
    app = rec.app

    def system(name: str, registered: datetime) -> UUID:
        inventory = replace(INVENTORY, name=name)
        return app.register_system(GONGAN_CLERK, "gongan", inventory, occurred_at=registered)

    a, b, c, d = (system(n, at(2019, 3, 1)) for n in ("甲系统", "乙系统", "丙系统", "丁系统"))
    e = system("戊系统", at(2020, 6, 1))
    for sid, moved in ((a, at(2019, 6, 1)), (b, at(2020, 3, 1)), (d, at(2019, 12, 31, 23)),
                       (e, at(2021, 5, 1))):  # fmt: skip
        app.move_system_on_cloud(GONGAN_CLERK, sid, occurred_at=moved)
    app.decommission_system(GONGAN_CLERK, c, "停用", occurred_at=at(2019, 12, 20))  # not counted
    # 2019-12-31: a and d of a, b, d on the cloud (66.7% ≥ 50%)
    assert subjects(settings, "I7", date(2020, 1, 1)) == set()
    assert subjects(settings, "I7", date(2020, 12, 31)) == set()  # 2020 not ended yet
    # 2020-12-31: a, b, d of a, b, d, e (75% < 100%)
    (missed,) = found(settings, "I7", date(2021, 1, 1))
    assert (missed.subject, missed.department, missed.severity) == ("zone:2020:cloud", "ndrc",
                                                                    "medium")  # fmt: skip
    assert missed.time.isoformat().startswith("2021-01-01T00:00") and "3 of 4" in missed.detail
    assert subjects(settings, "I7", date(2022, 1, 1)) == {"zone:2020:cloud"}  # 2021 met
