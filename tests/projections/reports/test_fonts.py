"""The PDF embeds the CJK faces cut to what it prints (projections/reports/fonts.py).

Issue #12: the whole Noto CJK collection cost WeasyPrint some 250 MB per PDF. These
check the cut itself (the glyphs of the text, no others; regular, bold, mono when asked)
and that a report's PDF lays its text out in the subset faces, not the installed ones.
The memory figure itself is bench/reports.py's ``report_peak_mb``.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from ledger.config import Settings
from projections.reports import Format, ReportKind, generate, render
from projections.reports.fonts import MONO, SANS, font_faces_css, installed_fonts, subset_face
from tests.projections.reports.scenario import build

NOTO = "NotoSansCJK-Regular.ttc"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("fonts")
    settings = Settings(database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "s"))
    build(settings)
    return settings


def _noto() -> Path:
    path = installed_fonts().get(NOTO)
    assert path is not None, "fonts-noto-cjk is needed (make installs it)"
    return path


def test_a_subset_face_holds_the_glyphs_of_its_text_and_no_others() -> None:
    data = subset_face(_noto(), "Noto Sans CJK SC", "审计报告 A1")
    assert data is not None
    face = TTFont(io.BytesIO(data))
    mapped = face.getBestCmap()
    assert {ord(c) for c in "审计报告A1"} <= set(mapped)
    assert ord("账") not in mapped  # not in the text: not in the face
    assert face["maxp"].numGlyphs < 100  # of 65,535 in the collection
    assert face["name"].getDebugName(1) == "Noto Sans CJK SC"  # the SC face, not JP


def test_a_face_the_collection_lacks_is_none() -> None:
    assert subset_face(_noto(), "Noto Sans CJK XX", "字") is None


def _rules(css: str) -> list[tuple[str, int, TTFont]]:
    found = re.findall(
        r"font-family: '([^']+)'; font-weight: (\d+); src: url\(data:font/otf;base64,([^)]+)\)",
        css,
    )
    return [(f, int(w), TTFont(io.BytesIO(base64.b64decode(d)))) for f, w, d in found]


def test_the_rules_declare_regular_and_bold_and_mono_only_when_asked() -> None:
    plain = _rules(font_faces_css("整改通知", mono=False))
    assert [(f, w) for f, w, _ in plain] == [(SANS, 400), (SANS, 700)]
    for _family, _weight, face in plain:
        assert ord("整") in face.getBestCmap() and ord("Z") in face.getBestCmap()  # + ASCII
    with_mono = _rules(font_faces_css("整改通知", mono=True))
    assert [(f, w) for f, w, _ in with_mono] == [(SANS, 400), (SANS, 700), (MONO, 400)]
    assert with_mono[1][2]["OS/2"].usWeightClass == 700  # the bold face, not emboldened


def test_the_pdf_lays_its_text_out_in_the_subset_faces(scenario: Settings, tmp_path: Path) -> None:
    pdffonts = shutil.which("pdffonts")
    assert pdffonts is not None, "poppler-utils is needed (make installs it)"
    pdf = tmp_path / "risk.pdf"
    pdf.write_bytes(render(generate(scenario, ReportKind.RISK, 2026, catch_up=True), Format.PDF))
    listed = subprocess.run([pdffonts, str(pdf)], capture_output=True, check=True, text=True)
    names = [line.split()[0] for line in listed.stdout.splitlines()[2:]]
    cjk = [n for n in names if "CJK" in n]
    assert cjk and all("GovLedger" in n for n in cjk), names  # never the installed collection
