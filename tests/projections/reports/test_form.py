"""The reports' form (issue #15): a year with no data says so; XLSX days and times are
dates; 生成时间 is China Standard Time. On the hand-worked zone (scenario.py, test_reports.py).
"""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from ledger.config import Settings
from projections.reports import Format, ReportKind, generate, render
from projections.reports.model import LedgerAnchor, Report, Row, Section, Table
from projections.reports.xlsx import workbook
from tests.projections.reports.scenario import build


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("form")
    settings = Settings(database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "s"))
    build(settings)
    return settings


@pytest.mark.parametrize("kind", list(ReportKind))
def test_a_year_with_no_data_says_so_on_the_cover(scenario: Settings, kind: ReportKind) -> None:
    empty = generate(scenario, kind, 2024, catch_up=True)  # the zone's records are of 2025 and 2026
    assert empty.notice.startswith("提示：账本中没有 2024 年度的")
    assert empty.notice in render(empty, Format.HTML).decode()
    cover = load_workbook(io.BytesIO(render(empty, Format.XLSX)))["说明"]
    assert ["提示", empty.notice] in [[c.value for c in row] for row in cover.iter_rows()]
    # 2025 holds one access (A5) and one decision (D7): no notice for any kind.
    assert generate(scenario, kind, 2025, catch_up=True).notice == ""
    assert generate(scenario, kind, 2026, catch_up=True).notice == ""


def test_generated_at_is_china_standard_time(scenario: Settings) -> None:
    assert generate(scenario, ReportKind.AUDIT, 2026, catch_up=True).generated_at.endswith(
        "（北京时间）"
    )


def test_xlsx_days_and_times_are_dates(scenario: Settings) -> None:
    book = load_workbook(
        io.BytesIO(render(generate(scenario, ReportKind.RISK, 2026, catch_up=True), Format.XLSX))
    )
    ledger = next(book[n] for n in book.sheetnames if "违规访问台账" in n)
    # A2 at 10:00 on 15 April 2026, China Standard Time (scenario.py).
    when = ledger.cell(row=2, column=2)
    assert when.value == datetime(2026, 4, 15, 10, 0) and when.number_format == "yyyy-mm-dd hh:mm"
    rights = next(book[n] for n in book.sheetnames if "使用权台账" in n)
    expires = rights.cell(row=2, column=5)  # Q1 runs to 31 December 2026
    assert expires.value == datetime(2026, 12, 31) and expires.is_date
    assert isinstance(expires.value, datetime | date)


def test_a_ledger_list_shows_its_positions_once(scenario: Settings) -> None:
    html = render(generate(scenario, ReportKind.RISK, 2026, catch_up=True), Format.HTML).decode()
    start = html.index("违规访问台账（台账）")
    header = html[html.index("<thead>", start) : html.index("</thead>", start)]
    assert header.count("账本位置") == 1  # its first column; no evidence column beside it
    assert '<td class="code">GX-PSB-001</td>' in html  # a code is printed whole


def test_amounts_are_numbers_in_the_pdf_layout(scenario: Settings) -> None:
    html = render(generate(scenario, ReportKind.AUDIT, 2026, catch_up=True), Format.HTML).decode()
    assert '<td class="num">1,050,000.00</td>' in html  # right-aligned, never broken


def test_xlsx_text_that_looks_like_a_formula_stays_text() -> None:
    """A purpose the exchange platform reported as "=HYPERLINK(…)" is shown, never run."""
    hostile = '=HYPERLINK("http://example.invalid","x")'
    table = Table("访问台账", ("用途", "次数"), (Row((hostile, "1"), (7,)),), ledger_list=True)
    anchor = LedgerAnchor("ledger-1", "sha256", 7, "00" * 32, None)
    report = Report(
        ReportKind.RISK, "风险评估报告", 2026, "", "2026-12-07", anchor,
        (Section("8", "已发现风险", tables=(table,)),),
    )  # fmt: skip
    saved = io.BytesIO()
    workbook(report).save(saved)
    book = load_workbook(io.BytesIO(saved.getvalue()))
    sheet = next(book[n] for n in book.sheetnames if "访问台账" in n)
    cell = sheet.cell(row=2, column=1)
    assert (cell.value, cell.data_type) == (hostile, "s")
    assert all(c.data_type != "f" for s in book.worksheets for row in s.iter_rows() for c in row)
