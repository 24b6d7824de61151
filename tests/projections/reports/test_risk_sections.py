"""The risk report's sections per 《网络数据安全管理条例》 第三十三条, on the hand-worked zone.

scenario.py's zone (see test_reports.py): two departments, gongan's CIO 张伟, three
systems (none on 政务云; S_b a zombie, none decommissioned), resources R1 (three labelled
items) and R2 (one), R1 risk-assessed, Q1 granted R1 to minzheng, 2026 accesses A1–A4
(A2–A4 flagged) by minzheng. Then, worked by hand: gongan entrusts 某某科技有限公司 with
R1 (position 34) and ends it (35).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Actor, Role
from ledger.domain.fact_intake import record_fields
from ledger.domain.security_facts import MEASURES
from ledger.store.connect import application_env
from projections.access_report import FlaggedAccess
from projections.query import forget_folds, open_views
from projections.reports import ReportKind, generate
from projections.reports.model import Report, Section
from projections.reports.risk_findings import _violations
from tests.ledger.domain.builders import FakeClock
from tests.projections.reports.scenario import build

GA_CLERK = Actor("ga-clerk", Role.DEPARTMENT_CLERK, "gongan")


def settings_in(root: object) -> Settings:
    return Settings(database_url=f"sqlite:///{root}/ledger.db", state_dir=f"{root}/s")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_in(tmp_path_factory.mktemp("risk-plain"))
    build(settings)
    return settings


@pytest.fixture(scope="module")
def entrusted(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = settings_in(tmp_path_factory.mktemp("risk-entrusted"))
    build(settings)
    clock = FakeClock(datetime(2026, 7, 1, 2, tzinfo=UTC))
    app = GovLedger(env=application_env(settings), clock=clock)
    try:
        fields = record_fields(
            "contracted_processor",
            {
                "department": "gongan",
                "contract_reference": "GA-2026-07",
                "processor_name": "某某科技有限公司",
                "processor_credit_code": "91320505MA1XXXXXX",
                "tasks": ["operate"],
                "resource_codes": ["GX-PSB-001"],
                "period_start": "2026-07-01",
                "period_end": "2026-12-31",
            },
        )
        processor = app.entrust_processor(GA_CLERK, **dict(fields))
        app.end_processor(GA_CLERK, processor, reason="合同到期")
    finally:
        app.close()
    forget_folds()
    return settings


def section(report: Report, title: str) -> Section:
    return next(s for s in report.sections if s.title == title)


def text(s: Section) -> str:
    return "\n".join(s.paragraphs)


def test_processor_and_security_lead(plain: Settings) -> None:
    basics = section(generate(plain, ReportKind.RISK, 2026, catch_up=True), "基本情况")
    assert "网络数据安全负责人及其联系方式：未记录" in text(basics)
    assert "已指定首席信息官1 个，未指定 1 个" in text(basics)
    assert [r.cells for r in basics.tables[0].rows] == [
        ("区公安局", "gongan", "张伟"),
        ("区民政局", "minzheng", "未指定"),
    ]


def test_processing_scope_storage_period_and_location(plain: Settings) -> None:
    processing = text(
        section(generate(plain, ReportKind.RISK, 2026, catch_up=True), "数据处理情况")
    )
    assert "提供部门 1 个、目录资源 2 项，本年度经交换平台访问数据的接收部门 1 个" in processing
    assert "存储期限与存储地点：各资源的存储期限及存储地点未记录" in processing
    assert "在用政务信息系统 3 个，其中部署于政务云 0 个" in processing


def test_technical_measures_and_their_effect(plain: Settings) -> None:
    measures = section(generate(plain, ReportKind.RISK, 2026, catch_up=True), "安全措施")
    assert "各部门自行制定的数据安全管理制度未记录" in text(measures)
    rows = {r.cells[0]: r for r in measures.tables[0].rows}
    assert list(rows) == ["加密", "备份", "数据标识", "访问控制", "身份认证", "记录防篡改"]
    assert rows["加密"].cells[1] == "各系统的该项措施未记录（不在账本记录范围）"
    assert rows["数据标识"].cells[1] == "目录资源 2 项中 2 项已逐项标注信息项敏感程度"
    assert rows["数据标识"].positions == (9, 10)
    assert rows["访问控制"].cells[2] == "本年度访问 4 次，标记违规 3 次，均已记录"


def test_providing_entrusting_joint_and_cross_border(plain: Settings, entrusted: Settings) -> None:
    report = generate(plain, ReportKind.RISK, 2026, catch_up=True)
    assessed = section(report, "提供、委托处理与共同处理数据的风险评估")
    # Shared: R1 (granted, accessed) and R2 (accessed); only R1 is risk-assessed.
    assert "被共享（获授权或被访问）的资源 2 项，其中已有网信办风险评估结论的 1 项" in text(
        assessed
    )
    assert "账本中无委托数据处理单位（受托方）的记录" in text(assessed)
    assert "共同处理：未记录" in text(assessed) and assessed.tables == ()
    assert text(section(report, "数据出境情况")).startswith("无。")
    with_processor = section(
        generate(entrusted, ReportKind.RISK, 2026, catch_up=True),
        "提供、委托处理与共同处理数据的风险评估",
    )
    assert "受托方）1 项，终止委托 1 项" in text(with_processor)
    rows = with_processor.tables[0].rows
    assert [r.positions for r in rows] == [(34,), (35,)]
    assert rows[0].cells[0] == "2026-07-01" and rows[0].cells[1] == "区公安局（gongan）"
    assert "某某科技有限公司" in str(rows[0].cells[2])


def test_s4_on_an_access_without_purpose_says_no_purpose_was_declared() -> None:
    def access(purpose: str) -> FlaggedAccess:
        return FlaggedAccess(7, 0.0, "minzheng", "u", "GX-PSB-001", purpose, (), None, (), ("S4",))

    assert _violations(access("")) == "S4 访问目的与授权目的不符（未申报用途）"
    assert _violations(access("低保审核")) == "S4 访问目的与授权目的不符"


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The zone plus, by hand: gongan's security lead (and a later one under another
    reference, which supersedes it), R1's storage, and the measures of one gongan system."""
    settings = settings_in(tmp_path_factory.mktemp("risk-declared"))
    build(settings)
    with open_views(settings, catch_up=True) as views:
        systems = views.zone(views.moment()).systems
    system_id = next(i for i, s in systems.items() if s.name == "视频系统")
    clock = FakeClock(datetime(2026, 7, 1, 2, tzinfo=UTC))
    app = GovLedger(env=application_env(settings), clock=clock)
    taken = {m: {"in_place": m != "backup", "description": f"{m}措施"} for m in MEASURES}
    taken["encryption"]["description"] = "国密SM4存储加密"
    try:
        for body in (
            {"scope": "gongan", "reference": "公任1号", "name": "赵一", "contact": "0512-1",
             "appointed_at": "2026-03-01T10:00:00+08:00"},
            {"scope": "gongan", "reference": "公任2号", "name": "钱二", "contact": "0512-2",
             "appointed_at": "2026-05-01T10:00:00+08:00"},
        ):  # fmt: skip
            app.appoint_security_lead(GA_CLERK, **record_fields("security_lead", body))
        storage = {
            "resource_code": "GX-PSB-001",
            "reference": "存储1",
            "storage_period": "长期",
            "storage_location": "区政务云",
        }
        app.declare_resource_storage(GA_CLERK, **record_fields("resource_storage", storage))
        fields = record_fields("system_measures", {"reference": "措施1", "measures": taken})
        app.declare_system_measures(GA_CLERK, UUID(system_id), **fields)
    finally:
        app.close()
    forget_folds()
    return settings


