"""Facts-only snapshots (projections/fact_snapshots.py, docs/projections.md §"Facts
snapshots"): the worker writes them, a fresh reader starts from one, and every answer is
the one a fold from the first fact gives, at the head, at earlier positions and as of
dates; a snapshot of another fold is never read; a rebuild writes the same ones."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.config import Settings
from ledger.store.connect import ledger_head
from projections import fact_snapshots
from projections.query import Moment, Views, as_json, forget_folds, open_views
from projections.runner import open_projector
from projections.store import ViewStore
from projections.zone import Rules
from tests.projections.scenario import build_scenario, scenario_settings

DATES = (
    date(2026, 5, 19),  # before the first fact
    date(2026, 5, 31),
    date(2026, 6, 10),
    date(2026, 6, 20),
    date(2026, 6, 30),
    date(2026, 7, 2),
    date(2026, 12, 31),
)


def answers(views: Views, m: Moment | None = None) -> Any:
    """What the zone's readers answer at a moment (the head: at its own reference time), as
    plain JSON (the pages read these)."""
    forget_folds()  # the first request of a process
    m = m or views.moment()
    fresh = Views(views.settings, views.store, views.projector)  # no per-object memo either
    return as_json(
        {
            "zone": fresh.zone(m),
            "findings": fresh.findings(m),
            "rights": fresh.rights_register(m),
            "inventory": fresh.inventory(m),
            "departments": fresh.departments(m),
        }
    )


def snapshot_rows(settings: Settings) -> list[tuple[Any, ...]]:
    store = ViewStore(settings)
    try:
        return store.query(
            f"SELECT position, kind, facts, max_time, fingerprint FROM "
            f"{store.table(fact_snapshots.NAME)} ORDER BY position"
        )
    finally:
        store.close()


@pytest.fixture
def small(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The scenario (May to July), projected in many small runs, a snapshot every 3 facts."""
    monkeypatch.setattr(fact_snapshots, "EVERY", 3)
    small = scenario_settings(settings)
    build_scenario(small)
    with open_projector(small) as projector:
        for until in range(2, ledger_head(small) + 1, 5):
            projector.run(until=until)
        projector.run()
    return small


def test_answers_with_and_without_snapshots_are_equal(
    small: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = snapshot_rows(small)
    kinds = [kind for _, kind, _, _, _ in rows]
    assert kinds.count("month") == 2, rows  # before the first June and July facts
    assert kinds.count("count") == 1, rows  # only the newest is kept
    head = ledger_head(small)
    starts: list[int] = []
    load = fact_snapshots.load

    def spied(*args: Any) -> tuple[int, Any]:
        found = load(*args)
        starts.append(found[0])
        return found

    moments: list[dict[str, Any]] = [
        *({"at": at} for at in sorted({1, head // 4, head // 2, 3 * head // 4, head - 1})),
        *({"as_of": day} for day in DATES),
        {},
    ]
    with open_views(small) as views:
        for moment in moments:
            m = views.moment(**moment)
            monkeypatch.setattr(fact_snapshots, "load", spied)
            with_snapshots = answers(views, m)
            monkeypatch.setattr(fact_snapshots, "load", lambda *_: (0, None))
            assert answers(views, m) == with_snapshots, moment
    # The snapshots were used: at the head, at earlier positions and as of dates.
    assert max(starts) == rows[-1][0]
    assert len({s for s in starts if s > 0}) >= 3, starts


def test_as_of_a_date_starts_only_from_a_snapshot_of_facts_effective_by_then(
    small: Settings,
) -> None:
    rows = {r[0]: r for r in snapshot_rows(small)}
    july = max(p for p, r in rows.items() if r[1] == "month")  # the facts before July
    rules = Rules.from_settings(small)
    with open_views(small) as views:
        for day in DATES:
            m = views.moment(as_of=day)
            reference = m.reference_time.timestamp()
            start, _ = fact_snapshots.load(
                views.store, rules, m.position, reference, views._hash_at
            )
            assert start == 0 or rows[start][3] <= reference, (day, rows[start])
            if day == date(2026, 5, 19):
                assert start == 0  # every fact happened after: none is usable
            if day >= date(2026, 6, 30):
                assert start >= july, (day, start)


def test_a_snapshot_of_another_fold_is_never_read_and_the_worker_rewrites_it(
    small: Settings,
) -> None:
    with open_views(small) as views:
        head = views.moment()
        expected = answers(views, head)
    good = snapshot_rows(small)
    store = ViewStore(small)
    try:
        table = store.table(fact_snapshots.NAME)
        store.query(f"UPDATE {table} SET fingerprint = 'an older fold'")
        store.query(  # a newer row of another format: garbage to this code
            f"INSERT INTO {table} ({', '.join(fact_snapshots.COLUMNS)}) "
            "VALUES (?, 'count', 1, NULL, 'format 0', ?, ?)",
            (good[-1][0] + 1, b"", b"not a state"),
        )
    finally:
        store.close()
    with open_views(small) as views:
        assert answers(views, head) == expected  # read past them, from the first fact
    with open_projector(small) as projector:
        projector.run()
    assert snapshot_rows(small) == good


def test_a_snapshot_of_another_ledger_is_not_used(small: Settings) -> None:
    store = ViewStore(small)
    try:
        store.query(f"UPDATE {store.table(fact_snapshots.NAME)} SET hash = ?", (b"\x00" * 32,))
    finally:
        store.close()
    rules = Rules.from_settings(small)
    with open_views(small) as views:
        m = views.moment()
        assert fact_snapshots.load(views.store, rules, m.position, None, views._hash_at) == (
            0,
            None,
        )


def test_a_rebuild_discards_the_snapshots_and_writes_those_the_worker_wrote(
    small: Settings,
) -> None:
    incremental = snapshot_rows(small)
    store = ViewStore(small)
    try:  # a row of this very fold that no pass would write: the rebuild drops it
        store.query(
            f"INSERT INTO {store.table(fact_snapshots.NAME)} "
            f"({', '.join(fact_snapshots.COLUMNS)}) VALUES (?, 'month', 1, NULL, ?, ?, ?)",
            (1, incremental[0][4], b"", b"stale"),
        )
    finally:
        store.close()
    with open_projector(small) as projector:
        projector.rebuild()
    assert snapshot_rows(small) == incremental


def test_views_without_the_table_are_read_from_the_first_fact(small: Settings) -> None:
    with open_views(small) as views:
        head = views.moment()
        expected = answers(views, head)
    store = ViewStore(small)
    try:
        store.drop([fact_snapshots.NAME])
    finally:
        store.close()
    with open_views(small) as views:
        assert answers(views, head) == expected
