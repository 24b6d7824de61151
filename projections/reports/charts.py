"""Charts as SVG, drawn by matplotlib with a CJK font for the Chinese labels.

matplotlib does not fall back to another font for glyphs its chosen font
lacks: without a CJK font every Chinese label would be a box. Debian's
fonts-noto-cjk (or fonts-wqy-zenhei) is installed by ``make``
(ops/scripts/install-report-deps.sh). Text stays text in the SVG
(``svg.fonttype = none``), so the PDF renderer embeds the font and the labels
can be searched and extracted.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: charts are files

from matplotlib import font_manager
from matplotlib import pyplot as plt
from matplotlib.axes import Axes

from projections.reports.fonts import CSS_FAMILIES, installed_fonts
from projections.reports.model import Chart, ChartKind

# Font files of Debian's CJK packages, best first, and the family each's first face has.
CJK_FONTS = (
    ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    ("wqy-zenhei.ttc", "WenQuanYi Zen Hei"),
)


class MissingFontError(RuntimeError):
    """No CJK font is installed: Chinese would render as boxes."""


@cache
def cjk_font() -> tuple[Path, str]:
    """The installed CJK font file, and the family name matplotlib registers for it."""
    installed = installed_fonts()
    for filename, _family in CJK_FONTS:
        if filename in installed:
            path = installed[filename]
            font_manager.fontManager.addfont(str(path))
            # A .ttc registers its first face only (for Noto: the JP face).
            return path, font_manager.FontProperties(fname=str(path)).get_name()
    raise MissingFontError("no CJK font found: install Debian's fonts-noto-cjk (make installs it)")


def chart_svg(chart: Chart, families: str = CSS_FAMILIES) -> str:
    """The chart as an inline SVG document (UTF-8 text), its text in the CSS ``families``."""
    _path, family = cjk_font()
    with plt.rc_context(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [family],
            "svg.fonttype": "none",
            "svg.hashsalt": "govledger",
            "axes.unicode_minus": False,
        }
    ):
        figure, axes = plt.subplots(figsize=(7.0, 3.2), dpi=100)
        try:
            _draw(axes, chart)
            axes.set_title(chart.title)
            figure.tight_layout()
            out = io.StringIO()
            figure.savefig(out, format="svg", metadata={"Date": None})
        finally:
            plt.close(figure)
    svg = out.getvalue()
    # The same .ttc's Simplified Chinese face: Chinese glyph forms, not Japanese ones.
    svg = svg.replace(f"'{family}'", families)
    return svg[svg.index("<svg") :]


def _draw(axes: Axes, chart: Chart) -> None:
    labels, values = list(chart.labels), list(chart.values)
    if chart.kind is ChartKind.LINE:
        axes.plot(labels, values, marker="o", color="#b22222")
        axes.set_ylabel(chart.value_label)
        axes.set_ylim(bottom=0)
    elif chart.kind is ChartKind.BAR:
        axes.bar(labels, values, color="#2f5597")
        axes.set_ylabel(chart.value_label)
    else:
        axes.barh(labels[::-1], values[::-1], color="#c55a11")
        axes.set_xlabel(chart.value_label)
    axes.grid(axis="y" if chart.kind is not ChartKind.BARH else "x", alpha=0.3)
    if chart.kind is ChartKind.BAR and len(labels) > 6:
        axes.tick_params(axis="x", labelrotation=30)
