"""More cases worked by hand from domain.md's rule table: sharing and catalogue (both backends).

An independent reviewer's second pass (test_hand_cases.py covered S1–S3, P1, F1, F3,
F4, F7): S4–S12, P2, D1 and D2, each with its positive case, the boundary on each side
and, where it makes sense, a fact recorded after another and dated before it, and the
as-of views (docs/projections.md §As-of semantics, §Recorded late). Business times are
China Standard Time; one case in each family gives a UTC instant whose CST day differs.
The funds, systems, reports and anomalies are in test_hand_cases_more_funds.py.

Every case starts from the rules conftest's ledger (three departments registered on
03-01; RK-0007, conditional, registered 04-01, whose 姓名 is personal, 纳税额 important
and 户籍 core) and records all its facts on 2026-11-20, dated earlier.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from ledger.config import Settings
from ledger.domain import ResourceItem, RiskLevel, Sensitivity, SharingType, UpdateCycle
from ledger.domain.district_calendar import CalendarSpec
from ledger.domain.errors import DomainError
from ledger.domain.holidays import NOTICES
from ledger.domain.refresh import RefreshReport
from tests.projections.rules.hand import at, found, granted_name, head, rules_of, subjects
from tests.projections.scenario import (
    ADMIN,
    GONGAN,
    JIAOYU,
    MINZHENG,
    OFFICER,
    PLATFORM,
    PURPOSE,
    Recorder,
    _entry,
    report,
)

DAY_2026 = next(n for n in NOTICES if n.year == 2026)  # 国务院办公厅 2026 notice


def record_2026_calendar(rec: Recorder, **limits: int) -> None:
    """The district calendar: the 2026 notice's days off and make-up days, 10 working days."""
    spec = CalendarSpec((2026,), DAY_2026.holidays, DAY_2026.working_days,
                        {t.value: 10 for t in SharingType}, dict(limits))  # fmt: skip
    assert rec.app.record_calendar(ADMIN, spec)


def submit(rec: Recorder, when: datetime, code: str = "RK-0007") -> UUID:
    return rec.app.submit_request(
        MINZHENG, requester_department="minzheng", resource_code=code, items=["姓名"],
        purpose=PURPOSE, legal_basis="法", period_start=date(2026, 6, 1),
        period_end=date(2026, 12, 31), submitted_at=when,
    )  # fmt: skip


def assess(rec: Recorder, code: str, ref: str, when: datetime) -> None:
    rec.app.record_risk_assessment(OFFICER, code, ref, RiskLevel.LOW, "评估", occurred_at=when)


# ---------------------------------------------------------------------- S4, S5


