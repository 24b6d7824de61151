"""Working-day arithmetic for response deadlines (51号 §14: answer within 10 working days).

Holidays and 调休 make-up working days change every year (State Council notice),
so both are configuration passed in, never constants here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

SATURDAY = 5


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Mon–Fri are working days, minus ``holidays``, plus ``adjusted_working_days``."""

    holidays: frozenset[date] = frozenset()
    adjusted_working_days: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.adjusted_working_days:
            return True
        return day.weekday() < SATURDAY and day not in self.holidays

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (the start day itself is not counted)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        day = start
        remaining = count
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


# China Standard Time has had no daylight saving since 1991: a fixed offset is exact.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True, slots=True)
class ResponseDeadlinePolicy:
    """When a provider must answer a conditional request.

    Default 10 working days (51号 §14); some local rules say 5, and the 2025
    《政务数据共享条例》 governs where it differs — so the count is configuration.
    Days are counted in the district's local calendar, from the day after submission.
    """

    working_days: int = 10
    calendar: WorkingCalendar = WorkingCalendar()
    local_zone: tzinfo = CHINA_STANDARD_TIME

    def __post_init__(self) -> None:
        if self.working_days < 1:
            raise ValueError("working_days must be >= 1")

    def due(self, submitted_at: datetime) -> date:
        """The last local day on which an answer is on time."""
        local_day = submitted_at.astimezone(self.local_zone).date()
        return self.calendar.add_working_days(local_day, self.working_days)
