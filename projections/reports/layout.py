"""Column widths of a report table in HTML/PDF, from what its columns hold (issue #15 Layout).

A browser's automatic table layout gives a column the width its longest text asks for
and squeezes the rest: a long 检查结果 left 经费类别 two characters wide and broke
department codes letter by letter. Here every table gets explicit widths (the template
sets ``table-layout: fixed`` with one ``<col>`` each), by one rule:

- each column's *floor* is what must not break: a short cell (at most ``WHOLE`` display
  units, e.g. 运维经费, 已验收, a date), a code or amount (never broken, docs/reports.md),
  the longest ASCII word or document number of a longer cell (``approval_bureau``,
  苏高新办〔2019〕2号); a header may wrap (it costs one row a table, not a line a row);
- each column's *want* is its longest line of text, header included, capped at ``CAP``;
- every column gets its floor, and the space left goes to the columns that want more, in
  proportion to how much more they want; when even the floors do not fit, the floors are
  shared in proportion.

Display units: a CJK character or full-width sign is 2, anything else ``NARROW`` (a Latin
letter or digit is a little over half an ideograph wide in the report's fonts). The renderer
lays out only (no figure is computed here); the fonts and the PDF engine are not this
module's concern.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from projections.reports.model import Row, Table

WHOLE = 12  # a cell this narrow (6 ideographs) is kept on one line
ASCII_WHOLE = 20  # so is a plain ASCII cell this narrow (a time: 2025-01-13 10:02)
WORD_CAP = 16  # a longer ASCII word (a 32-digit id) may break, as it would anyway
HEADER_FLOOR = 4  # a header may wrap down to two ideographs a line (it is one row a table)
CAP = 60  # no column asks for more than this many units
SLACK = 1.0  # what a cell kept whole gets beyond its estimate (glyph widths, borders)
NARROW = 1.15  # a Latin letter or digit: a little over half an ideograph in the fonts used
# The width of the text block (A4, 15 mm margins: 180 mm) in units at each table's type
# size: 9 pt tables, 8 pt 台账 (class list), 6.5 pt tables of more than 12 columns; and a
# cell's left and right padding with its border there (the template's 4 pt, 1.5 pt wide).
LINE_UNITS = {"": 113, "list": 127, "wide": 156}
PADDING = {"": 2.0, "list": 2.2, "wide": 1.2}
# What a longer cell must not break: an ASCII word, or a document number (苏高新办〔2019〕2号).
# (With the full-width brackets around it: a closing bracket never starts a line.)
_WORD = re.compile(r"[（(]?[\x21-\x7e]+[）)]?|[\u4e00-\u9fff]{2,8}〔\d{4}〕\d+号")


def units(text: str) -> float:
    """Display width: 2 for a wide (CJK) character, ``NARROW`` otherwise."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else NARROW for c in text)


def _floor(text: str, whole: bool) -> float:
    """What of ``text`` must stay on one line."""
    width = units(text)
    if whole or width <= WHOLE or (text.isascii() and width <= ASCII_WHOLE):
        return width + SLACK
    words = max((units(w) for w in _WORD.findall(text)), default=2)
    # A column of text is not squeezed below six ideographs a line either.
    return max(min(words, WORD_CAP), WHOLE)


def _column(texts: Sequence[tuple[str, bool]], header: str) -> tuple[float, float]:
    floor = min(units(header), HEADER_FLOOR) + SLACK
    want = min(units(header) / 2, CAP)  # a header on two lines is no cost per row
    for text, whole in texts:
        floor = max(floor, _floor(text, whole))
        want = max(want, min(max(units(line) for line in text.split("\n")), CAP))
    return floor, max(want, floor)


def widths(
    table: Table,
    rows: Sequence[Row],
    evidence: Sequence[str] | None,
    *,
    whole: re.Pattern[str],
    size: str = "",
) -> list[float]:
    """Percent widths of ``table``'s columns (and the evidence column when ``evidence``
    holds its cells) for the ``rows`` shown; ``whole`` matches cells never broken."""
    columns = []
    for index, header in enumerate(table.columns):
        texts = [(str(row.cells[index]), _unbroken(row.cells[index], whole)) for row in rows]
        columns.append(_column(texts, header))
    if evidence is not None:
        columns.append(_column([(text, False) for text in evidence], "证据（账本位置）"))
    padding = PADDING.get(size, PADDING[""])
    line = LINE_UNITS.get(size, LINE_UNITS[""]) - padding * len(columns)
    floors = [floor for floor, _ in columns]
    wants = [want for _, want in columns]
    extra = [want - floor for floor, want in columns]
    if sum(floors) >= line:  # even the floors do not fit: shared in proportion
        text = floors
    elif sum(wants) <= line:  # everything fits as wanted: the rest shared by want
        text = [want * line / sum(wants) for want in wants]
    else:
        share = (line - sum(floors)) / sum(extra)
        text = [floor + more * share for floor, more in zip(floors, extra, strict=True)]
    # A <col> width is the cell's outer width: its text and its padding.
    return _percent([width + padding for width in text])


def _unbroken(cell: object, whole: re.Pattern[str]) -> bool:
    return isinstance(cell, int | float) or (isinstance(cell, str) and bool(whole.fullmatch(cell)))


def _percent(parts: Sequence[float]) -> list[float]:
    total = sum(parts) or 1
    return [round(100 * part / total, 3) for part in parts]
