"""Scheduled issuance by the worker (ops/report_schedule.py), driven by an injected clock:
the annual report when the year ends, the risk report from the set day, once each, also
across a restart and after an issue by hand; the metric counts them by kind; never from
views that differ from the ledger (projections/view_check.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.errors import LedgerError
from ledger.store.connect import application_env, ledger_head
from ops.report_schedule import Due, ReportSchedule, due_reports, risk_day
from projections.ledger_counts import LedgerFollower
from projections.runner import open_projector, run_projections
from projections.view_check import ViewsMismatchError
from tests.projections.reports.scenario import build
from tests.projections.tampered_views import delete_finding


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


def test_the_worker_refuses_views_that_differ_and_retries_an_hour_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A views_findings row deleted: the tick raises naming the table (the worker logs it),
    writes no file, records nothing, and does not fold the ledger again each round."""
    settings = _settings(tmp_path, report_issue_annual=True)
    build(settings)
    run_projections(settings)
    finding = delete_finding(settings, "F1")
    clock = Clock(datetime(2027, 1, 1, 9, tzinfo=CST))
    schedule = ReportSchedule(settings, clock=clock, formats=("json",))
    head = ledger_head(settings)
    with pytest.raises(ViewsMismatchError, match=f"views_findings: finding_id {finding}"):
        schedule.tick()
    clock.now += timedelta(hours=1)  # tried again: the worker's own call, logged
    with caplog.at_level(logging.ERROR, logger="ops.report_schedule"):
        schedule.tick_safely()
    (logged,) = [r.getMessage() for r in caplog.records]
    assert logged.startswith("scheduled report issuance refused: the views do not match")
    assert f"views_findings: finding_id {finding}" in logged
    assert ledger_head(settings) == head
    assert not (tmp_path / "s" / "issued").exists()
    with open_projector(settings) as projector:
        projector.rebuild()
    clock.now += timedelta(minutes=59)
    assert schedule.tick() == []  # not yet tried again
    clock.now += timedelta(minutes=1)
    assert schedule.tick() == [Due("annual", 2026)]
    assert ledger_head(settings) == head + 1
