"""Boundary cases worked by hand from domain.md's rule table and the seed plan (both backends).

An independent checker works cases from the brief's text alone; these are the ones at a
limit: the instant a grant starts or ends, a system connected or marked zombie at the
very instant of a fund decision, a review at that instant, a sum exactly at the filed
amount and one fen over, a deadline across a holiday and a make-up working day, a
reason or purpose of blanks, I1's 180th day, and F1 before the plan's "2019年起"
(seed §三(三)12; projections/rules/fund_state.py), and S1/S2 judged at the access time
when the revocation, approval or reclassification is recorded after the access
(projections/rules/rejudged.py).

The ledger is conftest's: gongan, minzheng, jiaoyu (03-01) and RK-0007 (conditional;
姓名 personal, 纳税额 important, 户籍 core; 04-01), everything recorded on 2026-11-20.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from uuid import UUID

from ledger.config import Settings
from ledger.domain import FundKind, ResourceItem, RiskLevel, Sensitivity, SharingType, ZombieReason
from ledger.domain.district_calendar import CalendarSpec
from projections.query import open_views
from tests.projections.rules.hand import (
    INVENTORY,
    at,
    file_project,
    grant_funds,
    granted_name,
    made_not_shareable_on_06_10,
    read_name,
    request,
    rules_of,
    subjects,
)
from tests.projections.scenario import (
    ADMIN,
    GONGAN,
    MINZHENG,
    NDRC,
    OFFICER,
    PLATFORM,
    PURPOSE,
    Recorder,
    _entry,
    report,
)

# ---------------------------------------------------------------------- funds


def test_f1_judges_the_system_at_the_decision_instant_and_only_om_funds(
    settings: Settings, rec: Recorder
) -> None:
    """Required to connect from 04-02, connected at 06-01 10:00. O&M at 09:59 is F1; O&M
    at 10:00 finds it connected (the state at the decision includes that instant); O&M
    after, and construction funds before, are not F1 (domain.md F1: O&M funds only)."""
    system = rec.app.register_system(NDRC, "minzheng", INVENTORY, required_to_connect=True,
                                     occurred_at=at(4, 2))  # fmt: skip
    before = grant_funds(rec, at(6, 1, 9, 59), system=system)
    same = grant_funds(rec, at(6, 1, 10, 0), system=system)
    build = grant_funds(rec, at(5, 1), system=system, kind=FundKind.CONSTRUCTION_FUNDS)
    rec.app.connect_system(PLATFORM, system, occurred_at=at(6, 1, 10, 0))
    after = grant_funds(rec, at(6, 2), system=system)
    assert subjects(settings, "F1") == {before}
    assert {same, build, after}.isdisjoint(subjects(settings, "F1"))


def test_f1_applies_from_2019_as_the_plan_says(settings: Settings, rec: Recorder) -> None:
    """Seed §三(三)12: "2019年起，凡已明确须接入而实际未接入…财政部门原则上不予安排运维经费".
    A system required to connect (2018-04-02) and never connected. O&M for 2018 decided on
    2018-12-31 23:59 CST: before the rule, no F1. O&M for 2018 decided on 2019-01-01 00:00
    (arranged in 2019) and O&M for 2019 decided on 2018-12-20 (arranged for 2019): F1."""
    system = rec.app.register_system(NDRC, "minzheng", INVENTORY, required_to_connect=True,
                                     occurred_at=at(4, 2, y=2018))  # fmt: skip
    old = grant_funds(rec, at(12, 31, 23, 59, y=2018), system=system, year=2018)
    arranged_2019 = grant_funds(rec, at(1, 1, 0, 0, y=2019), system=system, year=2018)
    for_2019 = grant_funds(rec, at(12, 20, y=2018), system=system, year=2019)
    assert subjects(settings, "F1") == {arranged_2019, for_2019}
    assert rules_of(settings, old) == set()


def test_f1_from_year_is_the_calendars_setting(settings: Settings, rec: Recorder) -> None:
    """``connection_funds_from_year`` 2020 in the calendar in force: 2019's O&M is not F1,
    2020's is."""
    spec = CalendarSpec((), (), (), {t.value: 10 for t in SharingType},
                        {"connection_funds_from_year": 2020})  # fmt: skip
    assert rec.app.record_calendar(ADMIN, spec)  # the first calendar: in force from 2018
    system = rec.app.register_system(NDRC, "minzheng", INVENTORY, required_to_connect=True,
                                     occurred_at=at(4, 2, y=2019))  # fmt: skip
    grant_funds(rec, at(6, 1, y=2019), system=system, year=2019)
    in_2020 = grant_funds(rec, at(6, 1, y=2020), system=system, year=2020)
    assert subjects(settings, "F1") == {in_2020}


