"""More cases worked by hand from domain.md: funds, systems, reports, anomalies (both backends).

The second half of the reviewer's pass (test_hand_cases_more.py has the sharing and
catalogue rules): F2 (decommissioned), F5, F6, F8 (docs/projections.md's issue-14 rules,
seed §三(五)17), I1 (180 days), I2, I3 (31 Dec, 31 Jan) and the anomalies domain.md lists
for security officers' review, each at its boundary, with a fact recorded late where it
makes sense and the as-of views. Business times are China Standard Time; the UTC cases
give an instant whose CST day or hour differs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from msgspec.structs import replace

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
    ZombieReason,
)
from ledger.domain.access import AccessReport
from projections.facts import CST
from projections.query import Anomaly, open_views
from tests.projections.rules.hand import (
    at,
    file_project,
    found,
    grant_funds,
    granted_name,
    head,
    rules_of,
    subjects,
)
from tests.projections.scenario import (
    FINANCE,
    GONGAN,
    JIAOYU,
    MINZHENG,
    NDRC,
    PURPOSE,
    Recorder,
    _entry,
)

BUILD = FundKind.CONSTRUCTION_FUNDS
GONGAN_CLERK = Actor("gongan-clerk", Role.DEPARTMENT_CLERK, "gongan")


def read(event: str, when: datetime, *, system: UUID | None = None, accessor: str = "mz-01",
         code: str = "FR-0002", items: tuple[str, ...] = ("名称",), grant: UUID | None = None,
         purpose: str = PURPOSE) -> AccessReport:  # fmt: skip
    """minzheng's read (by default of the unconditional FR-0002, through ``system``)."""
    return AccessReport(
        platform_event_id=event, accessor_id=accessor, department="minzheng",
        system=None if system is None else str(system), resource_code=code, items=items,
        row_count=1, purpose=purpose, grant_id=grant, client_address="10.0.0.1",
        accessed_at=when,
    )  # fmt: skip


def open_resources(rec: Recorder) -> None:
    """FR-0002 (法人, general) and RK-0009 (人口, 身份证号 sensitive personal), both
    unconditional: reads of them are authorised, so only the rule under test speaks."""
    for code, name, item in (
        ("FR-0002", "法人", ResourceItem("名称", Sensitivity.GENERAL)),
        ("RK-0009", "人口", ResourceItem("身份证号", Sensitivity.SENSITIVE_PERSONAL)),
    ):
        entry = _entry(code, name, [item], SharingType.UNCONDITIONAL)
        rec.app.register_resource(GONGAN, entry, occurred_at=at(1, 1, y=2025))  # fmt: skip


def system(
    rec: Recorder, when: datetime, name: str = "救助系统", *, personal: bool = False,
    important: bool = False,
) -> UUID:  # fmt: skip
    inventory = SystemInventory(name, "救助审核", "全区", "每日", "区发改局", None, "财政")
    return rec.app.register_system(
        NDRC, "minzheng", inventory, occurred_at=when, holds_personal_data=personal,
        holds_important_data=important,
    )  # fmt: skip


def anomalies(settings: Settings, kind: str) -> list[Anomaly]:
    with open_views(settings, catch_up=True) as views:
        return [a for a in views.anomalies(views.moment()) if a.kind == kind]


# ---------------------------------------------------------------------- F2, F5, F6