def test_s4_another_purpose_by_business_time_even_when_reported_late(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md S4: "data access whose purpose differs from the grant's purpose" (medium).
    Grant 姓名 for PURPOSE, 06-02 to 12-31, revoked 06-15 (recorded before the accesses).
    a1 06-10 "其他用途": S4 (the grant was in force; recorded after the revocation, dated
    before it). a2 06-10 PURPOSE with one character more: S4. a3 06-10 PURPOSE: nothing.
    a4 06-15 10:00, the revocation instant, "其他用途": S2, not S4 (no grant in force)."""
    grant = granted_name(rec)
    rec.app.revoke_grant(GONGAN, grant, "用途已完成", revoked_at=at(6, 15))
    rec.accesses(*(
        report(e, when, "mz-01", "minzheng", "RK-0007", ("姓名",), purpose, grant)
        for e, when, purpose in (("a1", at(6, 10), "其他用途"), ("a2", at(6, 10), PURPOSE + "。"),
                                 ("a3", at(6, 10), PURPOSE), ("a4", at(6, 15), "其他用途"))
    ))  # fmt: skip
    got = {e: rules_of(settings, e) for e in ("a1", "a2", "a3", "a4")}
    assert got == {"a1": {"S4"}, "a2": {"S4"}, "a3": set(), "a4": {"S2"}}
    assert {f.severity for f in found(settings, "S4")} == {"medium"}


def test_s5_a_code_not_in_the_catalogue(settings: Settings, rec: Recorder) -> None:
    """domain.md S5: "access to an unknown resource (not in the catalogue)" (high). XX-0009
    is in no catalogue: S5. RK-0007 read by its provider: nothing. An access dated 03-15,
    before RK-0008's registration dated 04-01 but recorded after it: judged on the entry
    (docs/projections.md: "a registration's occurred_at is not consulted"), so S2 (no
    grant), not S5 — a documented choice the reviewer accepts: the code was on record."""
    rec.app.register_resource(GONGAN, _entry("RK-0008", "婚姻", [ResourceItem("姓名",
                              Sensitivity.PERSONAL)], SharingType.CONDITIONAL),
                              occurred_at=at(4, 1))  # fmt: skip
    rec.accesses(
        report("u1", at(6, 5), "mz-01", "minzheng", "XX-0009", ("甲",), PURPOSE),
        report("u2", at(6, 5), "ga-01", "gongan", "RK-0007", ("姓名",), PURPOSE),
        report("u3", at(3, 15), "mz-01", "minzheng", "RK-0008", ("姓名",), PURPOSE),
    )
    assert [rules_of(settings, e) for e in ("u1", "u2", "u3")] == [{"S5"}, set(), {"S2"}]
    assert [f.severity for f in found(settings, "S5")] == ["high"]


def test_s5_stays_when_the_catalogue_entry_dated_before_is_recorded_later(
    settings: Settings, rec: Recorder
) -> None:
    """The access of 06-05 to XX-0009 is reported first; XX-0009's registration dated
    04-01 is recorded after. Worked from domain.md alone ("not in the catalogue") the
    code was catalogued at 06-05, so no S5; docs/projections.md §Findings decides
    otherwise, deliberately: "S5 is not judged again (it is judged on the catalogue on
    record)" when the access was recorded. The reviewer accepts that choice: S5 stays."""
    rec.accesses(report("u1", at(6, 5), "mz-01", "minzheng", "XX-0009", ("甲",), PURPOSE))
    items = [ResourceItem("甲", Sensitivity.GENERAL)]
    entry = _entry("XX-0009", "甲类", items, SharingType.UNCONDITIONAL)
    rec.app.register_resource(GONGAN, entry, occurred_at=at(4, 1))
    assert rules_of(settings, "u1") == {"S5"}


# ---------------------------------------------------------------------- S6, S7


