"""The calendar in force is a fact (issue 12 item 4; docs/facts.md §3 "The calendar in force").

Which days are working days (holidays and 调休 make-up days of the State
Council's notices), how many working days a provider has to answer a request
of each sharing type, and the other time limits of ``../shared/domain.md`` are
configuration (docs/configuration.md). A judgment about the past must use the
calendar that was in force then, so each change of the configured calendar is
recorded in the ledger: one ``DistrictCalendar`` aggregate (a fixed id), one
``Set`` event per change, each carrying the whole calendar and the business
time it is in force from. Recording the calendar that is already the newest
records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.calendar import ResponseDeadlinePolicy, WorkingCalendar
from ledger.domain.catalogue import SharingType
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.holidays import NOTICES
from ledger.domain.ids import LEDGER_NAMESPACE

DISTRICT_CALENDAR_ID = uuid5(LEDGER_NAMESPACE, "district_calendar")

DEFAULT_RESPONSE_WORKING_DAYS = 10  # 51号 §14
# docs/facts.md §3: the names a reader knows; values are whole numbers or "MM-DD".
DEFAULT_TIME_LIMITS: Mapping[str, int | str] = MappingProxyType(
    {
        "clock_skew_seconds": 300,
        "department_report_due": "12-31",  # I3: departments report their year by 31 Dec
        "zombie_idle_days": 180,  # I1: an active system unused this long
        "zone_report_due": "01-31",  # ndrc compiles the zone's report by 31 Jan
    }
)
MAX_RESPONSE_WORKING_DAYS = 365


def _month_day(text: str) -> bool:
    try:
        date.fromisoformat(f"2000-{text}")  # a leap year: 02-29 is a valid limit
    except ValueError:
        return False
    return len(text) == 5


@dataclass(frozen=True)
class CalendarSpec:
    """One calendar: working days, response limits per sharing type, other limits.

    Values are kept sorted and distinct, so two equal calendars compare equal
    and encode to the same event.
    """

    years: tuple[int, ...]
    holidays: tuple[date, ...]
    adjusted_working_days: tuple[date, ...]
    response_working_days: Mapping[str, int]
    time_limits: Mapping[str, int | str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "years", tuple(sorted(set(self.years))))
        set_(self, "holidays", tuple(sorted(set(self.holidays))))
        set_(self, "adjusted_working_days", tuple(sorted(set(self.adjusted_working_days))))
        set_(self, "sources", tuple(dict.fromkeys(self.sources)))
        days = dict(sorted(self.response_working_days.items()))
        known = {t.value for t in SharingType}
        if set(days) != known:
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                f"response_working_days needs exactly {sorted(known)}, got {sorted(days)}",
            )
        for name, count in days.items():
            if isinstance(count, bool) or not isinstance(count, int):
                raise DomainError(ErrorCode.INVALID_VALUE, f"response_working_days.{name}")
            if not 1 <= count <= MAX_RESPONSE_WORKING_DAYS:
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    f"response_working_days.{name}={count} is not within 1..365",
                )
        set_(self, "response_working_days", MappingProxyType(days))
        limits = dict(sorted({**DEFAULT_TIME_LIMITS, **self.time_limits}.items()))
        for name, value in limits.items():
            ok = (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
                isinstance(value, str) and _month_day(value)
            )
            if not ok:
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    f"time_limits.{name}={value!r}: a whole number >= 0 or MM-DD",
                )
        set_(self, "time_limits", MappingProxyType(limits))
        clash = set(self.holidays) & set(self.adjusted_working_days)
        if clash:
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                f"days both holiday and make-up working day: {sorted(clash)[:3]}",
            )

    @classmethod
    def shipped(
        cls,
        response_working_days: int = DEFAULT_RESPONSE_WORKING_DAYS,
        time_limits: Mapping[str, int | str] = DEFAULT_TIME_LIMITS,
    ) -> CalendarSpec:
        """The State Council's published years (ledger/domain/holidays.py) and defaults."""
        return cls(
            years=tuple(n.year for n in NOTICES),
            holidays=tuple(day for n in NOTICES for day in n.holidays),
            adjusted_working_days=tuple(day for n in NOTICES for day in n.working_days),
            response_working_days={t.value: response_working_days for t in SharingType},
            time_limits=time_limits,
            sources=tuple(n.source for n in NOTICES),
        )

    @classmethod
    def weekdays_only(cls) -> CalendarSpec:
        """The fallback before any calendar is recorded (docs/facts.md §3): Monday-Friday."""
        return cls((), (), (), {t.value: DEFAULT_RESPONSE_WORKING_DAYS for t in SharingType})

    def working_calendar(self) -> WorkingCalendar:
        return WorkingCalendar(frozenset(self.holidays), frozenset(self.adjusted_working_days))

    def deadline(self, sharing_type: SharingType | str) -> ResponseDeadlinePolicy:
        """The response deadline policy for a request of this sharing type."""
        days = self.response_working_days[SharingType(sharing_type).value]
        return ResponseDeadlinePolicy(working_days=days, calendar=self.working_calendar())

    def fields(self) -> dict[str, Any]:
        """The ``Set`` event's calendar fields (docs/facts.md), JSON-native."""
        return {
            "years": list(self.years),
            "holidays": [day.isoformat() for day in self.holidays],
            "adjusted_working_days": [day.isoformat() for day in self.adjusted_working_days],
            "response_working_days": dict(self.response_working_days),
            "time_limits": dict(self.time_limits),
            "sources": list(self.sources),
        }

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> CalendarSpec:
        return cls(
            years=tuple(data["years"]),
            holidays=_dates(data["holidays"]),
            adjusted_working_days=_dates(data["adjusted_working_days"]),
            response_working_days=dict(data["response_working_days"]),
            time_limits=dict(data["time_limits"]),
            sources=tuple(data["sources"]),
        )