def test_f2_from_the_instant_the_system_is_marked_zombie(settings: Settings, rec: Recorder) -> None:
    system = rec.app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=at(4, 2))
    rec.app.mark_system_zombie(NDRC, system, [ZombieReason.UNMAINTAINED], occurred_at=at(6, 1))
    before = grant_funds(rec, at(5, 31), system=system)
    same = grant_funds(rec, at(6, 1), system=system)
    assert rules_of(settings, before) == set()
    assert rules_of(settings, same) == {"F2"}


def test_f4_a_rejection_at_the_decision_instant_else_f6(settings: Settings, rec: Recorder) -> None:
    """Rejected 06-01 10:00: funds at 09:59 were granted while the review was pending (F6);
    at 10:00 the rejection is on record (F4)."""
    filing = file_project(rec, at(5, 10))
    rec.app.review_project(NDRC, filing, False, "不符合共建共享要求", occurred_at=at(6, 1))
    pending = grant_funds(rec, at(6, 1, 9, 59), filing=filing, kind=FundKind.CONSTRUCTION_FUNDS)
    rejected = grant_funds(rec, at(6, 1, 10, 0), filing=filing, kind=FundKind.CONSTRUCTION_FUNDS)
    assert (rules_of(settings, pending), rules_of(settings, rejected)) == ({"F6"}, {"F4"})


def test_f7_exactly_the_filed_amount_then_one_fen_over(settings: Settings, rec: Recorder) -> None:
    """Investment 10,000.00 yuan: 6,000.00 + 4,000.00 is the filed amount (not above); one
    fen more is F7, on the decision that crosses it."""
    filing = file_project(rec, at(5, 10))
    rec.app.review_project(NDRC, filing, True, "通过", occurred_at=at(5, 11))
    build = FundKind.CONSTRUCTION_FUNDS
    first = grant_funds(rec, at(5, 12), filing=filing, kind=build, fen=600_000)
    second = grant_funds(rec, at(5, 13), filing=filing, kind=build, fen=400_000)
    over = grant_funds(rec, at(5, 14), filing=filing, kind=build, fen=1)
    assert subjects(settings, "F7") == {over}
    assert rules_of(settings, first) == rules_of(settings, second) == set()


def test_f4_om_funds_for_a_system_of_a_rejected_project(settings: Settings, rec: Recorder) -> None:
    """Seed §三(五)17 "对不符合共建共享要求的项目，区发改局不予审批，区财政局不拨付运维经费":
    the filing lists the system and was rejected on 05-11; O&M granted to the system on
    06-01 (citing no filing) is F4."""
    system = rec.app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=at(4, 2))
    filing = rec.app.file_project(
        MINZHENG, name="救助系统升级", builder="minzheng", investment_fen=1_000_000,
        om_cost_fen=100, funding_channel="财政", resource_codes=[], system_ids=[system],
        mlps_filed=True, catalogue_preregistered=True, occurred_at=at(5, 10),
    )  # fmt: skip
    rec.app.review_project(NDRC, filing, False, "不符合共建共享要求", occurred_at=at(5, 11))
    assert "F4" in rules_of(settings, grant_funds(rec, at(6, 1), system=system))
    # Decided the minute before the rejection: not F4 (and not F6, cited no filing).
    assert rules_of(settings, grant_funds(rec, at(5, 11, 9, 59), system=system)) == set()


