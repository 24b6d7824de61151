"""The calendar in force at a business time, from the calendars the zone has folded.

docs/facts.md §3 "Which calendar a judgment uses": among the ``DistrictCalendar.Set``
facts the reader has seen, the one with the greatest ``in_force_from`` not after the
moment (on a tie, the later position); none: the built-in fallback (Monday–Friday, the
reader's settings for the other limits). S6's deadlines and I1's idle days are judged
with it, so a judgment as of a past date uses the calendar that was in force then.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from ledger.domain.calendar import ResponseDeadlinePolicy, WorkingCalendar

State = dict[str, Any]


def calendar_at(state: State, moment: datetime) -> dict[str, Any] | None:
    """The folded calendar in force at ``moment``, or None (the fallback)."""
    epoch = moment.timestamp()
    best: dict[str, Any] | None = None
    for calendar in state.get("calendars", ()):
        if calendar["in_force_from"] <= epoch and (
            best is None
            or (calendar["in_force_from"], calendar["position"])
            >= (best["in_force_from"], best["position"])
        ):
            best = calendar
    return best


def working_calendar(calendar: dict[str, Any]) -> WorkingCalendar:
    return _working_calendar(tuple(calendar["holidays"]), tuple(calendar["adjusted_working_days"]))


@lru_cache(maxsize=64)
def _working_calendar(holidays: tuple[str, ...], adjusted: tuple[str, ...]) -> WorkingCalendar:
    """Parsed once per calendar, not once per request judged (S6 judges every pending
    request: hundreds of year-long date lists parsed per page, issue #16)."""
    return WorkingCalendar(
        frozenset(date.fromisoformat(d) for d in holidays),
        frozenset(date.fromisoformat(d) for d in adjusted),
    )


def response_due(state: State, request: dict[str, Any]) -> date:
    """The last CST day a request is answered on time (docs/facts.md §5), in the calendar
    in force at its submission; the recorded ``response_due`` when none is recorded."""
    submitted = datetime.fromisoformat(request["submitted_at"])
    calendar = calendar_at(state, submitted)
    if calendar is None:
        return date.fromisoformat(request["response_due"])
    limits = calendar["response_working_days"]
    days = limits.get(request.get("sharing_type") or "", request.get("response_working_days"))
    if not days:
        return date.fromisoformat(request["response_due"])
    policy = ResponseDeadlinePolicy(working_days=int(days), calendar=working_calendar(calendar))
    return policy.due(submitted)


def time_limit(state: State, moment: datetime, name: str, default: int) -> int:
    """A whole-number ``time_limits`` entry in force at ``moment`` (e.g. zombie_idle_days)."""
    calendar = calendar_at(state, moment)
    value = calendar["time_limits"].get(name) if calendar is not None else None
    return int(value) if isinstance(value, int) else default
