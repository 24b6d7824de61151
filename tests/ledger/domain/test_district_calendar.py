"""The calendar in force is a fact (issue 12 item 4; docs/facts.md §3, §5)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.configured import configured_calendar, open_ledger
from ledger.domain import DomainError
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.domain.district_calendar import CalendarSpec, DistrictCalendar
from ledger.errors import ConfigurationError
from ledger.store.connect import init_ledger
from tests.ledger.domain.builders import (
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def calendar_events(app: GovLedger) -> list[str]:
    return [
        n.topic.rpartition(":")[2]
        for n in app.recorder.select_notifications(start=1, limit=1000)
        if "DistrictCalendar" in n.topic
    ]


def zone(app: GovLedger) -> None:
    app.register_department(
        NDRC, PROVIDER_DEPT, "区公安局", occurred_at=datetime(2019, 1, 2, tzinfo=CST)
    )
    app.register_department(
        NDRC, USER_DEPT, "区人社局", occurred_at=datetime(2019, 1, 2, tzinfo=CST)
    )
    app.register_resource(
        PROVIDER, population_entry(), occurred_at=datetime(2019, 1, 3, tzinfo=CST)
    )


def submit(app: GovLedger, when: datetime) -> date:
    request_id = app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name"],
        purpose="核查",
        legal_basis="依法",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        submitted_at=when,
    )
    due: date = app.request(request_id).response_due
    return due


def test_recording_the_same_calendar_again_writes_nothing() -> None:
    app = GovLedger(clock=FakeClock(NOW))
    spec = CalendarSpec.shipped()
    assert app.record_calendar(NDRC, spec) is True
    assert app.record_calendar(NDRC, spec) is False
    assert calendar_events(app) == ["DistrictCalendar.Started", "DistrictCalendar.Set"]
    changed = CalendarSpec.shipped(response_working_days=5)
    assert app.record_calendar(NDRC, changed) is True
    assert app.record_calendar(NDRC, spec) is True  # back to the first: a change again
    assert calendar_events(app)[1:] == ["DistrictCalendar.Set"] * 3


def test_only_an_administrator_or_ndrc_records_the_calendar() -> None:
    app = GovLedger(clock=FakeClock(NOW))
    with pytest.raises(DomainError, match="role_not_permitted"):
        app.record_calendar(USER, CalendarSpec.shipped())


def test_a_deadline_uses_the_calendar_in_force_when_the_request_was_made() -> None:
    clock = FakeClock(NOW)
    app = GovLedger(clock=clock)
    zone(app)
    festival = datetime(2026, 2, 12, 10, 0, tzinfo=CST)  # before the 2026 Spring Festival
    assert submit(app, festival) == date(2026, 2, 26)  # no calendar yet: Monday-Friday
    app.record_calendar(NDRC, CalendarSpec.shipped())  # the first: in force from the era
    assert submit(app, festival) == date(2026, 3, 4)  # holidays and 调休 counted
    # From 1 March a 5-day limit is in force: a back-filled February request keeps 10.
    app.record_calendar(
        NDRC,
        CalendarSpec.shipped(response_working_days=5),
        in_force_from=datetime(2026, 3, 1, tzinfo=CST),
    )
    assert submit(app, festival) == date(2026, 3, 4)
    assert submit(app, datetime(2026, 3, 2, 9, 0, tzinfo=CST)) == date(2026, 3, 9)


def test_a_configured_calendar_is_recorded_once_before_the_first_request_needing_it() -> None:
    app = GovLedger(clock=FakeClock(NOW), calendar=CalendarSpec.shipped())
    zone(app)
    assert calendar_events(app) == []
    submit(app, datetime(2026, 2, 12, 10, 0, tzinfo=CST))
    submit(app, datetime(2026, 2, 13, 10, 0, tzinfo=CST))
    assert calendar_events(app) == ["DistrictCalendar.Started", "DistrictCalendar.Set"]
    calendar = app.recorded_calendar()
    assert calendar is not None and calendar.history[0][0] == app.time_bounds.earliest


def test_the_calendar_in_force_at_a_moment() -> None:
    calendar = DistrictCalendar.start(NDRC)
    first, second = CalendarSpec.shipped(), CalendarSpec.shipped(response_working_days=5)
    t0 = datetime(2018, 1, 1, tzinfo=CST)
    t1 = datetime(2025, 8, 1, tzinfo=CST)  # 《政务数据共享条例》 in force
    calendar.set_calendar(NDRC, first, t0)
    calendar.set_calendar(NDRC, second, t1)
    assert calendar.in_force_at(t1 - timedelta(seconds=1)) == first
    assert calendar.in_force_at(t1) == second
    assert calendar.in_force_at(t0 - timedelta(days=1)) is None


def test_the_set_event_holds_the_whole_calendar_as_plain_json() -> None:
    app = GovLedger(clock=FakeClock(NOW))
    app.record_calendar(NDRC, CalendarSpec.shipped())
    (_, recorded) = app.recorder.select_notifications(start=1, limit=2)
    state = json.loads(recorded.state)
    assert state["years"] == list(range(2019, 2027))
    assert "2026-02-15" in state["holidays"] and "2026-02-14" in state["adjusted_working_days"]
    assert state["response_working_days"] == {
        "conditional": 10,
        "not_shareable": 10,
        "unconditional": 10,
    }
    assert state["time_limits"]["zombie_idle_days"] == 180
    assert state["in_force_from"]["_data_"] == "2018-01-01T00:00:00+08:00"
    assert any("2026年部分节假日安排" in source for source in state["sources"])


def test_the_operator_file_extends_and_overrides_the_shipped_calendar(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(
        'sources = ["区政府办公室转发通知"]\n'
        "[years.2027]\n"
        'holidays = ["2027-01-01", "2027-02-05..2027-02-11"]\n'
        'working_days = ["2027-02-14"]\n'
        "[response_working_days]\nconditional = 5\n"
        '[time_limits]\ndepartment_report_due = "12-20"\n',
        encoding="utf-8",
    )
    spec = configured_calendar(
        Settings(calendar_file=str(path), response_working_days=7, finding_zombie_days=90)
    )
    assert 2027 in spec.years and date(2027, 2, 8) in spec.holidays
    assert dict(spec.response_working_days) == {
        "conditional": 5,
        "not_shareable": 7,
        "unconditional": 7,
    }
    assert spec.time_limits["department_report_due"] == "12-20"
    assert spec.time_limits["zombie_idle_days"] == 90
    assert spec.sources[-1] == "区政府办公室转发通知"
    path.write_text("[time_limits]\nzombie_idle_days = -1\n", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        configured_calendar(Settings(calendar_file=str(path)))
    path.write_text("[years.2027]\nholidays = ['2027-02-30']\n", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        configured_calendar(Settings(calendar_file=str(path)))


def test_processes_starting_together_record_the_calendar_once(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}", state_dir=str(tmp_path))
    init_ledger(settings)
    apps = [open_ledger(settings) for _ in range(3)]
    try:
        assert [app.record_calendar(NDRC, apps[0].calendar) for app in apps] == [True, False, False]  # type: ignore[arg-type]
        assert calendar_events(apps[2]) == ["DistrictCalendar.Started", "DistrictCalendar.Set"]
    finally:
        for app in apps:
            app.close()
