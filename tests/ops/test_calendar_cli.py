"""``govledger calendar``: show the configured calendar, record it once (docs/facts.md §3)."""

from __future__ import annotations

import argparse
import json

import pytest

from ledger.config import Settings
from ledger.store.connect import init_ledger
from ops.calendar_cli import register


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["calendar", "--json", *argv])
    assert args.func(settings, args) == 0
    shown: dict[str, object] = json.loads(capsys.readouterr().out)
    return shown


def test_record_writes_the_configured_calendar_once(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    init_ledger(sqlite_settings)
    before = run(sqlite_settings, capsys)
    assert before["recorded"] is False and before["in_force_now"] is None
    assert before["configured"]["years"] == "2019–2026"  # type: ignore[index]
    first = run(sqlite_settings, capsys, "--record")
    assert first["recorded_now"] is True and first["in_force_now"] == first["configured"]
    again = run(sqlite_settings, capsys, "--record")
    assert again["recorded_now"] is False and again["configured_is_newest_recorded"] is True
    changed = sqlite_settings.with_overrides(response_working_days=5)
    assert run(changed, capsys)["configured_is_newest_recorded"] is False
    assert run(changed, capsys, "--record")["recorded_now"] is True
