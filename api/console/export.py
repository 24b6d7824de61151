"""导出 / Export: a console table as CSV or XLSX, the rows the page's filters select (issue #16).

CSV is UTF-8 with a byte-order mark, so a spreadsheet opened by double-click reads the
Chinese correctly; XLSX is written by openpyxl (the reports' 台账 use it too). At most
``EXPORT_LIMIT`` rows: an export is a working list, the full record is the ledger export.

Cells carry text that others wrote (an accessor id or a purpose the exchange platform
reported, a clerk's summary): a spreadsheet must never run it. XLSX cells are written as
strings, never as formulas (openpyxl makes any text starting with ``=`` one); in CSV, where a
spreadsheet guesses, text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading ``'`` (OWASP "CSV Injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font

from ledger.domain.errors import DomainError, ErrorCode
from projections.reports.xlsx import keep_as_text

EXPORT_LIMIT: Final = 10_000
FORMATS: Final = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Cell = str | int | float | None
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def export_table(
    fmt: str, name: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]
) -> Response:
    """The table as a download named ``name``.``fmt`` (``fmt``: csv or xlsx)."""
    if fmt not in FORMATS:
        raise DomainError(ErrorCode.INVALID_VALUE, f"export format must be csv or xlsx: {fmt}")
    body = _csv(header, rows) if fmt == "csv" else _xlsx(name, header, rows)
    filename = quote(f"{name}.{fmt}")
    return Response(
        body,
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


def _csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_csv_cell(c) for c in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _csv_cell(cell: Cell) -> str | int | float:
    if cell is None:
        return ""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def _xlsx(name: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    book = Workbook(write_only=False)
    sheet = book.active
    assert sheet is not None
    sheet.title = name[:31]
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
        keep_as_text(sheet[sheet.max_row])  # text that starts with "=": never a formula
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
