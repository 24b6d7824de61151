"""The audit trail's text search (projections/registers.py ``audit_trail(text=…)``, issue
#16): Chinese event names find their kinds; other text is the beginning of an id, on
both backends."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from ledger.config import Settings
from projections.query import Views, open_views
from projections.store import ViewStore
from tests.projections.scenario import Scenario, build_scenario, scenario_settings


@pytest.fixture
def views(settings: Settings) -> Iterator[Views]:
    scenario: Scenario = build_scenario(scenario_settings(settings))
    with open_views(scenario.settings, catch_up=True) as opened:
        yield opened


def test_text_finds_kinds_by_chinese_name_and_ids_by_their_beginning(views: Views) -> None:
    m = views.moment()
    everything = views.audit_trail(m, limit=10_000)
    submitted = views.audit_trail(m, text="提交共享申请")
    assert submitted and {line.topic for line in submitted} == {"SharingRequest.Submitted"}
    assert len(submitted) == sum(line.topic == "SharingRequest.Submitted" for line in everything)
    actor = everything[-1].actor_id
    prefix = actor[: max(2, len(actor) // 2)]
    found = views.audit_trail(m, text=prefix, limit=10_000)
    expected = [
        line.position
        for line in everything
        if any(
            (value or "").startswith(prefix)
            for value in (line.actor_id, line.entity, line.department)
        )
    ]
    # Every line whose actor, entity or department begins so is found (a resource code may
    # add more); none is found twice.
    positions = [line.position for line in found]
    assert expected and set(expected) <= set(positions) and len(set(positions)) == len(positions)
    assert views.audit_trail(m, text="没有这种东西%_") == []


def _kind_search_plan(views: Views, monkeypatch: pytest.MonkeyPatch) -> str:
    """The query plan of the trail searched by one event kind."""
    return _trail_plan(views, monkeypatch, text="提交共享申请")


def _trail_plan(views: Views, monkeypatch: pytest.MonkeyPatch, **filters: Any) -> str:
    """The query plan of the trail asked with ``filters`` (which must find lines)."""
    store = views.store
    asked: list[tuple[str, Sequence[Any]]] = []
    query = store.query

    def recording(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        asked.append((sql, params))
        return query(sql, params)

    monkeypatch.setattr(store, "query", recording)
    assert views.audit_trail(views.moment(), **filters)
    monkeypatch.undo()
    [(sql, params)] = [(q, p) for q, p in asked if "ORDER BY position LIMIT" in q]
    if store.backend == "sqlite":
        return " ".join(str(r[-1]) for r in store.query(f"EXPLAIN QUERY PLAN {sql}", params))
    store.query("SET enable_seqscan = off")  # a few rows: a scan is cheaper, unless priced out
    try:
        return " ".join(str(r[0]) for r in store.query(f"EXPLAIN {sql}", params))
    finally:
        store.query("RESET enable_seqscan")


def test_a_search_by_kind_reads_the_topic_index(
    views: Views, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kind's lines come from the index on topic, not a scan of the whole trail (a
    1M-event trail took more than 300 ms to scan; issue #16); views written before the
    index get it when the worker starts, without a rebuild."""
    index = views.store.index_name("events_topic")
    plan = _kind_search_plan(views, monkeypatch)
    assert (f"USING INDEX {index} (topic=?" if views.store.backend == "sqlite" else index) in plan
    writer = ViewStore(views.settings)
    try:  # views of the same schema version, from before the index
        qualified = f'"{views.settings.postgres_schema}".{index}'
        writer.query(f"DROP INDEX {index if writer.backend == 'sqlite' else qualified}")
    finally:
        writer.close()
    with open_views(views.settings) as stale:  # a reader never writes, nor indexes
        assert index not in _kind_search_plan(stale, monkeypatch)
    with open_views(views.settings, catch_up=True) as again:
        assert index in _kind_search_plan(again, monkeypatch)


def test_a_department_between_dates_reads_its_dated_index(
    views: Views, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A department's lines of some dates come from the index (department, time), not a
    walk through every line of the department (a 1M-event trail: 300 ms; issue #16), and
    are the lines a filter of the whole trail keeps, in position order."""
    m = views.moment()
    everything = views.audit_trail(m, limit=10_000)
    line = next(x for x in reversed(everything) if x.department)
    day = line.time.date()
    start, end = day - timedelta(days=1), day + timedelta(days=1)
    found = views.audit_trail(m, department=line.department, start=start, end=end)
    expected = [
        x.position
        for x in everything
        if x.department == line.department and start <= x.time.date() <= end
    ]
    assert line.position in expected and [x.position for x in found] == expected
    after = views.audit_trail(
        m, department=line.department, start=start, end=end, after=expected[0]
    )
    assert [x.position for x in after] == expected[1:]
    index = views.store.index_name("events_department_time")
    plan = _trail_plan(views, monkeypatch, department=line.department, start=start, end=end)
    assert (f"USING INDEX {index} (department=?" if views.store.backend == "sqlite" else "") in plan
