"""The demo's risk report fits 25 pages (issue #15 "Layout"; docs/reports.md).

``govledger demo`` at its default size (20,000 accesses), its risk PDF counted by
``pdfinfo`` (poppler-utils, as docs/reports.md's checks use). About 30 s: the demo's
load and one PDF render. bench/reports.py reports the same figure as a target line.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.store.connect import application_env, init_ledger
from ops.demo import DEMO_YEAR, load_demo
from projections.reports import Format, ReportKind, generate, render

MAX_PAGES = 25


@pytest.mark.slow
def test_the_demo_risk_pdf_has_at_most_25_pages(tmp_path: Path) -> None:
    pdfinfo = shutil.which("pdfinfo")
    assert pdfinfo is not None, "pdfinfo (poppler-utils) is needed to count the pages"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", state_dir=str(tmp_path / "s")
    )
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        load_demo(app)
    finally:
        app.close()
    pdf = tmp_path / "risk.pdf"
    pdf.write_bytes(
        render(generate(settings, ReportKind.RISK, DEMO_YEAR, catch_up=True), Format.PDF)
    )
    info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=True)
    (pages,) = [
        int(line.split()[-1]) for line in info.stdout.splitlines() if line.startswith("Pages:")
    ]
    assert 10 <= pages <= MAX_PAGES, pages  # a floor too: an empty report is no success
