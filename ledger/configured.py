"""From the settings to a ``GovLedger``: its time bounds and the calendar it records.

docs/configuration.md ("Facts and the calendar"): the earliest business time
and the clock skew bound every business time (docs/facts.md §6); the calendar
is the State Council's notices shipped with govledger
(ledger/domain/holidays.py), extended or corrected by the operator's TOML file
(``GOVLEDGER_CALENDAR_FILE``), with the response limits and time limits of
``../shared/domain.md``. :func:`open_ledger` records that calendar in the ledger
when it differs from the one in force (docs/facts.md §3), so every later
judgment, and every request's response deadline, uses it.

The calendar file::

    sources = ["区政府办公室关于2027年节假日安排的转发通知"]

    [years.2027]                 # replaces a shipped year of the same number
    holidays = ["2027-01-01", "2027-02-05..2027-02-11"]
    working_days = ["2027-02-14"]

    [response_working_days]      # per sharing type; others: GOVLEDGER_RESPONSE_WORKING_DAYS
    conditional = 5

    [time_limits]
    department_report_due = "12-31"
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from ledger.application import GovLedger
from ledger.commands.sharing import CONFIGURATION_ACTOR
from ledger.config import Settings
from ledger.domain.bounds import TimeBounds
from ledger.domain.catalogue import SharingType
from ledger.domain.district_calendar import CalendarSpec
from ledger.domain.errors import DomainError
from ledger.domain.holidays import NOTICES, HolidayNotice, days_of
from ledger.errors import ConfigurationError
from ledger.store.connect import application_env
from ledger.subjects import SubjectVault


def time_bounds(settings: Settings) -> TimeBounds:
    try:
        earliest = date.fromisoformat(settings.earliest_business_date)
        return TimeBounds.of(earliest, settings.clock_skew_seconds)
    except (ValueError, DomainError) as e:
        raise ConfigurationError(
            f"GOVLEDGER_EARLIEST_BUSINESS_DATE={settings.earliest_business_date!r} / "
            f"GOVLEDGER_CLOCK_SKEW_SECONDS={settings.clock_skew_seconds}: {e}"
        ) from e


def configured_calendar(settings: Settings) -> CalendarSpec:
    """The shipped notices, the operator's file over them, and the settings' limits."""
    extra: dict[str, Any] = {}
    if settings.calendar_file:
        path = Path(settings.calendar_file)
        try:
            extra = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigurationError(f"cannot read calendar file {path}: {e.strerror}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigurationError(f"calendar file {path} is not valid TOML: {e}") from e
    try:
        return _calendar(settings, extra)
    except (KeyError, TypeError, ValueError, DomainError) as e:
        raise ConfigurationError(f"calendar file {settings.calendar_file}: {e}") from e


def _calendar(settings: Settings, extra: dict[str, Any]) -> CalendarSpec:
    unknown = sorted(set(extra) - {"sources", "years", "response_working_days", "time_limits"})
    if unknown:
        raise ValueError(f"unknown keys {', '.join(unknown)}")
    notices = {notice.year: notice for notice in NOTICES}
    for year, data in extra.get("years", {}).items():
        notices[int(year)] = HolidayNotice(
            int(year),
            str(data.get("source", settings.calendar_file)),
            days_of(*data.get("holidays", [])),
            days_of(*data.get("working_days", [])),
        )
    response = {t.value: settings.response_working_days for t in SharingType}
    response.update(extra.get("response_working_days", {}))
    limits: dict[str, int | str] = {
        "clock_skew_seconds": settings.clock_skew_seconds,
        "zombie_idle_days": settings.finding_zombie_days,
    }
    limits.update(extra.get("time_limits", {}))
    chosen = [notices[year] for year in sorted(notices)]
    return CalendarSpec(
        years=tuple(notice.year for notice in chosen),
        holidays=tuple(day for notice in chosen for day in notice.holidays),
        adjusted_working_days=tuple(day for notice in chosen for day in notice.working_days),
        response_working_days=response,
        time_limits=limits,
        sources=(*(notice.source for notice in chosen), *extra.get("sources", [])),
    )


def open_ledger(
    settings: Settings, *, create: bool | None = None, record_calendar: bool = False
) -> GovLedger:
    """A ``GovLedger`` on the configured store, bounded by the settings, with the
    configured calendar (recorded with the first request that needs it).

    With ``record_calendar`` (``govledger calendar --record``), the calendar is
    recorded now unless it is already the newest recorded.
    """
    app = GovLedger(
        env=application_env(settings, create=create),
        time_bounds=time_bounds(settings),
        calendar=configured_calendar(settings),
        subjects=SubjectVault.configured(settings),
    )
    if record_calendar:
        try:
            app.record_calendar(CONFIGURATION_ACTOR, configured_calendar(settings))
        except BaseException:
            app.close()
            raise
    return app
