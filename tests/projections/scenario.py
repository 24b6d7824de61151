"""A small zone whose views were worked out by hand (tests/projections, tests/api/test_views.py).

Departments gongan (provider), minzheng and jiaoyu (users); all times CST, 2026.

* RK-0001 人口基础信息, conditional, a base resource (S9: its base item 姓名 is not
  unconditional); owner, controller and risk assessment recorded.
* FR-0002 法人基础信息, unconditional, no owner/controller/assessment (S12 once shared).
* minzheng's system 低保系统: must connect, not connected, holds personal data, no
  MLPS filing (I2); O&M funds granted on 07-01 (F1).
* R1 minzheng → RK-0001 [姓名, 住址, 身份证号], submitted 06-01 10:00, approved 06-02 for
  [姓名, 住址] until 12-31, revoked 06-15 15:00.
* R2 jiaoyu → RK-0001 [姓名], submitted 06-03 10:00, never answered: due 06-17
  (06-03 is a Wednesday; 10 working days: 4,5,8,9,10,11,12,15,16,17) → S6 from 06-18.
* R3 jiaoyu → RK-0001 [住址], submitted 06-04, rejected 06-05 09:00 with no reason (S7).
* accesses (exchange platform), judged by security.access as the platform would:
  evt-1 06-05 10:00 mz-01 RK-0001 [姓名] on R1: authorized
  evt-2 06-05 23:30 mz-01 RK-0001 [身份证号] on R1: items_beyond_grant (S3);
        anomalies off_hours_sensitive (score 0.5 + 0.5 x 3.5/6 = 0.792) and items_beyond_grant
  evt-4 06-10 11:00 mz-01 FR-0002 [名称]: authorized; S12 for FR-0002
  evt-5 06-11 11:00 mz-01 XX-0009 [甲]: unknown_resource (S5)
  evt-3 06-16 09:00 mz-01 RK-0001 [姓名] on R1: grant_revoked (S2); anomaly after_revocation
  evt-6..8 06-22 10:00/10:10/10:20 jy-01 RK-0001 [姓名], no grant: no_grant (S2 x3);
        with anomaly_burst_count=3, one refused_burst anomaly (score 0.5 + 3/12 = 0.75)
* 06-20 10:00 a security officer acknowledges the after_revocation anomaly.
* 07-02 jiaoyu files 招生系统 without catalogue pre-registration (F5); 07-03 finance grants
  construction funds to project 门禁改造 with no filing (F3).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    AccessReport,
    Actor,
    CatalogueEntry,
    FundKind,
    FundOutcome,
    OpenType,
    ResourceItem,
    ReviewAction,
    RiskLevel,
    Role,
    Sensitivity,
    SharingType,
    SystemInventory,
    UpdateCycle,
)
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.store.connect import application_env, init_ledger, open_reader
from projections.query import Views
from projections.runner import Projector
from projections.schema import FINDING_COLUMNS, drop_views
from projections.sharing_terms import SharingTerms
from projections.store import ViewStore
from projections.zone import stable_id
from security.access import evaluate_access

ADMIN = Actor("admin-1", Role.ADMIN, None)
PLATFORM = Actor("exchange-platform", Role.EXCHANGE_PLATFORM, None)
OFFICER = Actor("cac-officer", Role.SECURITY_OFFICER, None)
FINANCE = Actor("finance-1", Role.FINANCE, None)
GONGAN = Actor("gongan-provider", Role.DATA_PROVIDER, "gongan")
MINZHENG = Actor("minzheng-clerk", Role.DEPARTMENT_CLERK, "minzheng")
JIAOYU = Actor("jiaoyu-clerk", Role.DEPARTMENT_CLERK, "jiaoyu")
# Registers the one system and lists it as required to connect: the requirement is ndrc's
# fact (organisation.CONNECTION_REQUIREMENT_ROLES), recorded in the same event.
NDRC = Actor("ndrc-1", Role.NDRC, None)
PURPOSE = "最低生活保障资格核查"
NIL = UUID(int=0)
SCHOOL = "入学资格审核"


def cst(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: cst(5, 20, 9))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Scenario:
    """What the scenario recorded: ids and the positions the tests cite."""

    settings: Settings
    r1: UUID = NIL
    r2: UUID = NIL
    r3: UUID = NIL
    system: UUID = NIL
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def after_revocation_id(self) -> str:
        return stable_id("after_revocation", "evt-3")


def scenario_settings(settings: Settings) -> Settings:
    """Small batches and snapshots, so the scenario crosses batch and snapshot boundaries."""
    return settings.with_overrides(
        projection_batch_size=7, projection_snapshot_interval=10, anomaly_burst_count=3
    )


def _entry(code: str, name: str, items: list[ResourceItem], sharing: SharingType) -> CatalogueEntry:
    return CatalogueEntry(
        code=code,
        name=name,
        provider_department="gongan",
        items=items,
        sharing_type=sharing,
        legal_basis=None,
        open_type=OpenType.NOT_OPEN,
        update_cycle=UpdateCycle.IRREGULAR,  # S11 is worked in tests/projections/rules
        summary=f"{name}摘要",
        format="table",
        publish_date=date(2026, 1, 6),
        share_condition="依法履职需要" if sharing is SharingType.CONDITIONAL else "",
        share_method="api",
        base_resource=code == "RK-0001",
    )


class Recorder:
    def __init__(self, app: GovLedger, clock: Clock, scenario: Scenario) -> None:
        self.app, self.clock, self.scenario = app, clock, scenario
        self.terms = SharingTerms(app)

    def at(self, moment: datetime) -> GovLedger:
        self.clock.now = moment
        return self.app

    def mark(self, name: str) -> None:
        self.scenario.positions[name] = self.app.recorder.max_notification_id() or 0

    def accesses(self, *reports: AccessReport) -> None:
        model = self.terms.current()
        self.app.record_accesses(PLATFORM, [(r, evaluate_access(r, model)) for r in reports])
        self.mark(reports[-1].platform_event_id)


def report(
    event_id: str,
    when: datetime,
    accessor: str,
    department: str,
    code: str,
    items: tuple[str, ...],
    purpose: str,
    grant: UUID | None = None,
) -> AccessReport:
    return AccessReport(
        platform_event_id=event_id,
        accessor_id=accessor,
        department=department,
        system=None,
        resource_code=code,
        items=items,
        row_count=10,
        purpose=purpose,
        grant_id=grant,
        client_address="10.0.0.1",
        accessed_at=when,
    )


def build_scenario(settings: Settings) -> Scenario:
    init_ledger(settings)
    clock = Clock()
    app = GovLedger(env=application_env(settings), clock=clock)
    scenario = Scenario(settings)
    try:
        _record(Recorder(app, clock, scenario), scenario)
    finally:
        app.close()
    return scenario


def _record(rec: Recorder, sc: Scenario) -> None:
    app = rec.app
    for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局"), ("jiaoyu", "区教育局")):
        app.register_department(ADMIN, code, name)
    inventory = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")
    sc.system = app.register_system(
        NDRC, "minzheng", inventory, required_to_connect=True, holds_personal_data=True
    )
    population = [
        ResourceItem("姓名", Sensitivity.PERSONAL, True),
        ResourceItem("住址", Sensitivity.PERSONAL),
        ResourceItem("身份证号", Sensitivity.SENSITIVE_PERSONAL),
    ]
    app.register_resource(
        GONGAN, _entry("RK-0001", "人口基础信息", population, SharingType.CONDITIONAL)
    )
    app.assign_resource_owner(GONGAN, "RK-0001", "gongan")
    app.assign_resource_controller(GONGAN, "RK-0001", "gongan")
    app.record_risk_assessment(OFFICER, "RK-0001", "评〔2026〕1号", RiskLevel.HIGH, "人口")
    companies = [ResourceItem("名称", Sensitivity.GENERAL)]
    app.register_resource(
        GONGAN, _entry("FR-0002", "法人基础信息", companies, SharingType.UNCONDITIONAL)
    )
    rec.mark("catalogue")

    sc.r1 = rec.at(cst(6, 1)).submit_request(
        MINZHENG, requester_department="minzheng", resource_code="RK-0001",
        items=["姓名", "住址", "身份证号"], purpose=PURPOSE, legal_basis="《社会救助暂行办法》",
        period_start=date(2026, 6, 1), period_end=date(2026, 12, 31),
    )  # fmt: skip
    rec.mark("r1_submitted")
    rec.at(cst(6, 2)).approve_request(GONGAN, sc.r1, ["姓名", "住址"], cst(12, 31, 0))
    rec.mark("r1_approved")
    sc.r2 = rec.at(cst(6, 3)).submit_request(
        JIAOYU, requester_department="jiaoyu", resource_code="RK-0001", items=["姓名"],
        purpose=SCHOOL, legal_basis="《义务教育法》",
        period_start=date(2026, 6, 1), period_end=date(2026, 8, 31),
    )  # fmt: skip
    sc.r3 = rec.at(cst(6, 4)).submit_request(
        JIAOYU, requester_department="jiaoyu", resource_code="RK-0001", items=["住址"],
        purpose=SCHOOL, legal_basis="《义务教育法》",
        period_start=date(2026, 6, 1), period_end=date(2026, 8, 31),
    )  # fmt: skip
    rec.at(cst(6, 5, 9)).reject_request(GONGAN, sc.r3, "")
    rec.mark("r3_rejected")

    # The platform reports the first week's accesses in one batch, after the fact.
    rec.at(cst(6, 12, 8))
    rec.accesses(
        report("evt-1", cst(6, 5), "mz-01", "minzheng", "RK-0001", ("姓名",), PURPOSE, sc.r1),
        report("evt-2", cst(6, 5, 23, 30), "mz-01", "minzheng", "RK-0001", ("身份证号",),
               PURPOSE, sc.r1),
        report("evt-4", cst(6, 10, 11), "mz-01", "minzheng", "FR-0002", ("名称",), "企业核查"),
        report("evt-5", cst(6, 11, 11), "mz-01", "minzheng", "XX-0009", ("甲",), PURPOSE),
    )  # fmt: skip
    rec.at(cst(6, 15, 15)).revoke_grant(GONGAN, sc.r1, "用途已完成")
    rec.mark("r1_revoked")
    rec.at(cst(6, 16, 9, 5))
    rec.accesses(
        report("evt-3", cst(6, 16, 9), "mz-01", "minzheng", "RK-0001", ("姓名",), PURPOSE, sc.r1)
    )
    rec.at(cst(6, 22, 11))
    rec.accesses(
        *(
            report(f"evt-{n}", cst(6, 22, 10, minute), "jy-01", "jiaoyu", "RK-0001", ("姓名",),
                   SCHOOL)
            for n, minute in ((6, 0), (7, 10), (8, 20))
        )
    )  # fmt: skip
    rec.at(cst(6, 20)).review_anomaly(
        OFFICER, sc.after_revocation_id, ReviewAction.ACKNOWLEDGE, "已核实，已通知民政局"
    )
    rec.mark("review")
    rec.at(cst(7, 1)).decide_funds(
        FINANCE, kind=FundKind.OM_FUNDS, year=2026, department="minzheng", amount_fen=100_000,
        outcome=FundOutcome.GRANTED, rationale="年度运维", system_id=sc.system,
    )  # fmt: skip
    rec.at(cst(7, 2)).file_project(
        JIAOYU, name="招生系统", builder="jiaoyu", investment_fen=1, om_cost_fen=1,
        funding_channel="财政", resource_codes=[], system_ids=[], mlps_filed=False,
        catalogue_preregistered=False,
    )  # fmt: skip
    rec.at(cst(7, 3)).decide_funds(
        FINANCE, kind=FundKind.CONSTRUCTION_FUNDS, year=2026, department="jiaoyu",
        amount_fen=500_000, outcome=FundOutcome.GRANTED, rationale="急需",
        project_name="门禁改造",
    )  # fmt: skip
    rec.mark("end")


@contextmanager
def prefix_views(settings: Settings, until: int) -> Iterator[Views]:
    """Views built from nothing but the ledger's first ``until`` positions (side views,
    beside the current ones), in one batch."""
    reader = open_reader(settings)
    side = ViewStore(settings, side=True)
    try:
        drop_views(side)
        Projector(settings, side, reader).run(until=until)
        yield Views(settings, side, Projector(settings, side, reader))
    finally:
        drop_views(side)
        side.close()
        reader.close()


def finding_rows(store: ViewStore) -> list[tuple[Any, ...]]:
    """Every version of every finding the views hold (projections.schema.FINDING_COLUMNS)."""
    return sorted(
        tuple(r)
        for r in store.query(f"SELECT {', '.join(FINDING_COLUMNS)} FROM {store.table('findings')}")
    )
