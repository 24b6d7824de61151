"""Scheduled issuance by the worker (ops/report_schedule.py), driven by an injected clock:
the annual report when the year ends, the risk report from the set day, once each, also
across a restart and after an issue by hand; the metric counts them by kind."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.errors import LedgerError
from ledger.store.connect import application_env
from ops.report_schedule import Due, ReportSchedule, due_reports, risk_day
from projections.ledger_counts import LedgerFollower
from tests.projections.reports.scenario import build


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_what_is_due_when() -> None:
    end = datetime(2026, 12, 31, 23, 59, 59, tzinfo=CST)
    assert due_reports(end, annual=True, risk_on=(1, 15)) == [
        Due("annual", 2025),
        Due("risk", 2025),
    ]
    new_year = end + timedelta(seconds=1)
    assert due_reports(new_year, annual=True, risk_on=(1, 15)) == [Due("annual", 2026)]
    on_day = datetime(2027, 1, 15, tzinfo=CST)
    assert due_reports(on_day, annual=False, risk_on=(1, 15)) == [Due("risk", 2026)]
    assert due_reports(on_day - timedelta(seconds=1), annual=False, risk_on=(1, 15)) == []
    assert due_reports(on_day, annual=False, risk_on=None) == []
    assert risk_day("") is None and risk_day("02-29") == (2, 29)
    with pytest.raises(LedgerError):
        risk_day("1-15x")


def _settings(root: Path, **change: object) -> Settings:
    return Settings(
        database_url=f"sqlite:///{root}/ledger.db",
        state_dir=f"{root}/s",
        **change,  # type: ignore[arg-type]
    )


def test_the_worker_issues_each_report_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path, report_issue_annual=True, report_issue_risk_on="01-15")
    build(settings)
    clock = Clock(datetime(2026, 12, 31, 23, 0, tzinfo=CST))
    schedule = ReportSchedule(settings, clock=clock, formats=("json",))
    app = GovLedger(env=application_env(settings))
    follower = LedgerFollower(app)
    try:
        head = app.recorder.max_notification_id()
        # The year before the scenario's: both are due (the risk day of 2026 has passed).
        assert schedule.tick() == [Due("annual", 2025), Due("risk", 2025)]
        clock.now = datetime(2027, 1, 1, 0, 0, 1, tzinfo=CST)
        assert schedule.tick() == [Due("annual", 2026)]
        assert schedule.tick() == []  # once
        assert (tmp_path / "s" / "issued" / "annual-2026.json").is_file()
        clock.now = datetime(2027, 1, 15, 9, tzinfo=CST)
        restarted = ReportSchedule(settings, clock=clock, formats=("json",))
        assert restarted.tick() == [Due("risk", 2026)]  # the annual one is on the ledger
        assert ReportSchedule(settings, clock=clock, formats=("json",)).tick() == []
        assert app.recorder.max_notification_id() == head + 4
        counts, _ = follower.catch_up()
        assert {k: len(v) for k, v in counts.issued.items()} == {"annual": 2, "risk": 2}
    finally:
        app.close()


def test_off_unless_set(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    schedule = ReportSchedule(settings, clock=Clock(datetime(2027, 6, 1, tzinfo=CST)))
    assert not schedule.enabled and schedule.tick() == []
