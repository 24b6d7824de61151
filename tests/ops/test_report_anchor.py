"""An issued PDF: its cover shows the ledger anchor, its issuance names its exact bytes.

docs/reports.md "Issuance and verification": the file's hash covers the file as
rendered, so the cover shows the as-of anchor (position, that row's hash, the
checkpoint), and the issuance event ties the hash to it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Actor, Role
from ledger.store.connect import application_env
from projections.reports import Format, ReportKind, generate, render
from tests.projections.reports.scenario import build


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")
def test_the_pdf_cover_shows_its_anchor_and_its_issuance_names_its_bytes(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", state_dir=str(tmp_path / "s")
    )
    build(settings)
    report = generate(settings, ReportKind.RISK, 2026, catch_up=True)
    pdf = render(report, Format.PDF)
    (tmp_path / "r.pdf").write_bytes(pdf)
    cover = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(tmp_path / "r.pdf"), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert "账本锚点" in cover and report.anchor.head_hash[:16] in cover
    assert f"账本位置：{report.anchor.position}" in cover

    app = GovLedger(env=application_env(settings))
    try:
        (issued,) = app.issue_report(
            Actor("cac-1", Role.SECURITY_OFFICER, None),
            kind="risk",
            year=2026,
            as_of_position=report.anchor.position,
            files=[("pdf", pdf)],
        )
        assert app.issuance_position(issued.sha256) == issued.position
        record = app.issued(issued.sha256)
        assert record is not None and record.as_of_position == report.anchor.position
        changed = bytearray(pdf)
        changed[len(changed) // 3] ^= 0x20
        assert app.issuance_position(hashlib.sha256(bytes(changed)).hexdigest()) is None
    finally:
        app.close()