def test_declared_lead_storage_and_measures_are_shown(declared: Settings) -> None:
    report = generate(declared, ReportKind.RISK, 2026, catch_up=True)
    basics = text(section(report, "基本情况"))
    assert "区级网络数据安全负责人及其联系方式：未记录" in basics
    assert "已登记网络数据安全负责人的部门 1 个：区公安局（gongan）：钱二（0512-2）" in basics
    assert "赵一" not in basics  # superseded by the later appointment
    assert "其余部门 1 个未记录" in basics
    processing = text(section(report, "数据处理情况"))
    assert "已登记 1 项资源（存储期限长期、存储地点区政务云：1 项）；其余 1 项资源未记录" in (
        processing
    )
    rows = {r.cells[0]: r for r in section(report, "安全措施").tables[0].rows}
    encryption = str(rows["加密"].cells[1])
    assert "在用系统 3 个中已登记 1 个，其中采取 1 个、未采取 0 个（国密SM4存储加密）" in encryption
    assert "未登记 2 个未记录" in encryption
    assert "采取 0 个、未采取 1 个，未登记 2 个" in str(rows["备份"].cells[1])
    assert "；在用系统 3 个中已登记 1 个，其中采取 1 个" in str(rows["身份认证"].cells[1])
    assert len(rows["加密"].positions) == 1


def test_a_report_before_the_declarations_says_not_recorded(declared: Settings) -> None:
    report = generate(
        declared, ReportKind.RISK, 2026, at=33, catch_up=True
    )  # the scenario's last position
    assert "各部门网络数据安全负责人均未登记" in text(section(report, "基本情况"))
