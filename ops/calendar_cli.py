"""``govledger calendar``: the configured calendar, the one in force, and recording it.

docs/facts.md §3: the calendar in force (holidays, 调休 make-up days, response
limits, time limits) is a fact of the ledger. After changing the calendar
settings (docs/configuration.md: ``GOVLEDGER_CALENDAR_FILE``,
``GOVLEDGER_RESPONSE_WORKING_DAYS``, …) an operator runs
``govledger calendar --record`` so that judgments from now on use it; without
it the ledger records it before the next sharing request. Recording the
calendar already in force writes nothing.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from ledger.commands.sharing import CONFIGURATION_ACTOR
from ledger.config import Settings
from ledger.configured import configured_calendar, open_ledger
from ledger.domain.district_calendar import CalendarSpec
from ops.terminal import EXIT_OK


def _describe(spec: CalendarSpec) -> dict[str, Any]:
    years = f"{spec.years[0]}–{spec.years[-1]}" if spec.years else "none"
    return {
        "years": years,
        "holidays": len(spec.holidays),
        "adjusted_working_days": len(spec.adjusted_working_days),
        "response_working_days": dict(spec.response_working_days),
        "time_limits": dict(spec.time_limits),
    }


def cmd_calendar(settings: Settings, args: argparse.Namespace) -> int:
    """Print the configured calendar and whether it is the ledger's newest; record it."""
    configured = configured_calendar(settings)
    app = open_ledger(settings, create=False)
    try:
        recorded = app.recorded_calendar()
        newest = recorded.newest if recorded else None
        written = False
        if args.record:
            written = app.record_calendar(CONFIGURATION_ACTOR, configured)
        in_force = app.calendar_in_force(datetime.now(app.clock().tzinfo))
    finally:
        app.close()
    report: dict[str, Any] = {
        "configured": _describe(configured),
        "recorded": newest is not None,
        "configured_is_newest_recorded": configured == newest or written,
        "recorded_now": written,
        "in_force_now": _describe(in_force) if in_force else None,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        state = (
            "recorded now"
            if written
            else (
                "the newest recorded" if report["configured_is_newest_recorded"] else "NOT recorded"
            )
        )
        print(f"configured calendar ({report['configured']['years']}): {state}")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``calendar`` to the ``govledger`` command line."""
    p = subparsers.add_parser(
        "calendar", help="show the configured working calendar; --record it as in force"
    )
    p.add_argument("--record", action="store_true", help="record it unless already in force")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_calendar)
