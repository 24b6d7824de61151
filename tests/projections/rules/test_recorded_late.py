"""Rules judged by business time when their facts are recorded late (issue 12 item 3).

Each family of rules whose judgment reads "the first X before Y" is worked by hand on
a history recorded out of order: S12 and D2 (the first share, the safeguards on record
before it), P2 (the earliest provision no impact assessment covers), D1 (a provision
outside every core-data approval in force), F1, F2, F4, F6 (the system's and the
filing's state at the fund decision), F7 (the decisions summed up to the decision, the
amounts revised in force then) and F8 (the system's accesses in the year up to the
decision). A fact recorded late with a business time before the share re-dates the
finding or withdraws it, as of every date after, on both backends
(projections/rules/folded.py, projections/rules/provided.py, projections/rules/fund_sums.py).
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    FundKind,
    FundOutcome,
    RiskLevel,
    SystemInventory,
    ZombieReason,
)
from ledger.domain.access import AccessReason, AccessReport, AccessVerdict
from projections.facts import CST
from projections.query import open_views
from projections.runner import open_projector
from tests.projections.scenario import (
    FINANCE,
    GONGAN,
    MINZHENG,
    NDRC,
    OFFICER,
    PLATFORM,
    PURPOSE,
    Recorder,
    report,
)


def at(m: int, d: int, h: int = 10) -> datetime:
    return datetime(2026, m, d, h, tzinfo=CST)


def dated(settings: Settings, rule: str, on: date) -> list[tuple[str, str]]:
    """(finding day, detail) of ``rule`` as of ``on``."""
    with open_views(settings, catch_up=True) as views:
        return sorted(
            (f.time.date().isoformat(), f.detail)
            for f in views.findings(views.moment(as_of=on), rule=rule)
        )


def days(settings: Settings, rule: str, on: date) -> list[str]:
    return [day for day, _ in dated(settings, rule, on)]


def test_s12_and_d2_dated_by_the_first_share_and_cleared_by_safeguards_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    rec.accesses(report("e-1", at(7, 14), "mz-7", "minzheng", "RK-0007", ("纳税额",), PURPOSE))
    assert days(settings, "S12", date(2026, 7, 31)) == ["2026-07-14"]
    assert days(settings, "D2", date(2026, 7, 13)) == []
    # A share two weeks earlier, recorded after: both findings are dated by it.
    rec.accesses(report("e-0", at(6, 29), "jy-3", "jiaoyu", "RK-0007", ("纳税额",), PURPOSE))
    assert days(settings, "S12", date(2026, 6, 30)) == ["2026-06-29"]
    assert days(settings, "D2", date(2026, 6, 30)) == ["2026-06-29"]
    ((_, detail),) = dated(settings, "S12", date(2026, 7, 31))
    assert "jiaoyu" in detail and "owner, controller, risk assessment" in detail
    # The owner and controller on record since 06-20: S12 still (no risk assessment).
    app.assign_resource_owner(GONGAN, "RK-0007", "gongan", occurred_at=at(6, 20))
    app.assign_resource_controller(GONGAN, "RK-0007", "区公安分局数据科", occurred_at=at(6, 20))
    ((day, detail),) = dated(settings, "S12", date(2026, 7, 31))
    assert day == "2026-06-29" and detail.endswith("without risk assessment")
    # A risk assessment after the first share clears neither.
    app.record_risk_assessment(OFFICER, "RK-0007", "评估-2", RiskLevel.LOW, "评估",
                               occurred_at=at(7, 1))  # fmt: skip
    assert days(settings, "D2", date(2026, 7, 31)) == ["2026-06-29"]
    # One dated before the first share, recorded last: neither rule ever held.
    app.record_risk_assessment(OFFICER, "RK-0007", "评估-1", RiskLevel.LOW, "评估",
                               occurred_at=at(6, 25))  # fmt: skip
    for on in (date(2026, 6, 29), date(2026, 7, 14), date(2026, 11, 30)):
        assert days(settings, "S12", on) == [] and days(settings, "D2", on) == []


def _pia(app: GovLedger, ref: str, day: tuple[int, int], recipient: str | None) -> None:
    app.record_impact_assessment(
        GONGAN, department="gongan", reference=ref, resource_code="RK-0007",
        recipient_department=recipient, request_id=None, conclusion="acceptable",
        summary="评估", assessed_at=at(*day, 9),
    )  # fmt: skip


def test_p2_re_dated_by_an_earlier_provision_and_cleared_by_a_pia_recorded_late(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    rec.accesses(report("p-2", at(8, 18), "mz-7", "minzheng", "RK-0007", ("姓名",), PURPOSE))
    assert days(settings, "P2", date(2026, 8, 31)) == ["2026-08-18"]
    # A PIA after the provision does not cover it.
    _pia(app, "PIA-9", (8, 20), "minzheng")
    assert days(settings, "P2", date(2026, 8, 31)) == ["2026-08-18"]
    # An earlier provision recorded after: the finding is dated by it.
    rec.accesses(report("p-1", at(8, 3), "mz-7", "minzheng", "RK-0007", ("姓名",), PURPOSE))
    assert days(settings, "P2", date(2026, 8, 5)) == ["2026-08-03"]
    # A PIA for the whole resource assessed 07-30, recorded last: P2 never held.
    _pia(app, "PIA-1", (7, 30), None)
    for on in (date(2026, 8, 3), date(2026, 8, 18), date(2026, 11, 30)):
        assert days(settings, "P2", on) == []


def test_d1_cleared_by_an_approval_recorded_late_and_re_dated_by_its_withdrawal(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    rec.accesses(
        report("d-1", at(9, 8), "mz-7", "minzheng", "RK-0007", ("户籍",), PURPOSE),
        report("d-2", at(10, 12), "mz-7", "minzheng", "RK-0007", ("户籍",), PURPOSE),
    )  # fmt: skip
    assert days(settings, "D1", date(2026, 10, 31)) == ["2026-09-08"]
    approval = app.approve_core_data_sharing(
        OFFICER, reference="网信核-7", resource_code="RK-0007", recipient_department="minzheng",
        request_id=None, approving_authority="区委网信委", valid_until=at(9, 30),
        approved_at=at(9, 1),
    )  # fmt: skip
    # d-1 is covered now; d-2 (10-12) is after the approval ended, citing it.
    assert days(settings, "D1", date(2026, 9, 30)) == []
    ((day, detail),) = dated(settings, "D1", date(2026, 10, 31))
    assert day == "2026-10-12" and "网信核-7 no longer in force" in detail
    # Withdrawn on 09-05 (recorded last): d-1 was outside it too, the finding moves back.
    app.withdraw_core_data_approval(OFFICER, approval, reason="撤回", withdrawn_at=at(9, 5))
    ((day, detail),) = dated(settings, "D1", date(2026, 10, 31))
    assert day == "2026-09-08" and "网信核-7 no longer in force" in detail
    assert days(settings, "D1", date(2026, 9, 7)) == []


def test_fund_rules_read_the_system_and_filing_as_of_the_decision(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    inventory = SystemInventory("救助系统", "救助审核", "全区", "每日", "区发改局", None, "财政")
    system = app.register_system(NDRC, "minzheng", inventory, required_to_connect=True,
                                 occurred_at=at(4, 2))  # fmt: skip
    filing = app.file_project(
        MINZHENG, name="救助系统升级", builder="minzheng", investment_fen=90_000_000,
        om_cost_fen=7_000_000, funding_channel="财政", resource_codes=[], system_ids=[system],
        mlps_filed=True, catalogue_preregistered=True, occurred_at=at(4, 20),
    )  # fmt: skip
    decided = app.decide_funds(
        FINANCE, kind=FundKind.OM_FUNDS, year=2026, department="minzheng",
        amount_fen=3_150_000, outcome=FundOutcome.GRANTED, rationale="运维",
        system_id=system, filing_id=filing, decided_at=at(9, 15),
    ).hex  # fmt: skip

    def rules(on: date) -> set[str]:
        with open_views(settings, catch_up=True) as views:
            return {f.rule for f in views.findings(views.moment(as_of=on)) if f.subject == decided}

    assert rules(date(2026, 9, 15)) == {"F1", "F6"}  # not connected, review pending
    # Recorded after the decision, each dated before it:
    app.connect_system(PLATFORM, system, occurred_at=at(9, 1))
    assert rules(date(2026, 9, 15)) == {"F6"}
    app.mark_system_zombie(NDRC, system, [ZombieReason.UNMAINTAINED], occurred_at=at(9, 10))
    assert rules(date(2026, 9, 15)) == {"F2", "F6"}
    app.review_project(NDRC, filing, False, "架构不合规", occurred_at=at(9, 5))
    assert rules(date(2026, 9, 14)) == set()
    assert rules(date(2026, 11, 30)) == {"F2", "F4"}


INVENTORY = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")


def _om(app: GovLedger, system: object, filing: object, fen: int, when: datetime) -> str:
    return app.decide_funds(
        FINANCE, kind=FundKind.OM_FUNDS, year=2026, department="minzheng", amount_fen=fen,
        outcome=FundOutcome.GRANTED, rationale="运维", system_id=system, filing_id=filing,
        decided_at=when,
    ).hex  # fmt: skip


def _fund_findings(settings: Settings, rule: str, on: date) -> list[tuple[str, str, str]]:
    """(subject, finding day, detail) of ``rule`` as of ``on``."""
    with open_views(settings, catch_up=True) as views:
        return sorted(
            (f.subject, f.time.date().isoformat(), f.detail)
            for f in views.findings(views.moment(as_of=on), rule=rule)
        )


def test_f7_sums_the_decisions_up_to_each_one_and_the_revision_then(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    system = app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=at(4, 2))
    filing = app.file_project(
        MINZHENG, name="低保系统运维", builder="minzheng", investment_fen=1_000_000,
        om_cost_fen=100_000, funding_channel="财政", resource_codes=[], system_ids=[system],
        mlps_filed=True, catalogue_preregistered=True, occurred_at=at(4, 20),
    )  # fmt: skip
    later = _om(app, system, filing, 70_000, at(9, 15))
    assert _fund_findings(settings, "F7", date(2026, 11, 30)) == []  # 700 ≤ 1,000
    # An earlier grant recorded after: 09-15 leaves 1,200 granted, 08-01 only 500.
    earlier = _om(app, system, filing, 50_000, at(8, 1))
    ((subject, day, detail),) = _fund_findings(settings, "F7", date(2026, 11, 30))
    assert (subject, day) == (later, "2026-09-15") and "total 1,200.00 yuan" in detail
    assert "above the filed 1,000.00 yuan" in detail
    assert _fund_findings(settings, "F7", date(2026, 9, 14)) == []
    # The amounts revised to 1,500 from 07-01, recorded last: never above.
    app.revise_filed_amounts(
        NDRC, filing, reference="调概-1", investment_fen=1_000_000, om_cost_fen=150_000,
        reason="扩容", revised_at=at(7, 1),
    )  # fmt: skip
    for on in (date(2026, 8, 1), date(2026, 9, 15), date(2026, 11, 30)):
        assert _fund_findings(settings, "F7", on) == []
    # Revised down to 600 from 08-10: 08-01 (500 under 1,500) is not, 09-15 (1,200) is.
    app.revise_filed_amounts(
        NDRC, filing, reference="调概-2", investment_fen=1_000_000, om_cost_fen=60_000,
        reason="压减", revised_at=at(8, 10),
    )  # fmt: skip
    ((subject, day, detail),) = _fund_findings(settings, "F7", date(2026, 11, 30))
    assert (subject, day) == (later, "2026-09-15") and "above the filed 600.00 yuan" in detail
    assert earlier not in {s for s, _, _ in _fund_findings(settings, "F7", date(2026, 11, 30))}


def test_f7_of_a_grant_for_a_system_before_its_filing_is_recorded(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    system = app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=at(4, 2))
    granted = _om(app, system, None, 120_000, at(6, 1))  # O&M for the system alone
    assert _fund_findings(settings, "F7", date(2026, 11, 30)) == []
    # The filing that covers the system, recorded after the grant: 1,200 above 1,000.
    app.file_project(
        MINZHENG, name="低保系统运维", builder="minzheng", investment_fen=1_000_000,
        om_cost_fen=100_000, funding_channel="财政", resource_codes=[], system_ids=[system],
        mlps_filed=True, catalogue_preregistered=True, occurred_at=at(4, 20),
    )  # fmt: skip
    assert [(s, d) for s, d, _ in _fund_findings(settings, "F7", date(2026, 11, 30))] == [
        (granted, "2026-06-01")
    ]


def _used(event_id: str, system: object, when: datetime) -> AccessReport:
    return AccessReport(
        event_id, "ga-1", "gongan", str(system), "RK-0007", ("姓名",), 1, PURPOSE, None,
        "10.0.0.1", when,
    )  # fmt: skip


def test_f8_counts_the_accesses_of_the_year_by_business_time(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    system = app.register_system(NDRC, "minzheng", INVENTORY,
                                 occurred_at=datetime(2025, 1, 2, 10, tzinfo=CST))  # fmt: skip
    decided = _om(app, system, None, 30_000, at(9, 15))
    ((subject, day, detail),) = _fund_findings(settings, "F8", date(2026, 9, 15))
    assert (subject, day) == (decided, "2026-09-15") and "used 0 times" in detail
    # Eleven accesses in the year before, recorded after the grant: still little used.
    rec.accesses(*(_used(f"u-{m}", system, at(m, 3)) for m in range(1, 9)))  # 01..08
    rec.accesses(*(_used(f"u-9-{d}", system, at(9, d)) for d in (3, 4, 5)))
    ((_, _, detail),) = _fund_findings(settings, "F8", date(2026, 11, 30))
    assert "used 11 times" in detail and "fewer than 12" in detail
    # Outside the year (2025-09-15 is 365 days before) or after the grant: not counted.
    rec.accesses(
        _used("u-old", system, datetime(2025, 9, 15, 9, tzinfo=CST)),
        _used("u-next", system, at(9, 16)),
    )  # fmt: skip
    ((_, _, detail),) = _fund_findings(settings, "F8", date(2026, 11, 30))
    assert "used 11 times" in detail
    # The twelfth, on the day of the grant: the system was used enough, F8 never held.
    rec.accesses(_used("u-12", system, at(9, 15, 8)))
    for on in (date(2026, 9, 15), date(2026, 11, 30)):
        assert _fund_findings(settings, "F8", on) == []


def test_f8_the_same_whether_the_accesses_are_recorded_before_or_after(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    first = app.register_system(NDRC, "minzheng", INVENTORY,
                                occurred_at=datetime(2025, 1, 2, 10, tzinfo=CST))  # fmt: skip
    second = app.register_system(NDRC, "minzheng", INVENTORY,
                                 occurred_at=datetime(2025, 1, 2, 10, tzinfo=CST))  # fmt: skip
    live = [_used(f"a-{m}", first, at(m, 5)) for m in range(2, 8)]
    rec.accesses(*live)
    before = _om(app, first, None, 30_000, at(8, 20))
    after = _om(app, second, None, 30_000, at(8, 20))
    rec.accesses(*(_used(f"b-{m}", second, at(m, 5)) for m in range(2, 8)))
    found = {s: (d, detail.split(", ", 1)[1]) for s, d, detail in
             _fund_findings(settings, "F8", date(2026, 11, 30))}  # fmt: skip
    assert (
        found[before]
        == found[after]
        == ("2026-08-20", "used 6 times in the year before (little used: fewer than 12)")
    )


def _kept_lapsed(settings: Settings) -> list[str]:
    """The lapsed accesses the fold still keeps for S3 (its state at the head)."""
    with open_projector(settings) as projector:
        projector.run()
        fold = projector.fold_at(projector.reader.max_position())
    kept = fold.state["lapsed_accesses"].values()
    return sorted(access[0] for accesses in kept for access in accesses)


def _s3(settings: Settings) -> list[tuple[str, str]]:
    """(subject, day) of S3 at the head."""
    with open_views(settings, catch_up=True) as views:
        return sorted(
            (f.subject, f.time.date().isoformat())
            for f in views.findings(views.moment(), rule="S3")
        )


def test_s3_on_a_lapsed_grant_kept_only_while_a_late_fact_can_change_it(
    settings: Settings, rec: Recorder
) -> None:
    """The boundary of ``FoldedRules._settled``: an access on a lapsed grant is kept for
    S3 while it quotes no grant, or one not on record or not yet decided; once its grant
    is decided its judgment is final and the fold lets it go."""
    app = rec.app
    expired = AccessVerdict((AccessReason.GRANT_EXPIRED,))

    def request(key: str, day: int) -> UUID:
        return app.submit_request(
            MINZHENG, requester_department="minzheng", resource_code="RK-0007",
            items=["姓名", "户籍"], purpose=PURPOSE, legal_basis="《社会救助暂行办法》",
            period_start=date(2026, 6, 1), period_end=date(2026, 12, 31),
            idempotency_key=key, submitted_at=at(6, day, 9),
        )  # fmt: skip

    def read(event_id: str, when: datetime, grant: UUID | None) -> None:
        seen = report(event_id, when, "mz-7", "minzheng", "RK-0007", ("姓名", "户籍"),
                      PURPOSE, grant)  # fmt: skip
        app.record_accesses(PLATFORM, [(seen, expired)])

    # R1: 姓名 granted 06-02, expired 06-03. e-1 (06-04) quotes it: S3 (户籍 never
    # granted), final at once: not kept.
    r1 = request("r1", 1)
    app.approve_request(GONGAN, r1, ["姓名"], at(6, 3), decided_at=at(6, 2))
    read("e-1", at(6, 4), r1)
    assert _s3(settings) == [("e-1", "2026-06-04")]
    assert _kept_lapsed(settings) == []
    # e-2 (06-05) quotes no grant: judged by the grant that lapsed last before it (R1),
    # S3, and kept: a grant recorded later may have lapsed after R1.
    read("e-2", at(6, 5), None)
    assert _s3(settings) == [("e-1", "2026-06-04"), ("e-2", "2026-06-05")]
    assert _kept_lapsed(settings) == ["e-2"]
    # e-3 (06-07) quotes R3, submitted on 06-04 but not yet decided: no lapsed grant
    # yet (no S3), kept.
    r3 = request("r3", 4)
    read("e-3", at(6, 7), r3)
    assert _kept_lapsed(settings) == ["e-2", "e-3"]
    assert [s for s, _ in _s3(settings)] == ["e-1", "e-2"]
    # R3 approved late (姓名 and 户籍, 06-04 10:00 to 18:00): e-3's lapsed grant, giving
    # all it read (no S3); the one that lapsed last before e-2 (S3 withdrawn). e-3 is let
    # go (decided); e-2 still quotes nothing and stays; e-1's judgment, final, holds.
    app.approve_request(GONGAN, r3, ["姓名", "户籍"], at(6, 4, 18), decided_at=at(6, 4, 10))
    assert _s3(settings) == [("e-1", "2026-06-04")]
    assert _kept_lapsed(settings) == ["e-2"]
