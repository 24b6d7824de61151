"""The reports name what I3, I1 (with F8), I4/I5 and D1 find, worked by hand (both backends).

docs/reports.md "The plan's follow-up obligations": annual 一 疑似僵尸系统及本年度运维经费
and 八 年度共享情况报送, audit 三 项目跟踪、验收与评价, risk 3 核心数据共享专门审批 and
核心数据未经专门审批即共享（D1）. One small zone, every fact recorded on 2026-03-01 (the
reports' moment), business times earlier; the 2025 reports. The expected rows are worked
from docs/rules-inputs.md in the comments, and the HTML and XLSX carry the same rows.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from openpyxl import load_workbook

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    FundKind,
    FundOutcome,
    ResourceItem,
    Sensitivity,
    SharingType,
)
from ledger.store.connect import application_env, init_ledger
from projections.reports import Format, ReportKind, generate, render
from projections.reports.model import Report, Table
from tests.projections.rules.test_issue14_rules import GONGAN_CLERK, INVENTORY, NDRC, at
from tests.projections.scenario import (
    ADMIN,
    FINANCE,
    GONGAN,
    MINZHENG,
    OFFICER,
    PURPOSE,
    Clock,
    Recorder,
    Scenario,
    _entry,
    report,
)


def table(report: Report, title: str) -> Table:
    return next(t for _, t in report.tables() if t.title == title)


def cells(t: Table) -> list[tuple[object, ...]]:
    return [row.cells for row in t.rows]


@pytest.fixture
def zone(settings: Settings) -> Iterator[Scenario]:
    """The zone recorded; its ``positions`` name the accesses' ledger positions."""
    init_ledger(settings)
    clock = Clock(at(2026, 3, 1))
    app = GovLedger(env=application_env(settings), clock=clock)
    scenario = Scenario(settings)
    try:
        _record(Recorder(app, clock, scenario))
    finally:
        app.close()
    yield scenario


def _record(rec: Recorder) -> None:
    app = rec.app
    for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局"), ("jiaoyu", "区教育局")):
        app.register_department(ADMIN, code, name, occurred_at=at(2024, 1, 1))
    # I3 of 2025: gongan on time, minzheng late (01-05), jiaoyu none; the zone's report on
    # time (01-20, due 01-31) but approved 02-10, after the 01-31 the approval was due by
    for who, dept, when in ((GONGAN_CLERK, "gongan", at(2025, 12, 20)),
                            (MINZHENG, "minzheng", at(2026, 1, 5))):  # fmt: skip
        app.submit_department_report(who, department=dept, year=2025, reference=f"{dept}-2025",
                                     summary="年度共享情况", submitted_at=when)  # fmt: skip
    app.submit_zone_report(NDRC, year=2025, reference="汇总-2025", summary="全区汇总",
                           submitted_at=at(2026, 1, 20))  # fmt: skip
    app.approve_zone_report(NDRC, 2025, approving_body="领导小组", reference="批复-1",
                            approved_at=at(2026, 2, 10))  # fmt: skip
    # I1 and F8: 甲系统, registered 2024-01-01, never accessed (idle over 180 days); an O&M
    # grant of 2025 to it (0 accesses in the year before 06-01: little-used, F8) and one
    # withheld (not counted)
    inventory = replace(INVENTORY, name="甲系统")
    system = app.register_system(MINZHENG, "minzheng", inventory, occurred_at=at(2024, 1, 1))
    tracked = app.file_project(
        MINZHENG, name="低保系统运维", builder="minzheng", investment_fen=0,
        om_cost_fen=500_000, funding_channel="财政", resource_codes=[], system_ids=[system],
        mlps_filed=True, catalogue_preregistered=True, occurred_at=at(2025, 1, 10),
    )  # fmt: skip
    evaluated = app.file_project(
        MINZHENG, name="救助平台建设", builder="minzheng", investment_fen=1_000_000,
        om_cost_fen=0, funding_channel="财政", resource_codes=[], system_ids=[],
        mlps_filed=True, catalogue_preregistered=True, occurred_at=at(2025, 1, 10),
    )  # fmt: skip
    for filing in (tracked, evaluated):
        app.review_project(NDRC, filing, True, "通过", occurred_at=at(2025, 3, 1))
    for outcome in (FundOutcome.GRANTED, FundOutcome.WITHHELD):
        app.decide_funds(
            FINANCE, kind=FundKind.OM_FUNDS, year=2025, department="minzheng",
            amount_fen=120_000, outcome=outcome, rationale="运维", filing_id=tracked,
            system_id=system, decided_at=at(2025, 6, 1),
        )  # fmt: skip
    # I4: 低保系统运维's last progress 2025-06-01: due 2025-12-01, still none by 03-01.
    # I5: 救助平台建设 accepted 2025-09-01, evaluated 2025-12-01 (within 365 days)
    app.report_project_progress(
        MINZHENG, tracked, stage="construction", progress_percent=40, spent_fen=50_000,
        summary="进展", reported_at=at(2025, 6, 1),
    )  # fmt: skip
    app.accept_project(NDRC, evaluated, accepted_at=at(2025, 9, 1))
    app.evaluate_project(NDRC, evaluated, rating="good", summary="评价",
                         evaluated_at=at(2025, 12, 1))  # fmt: skip
    # D1: core item 户籍 of RK-0001; minzheng's approval 06-01 to 06-10
    items = [ResourceItem("姓名", Sensitivity.GENERAL), ResourceItem("户籍", Sensitivity.CORE)]
    app.register_resource(GONGAN, _entry("RK-0001", "人口", items, SharingType.CONDITIONAL),
                          occurred_at=at(2025, 5, 20))  # fmt: skip
    app.approve_core_data_sharing(
        OFFICER, reference="网信核-1", resource_code="RK-0001", recipient_department="minzheng",
        request_id=None, approving_authority="区委网信委", valid_until=at(2025, 6, 10),
        approved_at=at(2025, 6, 1),
    )  # fmt: skip
    for access in (
        report("c-1", at(2025, 6, 5), "mz-1", "minzheng", "RK-0001", ("户籍",), PURPOSE),
        report("c-2", at(2025, 6, 6), "jy-1", "jiaoyu", "RK-0001", ("户籍",), PURPOSE),
        report("c-3", at(2025, 6, 12), "mz-1", "minzheng", "RK-0001", ("户籍",), PURPOSE),
    ):
        rec.accesses(access)  # one at a time: the scenario keeps each one's position


