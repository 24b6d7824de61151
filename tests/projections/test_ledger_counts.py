"""The ``/metrics`` follower (projections/ledger_counts.py): due dates as S6 judges them, and
counts shown only once they have reached the head (docs/operations.md §Metrics).

A pending request's due date comes from the calendar in force at its submission
(docs/facts.md §3, §5) through the one function the views use
(:func:`projections.rules.calendars.response_due`), not the ``response_due`` recorded
at submission: a calendar recorded after the request moves the overdue gauge.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import ResourceItem, Sensitivity, SharingType
from ledger.domain.district_calendar import CalendarSpec
from ledger.store.connect import application_env, init_ledger
from projections import ledger_counts
from projections.ledger_counts import LedgerCounts, LedgerFollower
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


@contextmanager
def _departments_ledger(settings: Settings, count: int) -> Iterator[GovLedger]:
    """A ledger of ``count`` department registrations (one event each)."""
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        for n in range(count):
            app.register_department(ADMIN, f"dept{n}", f"部门{n}")
        yield app
    finally:
        app.close()


def _position_and_head(counts: LedgerCounts, head: int) -> tuple[int, int]:
    return counts.position, head


def test_counts_are_shown_only_once_they_have_reached_the_head(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's first read of the ledger: counts of an old prefix are never shown (they
    would rise like new events); read a page at a time, they equal one catch-up's."""
    monkeypatch.setattr(ledger_counts, "PAGE_SIZE", 2)
    with _departments_ledger(settings, 7) as app:
        head = app.recorder.max_notification_id()
        follower = LedgerFollower(app)
        assert follower.counted(_position_and_head, seconds=0) is None  # nothing read yet
        follower.warm_up()
        assert follower.counted(_position_and_head, seconds=0) == (head, head)
        whole, _ = LedgerFollower(app).catch_up()
        assert follower.counts.events == whole.events and sum(whole.events.values()) == head
        assert follower.counts.departments == whole.departments == {f"dept{n}" for n in range(7)}


def test_once_warm_counts_behind_the_head_are_shown_and_then_follow(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_counts, "PAGE_SIZE", 2)
    with _departments_ledger(settings, 3) as app:
        follower = LedgerFollower(app)
        follower.warm_up()
        before = app.recorder.max_notification_id()
        for n in range(3, 8):
            app.register_department(ADMIN, f"dept{n}", f"部门{n}")
        head = app.recorder.max_notification_id()
        # No time to follow: exact for their prefix, shown with the ledger's head.
        assert follower.counted(_position_and_head, seconds=0) == (before, head)
        assert follower.counted(_position_and_head, seconds=30) == (head, head)
        assert len(follower.counts.departments) == 8


def test_a_scrape_never_waits_on_a_follower_in_use(settings: Settings) -> None:
    with _departments_ledger(settings, 2) as app:
        follower = LedgerFollower(app)
        follower.warm_up()
        with follower._lock:  # another thread following (the warm-up, another scrape)
            assert follower.counted(_position_and_head, seconds=0.01) is None
        assert follower.counted(_position_and_head, seconds=0.01) is not None


def test_the_warm_up_stops_with_the_service(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_counts, "PAGE_SIZE", 1)
    with _departments_ledger(settings, 3) as app:
        follower = LedgerFollower(app)
        stop = threading.Event()
        stop.set()
        follower.warm_up(stop)
        assert follower.position == 0
        assert follower.counted(_position_and_head, seconds=0) is None


@pytest.mark.parametrize(
    "state", [b"\x00not json", b'{"department": 7}', b"[]"], ids=["bytes", "wrong", "list"]
)
def test_a_row_that_is_not_its_kind_is_counted_unreadable_and_passed_over(
    settings: Settings, state: bytes
) -> None:
    """A chained row of a counted kind whose state is not that kind's (a writer past the
    application: the chain takes whatever bytes are hashed) must not stop the counts for
    good: it is counted unreadable, and the rows after it are counted as ever."""
    with _departments_ledger(settings, 2) as app:
        forged = StoredEvent(uuid4(), 1, ledger_counts._DEPARTMENT, state)
        app.recorder.insert_events([StoredEvent(uuid4(), 1, ledger_counts._ACCESS, state), forged])
        app.register_department(ADMIN, "dept9", "部门9")
        head = app.recorder.max_notification_id()
        follower = LedgerFollower(app)
        follower.warm_up()
        assert follower.counted(_position_and_head, seconds=0) == (head, head)
        counts = follower.counts
        assert counts.unreadable == {"DataAccess.Recorded": 1, "Department.Registered": 1}
        assert counts.departments == {"dept0", "dept1", "dept9"}
        assert sum(counts.accesses.values()) == 0
