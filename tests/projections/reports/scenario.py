"""A small zone whose report figures were worked out by hand (see the tests' comments).

Two departments: 区公安局 (gongan) provides, 区民政局 (minzheng) uses.
Everything happens in 2026 (China Standard Time) except one access and one fund
decision dated 2025, which every 2026 figure must leave out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    AccessReason,
    AccessReport,
    AccessVerdict,
    Actor,
    CatalogueEntry,
    FundKind,
    FundOutcome,
    OpenType,
    ResourceItem,
    RiskLevel,
    Role,
    Sensitivity,
    SharingType,
    SystemInventory,
    UpdateCycle,
    ZombieReason,
)
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.store.connect import application_env, init_ledger

ADMIN = Actor("admin-1", Role.ADMIN, None)
NDRC = Actor("ndrc-1", Role.NDRC, None)
FINANCE = Actor("fin-1", Role.FINANCE, None)
CAC = Actor("cac-1", Role.SECURITY_OFFICER, None)
PLATFORM = Actor("platform", Role.EXCHANGE_PLATFORM, None)
GONGAN = Actor("ga-1", Role.DATA_PROVIDER, "gongan")
MINZHENG = Actor("mz-1", Role.DEPARTMENT_CLERK, "minzheng")
R1, R2 = "GX-PSB-001", "GX-PSB-002"


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=CST)


class Clock:
    def __init__(self) -> None:
        self.now = at(2026, 1, 5)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Built:
    q1: UUID
    q2: UUID


def _inventory(name: str) -> SystemInventory:
    return SystemInventory(name, "业务办理", "全区", "每日", "区发改局", date(2020, 1, 1), "财政")


def build(settings: Settings) -> Built:
    init_ledger(settings)
    clock = Clock()
    app = GovLedger(env=application_env(settings), clock=clock)
    try:
        return _fill(app, clock)
    finally:
        app.close()


def _fill(app: GovLedger, clock: Clock) -> Built:
    app.register_department(ADMIN, "gongan", "区公安局")
    app.register_department(ADMIN, "minzheng", "区民政局")
    app.name_cio(GONGAN, "gongan", "张伟")
    # Systems: S_a must connect and is not connected (F1); S_b is a zombie (F2); S_c is fine.
    # S_a and S_c are registered by ndrc, whose fact the connection requirement is.
    s_a = app.register_system(NDRC, "minzheng", _inventory("低保系统"), required_to_connect=True)
    s_b = app.register_system(GONGAN, "gongan", _inventory("旧户籍系统"))
    app.mark_system_zombie(NDRC, s_b, [ZombieReason.UNMAINTAINED])
    s_c = app.register_system(NDRC, "gongan", _inventory("视频系统"), required_to_connect=True)
    app.connect_system(PLATFORM, s_c)
    _catalogue(app)
    q1, q2 = _requests(app, clock)
    _accesses(app)
    _funds(app, clock, s_a, s_b, s_c)
    return Built(q1, q2)


def _catalogue(app: GovLedger) -> None:
    app.register_resource(
        GONGAN,
        CatalogueEntry(
            code=R1,
            name="人口基础信息",
            provider_department="gongan",
            items=(
                ResourceItem("姓名", Sensitivity.PERSONAL),
                ResourceItem("身份证号", Sensitivity.SENSITIVE_PERSONAL),
                ResourceItem("户籍地", Sensitivity.GENERAL),
            ),
            sharing_type=SharingType.CONDITIONAL,
            legal_basis=None,
            open_type=OpenType.NOT_OPEN,
            update_cycle=UpdateCycle.DAILY,
            summary="人口",
            format="JSON",
            publish_date=date(2025, 1, 1),
            share_condition="低保等法定职责",
            share_method="接口",
        ),
    )
    app.register_resource(
        GONGAN,
        CatalogueEntry(
            code=R2,
            name="案件信息",
            provider_department="gongan",
            items=(ResourceItem("案件编号", Sensitivity.GENERAL),),
            sharing_type=SharingType.NOT_SHAREABLE,
            legal_basis="《刑事诉讼法》",
            open_type=OpenType.NOT_OPEN,
            update_cycle=UpdateCycle.DAILY,
            share_method="接口",
        ),
    )
    app.assign_resource_owner(GONGAN, R1, "gongan")
    app.assign_resource_controller(GONGAN, R1, "gongan")
    app.record_risk_assessment(CAC, R1, "网信评〔2026〕1号", RiskLevel.HIGH, "含敏感个人信息")


def _requests(app: GovLedger, clock: Clock) -> tuple[UUID, UUID]:
    # Q1: submitted Mon 2 March, approved 4 March (2 days; due 16 March): on time.
    clock.now = at(2026, 3, 2, 9)
    q1 = app.submit_request(
        MINZHENG,
        requester_department="minzheng",
        resource_code=R1,
        items=["姓名", "户籍地"],
        purpose="低保审核",
        legal_basis="《社会救助暂行办法》",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 12, 31),
    )
    clock.now = at(2026, 3, 4)
    app.approve_request(GONGAN, q1, ["姓名", "户籍地"], at(2026, 12, 31, 23))
    # Q2: submitted Mon 4 May, rejected with a blank reason 25 May (21 days, late): S7.
    clock.now = at(2026, 5, 4, 9)
    q2 = app.submit_request(
        MINZHENG,
        requester_department="minzheng",
        resource_code=R1,
        items=["身份证号"],
        purpose="低保审核",
        legal_basis="",
        period_start=date(2026, 5, 1),
        period_end=date(2026, 12, 31),
    )
    clock.now = at(2026, 5, 25)
    app.reject_request(GONGAN, q2, "  ")
    return q1, q2


def _access(
    event_id: str,
    when: datetime,
    code: str,
    items: tuple[str, ...],
    purpose: str | None,
    grant: UUID | None,
    *reasons: AccessReason,
) -> tuple[AccessReport, AccessVerdict]:
    report = AccessReport(
        event_id,
        "mz-user-7",
        "minzheng",
        "低保系统",
        code,
        items,
        10,
        purpose,
        grant,
        "10.0.0.7",
        when,
    )
    return report, AccessVerdict(tuple(reasons))


def _accesses(app: GovLedger) -> None:
    q1 = None  # the platform's own grant reference is not needed for these verdicts
    app.record_accesses(
        PLATFORM,
        [
            # A1: within the grant: authorized.
            _access("a1", at(2026, 3, 10), R1, ("姓名",), "低保审核", q1),
            # A2: an item beyond the grant (S3).
            _access(
                "a2",
                at(2026, 4, 15),
                R1,
                ("身份证号",),
                "低保审核",
                q1,
                AccessReason.ITEMS_BEYOND_GRANT,
            ),
            # A3: 23:00, no grant, no purpose, sensitive personal item: S2, P1, off-hours.
            _access(
                "a3",
                at(2026, 4, 20, 23),
                R1,
                ("身份证号",),
                None,
                None,
                AccessReason.NO_GRANT,
                AccessReason.PURPOSE_MISMATCH,  # as security.access evaluates it: P1
            ),
            # A4: a not_shareable resource (S1).
            _access(
                "a4",
                at(2026, 6, 1),
                R2,
                ("案件编号",),
                "核查",
                None,
                AccessReason.RESOURCE_NOT_SHAREABLE,
            ),
            # A5: 2025: outside every 2026 figure.
            _access("a5", at(2025, 12, 31), R1, ("姓名",), "低保审核", None, AccessReason.NO_GRANT),
        ],
    )


def _funds(app: GovLedger, clock: Clock, s_a: UUID, s_b: UUID, s_c: UUID) -> None:
    # P1 without catalogue pre-registration (F5), rejected by ndrc (F4); P2 approved.
    p1 = app.file_project(
        MINZHENG,
        name="低保系统升级",
        builder="minzheng",
        investment_fen=30_000_000,
        om_cost_fen=1_000_000,
        funding_channel="财政",
        resource_codes=[R1],
        system_ids=[s_a],
        mlps_filed=True,
        catalogue_preregistered=False,
    )
    app.review_project(NDRC, p1, approved=False, architecture_review="重复建设")
    p2 = app.file_project(
        GONGAN,
        name="视频平台",
        builder="gongan",
        investment_fen=40_000_000,
        om_cost_fen=0,
        funding_channel="财政",
        resource_codes=[],
        system_ids=[s_c],
        mlps_filed=True,
        catalogue_preregistered=True,
    )
    app.review_project(NDRC, p2, approved=True, architecture_review="符合共建共享要求")
    clock.now = at(2026, 7, 1)
    grant, withhold = FundOutcome.GRANTED, FundOutcome.WITHHELD
    om, build = FundKind.OM_FUNDS, FundKind.CONSTRUCTION_FUNDS
    for kind, dept, fen, outcome, target, year in (
        (om, "minzheng", 10_000_000, grant, {"system_id": s_a}, 2026),  # D1: F1 + F4 (P1's)
        (om, "gongan", 5_000_000, grant, {"system_id": s_b}, 2026),  # D2: F2
        (build, "minzheng", 30_000_000, grant, {"filing_id": p1}, 2026),  # D3: F4 + F5
        (build, "gongan", 20_000_000, grant, {"project_name": "无备案项目"}, 2026),  # D4: F3
        (build, "gongan", 40_000_000, grant, {"filing_id": p2}, 2026),  # D5: compliant
        (om, "gongan", 8_000_000, withhold, {"system_id": s_c}, 2026),  # D6: withheld
        (om, "minzheng", 9_900_000, grant, {"system_id": s_a}, 2025),  # D7: another year
    ):
        app.decide_funds(
            FINANCE,
            kind=kind,
            year=year,
            department=dept,
            amount_fen=fen,
            outcome=outcome,
            rationale="年度预算",
            **target,
        )
