"""Resource refreshes from the exchange platform (S11's fact; docs/facts.md §7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ledger.application import GovLedger
from ledger.domain import DomainError
from ledger.domain.errors import ErrorCode
from ledger.domain.fact_intake import refresh_report
from ledger.domain.refresh import RefreshReport, resource_refresh_id
from tests.ledger.domain.builders import CAC, PLATFORM, PROVIDER, FakeClock, population_entry

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _ledger() -> tuple[GovLedger, FakeClock]:
    clock = FakeClock(NOW)
    app = GovLedger(clock=clock)
    app.register_department(PROVIDER, PROVIDER.department_code or "", "区公安局")
    app.register_resource(PROVIDER, population_entry())
    return app, clock


def _report(event_id: str = "r-1", code: str = "R-POP", **kw: object) -> RefreshReport:
    return RefreshReport(event_id, code, kw.pop("at", NOW - timedelta(hours=1)), **kw)  # type: ignore[arg-type]


def test_a_refresh_is_recorded_once_with_its_business_time() -> None:
    app, _ = _ledger()
    first = app.record_refreshes(PLATFORM, [_report(row_count=12)])
    again = app.record_refreshes(PLATFORM, [_report(row_count=12), _report("r-2")])
    assert first.recorded == (resource_refresh_id("r-1"),) and not first.flags
    assert again.recorded == (resource_refresh_id("r-2"),)
    assert again.already_recorded == (resource_refresh_id("r-1"),)
    stored = app.refresh("r-1")
    assert (stored.resource_code, stored.row_count) == ("R-POP", 12)
    assert stored.refreshed_at == NOW - timedelta(hours=1)


def test_the_platforms_facts_are_never_dropped_but_flagged() -> None:
    app, _ = _ledger()
    result = app.record_refreshes(
        PLATFORM,
        [_report("r-x", code="NOT-IN-CATALOGUE"), _report("r-f", at=NOW + timedelta(hours=2))],
    )
    assert len(result.recorded) == 2
    assert result.flags == {
        resource_refresh_id("r-x"): ("unknown_resource",),
        resource_refresh_id("r-f"): ("refreshed_at_in_future",),
    }
    assert app.refresh("r-x").resource_code == "NOT-IN-CATALOGUE"


def test_only_the_exchange_platform_reports_refreshes() -> None:
    app, _ = _ledger()
    for actor in (PROVIDER, CAC):
        with pytest.raises(DomainError) as refused:
            app.record_refreshes(actor, [_report()])
        assert refused.value.code is ErrorCode.ROLE_NOT_PERMITTED
    with pytest.raises(DomainError):
        app.refresh("r-1")


def test_a_malformed_or_too_early_report_refuses_the_whole_batch() -> None:
    app, _ = _ledger()
    early = _report("r-old", at=datetime(2001, 1, 1, tzinfo=UTC))
    for bad in (early, _report("r-2", code="has space"), _report("r-3", row_count=-1)):
        with pytest.raises(DomainError):
            app.record_refreshes(PLATFORM, [_report("r-ok"), bad])
    with pytest.raises(DomainError):
        app.refresh("r-ok")


def test_the_stored_state_is_the_documented_one() -> None:
    """docs/facts.md §7: topic, field order, encodings."""
    app, _ = _ledger()
    app.record_refreshes(PLATFORM, [_report(row_count=3)])
    stored = app.recorder.select_events(resource_refresh_id("r-1"))[0]
    assert stored.topic == "ledger.domain.refresh:ResourceRefresh.Reported"
    state = json.loads(stored.state)
    assert list(state) == [
        "timestamp",
        "originator_topic",
        "actor",
        "platform_event_id",
        "resource_code",
        "row_count",
        "refreshed_at",
    ]
    assert state["refreshed_at"] == {
        "_type_": "datetime_iso",
        "_data_": "2026-03-02T01:00:00+00:00",
    }


def test_the_decoder_refuses_what_the_api_and_import_refuse() -> None:
    good = {
        "platform_event_id": "e",
        "resource_code": "R",
        "refreshed_at": "2026-03-02T09:00:00+08:00",
    }
    assert refresh_report(good).row_count is None
    for bad in (
        {**good, "rows": 3},
        {k: v for k, v in good.items() if k != "refreshed_at"},
        {**good, "refreshed_at": "2026-03-02T09:00:00"},
        {**good, "row_count": True},
        [good],
    ):
        with pytest.raises(DomainError):
            refresh_report(bad)