def test_s6_ten_working_days_over_mid_autumn_and_national_day(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md S6: "conditional request unanswered after 10 working days"; 51号 §14.
    2026 notice: 09-25..27 and 10-01..07 off, Sun 09-20 and Sat 10-10 worked. Submitted
    Wed 09-23: 09-24 (1), 09-28..30 (4), 10-08, 10-09 (6), Sat 10-10 (7), 10-12..14 (10):
    due 10-14. Approved 10-14 23:59: never S6. Rejected 10-16 09:00: S6 as of 10-15 only.
    Unanswered: S6 from 10-15 00:00 CST (the day after the due date)."""
    record_2026_calendar(rec)
    silent, on_time, late = (submit(rec, at(9, 23, 10, m)) for m in (0, 1, 2))
    rec.app.approve_request(GONGAN, on_time, ["姓名"], at(12, 31), decided_at=at(10, 14, 23, 59))
    rec.app.reject_request(GONGAN, late, "不符合条件", decided_at=at(10, 16, 9))
    assert subjects(settings, "S6", date(2026, 10, 14)) == set()
    assert subjects(settings, "S6", date(2026, 10, 15)) == {silent.hex, late.hex}
    assert subjects(settings, "S6", date(2026, 10, 16)) == {silent.hex}
    overdue = found(settings, "S6", date(2026, 10, 16))
    assert [(f.time.isoformat(), f.severity) for f in overdue] == [
        ("2026-10-15T00:00:00+08:00", "medium")
    ]


def test_s6_five_working_days_where_the_calendar_says_so(settings: Settings, rec: Recorder) -> None:
    """domain.md: "the provider answers within 10 working days (51号 §14; some local rules
    say 5 — configurable)". With 5 for conditional resources, submitted Wed 09-23: 09-24,
    09-28..30, 10-08: due 10-08; S6 as of 10-09, not 10-08."""
    spec = CalendarSpec((2026,), DAY_2026.holidays, DAY_2026.working_days,
                        {t.value: 5 for t in SharingType})  # fmt: skip
    assert rec.app.record_calendar(ADMIN, spec)
    sid = submit(rec, at(9, 23)).hex
    assert subjects(settings, "S6", date(2026, 10, 8)) == set()
    assert subjects(settings, "S6", date(2026, 10, 9)) == {sid}


def test_s6_counts_from_the_cst_day_of_a_utc_instant(settings: Settings, rec: Recorder) -> None:
    """Submitted 2026-06-04T16:30Z = Fri 06-05 00:30 CST. From 06-05 (CST): 06-08..12 (5),
    06-15..18 (9), 06-19..21 off (端午), 06-22 (10): due 06-22; counted from Thu 06-04
    (UTC) it would be 06-18. So no S6 as of 06-22, S6 as of 06-23."""
    record_2026_calendar(rec)
    sid = submit(rec, datetime(2026, 6, 4, 16, 30, tzinfo=UTC)).hex
    assert subjects(settings, "S6", date(2026, 6, 22)) == set()
    assert subjects(settings, "S6", date(2026, 6, 23)) == {sid}


def test_s6_withdrawn_at_the_head_by_an_answer_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    """The answer dated 06-22 (the due day above) is recorded after the views showed S6
    as of 06-30: as of 06-30 the request was answered in time, no S6; the views at the
    position before the answer, as of the same day, still show it (transaction time)."""
    record_2026_calendar(rec)
    sid = submit(rec, at(6, 5))
    assert subjects(settings, "S6", date(2026, 6, 30)) == {sid.hex}
    before = head(settings)
    rec.app.approve_request(GONGAN, sid, ["姓名"], at(12, 31), decided_at=at(6, 22, 18))
    assert subjects(settings, "S6", date(2026, 6, 30)) == set()
    assert {f.subject for f in found(settings, "S6", date(2026, 6, 30), before)} == {sid.hex}


def test_s7_a_refusal_needs_a_reason(settings: Settings, rec: Recorder) -> None:
    """domain.md S7: "request rejected with no reason" (low); 51号 "refusals state
    reasons". An empty reason: S7, dated at the rejection (06-03, recorded late), absent as
    of 06-02; a one-character reason: not S7."""
    empty, short = submit(rec, at(6, 1)), submit(rec, at(6, 1, 11))
    rec.app.reject_request(GONGAN, empty, "", decided_at=at(6, 3))
    rec.app.reject_request(GONGAN, short, "否", decided_at=at(6, 3))
    assert subjects(settings, "S7", date(2026, 6, 2)) == set()
    late = found(settings, "S7", date(2026, 6, 3))
    assert [(f.subject, f.time.isoformat(), f.severity) for f in late] == [
        (empty.hex, "2026-06-03T10:00:00+08:00", "low")
    ]


# ---------------------------------------------------------------------- S8, S9, S10


def test_s8_a_not_shareable_classification_must_cite_a_basis(rec: Recorder) -> None:
    """domain.md S8 and 51号: "A not_shareable classification must cite a law…". The domain
    refuses it without one (docs/projections.md S8: only an older rule set's ledger can
    hold it), and a basis of blanks is none."""
    for basis in (None, "   "):
        with pytest.raises(DomainError):
            rec.app.reclassify_resource(
                GONGAN, "RK-0007", sharing_type=SharingType.NOT_SHAREABLE, legal_basis=basis,
                share_condition="涉密", reason="定密", occurred_at=at(6, 10),
            )  # fmt: skip


def test_s9_until_the_base_resource_becomes_unconditional(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md S9: "a base resource's base items not unconditional"; 51号 "base items of
    base resources are shared unconditionally". FR-0001 (法人, base) conditional from 04-01:
    S9; reclassified unconditional on 06-10 (recorded late): S9 as of 06-09, not as of
    06-10. FR-0002, base but with no base item, and RK-0007, not base: never S9."""
    items = [ResourceItem("名称", Sensitivity.GENERAL, True)]
    base = replace(_entry("FR-0001", "法人", items, SharingType.CONDITIONAL), base_resource=True)
    no_base_item = replace(_entry("FR-0002", "法人二", [ResourceItem("名称", Sensitivity.GENERAL)],
                                  SharingType.CONDITIONAL), base_resource=True)  # fmt: skip
    for entry in (base, no_base_item):
        rec.app.register_resource(GONGAN, entry, occurred_at=at(4, 1))
    assert subjects(settings, "S9", date(2026, 6, 9)) == {"FR-0001"}
    rec.app.reclassify_resource(
        GONGAN, "FR-0001", sharing_type=SharingType.UNCONDITIONAL, legal_basis=None,
        share_condition="", reason="基础信息无条件共享", occurred_at=at(6, 10),
    )  # fmt: skip
    assert subjects(settings, "S9", date(2026, 6, 9)) == {"FR-0001"}
    assert subjects(settings, "S9", date(2026, 6, 10)) == set()


