"""The calendar in force (projections/rules/calendars.py): a folded calendar's working days
are parsed once and shared, and equal what its date lists say (issue #16: S6 judged every
pending request with its calendar parsed anew)."""

from __future__ import annotations

from datetime import date

from ledger.domain.calendar import WorkingCalendar
from projections.rules.calendars import working_calendar


def test_a_calendar_is_parsed_once_and_says_what_its_lists_say() -> None:
    folded = {"holidays": ["2025-10-01", "2025-10-02"], "adjusted_working_days": ["2025-09-28"]}
    first = working_calendar(folded)
    assert first == WorkingCalendar(
        frozenset({date(2025, 10, 1), date(2025, 10, 2)}), frozenset({date(2025, 9, 28)})
    )
    assert working_calendar({k: list(v) for k, v in folded.items()}) is first
    assert not first.is_working_day(date(2025, 10, 1)) and first.is_working_day(date(2025, 9, 28))
    other = working_calendar({**folded, "holidays": ["2025-10-03"]})
    assert other != first and other.is_working_day(date(2025, 10, 1))
