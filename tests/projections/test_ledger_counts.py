"""The ``/metrics`` follower (projections/ledger_counts.py) judges due dates as S6 does.

A pending request's due date comes from the calendar in force at its submission
(docs/facts.md §3, §5) through the one function the views use
(:func:`projections.rules.calendars.response_due`), not the ``response_due`` recorded
at submission: a calendar recorded after the request moves the overdue gauge.
"""

from __future__ import annotations

from datetime import date

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import ResourceItem, Sensitivity, SharingType
from ledger.domain.district_calendar import CalendarSpec
from ledger.store.connect import application_env, init_ledger
from projections.ledger_counts import LedgerFollower
from tests.projections.scenario import (
    ADMIN,
    GONGAN,
    MINZHENG,
    PURPOSE,
    Clock,
    Recorder,
    Scenario,
    _entry,
    cst,
)


def test_pending_due_dates_follow_the_calendar_in_force_at_submission(
    settings: Settings,
) -> None:
    """Submitted Wed 2026-09-30: Monday–Friday due 10-14; with 10-01..10-08 off and Sat
    10-10 worked, the 10th working day is 10-21 (as in the S6 case of test_defects)."""
    init_ledger(settings)
    clock = Clock(cst(9, 1))
    app = GovLedger(env=application_env(settings), clock=clock)
    rec = Recorder(app, clock, Scenario(settings))
    try:
        for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局")):
            app.register_department(ADMIN, code, name)
        items = [ResourceItem("姓名", Sensitivity.PERSONAL)]
        app.register_resource(GONGAN, _entry("RK-0001", "人口", items, SharingType.CONDITIONAL))
        rec.at(cst(9, 30)).submit_request(
            MINZHENG, requester_department="minzheng", resource_code="RK-0001",
            items=["姓名"], purpose=PURPOSE, legal_basis="《社会救助暂行办法》",
            period_start=date(2026, 10, 1), period_end=date(2026, 12, 31),
        )  # fmt: skip
        follower = LedgerFollower(app)
        counts, _ = follower.catch_up()
        assert counts.due_dates() == [("gongan", date(2026, 10, 14))]  # no calendar: recorded

        holidays = tuple(date(2026, 10, d) for d in range(1, 9))
        spec = CalendarSpec((2026,), holidays, (date(2026, 10, 10),), {
            t.value: 10 for t in SharingType
        })  # fmt: skip
        assert rec.at(cst(10, 1)).record_calendar(ADMIN, spec)  # in force from before
        counts, _ = follower.catch_up()
        assert counts.due_dates() == [("gongan", date(2026, 10, 21))]
    finally:
        app.close()