def test_annual_reports_and_zombie_candidates(zone: Scenario) -> None:
    annual = generate(zone.settings, ReportKind.ANNUAL, 2025, catch_up=True)
    reporting = table(annual, "2025 年度共享情况报送")
    assert cells(reporting) == [
        ("区公安分局（gongan）", "gongan-2025", "2025-12-20", "按期报送", "—", "—"),
        ("区教育局（jiaoyu）", "—", "—", "未报送（I3）", "—", "—"),
        ("区民政局（minzheng）", "minzheng-2025", "2026-01-05", "逾期报送（I3）", "—", "—"),
        ("全区汇总报告（区发改局）", "汇总-2025", "2026-01-20", "按期报送", "2026-02-10",
         "已审定，逾期（I3）"),
    ]  # fmt: skip
    assert all(row.positions for row in reporting.rows)
    (zombie,) = table(annual, "疑似僵尸系统及本年度运维经费").rows
    assert zombie.cells == ("甲系统", "区民政局（minzheng）", "无访问记录", 1, "1,200.00", "1 笔")
    text = "\n".join(p for s in annual.sections for p in s.paragraphs)
    assert "以本报告时点计 1 个；其中 1 个本年度仍获安排运维经费，合计 1,200.00 元" in text
    # jiaoyu, minzheng, the zone's approval (2024's missing reports are not 2025's)
    assert "2025 年度逾期或未报送、未按期审定（I3）3 项" in text
    _same_in_html_and_xlsx(annual, reporting)


def test_audit_lists_each_filings_follow_up(zone: Scenario) -> None:
    audit = generate(zone.settings, ReportKind.AUDIT, 2025, catch_up=True)
    follow_up = table(audit, "项目跟踪、验收与评价")
    assert follow_up.ledger_list
    assert cells(follow_up) == [
        ("低保系统运维", "区民政局（minzheng）", "审查通过", "2025-03-01", 1,
         "2025-06-01 建设中 40%", "500.00", "—", "未评价", "未按期跟踪报告（I4）"),
        ("救助平台建设", "区民政局（minzheng）", "已验收", "2025-03-01", 0, "无", "—",
         "2025-09-01", "2025-12-01 良好", "无"),
    ]  # fmt: skip
    text = "\n".join(p for s in audit.sections for p in s.paragraphs)
    assert "未按期跟踪报告（I4）1 项，验收后未按期评价（I5）0 项" in text
    _same_in_html_and_xlsx(audit, follow_up)


def test_risk_names_core_data_shared_without_approval(zone: Scenario) -> None:
    risk = generate(zone.settings, ReportKind.RISK, 2025, catch_up=True)
    d1 = table(risk, "核心数据未经专门审批即共享（D1）")
    assert d1.ledger_list
    # c-1 within the approval; c-2 to jiaoyu, none; c-3 after it lapsed on 06-10: one line
    # for RK-0001 led by the two accesses' positions
    (row,) = d1.rows
    assert row.cells[1:] == (
        "RK-0001",
        "区教育局 2025-06-06；区民政局 2025-06-12（专门审批 网信核-1 已失效）",
    )  # fmt: skip
    c2, c3 = zone.positions["c-2"], zone.positions["c-3"]
    assert row.cells[0] == f"{c2}、{c3}" and {c2, c3} <= set(row.positions)
    assert "网信核-1：RK-0001 提供给区民政局，2025-06-01 至 2025-06-10，位置" in (
        "\n".join(p for s in risk.sections for p in s.paragraphs)
    )
    text = "\n".join(p for s in risk.sections if s.number == "3" for p in s.paragraphs)
    assert "核心数据未经专门审批即共享（D1）2 项" in text
    _same_in_html_and_xlsx(risk, d1)


def _same_in_html_and_xlsx(report: Report, shown: Table) -> None:
    """The HTML prints the table's title and each cell; the XLSX sheet of the table (named
    ``number-title``, cut to Excel's 31 characters) holds each row's cells."""
    html = render(report, Format.HTML).decode()
    assert shown.title in html
    for row in shown.rows:
        assert all(str(cell) in html for cell in row.cells)
    book = load_workbook(io.BytesIO(render(report, Format.XLSX)), read_only=True)
    sheet = next(ws for ws in book.worksheets if shown.title[:8] in ws.title)
    lines = [tuple(map(_text, line)) for line in sheet.iter_rows(values_only=True)]
    assert lines[0][: len(shown.columns)] == shown.columns
    assert [tuple(map(_number, line[: len(shown.columns)])) for line in lines[1:]] == [
        tuple(_number(str(c)) for c in row.cells) for row in shown.rows
    ]


def _text(value: object) -> str:
    """A cell as the report wrote it: the XLSX holds a date as a date."""
    return value.date().isoformat() if isinstance(value, datetime) else str(value)


def _number(text: str) -> str | float:
    """An amount (1,200.00) is a number in the XLSX: compared as one."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text
