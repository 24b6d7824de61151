"""Render a :class:`Report` as HTML (Jinja2), PDF (WeasyPrint), XLSX (openpyxl) or JSON.

One HTML template serves the screen and the PDF: WeasyPrint lays out the same
HTML with the print rules (@page, page numbers) and embeds the CJK font. The
renderers only lay out; every figure comes from the report model.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from projections.reports.fonts import (
    CSS_FAMILIES,
    MONO_FAMILIES,
    PDF_FAMILIES,
    PDF_MONO_FAMILIES,
    font_faces_css,
)
from projections.reports.layout import widths
from projections.reports.model import Report, Row, Table, compress_positions

# Longer evidence lists go to the appendix under a reference (E1, E2, ...).
INLINE_EVIDENCE_CHARS = 24
# In HTML/PDF an appendix entry shows this many ranges; JSON and XLSX carry every position.
APPENDIX_RANGES = 10
# A 台账 in HTML/PDF shows its first rows; XLSX and JSON carry all of them.
LEDGER_LIST_PREVIEW = 30


# A code or id (GX-PSB-001, hrss-cio) is printed whole, never broken at its hyphens.
CODE = re.compile(r"[A-Za-z0-9_]+(-[A-Za-z0-9_]+)+")
# An amount in 元 (``12,000,000.00``) is a number: right-aligned, never broken.
AMOUNT = re.compile(r"-?\d{1,3}(,\d{3})*\.\d{2}")
UNBROKEN = re.compile(rf"(?:{CODE.pattern})|(?:{AMOUNT.pattern})")


class Format(StrEnum):
    HTML = "html"
    PDF = "pdf"
    XLSX = "xlsx"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self]


MEDIA_TYPES: dict[Format, str] = {
    Format.HTML: "text/html; charset=utf-8",
    Format.PDF: "application/pdf",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.JSON: "application/json",
}


@dataclass(frozen=True)
class EvidenceEntry:
    ref: str
    label: str
    positions: str


@dataclass
class Evidence:
    """Numbers the evidence lists too long to print inside a table."""

    entries: list[EvidenceEntry] = field(default_factory=list)
    _refs: dict[int, str] = field(default_factory=dict)

    def cell(self, row: Row) -> str:
        if not row.positions and not row.records:
            return "—"
        text = row.evidence
        if len(text) <= INLINE_EVIDENCE_CHARS:
            return text
        if id(row) not in self._refs:
            ref = f"E{len(self.entries) + 1}"
            self._refs[id(row)] = ref
            self.entries.append(EvidenceEntry(ref, _label(row), _shortened(row)))
        return f"见附录 {self._refs[id(row)]}"


def _columns(evidence: Evidence) -> Callable[[Table, list[Row], bool, str], list[float]]:
    """The template's column widths (projections/reports/layout.py) of a table as shown:
    its rows and, when cited, their evidence cells (the same refs the cells will print)."""

    def column_widths(table: Table, rows: list[Row], cited: bool, size: str) -> list[float]:
        cells = [evidence.cell(row) for row in rows] if cited else None
        return widths(table, rows, cells, whole=UNBROKEN, size=size)

    return column_widths


def _label(row: Row) -> str:
    return " · ".join(str(cell) for cell in row.cells[:3])


def _shortened(row: Row) -> str:
    ranges = compress_positions(row.positions).split(", ")
    if len(ranges) <= APPENDIX_RANGES:
        return row.evidence
    shown = ", ".join(ranges[:APPENDIX_RANGES])
    total = max(row.records, len(set(row.positions)))
    return f"{shown} ……（共 {total} 条记录，完整清单见 JSON 或 XLSX 版）"


_environment = Environment(
    loader=PackageLoader("projections.reports", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(report: Report, fonts: str = CSS_FAMILIES, mono: str = MONO_FAMILIES) -> str:
    """The report as one HTML document, its text in the CSS families ``fonts`` (code in
    ``mono``): the installed fonts by default, the PDF's subset faces first for a PDF."""
    # matplotlib (a second to import) only when a format draws charts, not for JSON.
    from projections.reports.charts import chart_svg  # noqa: PLC0415

    svgs = {
        chart.title: Markup(chart_svg(chart, fonts))  # noqa: S704 - SVG drawn by matplotlib from our figures
        for section in report.sections
        for chart in section.charts
    }
    template = _environment.get_template("report.html.j2")
    evidence = Evidence()
    return template.render(
        report=report,
        svgs=svgs,
        evidence=evidence,
        column_widths=_columns(evidence),
        preview=LEDGER_LIST_PREVIEW,
        code=CODE,
        amount=AMOUNT,
        fonts=Markup(fonts),  # noqa: S704 - our constant
        mono=Markup(mono),  # noqa: S704 - our constant
    )


def render_pdf(report: Report) -> bytes:
    """The HTML laid out by WeasyPrint, with the CJK faces subset to the characters it
    prints (fonts.py: the whole collection would cost some 250 MB more)."""
    # pango is loaded only when a PDF is asked for
    from weasyprint import CSS, HTML  # noqa: PLC0415
    from weasyprint.text.fonts import FontConfiguration  # noqa: PLC0415

    html = render_html(report, PDF_FAMILIES, PDF_MONO_FAMILIES)
    config = FontConfiguration()
    faces = CSS(
        string=font_faces_css(html, mono=bool(report.anchor.checkpoint)),
        font_config=config,
    )
    pdf: bytes = HTML(string=html).write_pdf(stylesheets=[faces], font_config=config)
    return pdf


def render_json(report: Report) -> bytes:
    """The report model as JSON (UTF-8, indented): orjson walks the dataclasses itself,
    no copy of the model first (``report_to_json`` gives the same value as a dict)."""
    return orjson.dumps(report, option=orjson.OPT_INDENT_2)


def report_to_json(report: Report) -> dict[str, Any]:
    plain: dict[str, Any] = _plain(dataclasses.asdict(report))
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def render_xlsx(report: Report) -> bytes:
    from projections.reports.xlsx import workbook  # noqa: PLC0415

    out = io.BytesIO()
    workbook(report).save(out)
    return out.getvalue()


RENDERERS: dict[Format, Callable[[Report], bytes]] = {
    Format.HTML: lambda report: render_html(report).encode(),
    Format.PDF: render_pdf,
    Format.XLSX: render_xlsx,
    Format.JSON: render_json,
}


def render(report: Report, fmt: Format) -> bytes:
    return RENDERERS[fmt](report)