def test_f4_through_the_system_when_the_rejected_filing_is_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    """O&M to the system on 06-01 is recorded first: nothing (O&M for a system alone
    needs no filing). The filing listing the system (05-10) and its rejection (05-11)
    are recorded after: F4 from the rejection's position, a new version; the views at
    the position before it still answer nothing."""
    system = rec.app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=at(4, 2))
    decided = grant_funds(rec, at(6, 1), system=system)
    with open_views(settings, catch_up=True) as views:
        before = views.position
    assert rules_of(settings, decided) == set()
    filing = rec.app.file_project(
        MINZHENG, name="救助系统升级", builder="minzheng", investment_fen=1_000_000,
        om_cost_fen=100, funding_channel="财政", resource_codes=[], system_ids=[system],
        mlps_filed=True, catalogue_preregistered=True, occurred_at=at(5, 10),
    )  # fmt: skip
    assert rules_of(settings, decided) == set()  # pending: F6 is for a cited filing only
    rec.app.review_project(NDRC, filing, False, "不符合共建共享要求", occurred_at=at(5, 11))
    assert rules_of(settings, decided) == {"F4"}
    with open_views(settings, catch_up=True) as views:
        then = {f.subject for f in views.findings(views.moment(at=before), rule="F4")}
    assert then == set()


def test_f4_reads_the_filing_that_bounds_the_system_as_f7_does(
    settings: Settings, rec: Recorder
) -> None:
    """Two filings list the system: the first recorded (approved) bounds its O&M
    (docs/projections.md: a filing recorded later changes no decision's bound), so the
    later rejected one makes no F4; O&M citing the rejected filing is F4."""
    system = rec.app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=at(4, 2))
    filings = [
        rec.app.file_project(
            MINZHENG, name=name, builder="minzheng", investment_fen=1_000_000,
            om_cost_fen=1_000, funding_channel="财政", resource_codes=[], system_ids=[system],
            mlps_filed=True, catalogue_preregistered=True, occurred_at=at(5, day),
        )
        for name, day in (("救助系统", 10), ("救助系统二期", 12))
    ]  # fmt: skip
    rec.app.review_project(NDRC, filings[0], True, "通过", occurred_at=at(5, 11))
    rec.app.review_project(NDRC, filings[1], False, "重复建设", occurred_at=at(5, 13))
    alone = grant_funds(rec, at(6, 1), system=system)
    cited = grant_funds(rec, at(6, 1), system=system, filing=filings[1])
    assert (rules_of(settings, alone), rules_of(settings, cited)) == (set(), {"F4"})


def test_f3_funds_decided_before_the_filing_they_cite(settings: Settings, rec: Recorder) -> None:
    """Seed §三(五)17 "申请…经费时，应及时…全口径备案": the filing dated 05-10 was not on
    record when the funds were decided on 05-01, though the decision (recorded after it)
    cites it: F3 at the decision."""
    filing = file_project(rec, at(5, 10))
    early = grant_funds(rec, at(5, 1), filing=filing, kind=FundKind.CONSTRUCTION_FUNDS)
    assert rules_of(settings, early) == {"F3"}  # not F6: no review can be pending then


def test_f3_not_for_a_filing_dated_at_the_decision_instant(
    settings: Settings, rec: Recorder
) -> None:
    """Filed 05-10 10:00. Construction funds citing it at 09:59 are F3 (no filing then);
    at 10:00 the filing is on record, its review pending: F6, not F3. As of 05-09 the
    views show neither (the decisions are dated later)."""
    filing = file_project(rec, at(5, 10))
    build = FundKind.CONSTRUCTION_FUNDS
    before = grant_funds(rec, at(5, 10, 9, 59), filing=filing, kind=build)
    same = grant_funds(rec, at(5, 10, 10, 0), filing=filing, kind=build)
    assert (rules_of(settings, before), rules_of(settings, same)) == ({"F3"}, {"F6"})
    assert subjects(settings, "F3", date(2026, 5, 9)) == set()


# ---------------------------------------------------------------------- sharing