def base_resource_reclassified(
    rec: Recorder,
    *days_and_types: tuple[int, SharingType],
    registered: SharingType = SharingType.UNCONDITIONAL,
) -> None:
    """FR-0001 (法人, base item 名称) registered ``registered`` on 04-01, then reclassified
    on each (June day, type) in the order given (the recording order)."""
    items = [ResourceItem("名称", Sensitivity.GENERAL, True)]
    base = replace(_entry("FR-0001", "法人", items, registered), base_resource=True)
    if registered is not SharingType.UNCONDITIONAL:
        base = replace(base, share_condition="依法履职需要")
    rec.app.register_resource(GONGAN, base, occurred_at=at(4, 1))
    for day, sharing in days_and_types:
        condition = "" if sharing is SharingType.UNCONDITIONAL else "依法履职需要"
        rec.app.reclassify_resource(
            GONGAN, "FR-0001", sharing_type=sharing, legal_basis=None,
            share_condition=condition, reason="调整", occurred_at=at(6, day),
        )  # fmt: skip


def test_s9_the_classification_latest_in_business_time_not_the_last_recorded(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md S9. Registered conditional on 04-01; reclassified unconditional on 06-20
    (recorded first) and conditional again on 06-10 (recorded after, a change when it is
    recorded): conditional until 06-19, so S9 as of 06-15; as of 06-25 and at the head
    FR-0001 is unconditional (the 06-20 classification is in force), whatever came last.
    (Registered unconditional, the 06-20 reclassification recorded first would change
    nothing and is not recorded: a setter whose value is already so, tests/api/
    test_replays.py.)"""
    base_resource_reclassified(
        rec,
        (20, SharingType.UNCONDITIONAL),
        (10, SharingType.CONDITIONAL),
        registered=SharingType.CONDITIONAL,
    )
    assert subjects(settings, "S9", date(2026, 6, 15)) == {"FR-0001"}
    assert subjects(settings, "S9", date(2026, 6, 25)) == set()
    assert subjects(settings, "S9") == set()


def test_s9_dated_when_the_reclassification_made_it_due(settings: Settings, rec: Recorder) -> None:
    """docs/facts.md §1, projections/rules/obligations.py: "Every finding is dated when it
    became due". Unconditional from 04-01, conditional from 06-10: S9 dated 06-10."""
    base_resource_reclassified(rec, (10, SharingType.CONDITIONAL))
    assert subjects(settings, "S9", date(2026, 6, 9)) == set()
    assert [f.time for f in found(settings, "S9", date(2026, 6, 10))] == [at(6, 10)]


def test_s10_core_metadata_and_the_share_condition(settings: Settings, rec: Recorder) -> None:
    """domain.md S10: "catalogue entry missing a core metadata item, or share_condition
    empty on a non-unconditional resource". RK-0101 conditional with a condition of blanks:
    S10; RK-0102 unconditional with none: not S10 (none needed); RK-0103 with no summary:
    S10; RK-0104 complete: not. As of 03-31, before they were registered: none."""
    items = [ResourceItem("甲", Sensitivity.GENERAL)]
    entries = (
        replace(_entry("RK-0101", "甲", items, SharingType.CONDITIONAL), share_condition="  "),
        _entry("RK-0102", "乙", items, SharingType.UNCONDITIONAL),
        replace(_entry("RK-0103", "丙", items, SharingType.CONDITIONAL), summary=""),
        _entry("RK-0104", "丁", items, SharingType.CONDITIONAL),
    )
    for entry in entries:
        rec.app.register_resource(GONGAN, entry, occurred_at=at(4, 1))
    assert subjects(settings, "S10") == {"RK-0101", "RK-0103"}
    assert subjects(settings, "S10", date(2026, 3, 31)) == set()


# ---------------------------------------------------------------------- S11


def monthly(rec: Recorder, code: str = "RK-0201") -> None:
    """A monthly resource (31 days, docs/projections.md S11) registered 05-01 00:00 CST."""
    items = [ResourceItem("甲", Sensitivity.GENERAL)]
    entry = _entry(code, "月报", items, SharingType.UNCONDITIONAL)
    entry = replace(entry, update_cycle=UpdateCycle.MONTHLY)
    rec.app.register_resource(GONGAN, entry, occurred_at=at(5, 1, 0))


def test_s11_a_monthly_resource_with_the_default_days_grace(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md S11: "resource not refreshed within its update_cycle". Registered 05-01
    00:00, never refreshed: 31 days end 06-01 00:00, plus the documented default grace of
    one day (refresh_grace_days 1): late from 06-02 00:00, found as of 06-02, not 06-01."""
    monthly(rec)
    assert subjects(settings, "S11", date(2026, 6, 1)) == set()
    late = found(settings, "S11", date(2026, 6, 2))
    assert [(f.subject, f.time.isoformat()) for f in late] == [
        ("RK-0201", "2026-06-02T00:00:00+08:00")
    ]


def test_s11_with_no_grace_and_a_refresh_at_a_utc_instant(
    settings: Settings, rec: Recorder
) -> None:
    """The calendar sets refresh_grace_days 0 (the brief's reading exactly): late from
    06-01 00:00, so as of 05-31 none and as of 06-01 S11. A refresh at 2026-05-31T16:00Z
    (06-01 00:00 CST), recorded after that was seen: as of 06-01 none (refreshed at the
    instant it fell due); next due 07-02 00:00: none as of 07-01, S11 as of 07-02. The
    views at the position before the refresh still show S11 as of 06-01."""
    record_2026_calendar(rec, refresh_grace_days=0)
    monthly(rec)
    assert subjects(settings, "S11", date(2026, 5, 31)) == set()
    assert subjects(settings, "S11", date(2026, 6, 1)) == {"RK-0201"}
    before = head(settings)
    rec.app.record_refreshes(
        PLATFORM, [RefreshReport("rf-1", "RK-0201", datetime(2026, 5, 31, 16, tzinfo=UTC))]
    )
    assert subjects(settings, "S11", date(2026, 6, 1)) == set()
    assert subjects(settings, "S11", date(2026, 7, 1)) == set()
    assert subjects(settings, "S11", date(2026, 7, 2)) == {"RK-0201"}
    assert {f.subject for f in found(settings, "S11", date(2026, 6, 1), before)} == {"RK-0201"}


def test_s11_the_latest_refresh_whatever_the_recording_order(
    settings: Settings, rec: Recorder
) -> None:
    """Refreshes of 07-15 then (recorded after it) of 06-10: as of 08-10 the last is 07-15,
    due 08-16 00:00 with the grace: none as of 08-15, S11 as of 08-16; as of 07-01 the last
    is 06-10 (due 07-12): none."""
    monthly(rec)
    rec.app.record_refreshes(PLATFORM, [RefreshReport("rf-2", "RK-0201", at(7, 15, 0))])
    rec.app.record_refreshes(PLATFORM, [RefreshReport("rf-1", "RK-0201", at(6, 10, 0))])
    assert subjects(settings, "S11", date(2026, 7, 1)) == set()
    assert subjects(settings, "S11", date(2026, 8, 15)) == set()
    assert subjects(settings, "S11", date(2026, 8, 16)) == {"RK-0201"}


# ---------------------------------------------------------------------- S12, D2


def test_s12_and_d2_at_the_first_share_and_an_assessment_a_minute_late(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md S12: "resource shared (a grant approved or an access served) while it has
    no owner or controller assigned, or no 网信办 risk assessment on record" (medium); D2:
    "important data shared without a prior risk assessment on record" (high). RK-0007
    holds 纳税额 (important); owner and controller 04-02; the grant is approved 06-02
    10:00, the assessment is 10:01: both S12 and D2, dated 06-02 10:00. The provider's own
    read on 05-01 is no share."""
    rec.app.assign_resource_owner(GONGAN, "RK-0007", "gongan", occurred_at=at(4, 2))
    rec.app.assign_resource_controller(GONGAN, "RK-0007", "gongan", occurred_at=at(4, 2))
    rec.accesses(report("own", at(5, 1), "ga-01", "gongan", "RK-0007", ("纳税额",), PURPOSE))
    assess(rec, "RK-0007", "评1", at(6, 2, 10, 1))
    granted_name(rec)
    got = {(f.rule, f.severity, f.time.isoformat()) for r in ("S12", "D2")
           for f in found(settings, r)}  # fmt: skip
    assert got == {("S12", "medium", "2026-06-02T10:00:00+08:00"),
                   ("D2", "high", "2026-06-02T10:00:00+08:00")}  # fmt: skip
    assert subjects(settings, "D2", date(2026, 6, 1)) == set()


def test_s12_and_d2_withdrawn_by_an_assessment_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    """The grant of 06-02 is recorded first with owner and controller, no assessment: S12,
    D2. The assessment dated 06-02 10:00 (the share's instant) is recorded after: both
    withdrawn; the views at the position before it still show both."""
    rec.app.assign_resource_owner(GONGAN, "RK-0007", "gongan", occurred_at=at(4, 2))
    rec.app.assign_resource_controller(GONGAN, "RK-0007", "gongan", occurred_at=at(4, 2))
    granted_name(rec)
    assert rules_of(settings, "RK-0007") >= {"S12", "D2"}
    before = head(settings)
    assess(rec, "RK-0007", "评1", at(6, 2))
    assert {"S12", "D2"}.isdisjoint(rules_of(settings, "RK-0007"))
    assert [f.subject for f in found(settings, "D2", pos=before)] == ["RK-0007"]


def test_s12_and_d2_re_dated_by_an_earlier_share_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    """Owner and controller 04-02, assessment 05-25: the grant of 06-02 is a share with
    every safeguard, no S12 or D2. jiaoyu's read dated 05-20, before the assessment, is
    recorded after: it is the first share, so S12 and D2 from 05-20 (none as of 05-19);
    the views at the position before it show neither."""
    rec.app.assign_resource_owner(GONGAN, "RK-0007", "gongan", occurred_at=at(4, 2))
    rec.app.assign_resource_controller(GONGAN, "RK-0007", "gongan", occurred_at=at(4, 2))
    assess(rec, "RK-0007", "评1", at(5, 25))
    granted_name(rec)
    assert {"S12", "D2"}.isdisjoint(rules_of(settings, "RK-0007"))
    before = head(settings)
    rec.accesses(report("j1", at(5, 20), "jy-01", "jiaoyu", "RK-0007", ("纳税额",), "核查"))
    got = {(f.rule, f.time.isoformat()) for r in ("S12", "D2") for f in found(settings, r)}
    assert got == {("S12", "2026-05-20T10:00:00+08:00"), ("D2", "2026-05-20T10:00:00+08:00")}
    assert subjects(settings, "D2", date(2026, 5, 19)) == set()
    assert found(settings, "S12", pos=before) == found(settings, "D2", pos=before) == []


# ---------------------------------------------------------------------- P2, D1


def pia(rec: Recorder, ref: str, when: datetime, recipient: str | None = "minzheng",
        conclusion: str = "acceptable") -> None:  # fmt: skip
    rec.app.record_impact_assessment(
        GONGAN, department="gongan", reference=ref, resource_code="RK-0007",
        recipient_department=recipient, request_id=None, conclusion=conclusion,
        summary="评估", assessed_at=when,
    )  # fmt: skip


def test_p2_a_pia_for_another_recipient_or_not_acceptable_covers_nothing(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md P2: "personal information provided to another department with no PIA on
    record" (PIPL §55). PIAs before the grant of 06-02: one for jiaoyu, one for minzheng
    concluding not_acceptable: P2 at the grant (06-02 10:00). jiaoyu's grant on 06-03 is
    covered by its PIA: no P2 for jiaoyu."""
    pia(rec, "PIA-j", at(5, 1), recipient="jiaoyu")
    pia(rec, "PIA-m", at(5, 1), conclusion="not_acceptable")
    granted_name(rec)
    jy = rec.app.submit_request(
        JIAOYU, requester_department="jiaoyu", resource_code="RK-0007", items=["姓名"],
        purpose="入学", legal_basis="法", period_start=date(2026, 6, 1),
        period_end=date(2026, 12, 31), submitted_at=at(6, 1),
    )  # fmt: skip
    rec.app.approve_request(GONGAN, jy, ["姓名"], at(12, 31), decided_at=at(6, 3))
    p2 = found(settings, "P2")
    assert [(f.subject, f.time.isoformat(), f.severity) for f in p2] == [
        ("RK-0007", "2026-06-02T10:00:00+08:00", "medium")
    ]
    assert "minzheng" in p2[0].detail and "jiaoyu" not in p2[0].detail


def test_p2_withdrawn_by_a_pia_recorded_late_dated_before_the_provision(
    settings: Settings, rec: Recorder
) -> None:
    """The grant of 06-02 10:00 is recorded first: P2. The PIA for minzheng dated 06-02
    10:00 (the provision instant) is recorded after: as of the head no P2
    (docs/projections.md §Recorded late: "an assessment covers every provision at or
    after it"); a PIA dated 10:01 would not (the first check)."""
    granted_name(rec)
    pia(rec, "PIA-late", at(6, 2, 10, 1))
    assert subjects(settings, "P2") == {"RK-0007"}
    pia(rec, "PIA-0", at(6, 2))
    assert subjects(settings, "P2") == set()


def test_d1_an_approval_withdrawn_or_for_another_recipient(
    settings: Settings, rec: Recorder
) -> None:
    """domain.md D1: "core data shared without a recorded special approval" (critical);
    数据安全法 §21. An approval for jiaoyu does not cover minzheng: the read of 户籍 on 06-05
    is D1. minzheng's approval of 06-06, withdrawn 06-08 10:00: a read on 06-07 is covered,
    one at 06-08 10:00 is D1 again (citing the lapsed approval)."""

    def approve(ref: str, recipient: str, when: datetime) -> UUID:
        return rec.app.approve_core_data_sharing(
            OFFICER, reference=ref, resource_code="RK-0007", recipient_department=recipient,
            request_id=None, approving_authority="区委网信委", valid_until=None, approved_at=when,
        )  # fmt: skip

    approve("核-j", "jiaoyu", at(6, 1))
    mine = approve("核-m", "minzheng", at(6, 6))
    rec.app.withdraw_core_data_approval(OFFICER, mine, reason="复核", withdrawn_at=at(6, 8))
    for event, when in (("c1", at(6, 5)), ("c2", at(6, 7)), ("c3", at(6, 8))):
        rec.accesses(report(event, when, "mz-01", "minzheng", "RK-0007", ("户籍",), PURPOSE))
    d1 = found(settings, "D1")
    assert [(f.time.isoformat(), f.severity) for f in d1] == [
        ("2026-06-05T10:00:00+08:00", "critical"), ("2026-06-08T10:00:00+08:00", "critical")
    ]  # fmt: skip


def test_d1_withdrawn_by_an_approval_recorded_late(settings: Settings, rec: Recorder) -> None:
    """The read of 户籍 on 06-05 is recorded first: D1. 网信办's approval dated 06-01 is
    recorded after: no D1 at the head; the views before it still show it."""
    rec.accesses(report("c1", at(6, 5), "mz-01", "minzheng", "RK-0007", ("户籍",), PURPOSE))
    assert subjects(settings, "D1") == {"RK-0007"}
    before = head(settings)
    rec.app.approve_core_data_sharing(
        OFFICER, reference="核-1", resource_code="RK-0007", recipient_department="minzheng",
        request_id=None, approving_authority="区委网信委", valid_until=None, approved_at=at(6, 1),
    )  # fmt: skip
    assert subjects(settings, "D1") == set()
    assert [f.subject for f in found(settings, "D1", pos=before)] == ["RK-0007"]
