"""``govledger report``: writes the file it is asked for; bad input is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.config import Settings
from ops.cli import main
from tests.projections.reports.scenario import build


@pytest.fixture
def configured(sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.setenv("GOVLEDGER_STATE_DIR", sqlite_settings.state_dir)
    return sqlite_settings


def test_report_json(configured: Settings, tmp_path: Path) -> None:
    build(configured)
    out = tmp_path / "audit.json"
    assert (
        main(
            ["report", "audit", "--year", "2026", "--format", "json", "-o", str(out), "--catch-up"]
        )
        == 0
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["title"] == "2026年度信息化经费决定合规审计报告"
    assert not (tmp_path / "audit.json.partial").exists()


def test_report_into_a_directory_is_refused(
    configured: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(configured)
    assert main(["report", "risk", "--year", "2026", "-o", str(tmp_path), "--catch-up"]) == 2
    assert capsys.readouterr().err.strip().startswith("govledger: error:")


def test_bad_year_exits_2(configured: Settings) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "annual", "--year", "1999", "-o", "x.html"])
    assert exit_info.value.code == 2