def test_s6_counts_a_holiday_out_and_a_make_up_day_in(settings: Settings, rec: Recorder) -> None:
    """Calendar: Fri 06-19 off, Sat 06-20 worked. Submitted Fri 06-05 23:30 CST; the 10
    working days after: 06-08..12, 15..18, 20 -> due 06-20. Answered 06-20 23:00: never
    S6. Rejected 06-22 09:00: S6 as of 06-21 only. Unanswered: S6 from 06-21."""
    spec = CalendarSpec((2026,), (date(2026, 6, 19),), (date(2026, 6, 20),),
                        {t.value: 10 for t in SharingType})  # fmt: skip
    assert rec.app.record_calendar(ADMIN, spec)

    def submit(minute: int) -> UUID:
        return rec.app.submit_request(
            MINZHENG, requester_department="minzheng", resource_code="RK-0007",
            items=["姓名"], purpose=PURPOSE, legal_basis="法", period_start=date(2026, 6, 1),
            period_end=date(2026, 12, 31), submitted_at=at(6, 5, 23, minute),
        )  # fmt: skip

    silent, answered, late = submit(30), submit(31), submit(32)
    rec.app.approve_request(GONGAN, answered, ["姓名"], at(12, 31), decided_at=at(6, 20, 23))
    rec.app.reject_request(GONGAN, late, "不符合条件", decided_at=at(6, 22, 9))
    assert subjects(settings, "S6", date(2026, 6, 20)) == set()
    assert subjects(settings, "S6", date(2026, 6, 21)) == {silent.hex, late.hex}
    assert subjects(settings, "S6", date(2026, 6, 22)) == {silent.hex}


def test_s2_a_grant_is_in_force_from_its_decision_up_to_its_expiry(
    settings: Settings, rec: Recorder
) -> None:
    """Approved 06-02 10:00 until 06-30 00:00: an access one minute before the approval is
    S2, at it is not; one minute before the expiry is not, at it is S2."""
    grant = request(rec)
    rec.app.approve_request(GONGAN, grant, ["姓名"], at(6, 30, 0), decided_at=at(6, 2))
    rec.accesses(*(
        report(event, when, "mz-01", "minzheng", "RK-0007", ("姓名",), PURPOSE, grant)
        for event, when in (("e1", at(6, 2, 9, 59)), ("e2", at(6, 2, 10)),
                            ("e3", at(6, 29, 23, 59)), ("e4", at(6, 30, 0)))
    ))  # fmt: skip
    assert subjects(settings, "S2") == {"e1", "e4"}


