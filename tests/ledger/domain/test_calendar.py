from datetime import UTC, date, datetime

import pytest

from ledger.domain import ResponseDeadlinePolicy, WorkingCalendar

MONDAY = date(2026, 3, 2)


def test_weekends_are_not_counted():
    assert WorkingCalendar().add_working_days(MONDAY, 5) == date(2026, 3, 9)  # next Monday


def test_holidays_are_skipped_and_adjusted_weekend_days_count():
    calendar = WorkingCalendar(
        holidays=frozenset({date(2026, 3, 3)}),  # Tuesday off
        adjusted_working_days=frozenset({date(2026, 3, 7)}),  # Saturday worked (调休)
    )
    # Wed 4, Thu 5, Fri 6, Sat 7 (adjusted), Mon 9.
    assert calendar.add_working_days(MONDAY, 5) == date(2026, 3, 9)
    assert not calendar.is_working_day(date(2026, 3, 3))
    assert calendar.is_working_day(date(2026, 3, 7))


def test_default_deadline_is_ten_working_days_after_submission():
    submitted = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Suzhou
    assert ResponseDeadlinePolicy().due(submitted) == date(2026, 3, 16)


def test_deadline_counts_from_the_local_day_not_the_utc_day():
    # Friday 20:00 UTC is already Saturday 04:00 in UTC+8: counting starts after Saturday.
    friday_evening_utc = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
    assert ResponseDeadlinePolicy(working_days=1).due(friday_evening_utc) == date(2026, 3, 9)


def test_deadline_length_is_configuration():
    submitted = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert ResponseDeadlinePolicy(working_days=5).due(submitted) == date(2026, 3, 9)
    with pytest.raises(ValueError):
        ResponseDeadlinePolicy(working_days=0)