def test_f2_from_the_decommissioning_instant_and_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md F2: "funds granted to a system in zombie or decommissioned state" (high);
    seed §三(五)17. Decommissioned 06-01 10:00: O&M at 09:59 nothing, at 10:00 F2; withheld
    at 10:00: nothing. O&M of 06-05 recorded before the decommissioning: F2 once it is
    recorded; the views at the position before it show none."""
    sid = system(rec, at(4, 2))
    later = grant_funds(rec, at(6, 5), system=sid)
    before = head(settings)
    rec.app.decommission_system(NDRC, sid, "已整合", occurred_at=at(6, 1))
    early = grant_funds(rec, at(6, 1, 9, 59), system=sid)
    same = grant_funds(rec, at(6, 1), system=sid)
    withheld = rec.app.decide_funds(
        FINANCE, kind=FundKind.OM_FUNDS, year=2026, department="minzheng", amount_fen=100,
        outcome=FundOutcome.WITHHELD, rationale="已停用", system_id=sid, decided_at=at(6, 1),
    ).hex  # fmt: skip
    assert subjects(settings, "F2") == {same, later}
    assert rules_of(settings, early) == rules_of(settings, withheld) == set()
    assert {f.subject for f in found(settings, "F2", pos=before)} == set()
    assert {f.severity for f in found(settings, "F2")} == {"high"}


def test_f5_a_filing_without_catalogue_preregistration(settings: Settings, rec: Recorder) -> None:
    """domain.md F5: "filing without resource-catalogue pre-registration" (medium); seed
    §三(五)17 "进行项目信息资源目录预编制". Filed 05-10 without it: F5 dated 05-10, absent as
    of 05-09; the filing with it (file_project's default): none."""
    with_it = file_project(rec, at(5, 10)).hex
    without = rec.app.file_project(
        JIAOYU, name="招生系统", builder="jiaoyu", investment_fen=1, om_cost_fen=1,
        funding_channel="财政", resource_codes=[], system_ids=[], mlps_filed=True,
        catalogue_preregistered=False, occurred_at=at(5, 10),
    ).hex  # fmt: skip
    assert subjects(settings, "F5", date(2026, 5, 9)) == set()
    f5 = found(settings, "F5", date(2026, 5, 10))
    assert [(f.subject, f.severity, f.time.isoformat()) for f in f5] == [
        (without, "medium", "2026-05-10T10:00:00+08:00")
    ]
    assert "F5" not in rules_of(settings, with_it)


def test_f6_until_the_review_instant_and_withdrawn_when_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    """docs/projections.md F6 (seed §三(五)17 架构治理): funds citing a filing whose review
    was neither approved nor rejected at the decision. Approved 06-01 10:00: construction
    funds at 09:59 F6, at 10:00 none. A decision of 06-05 recorded before the approval was
    F6 then; the approval (dated before it) withdraws it, the views before still show it."""
    filing = file_project(rec, at(5, 10))
    later = grant_funds(rec, at(6, 5), filing=filing, kind=BUILD)
    assert rules_of(settings, later) == {"F6"}
    before = head(settings)
    rec.app.review_project(NDRC, filing, True, "符合共建共享要求", occurred_at=at(6, 1))
    early = grant_funds(rec, at(6, 1, 9, 59), filing=filing, kind=BUILD)
    same = grant_funds(rec, at(6, 1), filing=filing, kind=BUILD)
    assert subjects(settings, "F6") == {early}
    assert rules_of(settings, same) == rules_of(settings, later) == set()
    assert {f.subject for f in found(settings, "F6", pos=before)} == {later}


# ---------------------------------------------------------------------- F8


def test_f8_eleven_accesses_in_the_year_then_the_twelfth_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    """docs/projections.md F8 (seed §三(五)17 "利用程度低"): O&M for a system with fewer than
    12 accesses on the 365 CST days ending with the decision's day. Decision 2026-06-01:
    the window is 2025-06-02..2026-06-01. 11 accesses in it and one on 2025-06-01 (outside):
    F8. A 12th dated 2025-06-02 00:00 CST (2025-06-01T16:00Z) recorded after: withdrawn
    (the threshold met), the views before still show it. A system registered exactly 365
    days before the decision is judged; one registered a minute later is not."""
    open_resources(rec)
    old = system(rec, at(6, 1, y=2025))
    young = system(rec, at(6, 1, 10, 1, y=2025), name="新系统")
    rec.accesses(read("out", at(6, 1, 23, 59, y=2025), system=old),
                 *(read(f"in{n}", at(1, 10 + n), system=old) for n in range(11)))  # fmt: skip
    judged, unjudged = (grant_funds(rec, at(6, 1), system=s) for s in (old, young))
    assert subjects(settings, "F8") == {judged}
    assert rules_of(settings, unjudged) == set()
    assert {f.severity for f in found(settings, "F8")} == {"medium"}
    before = head(settings)
    rec.accesses(read("first", datetime(2025, 6, 1, 16, tzinfo=UTC), system=old))
    assert subjects(settings, "F8") == set()
    assert {f.subject for f in found(settings, "F8", pos=before)} == {judged}


# ---------------------------------------------------------------------- I1, I2


def test_i1_180_days_after_the_last_access_and_an_access_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md I1: "active system with no data access for 180 days: zombie candidate"
    (info). Registered 01-01, last read 03-01 10:00: 180 days end 08-28 10:00 (30 to 03-31,
    60, 91, 121, 152 to 07-31, 180): I1 as of 08-28, not 08-27. A read dated 05-01 recorded
    after: as of 08-28 no I1 (180 days from 05-01 end 10-28); the views before it still
    show it. A system marked zombie on 05-01 is no longer an *active* candidate."""
    open_resources(rec)
    sid = system(rec, at(1, 1))
    zombie = system(rec, at(1, 1), name="旧系统")
    rec.app.mark_system_zombie(NDRC, zombie, [ZombieReason.UNMAINTAINED], occurred_at=at(5, 1))
    rec.accesses(read("r1", at(3, 1), system=sid))
    assert sid.hex not in subjects(settings, "I1", date(2026, 8, 27))
    i1 = [f for f in found(settings, "I1", date(2026, 8, 28)) if f.subject == sid.hex]
    assert [(f.time.isoformat(), f.severity) for f in i1] == [("2026-08-28T10:00:00+08:00", "info")]
    assert zombie.hex not in subjects(settings, "I1", date(2026, 8, 28))
    before = head(settings)
    rec.accesses(read("r2", at(5, 1), system=sid))
    assert sid.hex not in subjects(settings, "I1", date(2026, 8, 28))
    assert sid.hex not in subjects(settings, "I1", date(2026, 10, 27))
    assert sid.hex in subjects(settings, "I1", date(2026, 10, 28))
    assert sid.hex in {f.subject for f in found(settings, "I1", date(2026, 8, 28), before)}


def test_i2_personal_or_important_data_with_no_mlps_filing(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md I2: "system holding personal or important data with no MLPS filing"
    (high); 网络安全法 §21. personal (04-02) filed on 06-01: I2 as of 05-31, not 06-01.
    important, never filed: I2. neither: none. personal, decommissioned 05-01: not I2
    once decommissioned (docs: active or zombie)."""
    personal = system(rec, at(4, 2), name="甲", personal=True)
    important = system(rec, at(4, 2), name="乙", important=True)
    plain = system(rec, at(4, 2), name="丙")
    gone = system(rec, at(4, 2), name="丁", personal=True)
    rec.app.decommission_system(NDRC, gone, "已整合", occurred_at=at(5, 1))
    rec.app.record_mlps(NDRC, personal, 3, True, occurred_at=at(6, 1))
    assert subjects(settings, "I2", date(2026, 4, 30)) == {personal.hex, important.hex, gone.hex}
    assert subjects(settings, "I2", date(2026, 5, 31)) == {personal.hex, important.hex}
    assert subjects(settings, "I2", date(2026, 6, 1)) == {important.hex}
    assert plain.hex not in subjects(settings, "I2")
    assert {f.severity for f in found(settings, "I2")} == {"high"}


def test_i2_the_mlps_record_latest_in_business_time(settings: Settings, rec: Recorder) -> None:
    """Filed on 06-01 (recorded first); the record dated 05-01, not filed, is recorded
    after (a late record of the earlier state): I2 as of 05-15, none as of 06-15 and at
    the head (the filing of 06-01 is the state in force)."""
    sid = system(rec, at(4, 2), personal=True)
    rec.app.record_mlps(NDRC, sid, 3, True, occurred_at=at(6, 1))
    rec.app.record_mlps(NDRC, sid, 3, False, occurred_at=at(5, 1))
    assert subjects(settings, "I2", date(2026, 5, 15)) == {sid.hex}
    assert subjects(settings, "I2", date(2026, 6, 15)) == set()
    assert subjects(settings, "I2") == set()


def test_owner_and_controller_latest_in_business_time(settings: Settings, rec: Recorder) -> None:
    """The rights register (所有权、控制权): owner jiaoyu from 06-20 recorded first, gongan
    from 06-10 recorded after; the controller likewise: as of 06-15 gongan, as of 06-25
    and at the head jiaoyu (the later assignment in business time is in force)."""
    items = [ResourceItem("名称", Sensitivity.GENERAL)]
    rec.app.register_resource(GONGAN, _entry("FR-0009", "法人", items, SharingType.UNCONDITIONAL),
                              occurred_at=at(4, 1))  # fmt: skip
    for department, day in (("jiaoyu", 20), ("gongan", 10)):
        rec.app.assign_resource_controller(GONGAN, "FR-0009", department, occurred_at=at(6, day))

    def controller(on: date | None) -> str | None:
        with open_views(settings, catch_up=True) as views:
            (entry,) = [e for e in views.rights_register(views.moment(as_of=on))
                        if e.resource_code == "FR-0009"]  # fmt: skip
        return entry.controller

    assert controller(date(2026, 6, 15)) == "gongan"
    assert controller(date(2026, 6, 25)) == "jiaoyu"
    assert controller(None) == "jiaoyu"


# ---------------------------------------------------------------------- I3


def test_i3_by_31_december_cst_and_the_zone_by_31_january(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md I3: "department has not reported its year's sharing by 31 Dec" (medium);
    seed 四(二) "每年12月底前…报告本年度…每年1月底前…汇总形成…年度报告". gongan reports on
    2026-12-31 23:59 CST: on time. minzheng at 2026-12-31T16:30Z = 2027-01-01 00:30 CST:
    late, and stays found citing it. jiaoyu never. As of 12-31 nothing is judged; as of
    2027-01-01 minzheng and jiaoyu. The zone's report on 01-31 22:00, never approved:
    as of 01-31 no zone finding, as of 02-01 its approval (grace 0 days)."""
    rec.clock.now = datetime(2027, 2, 10, tzinfo=CST)
    for who, dept, when in (
        (GONGAN_CLERK, "gongan", at(12, 31, 23, 59)),
        (MINZHENG, "minzheng", datetime(2026, 12, 31, 16, 30, tzinfo=UTC)),
    ):
        rec.app.submit_department_report(who, department=dept, year=2026, reference=f"{dept}-26",
                                         summary="年度共享情况", submitted_at=when)  # fmt: skip
    rec.app.submit_zone_report(NDRC, year=2026, reference="zone-26", summary="全区汇总",
                               submitted_at=at(1, 31, 22, y=2027))  # fmt: skip
    assert subjects(settings, "I3", date(2026, 12, 31)) == set()
    assert subjects(settings, "I3", date(2027, 1, 1)) == {"minzheng:2026", "jiaoyu:2026"}
    assert subjects(settings, "I3", date(2027, 1, 31)) == {"minzheng:2026", "jiaoyu:2026"}
    assert subjects(settings, "I3", date(2027, 2, 1)) == {
        "minzheng:2026", "jiaoyu:2026", "zone:2026:approval"
    }  # fmt: skip
    late = [f for f in found(settings, "I3", date(2027, 2, 1)) if f.subject == "minzheng:2026"]
    assert [(f.severity, f.department) for f in late] == [("medium", "minzheng")]


# ---------------------------------------------------------------------- anomalies


def test_off_hours_sensitive_at_the_edges_of_the_working_day(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md anomalies: "off-hours access to sensitive_personal items"; the window is
    08:00–20:00 CST (anomaly_work_start_hour, anomaly_work_end_hour). 07:59 and 20:00
    are outside (0.5 + 0.5 x hours outside / 6), 08:00 and 19:59 inside; 00:30Z is 08:30
    CST (inside), 12:30Z is 20:30 CST (outside, 0.5 + 0.5 x 0.5 / 6)."""
    open_resources(rec)
    sens = ("身份证号",)
    rec.accesses(*(
        read(e, when, code="RK-0009", items=sens, accessor=f"a-{e}")
        for e, when in (("o1", at(6, 5, 7, 59)), ("o2", at(6, 5, 8)), ("o3", at(6, 5, 19, 59)),
                        ("o4", at(6, 5, 20)), ("o5", datetime(2026, 6, 5, 0, 30, tzinfo=UTC)),
                        ("o6", datetime(2026, 6, 5, 12, 30, tzinfo=UTC)))
    ))  # fmt: skip
    got = {a.subject: a.score for a in anomalies(settings, "off_hours_sensitive")}  # accessor
    assert got == {"a-o1": round(0.5 + 0.5 / 360, 3), "a-o4": 0.5, "a-o6": round(0.5 + 0.25 / 6, 3)}


def test_access_at_the_revocation_and_the_expiry_instants(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md anomalies: "access right after a revocation" (and docs' after_expiry).
    Revoked 06-15 10:00: a read at 09:59 raises nothing, at 10:00 after_revocation (0.9,
    high). jiaoyu's grant expires 06-30 00:00: a read at 06-29 23:59 nothing, at 06-30
    00:00 after_expiry (0.6, medium)."""
    grant = granted_name(rec)
    rec.app.revoke_grant(GONGAN, grant, "用途已完成", revoked_at=at(6, 15))
    school = rec.app.submit_request(
        JIAOYU, requester_department="jiaoyu", resource_code="RK-0007", items=["姓名"],
        purpose="入学", legal_basis="法", period_start=date(2026, 6, 1),
        period_end=date(2026, 6, 30), submitted_at=at(6, 1),
    )  # fmt: skip
    rec.app.approve_request(GONGAN, school, ["姓名"], at(6, 30, 0), decided_at=at(6, 2))
    name = ("姓名",)
    rec.accesses(
        *(read(e, when, code="RK-0007", items=name, grant=grant)
          for e, when in (("v1", at(6, 15, 9, 59)), ("v2", at(6, 15)))),
        *(replace(read(e, when, code="RK-0007", items=name, grant=school, accessor="jy-01",
                       purpose="入学"), department="jiaoyu")
          for e, when in (("x1", at(6, 29, 23, 59)), ("x2", at(6, 30, 0)))),
    )  # fmt: skip
    got = [(a.time, a.score, a.severity) for a in anomalies(settings, "after_revocation")]
    assert got == [(at(6, 15), 0.9, "high")]
    got = [(a.time, a.score, a.severity) for a in anomalies(settings, "after_expiry")]
    assert got == [(at(6, 30, 0), 0.6, "medium")]


def test_a_burst_of_five_refused_within_sixty_minutes(settings: Settings, rec: Recorder) -> None:
    """domain.md anomalies: "bursts of refused or flagged accesses" (5 within 60 minutes by
    default). b1: five refused reads 10:00..10:59: a burst (0.5 + 5/20). b2: five 15
    minutes apart, 10:00..11:00: the first is 60 minutes before the fifth, outside the
    window (half-open, as a grant's end is), so no burst; b3: four: none."""

    def refused(accessor: str, minutes: tuple[int, ...]) -> list[AccessReport]:
        return [read(f"{accessor}-{m}", at(6, 5, 10 + m // 60, m % 60), code="RK-0007",
                     items=("姓名",), accessor=accessor) for m in minutes]  # fmt: skip

    rec.accesses(*refused("b1", (0, 15, 30, 45, 59)), *refused("b2", (0, 15, 30, 45, 60)),
                 *refused("b3", (0, 15, 30, 45)))  # fmt: skip
    got = [(a.subject.split("|")[0], a.score) for a in anomalies(settings, "refused_burst")]
    assert got == [("b1", 0.75)]


def test_first_sensitive_access_after_fourteen_days_of_history(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md anomalies: "first-ever access by an actor to a sensitive resource" (after
    anomaly_first_access_warmup_days, 14, of the actor's history). f13 and f14 first read
    FR-0002 on 06-01; f13's first read of RK-0009's 身份证号 on 06-14 (13 days): none;
    f14's on 06-15 (14 days): first_sensitive_access (0.3, low); f14 again on 06-16: none."""
    open_resources(rec)
    rec.accesses(
        read("h13", at(6, 1), accessor="f13"),
        read("h14", at(6, 1), accessor="f14"),
        read("s13", at(6, 14), accessor="f13", code="RK-0009", items=("身份证号",)),
        read("s14", at(6, 15), accessor="f14", code="RK-0009", items=("身份证号",)),
        read("t14", at(6, 16), accessor="f14", code="RK-0009", items=("身份证号",)),
    )
    got = [(a.subject, a.score, a.severity) for a in anomalies(settings, "first_sensitive_access")]
    assert got == [("f14", 0.3, "low")]


def test_volume_three_times_the_own_baseline(settings: Settings, rec: Recorder) -> None:
    """domain.md anomalies: "an actor's … volume far above its own rolling baseline": a day
    reaching max(30, ceil(3 x mean)), the mean over the 7+ days before. v1 and v2 read 10
    a day 06-01..06-07 (mean 10, threshold 30); on 06-08 v1 reads 30 (raised, 1 - 10/30),
    v2 29 (not). FR-0002's own mean is 20, its threshold 60: 59 that day raise nothing."""
    open_resources(rec)
    rec.accesses(*(
        read(f"{who}-{day}-{n}", at(6, day, 9, n), accessor=who)
        for day in range(1, 9)  # recorded in time order: the detector judges on arrival
        for who, last in (("v1", 30), ("v2", 29))
        for n in range(last if day == 8 else 10)
    ))  # fmt: skip
    got = [(a.kind, a.subject, round(a.score, 3)) for a in anomalies(settings, "actor_volume")]
    assert got == [("actor_volume", "v1", 0.667)]
    assert anomalies(settings, "resource_volume") == []
