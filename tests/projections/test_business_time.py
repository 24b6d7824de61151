"""An access dated in the future is a views finding (L4), judged as ``/metrics`` counts it.

docs/facts.md §6: the exchange platform's access whose ``accessed_at`` is later than its
record time plus the clock skew of the calendar in force at record time is recorded,
never dropped, and flagged. The views raise ``L4`` citing the access's position; the
metrics follower counts the same accesses (one judgment: projections/business_time.py).
Both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import ResourceItem, Sensitivity, SharingType
from ledger.domain.district_calendar import CalendarSpec
from ledger.store.connect import application_env, init_ledger
from projections.ledger_counts import LedgerFollower
from projections.query import open_views
from projections.rules import rule
from tests.projections.scenario import (
    ADMIN,
    GONGAN,
    Clock,
    Recorder,
    Scenario,
    _entry,
    report,
)


def _record(settings: Settings, skew_days: int | None) -> dict[str, int]:
    """Three accesses reported now: at now, a minute ahead (within the default 300 s
    skew) and two days ahead; with ``skew_days``, a calendar allowing that skew first."""
    init_ledger(settings)
    now = datetime.now(UTC)
    clock = Clock(now)
    app = GovLedger(env=application_env(settings), clock=clock)
    rec = Recorder(app, clock, Scenario(settings))
    try:
        for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局")):
            app.register_department(ADMIN, code, name)
        items = [ResourceItem("姓名", Sensitivity.PERSONAL)]
        app.register_resource(GONGAN, _entry("RK-0001", "人口", items, SharingType.CONDITIONAL))
        if skew_days is not None:
            limits = {t.value: 10 for t in SharingType}
            seconds = skew_days * 86400
            spec = CalendarSpec((now.year,), (), (), limits, {"clock_skew_seconds": seconds})
            assert app.record_calendar(ADMIN, spec)
        ahead = {"f-1": timedelta(0), "f-2": timedelta(minutes=1), "f-3": timedelta(days=2)}
        for event_id, delta in ahead.items():
            rec.accesses(
                report(event_id, now + delta, "mz-01", "minzheng", "RK-0001", ("姓名",), "核查")
            )
        return dict(rec.scenario.positions)
    finally:
        app.close()


def _future_counted(settings: Settings) -> int:
    app = GovLedger(env=application_env(settings))
    try:
        counts, _ = LedgerFollower(app, settings.clock_skew_seconds).catch_up()
        return sum(counts.future_dated.values())
    finally:
        app.close()


def test_an_access_dated_in_the_future_is_an_l4_finding_citing_it(settings: Settings) -> None:
    positions = _record(settings, skew_days=None)
    with open_views(settings, catch_up=True) as views:
        found = views.findings(views.moment(), rule="L4")
    assert [(f.subject, f.positions) for f in found] == [("f-3", (positions["f-3"],))]
    assert found[0].severity == rule("L4").severity and found[0].department == "minzheng"
    assert _future_counted(settings) == len(found) == 1  # the metric agrees


def test_the_clock_skew_of_the_calendar_in_force_decides(settings: Settings) -> None:
    _record(settings, skew_days=3)  # two days ahead is within a three-day skew
    with open_views(settings, catch_up=True) as views:
        assert views.findings(views.moment(), rule="L4") == []
    assert _future_counted(settings) == 0
