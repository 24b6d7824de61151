"""The audit report's sections per 《国家审计准则》 第一百二十二条, on the hand-worked zone.

scenario.py writes rows 1–33 (see test_reports.py); here two rectification notices
follow, worked by hand: 审整〔2026〕1号 to minzheng (deadline 28 February 2026, never
reported: overdue, R1) and 审整〔2026〕2号 to gongan (reported 20 January, accepted
25 January). Without them the same report says no previous decision is on record.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Actor, Role
from ledger.domain.fact_intake import record_fields
from ledger.store.connect import application_env
from projections.query import forget_folds
from projections.reports import ReportKind, generate
from projections.reports.model import Report, Section
from tests.ledger.domain.builders import FakeClock
from tests.projections.reports.scenario import build

AUDITOR = Actor("audit-1", Role.AUDITOR, None)
GA_CLERK = Actor("ga-clerk", Role.DEPARTMENT_CLERK, "gongan")
LATER = datetime(2027, 6, 1, tzinfo=UTC)
TITLES = [
    "审计依据",
    "审计范围、内容、方式和期间",
    "被审计单位基本情况",
    "审计评价意见",
    "以往审计决定执行情况和审计建议采纳情况",
    "审计发现的问题及处理意见",
    "移送处理事项",
    "审计建议",
]


def notice(number: int, department: str, deadline: str) -> dict[str, object]:
    return record_fields(
        "rectification_notice",
        {
            "finding_id": f"F-{number}",
            "rule": "F1" if department == "minzheng" else "F2",
            "department": department,
            "reference": f"审整〔2026〕{number}号",
            "finding": "经费问题",
            "requirement": "停止拨付",
            "deadline": deadline,
            "notified_at": "2026-01-10T10:00:00+08:00",
        },
    )


def t(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("audit-plain")
    settings = Settings(database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "s"))
    build(settings)
    return settings


@pytest.fixture(scope="module")
def rectified(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("audit-rectified")
    settings = Settings(database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "s"))
    build(settings)
    app = GovLedger(
        env=application_env(settings), clock=FakeClock(datetime(2027, 6, 1, tzinfo=UTC))
    )
    try:
        app.notify_rectification(AUDITOR, **notice(1, "minzheng", "2026-02-28"))
        fixed = app.notify_rectification(AUDITOR, **notice(2, "gongan", "2026-03-31"))
        app.report_rectification(
            GA_CLERK, fixed, reference="公整〔2026〕1号", summary="已停止拨付",
            reported_at=t("2026-01-20T10:00:00"),
        )  # fmt: skip
        app.verify_rectification(
            AUDITOR, fixed, accepted=True, reason="核实", verified_at=t("2026-01-25T10:00:00")
        )
    finally:
        app.close()
    forget_folds()
    return settings


def section(report: Report, title: str) -> Section:
    return next(s for s in report.sections if s.title == title)


def text(s: Section) -> str:
    return "\n".join(s.paragraphs)


def test_sections_follow_article_122_in_order(plain: Settings) -> None:
    report = generate(plain, ReportKind.AUDIT, 2026, catch_up=True)
    assert [s.title for s in report.sections] == TITLES
    assert "真实性" not in report.subtitle and "效益性" not in report.subtitle
    # Facts the ledger does not hold are said to be missing, not invented.
    assert "不在账本记录范围" in text(section(report, "被审计单位基本情况"))
    assert "首席信息官 张伟" in text(section(report, "被审计单位基本情况"))
    period = text(section(report, "审计范围、内容、方式和期间"))
    assert "审计实施的起止时间不在账本记录范围" in period
    assert "苏高新办〔2019〕2号 §三(三)12" in text(section(report, "审计依据"))


def test_evaluation_opinion_counts_compliant_and_faulty_grants(plain: Settings) -> None:
    # 2026: D1–D6; D5 compliant, D6 withheld without findings: 2 with no finding;
    # D1–D4 granted against a rule: 650,000.00 (test_reports.py works the figures).
    opinion = text(section(generate(plain, ReportKind.AUDIT, 2026, catch_up=True), "审计评价意见"))
    assert "6 笔经费决定中 2 笔未发现违反" in opinion
    assert "仍予安排的 4 笔，金额 650,000.00 元" in opinion


def test_each_problem_has_facts_characterisation_handling_and_basis(plain: Settings) -> None:
    report = generate(plain, ReportKind.AUDIT, 2026, catch_up=True)
    problems = next(t for t in section(report, "审计发现的问题及处理意见").tables)
    assert problems.columns == ("规则", "事实", "定性", "处理意见", "依据")
    rows = {r.cells[0]: r for r in problems.rows}
    assert sorted(rows) == ["F1", "F2", "F3", "F4", "F5", "F7"]  # F6, F8: no decision hit
    f4 = rows["F4"]
    # D3 (P1's construction) and D1 (O&M for S_a, which the rejected P1 lists).
    fact = "区民政局（minzheng） 涉及经费决定 2 笔，其中予以安排 2 笔，金额 400,000.00 元"
    assert f4.cells[1] == fact
    assert f4.cells[2] == "架构治理审查未通过的项目仍安排经费（严重）"
    assert "不予审批、不安排经费" in str(f4.cells[3])
    assert f4.cells[4] == "苏高新办〔2019〕2号 §三(五)17 不予审批, 不拨付"
    assert f4.positions == (23, 24, 27, 29)
    suggestions = section(report, "审计建议").paragraphs
    assert len(suggestions) == 6 and suggestions[0].startswith("1. ")


def test_no_previous_decision_and_no_referral_are_said(plain: Settings) -> None:
    report = generate(plain, ReportKind.AUDIT, 2026, catch_up=True)
    previous = section(report, "以往审计决定执行情况和审计建议采纳情况")
    assert previous.tables == () and "无以往审计决定" in text(previous)
    assert text(section(report, "移送处理事项")).startswith("无。")


def test_previous_decisions_show_the_rectification_register(rectified: Settings) -> None:
    report = generate(rectified, ReportKind.AUDIT, 2026, catch_up=True)
    previous = section(report, "以往审计决定执行情况和审计建议采纳情况")
    assert "整改通知 2 项：已通过整改核验 1 项，整改中 0 项，逾期未完成 1 项" in text(previous)
    assert [r.cells for r in previous.tables[0].rows] == [
        ("审整〔2026〕1号", "区民政局（minzheng）", "F1", "停止拨付", "2026-02-28", "0 次",
         "已下达整改通知", "逾期未完成"),
        ("审整〔2026〕2号", "区公安局（gongan）", "F2", "停止拨付", "2026-03-31", "1 次",
         "整改已通过", "已通过"),
    ]  # fmt: skip
    problems = section(report, "审计发现的问题及处理意见").tables[0]
    r1 = [r for r in problems.rows if r.cells[0] == "R1"]
    assert len(r1) == 1 and "审整〔2026〕1号" in str(r1[0].cells[1])
    assert r1[0].cells[4] == "《中华人民共和国审计法》第四十五条"
    assert section(report, "审计建议").paragraphs[-1].endswith("必要时依法追究责任。")