def _dates(texts: Iterable[str]) -> tuple[date, ...]:
    return tuple(date.fromisoformat(text) for text in texts)


class DistrictCalendar(Aggregate):
    """The district's calendar history: every calendar recorded, with its start."""

    class Started(Aggregate.Created):
        actor: Actor

    class Set(Aggregate.Event):
        actor: Actor
        in_force_from: datetime
        years: list[int]
        holidays: list[str]
        adjusted_working_days: list[str]
        response_working_days: dict[str, int]
        time_limits: dict[str, int | str]
        sources: list[str]

    @staticmethod
    def create_id() -> UUID:
        return DISTRICT_CALENDAR_ID

    @classmethod
    def start(cls, actor: Actor) -> DistrictCalendar:
        return cls._create(cls.Started, id=DISTRICT_CALENDAR_ID, actor=actor)

    @event(Started)
    def __init__(self, *, actor: Actor) -> None:
        # (in_force_from, spec) in the order recorded.
        self.history: list[tuple[datetime, CalendarSpec]] = []

    @property
    def newest(self) -> CalendarSpec | None:
        return self.history[-1][1] if self.history else None

    def set_calendar(self, actor: Actor, spec: CalendarSpec, in_force_from: datetime) -> bool:
        """Record ``spec`` unless it is already the newest calendar (then False)."""
        if spec == self.newest:
            return False
        self._set(actor=actor, in_force_from=in_force_from, **spec.fields())
        return True

    @event(Set)
    def _set(
        self,
        *,
        actor: Actor,
        in_force_from: datetime,
        years: list[int],
        holidays: list[str],
        adjusted_working_days: list[str],
        response_working_days: dict[str, int],
        time_limits: dict[str, int | str],
        sources: list[str],
    ) -> None:
        spec = CalendarSpec.from_fields(
            {
                "years": years,
                "holidays": holidays,
                "adjusted_working_days": adjusted_working_days,
                "response_working_days": response_working_days,
                "time_limits": time_limits,
                "sources": sources,
            }
        )
        self.history = [*self.history, (in_force_from, spec)]

    def in_force_at(self, moment: datetime) -> CalendarSpec | None:
        """docs/facts.md §3: the greatest ``in_force_from`` <= moment; ties: the later one."""
        found: tuple[datetime, CalendarSpec] | None = None
        for start, spec in self.history:
            if start <= moment and (found is None or start >= found[0]):
                found = (start, spec)
        return found[1] if found else None