def test_s2_on_a_revocation_recorded_after_the_access_it_precedes(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md S2: "no grant in force at the access time (none, expired, revoked)". The
    access of 06-20 is reported first; the revocation dated 06-15 is recorded after it."""
    grant = granted_name(rec)
    read_name(rec, "e5", at(6, 20), grant)
    rec.app.revoke_grant(GONGAN, grant, "用途已完成", revoked_at=at(6, 15))
    assert subjects(settings, "S2") == {"e5"}


def test_no_s2_when_the_approval_recorded_later_was_in_force(
    settings: Settings, rec: Recorder
) -> None:
    grant = request(rec)
    read_name(rec, "e1", at(6, 5), grant)
    rec.app.approve_request(GONGAN, grant, ["姓名"], at(12, 31), decided_at=at(6, 2))
    assert subjects(settings, "S2") == set()


def test_no_s1_for_an_access_before_the_resource_became_not_shareable(
    settings: Settings, rec: Recorder
) -> None:
    """Conditional and granted on 06-05, reclassified not_shareable on 06-10; the access of
    06-05 is reported after: at its time the resource was shareable with a grant."""
    grant = granted_name(rec)
    made_not_shareable_on_06_10(rec)
    read_name(rec, "e1", at(6, 5), grant)
    assert rules_of(settings, "e1") == set()


def test_s1_for_an_access_after_the_reclassification_it_follows(
    settings: Settings, rec: Recorder
) -> None:
    """The converse, recorded in either order of business time: the reclassification dated
    06-10 is recorded before both accesses; the read of 06-12 is S1 (not_shareable then,
    whatever the grant), the read of 06-09 is not."""
    grant = granted_name(rec)
    made_not_shareable_on_06_10(rec)
    read_name(rec, "e12", at(6, 12), grant)
    read_name(rec, "e9", at(6, 9), grant)
    assert (rules_of(settings, "e12"), rules_of(settings, "e9")) == ({"S1"}, set())


def test_s1_once_a_reclassification_dated_before_the_access_is_recorded(
    settings: Settings, rec: Recorder
) -> None:
    grant = granted_name(rec)
    read_name(rec, "e12", at(6, 12), grant)
    made_not_shareable_on_06_10(rec)
    assert rules_of(settings, "e12") == {"S1"}


def test_purposes_items_and_sensitive_personal_items(settings: Settings, rec: Recorder) -> None:
    """RK-0009 conditional (姓名 personal, 身份证号 sensitive_personal), granted [姓名] for
    PURPOSE; RK-0011 unconditional, RK-0010 not_shareable, same items.
    p1 身份证号 for another purpose: beyond the items (S3) and the purpose on sensitive items
    (P1). p2 姓名 for another purpose: S4. p3 身份证号 of RK-0011 with a purpose of blanks:
    P1 (no recorded purpose), no grant needed. p5 the provider reading its own
    not_shareable resource: nothing. p6 the granted purpose with other spacing: nothing."""
    items = [ResourceItem("姓名", Sensitivity.PERSONAL),
             ResourceItem("身份证号", Sensitivity.SENSITIVE_PERSONAL)]  # fmt: skip
    secret = _entry("RK-0010", "涉密人口", items, SharingType.NOT_SHAREABLE)
    for entry in (
        _entry("RK-0009", "人口", items, SharingType.CONDITIONAL),
        replace(secret, legal_basis="《保守国家秘密法》"),
        _entry("RK-0011", "公开人口", items, SharingType.UNCONDITIONAL),
    ):
        rec.app.register_resource(GONGAN, entry, occurred_at=at(4, 1))
    grant = request(rec, "RK-0009", ("姓名", "身份证号"))
    rec.app.approve_request(GONGAN, grant, ["姓名"], at(12, 31), decided_at=at(6, 2))
    rec.accesses(
        report("p1", at(6, 5), "mz", "minzheng", "RK-0009", ("身份证号",), "其他", grant),
        report("p2", at(6, 5), "mz", "minzheng", "RK-0009", ("姓名",), "其他", grant),
        report("p3", at(6, 5), "mz", "minzheng", "RK-0011", ("身份证号",), "  "),
        report("p5", at(6, 5), "ga", "gongan", "RK-0010", ("身份证号",), ""),
        report("p6", at(6, 5), "mz", "minzheng", "RK-0009", ("姓名",), f" {PURPOSE}  ", grant),
    )  # fmt: skip
    found = {event: rules_of(settings, event) for event in ("p1", "p2", "p3", "p5", "p6")}
    assert found == {"p1": {"S3", "P1"}, "p2": {"S4"}, "p3": {"P1"}, "p5": set(), "p6": set()}


def test_p1_also_on_a_not_shareable_resource(settings: Settings, rec: Recorder) -> None:
    """domain.md P1: "access to sensitive_personal items with no recorded purpose": it
    holds beside S1 when another department reads them from a not_shareable resource."""
    items = [ResourceItem("身份证号", Sensitivity.SENSITIVE_PERSONAL)]
    secret = _entry("RK-0010", "涉密人口", items, SharingType.NOT_SHAREABLE)
    rec.app.register_resource(GONGAN, replace(secret, legal_basis="《保守国家秘密法》"),
                              occurred_at=at(4, 1))  # fmt: skip
    rec.accesses(report("p4", at(6, 5), "mz", "minzheng", "RK-0010", ("身份证号",), ""))
    assert rules_of(settings, "p4") == {"S1", "P1"}


def test_p2_and_d1_at_the_instants_a_pia_and_an_approval_start_and_end(
    settings: Settings, rec: Recorder
) -> None:
    """RK-0007 (姓名 personal, 户籍 core). The PIA for minzheng is assessed 06-05 10:00 and
    网信办's core approval runs [06-05 10:00, 06-10 10:00). minzheng reads 姓名 and 户籍 at
    06-05 09:59 (before both: P2 and D1), at 06-05 10:00 (covered), at 06-10 09:59
    (covered) and at 06-10 10:00 (the approval has ended: D1 again, citing it)."""
    rec.app.record_impact_assessment(
        GONGAN, department="gongan", reference="PIA-1", resource_code="RK-0007",
        recipient_department="minzheng", request_id=None, conclusion="acceptable",
        summary="评估", assessed_at=at(6, 5),
    )  # fmt: skip
    rec.app.approve_core_data_sharing(
        OFFICER, reference="网信核-1", resource_code="RK-0007", recipient_department="minzheng",
        request_id=None, approving_authority="区委网信委", valid_until=at(6, 10),
        approved_at=at(6, 5),
    )  # fmt: skip

    def read(event: str, when: datetime) -> None:
        rec.accesses(report(event, when, "mz-01", "minzheng", "RK-0007", ("姓名", "户籍"),
                            PURPOSE))  # fmt: skip

    read("d1", at(6, 5, 9, 59))
    assert subjects(settings, "P2") == subjects(settings, "D1") == {"RK-0007"}
    with open_views(settings, catch_up=True) as views:
        dated = sorted(f.time.isoformat() for f in views.findings(views.moment(), rule="D1"))
    assert dated == ["2026-06-05T09:59:00+08:00"]
    for event, when in (("d2", at(6, 5)), ("d3", at(6, 10, 9, 59)), ("d4", at(6, 10))):
        read(event, when)
    with open_views(settings, catch_up=True) as views:
        d1 = sorted(f.time.isoformat() for f in views.findings(views.moment(), rule="D1"))
        p2 = [f.time.isoformat() for f in views.findings(views.moment(), rule="P2")]
    assert d1 == ["2026-06-05T09:59:00+08:00", "2026-06-10T10:00:00+08:00"]
    assert p2 == ["2026-06-05T09:59:00+08:00"]


def test_s7_s9_s12_and_the_rights_register(settings: Settings, rec: Recorder) -> None:
    """FR-0001, a conditional base resource (S9), owner and controller 04-02, risk assessed
    06-02 10:00, the very instant the grant is approved: on record then, no S12. A
    rejection whose reason is blanks is S7. The use right shows from 06-02 and, revoked
    06-20 15:00, no longer as of 06-20 (the end of that day)."""
    items = [ResourceItem("名称", Sensitivity.GENERAL, True)]
    base = replace(_entry("FR-0001", "法人", items, SharingType.CONDITIONAL), base_resource=True)
    app = rec.app
    app.register_resource(GONGAN, base, occurred_at=at(4, 1))
    app.assign_resource_owner(GONGAN, "FR-0001", "gongan", occurred_at=at(4, 2))
    app.assign_resource_controller(GONGAN, "FR-0001", "gongan", occurred_at=at(4, 2))
    app.record_risk_assessment(
        OFFICER, "FR-0001", "评1", RiskLevel.LOW, "法人", occurred_at=at(6, 2)
    )
    grant = request(rec, "FR-0001", ("名称",))
    app.approve_request(GONGAN, grant, ["名称"], at(12, 31), decided_at=at(6, 2))
    refused = request(rec, "FR-0001", ("名称",))
    app.reject_request(GONGAN, refused, "   ", decided_at=at(6, 3))
    app.revoke_grant(GONGAN, grant, "用途已完成", revoked_at=at(6, 20, 15))
    assert rules_of(settings, "FR-0001") == {"S9"}
    assert rules_of(settings, refused.hex) == {"S7"}

    def holders(on: date) -> list[tuple[str, str | None, str | None, list[str]]]:
        with open_views(settings, catch_up=True) as views:
            return [
                (e.provider_department, e.owner, e.controller,
                 [u.holder_department for u in e.use_rights])
                for e in views.rights_register(views.moment(as_of=on))
                if e.resource_code == "FR-0001"
            ]  # fmt: skip

    assert holders(date(2026, 6, 1)) == [("gongan", "gongan", "gongan", [])]
    assert holders(date(2026, 6, 19)) == [("gongan", "gongan", "gongan", ["minzheng"])]
    assert holders(date(2026, 6, 20)) == [("gongan", "gongan", "gongan", [])]


def test_i1_on_the_180th_day(settings: Settings, rec: Recorder) -> None:
    """Registered 01-01 10:00, never used: 180 days end 06-30 10:00 (31+28+31+30+31+29)."""
    system = rec.app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=at(1, 1)).hex
    assert system not in subjects(settings, "I1", date(2026, 6, 29))
    assert system in subjects(settings, "I1", date(2026, 6, 30))
