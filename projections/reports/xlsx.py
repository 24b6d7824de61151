"""The report as a workbook: a cover sheet, one sheet per table (台账), the evidence.

openpyxl writes the file; every table row keeps its full list of ledger
positions in the last column, so a figure can be traced without the PDF.

Cells carry text others wrote (an accessor id or a purpose the exchange platform
reported, a clerk's summary): a spreadsheet must never run it. openpyxl stores any
text starting with ``=`` as a formula; :func:`keep_as_text` stores it as the text it
is (OWASP "CSV Injection"; the console's exports use it too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from projections.reports.model import Cell, Report, Table

SHEET_NAME_LIMIT = 31  # Excel's limit
_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_AMOUNT = re.compile(r"\d{1,3}(,\d{3})*\.\d{2}")
_DAY = re.compile(r"\d{4}-\d\d-\d\d")
# Report times are China Standard Time already (``local``): kept as the wall-clock time
# a reader sees, since a spreadsheet cell holds no time zone.
_MOMENT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?(\+08:00)?")
DAY_FORMAT, MOMENT_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
HEADER_FILL = PatternFill("solid", fgColor="E8EDF5")


def workbook(report: Report) -> Workbook:
    book = Workbook()
    cover = book.active
    assert cover is not None
    cover.title = "说明"
    _cover(cover, report)
    used = {"说明"}
    for section, table in report.tables():
        name = _sheet_name(f"{section.number}-{table.title}", used)
        _table_sheet(book.create_sheet(name), table)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            keep_as_text(row)
    return book


def keep_as_text(cells: Iterable[Any]) -> None:
    """Text that openpyxl took for a formula (it starts with ``=``) kept as the text it is."""
    for cell in cells:
        if cell.data_type == "f":
            cell.data_type = "s"


def _cover(sheet: Worksheet, report: Report) -> None:
    anchor = report.anchor
    lines: list[tuple[str, str | int]] = [
        ("报告", report.title),
        ("说明", report.subtitle),
        ("年度", report.year),
        ("生成时间", report.generated_at),
        *((("提示", report.notice),) if report.notice else ()),
        ("账本标识", anchor.ledger_id),
        ("哈希算法", anchor.hash_algorithm),
        ("统计截至账本位置", anchor.position),
        ("该位置记录哈希", anchor.head_hash),
        ("最新签名检查点", anchor.checkpoint or "无"),
    ]
    lines += [(f"核验步骤 {i}", step) for i, step in enumerate(report.verification, 1)]
    for label, value in lines:
        sheet.append([label, value])
    sheet.column_dimensions["A"].width = 20
    sheet.column_dimensions["B"].width = 100
    for cell in sheet["A"]:
        cell.font = Font(bold=True)
    for cell in sheet["B"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _table_sheet(sheet: Worksheet, table: Table) -> None:
    sheet.append([*table.columns, "账本位置"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    for row in table.rows:
        sheet.append([*(_cell(c) for c in row.cells), row.evidence])
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
            elif isinstance(cell.value, datetime):
                cell.number_format = MOMENT_FORMAT
            elif isinstance(cell.value, date):
                cell.number_format = DAY_FORMAT
    sheet.freeze_panes = "A2"
    for index, column in enumerate((*table.columns, "账本位置"), 1):
        width = max(
            [len(str(column)) * 2]
            + [len(str(r.cells[index - 1])) * 2 for r in table.rows[:200] if index <= len(r.cells)]
        )
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width, 10), 60)
    if table.note:
        sheet.append([])
        sheet.append([table.note])


def _cell(value: Cell) -> Cell | Decimal | date | datetime:
    """Amounts printed as ``1,050,000.00`` (元) become numbers a spreadsheet can add up;
    days and times become dates a spreadsheet can sort and filter (issue #15)."""
    if not isinstance(value, str):
        return value
    if _AMOUNT.fullmatch(value):
        return Decimal(value.replace(",", ""))
    if _DAY.fullmatch(value):
        return date.fromisoformat(value)
    if _MOMENT.fullmatch(value):
        return datetime.fromisoformat(value).replace(tzinfo=None)
    return value


def _sheet_name(title: str, used: set[str]) -> str:
    base = _FORBIDDEN.sub("-", title)[:SHEET_NAME_LIMIT]
    name, n = base, 2
    while name in used:
        suffix = f"~{n}"
        name = base[: SHEET_NAME_LIMIT - len(suffix)] + suffix
        n += 1
    used.add(name)
    return name
