"""PostgreSQL's one-statement idempotent batch: only new originators are chained, once.

``insert_new_aggregates`` inserts a batch of creations unchecked first (the
(originator_id, originator_version) key is the check) and a batch that fails on
it checked, inside the chained insert (ledger/store/postgres.py). These tests
hold it to the ledger's rules: gapless positions over the rows actually written,
a retried batch writes nothing, and concurrent writers with stale heads keep one
valid chain. The same batch streamed in chunks (``insert_new_stream``) is
tests/ledger/store/test_stream.py and test_postgres_stream.py.
"""

from __future__ import annotations

import random
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import DataError, StoredEvent
from psycopg.sql import SQL

from ledger.errors import ChainWriteError
from ledger.store.postgres import _AlreadyStoredError
from ledger.store.postgres_head import LOCK_FIRST_BATCH_SIZE
from tests.conftest import Ledger, make_events
from tests.ledger._race import inserted_whole, race_to_one_chain
from tests.ledger._rows import verified_rows


def test_stored_originators_are_left_out_and_the_rest_chained_gaplessly(pg_ledger: Ledger) -> None:
    known = make_events(2)
    pg_ledger.recorder.insert_events(known)
    new = make_events(3)
    batch = [new[0], known[0], new[1], known[1], new[2]]
    written = pg_ledger.recorder.insert_new_aggregates(batch)
    assert written.existing == {e.originator_id for e in known}
    assert written.ids == [3, 4, 5]
    rows = verified_rows(pg_ledger.settings)
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
    assert [row[1] for row in rows[2:]] == [e.originator_id.hex for e in new]


@pytest.mark.parametrize("size", [50, 2 * LOCK_FIRST_BATCH_SIZE])
def test_a_retried_batch_writes_nothing(pg_ledger: Ledger, size: int) -> None:
    batch = make_events(size)
    first = pg_ledger.recorder.insert_new_aggregates(batch)
    again = pg_ledger.recorder.insert_new_aggregates(batch[::-1])
    assert first.ids == list(range(1, size + 1)) and first.existing == set()
    assert again.ids == [] and again.existing == {e.originator_id for e in batch}
    assert len(verified_rows(pg_ledger.settings)) == size


def test_a_fresh_batch_is_inserted_without_asking_what_exists(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual batch, all new, goes unchecked: the (originator_id, version) key is the check.
    A batch holding a stored originator does ask (and is then recorded once, above)."""
    recorder, size = pg_ledger.recorder, 2 * LOCK_FIRST_BATCH_SIZE  # the locked path
    stored = make_events(1)
    recorder.insert_new_aggregates(stored)
    monkeypatch.setattr(recorder, "_select_existing", SQL("SELECT 1 / 0"))
    written = recorder.insert_new_aggregates(make_events(size))
    assert written.ids == list(range(2, size + 2)) and written.existing == set()
    with pytest.raises(DataError):  # the stand-in for the existence query refuses
        recorder.insert_new_aggregates([*make_events(size), *stored])
    monkeypatch.undo()
    assert len(verified_rows(pg_ledger.settings)) == size + 1


def test_a_stale_head_waits_for_the_lock_and_still_skips_what_the_other_wrote(
    pg_ledger: Ledger,
) -> None:
    """Two writers (two processes' recorders): the second's remembered head is stale."""
    pg_ledger.recorder.insert_new_aggregates(make_events(1))  # remembers head 1
    other = Ledger(pg_ledger.settings)
    try:
        raced = make_events(2)
        other.recorder.insert_new_aggregates([*make_events(3), raced[0]])  # head is now 5
        mine = make_events(2)
        written = pg_ledger.recorder.insert_new_aggregates([mine[0], raced[0], mine[1]])
        assert written.existing == {raced[0].originator_id}
        assert written.ids == [6, 7]
        # Writers alternate: each must chain onto the other's head, never fork.
        other.recorder.insert_new_aggregates([raced[1]])
        pg_ledger.recorder.insert_new_aggregates(make_events(1))
    finally:
        other.close()
    rows = verified_rows(pg_ledger.settings)
    assert [row[0] for row in rows] == list(range(1, 10))


@pytest.mark.parametrize(
    ("size", "count"),
    [
        pytest.param(40, 600, id="small batches: optimistic"),
        pytest.param(LOCK_FIRST_BATCH_SIZE, 10 * LOCK_FIRST_BATCH_SIZE, id="large: lock first"),
    ],
)
def test_concurrent_writers_of_overlapping_batches_store_each_originator_once(
    pg_ledger: Ledger, size: int, count: int
) -> None:
    """Two recorders, two threads each, all sending the same batches in different orders."""
    events = make_events(count, state_size=32)
    batches = [events[i : i + size] for i in range(0, len(events), size)]
    orders = [random.Random(seed).sample(batches, len(batches)) for seed in range(4)]
    race_to_one_chain(pg_ledger, events, orders, inserted_whole)


def test_an_empty_batch_writes_nothing(pg_ledger: Ledger) -> None:
    nothing: list[StoredEvent] = []
    written = pg_ledger.recorder.insert_new_aggregates(nothing)
    assert written.ids == [] and written.existing == set()
    assert pg_ledger.recorder.max_notification_id() in (None, 0)


def test_found_ids_that_match_nothing_in_the_batch_fail_instead_of_looping(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = pg_ledger.recorder
    recorder.insert_new_aggregates(make_events(1))  # a remembered head: the one-statement path
    foreign = {uuid4()}

    def found_foreign(*args: Any, **kwargs: Any) -> list[int]:
        raise _AlreadyStoredError(foreign)

    monkeypatch.setattr(recorder, "_insert_rows", found_foreign)
    with pytest.raises(ChainWriteError):
        recorder.insert_new_aggregates(make_events(3))
    monkeypatch.undo()
    assert recorder.max_notification_id() == 1


# SQLite: a batch is inserted unchecked first; one holding a stored originator fails on the
# (originator_id, originator_version) key, is rolled back whole and inserted checked.


def test_sqlite_leaves_stored_originators_out_and_chains_the_rest_gaplessly(
    sqlite_ledger: Ledger,
) -> None:
    known = make_events(2)
    sqlite_ledger.recorder.insert_events(known)
    new = make_events(3)
    written = sqlite_ledger.recorder.insert_new_aggregates(
        [new[0], known[0], new[1], known[1], new[2]]
    )
    assert written.existing == {e.originator_id for e in known}
    assert written.ids == [3, 4, 5]
    rows = verified_rows(sqlite_ledger.settings)
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
    assert [row[1] for row in rows[2:]] == [e.originator_id.hex for e in new]


def test_sqlite_writes_a_retried_batch_once(sqlite_ledger: Ledger) -> None:
    batch = make_events(50)
    first = sqlite_ledger.recorder.insert_new_aggregates(batch)
    again = sqlite_ledger.recorder.insert_new_aggregates(batch[::-1])
    assert first.ids == list(range(1, 51)) and first.existing == set()
    assert again.ids == [] and again.existing == {e.originator_id for e in batch}
    assert len(verified_rows(sqlite_ledger.settings)) == 50


def test_sqlite_checks_events_that_do_not_create_their_aggregate(sqlite_ledger: Ledger) -> None:
    """A later version of a stored aggregate is no new aggregate: left out, not a key clash."""
    (created,) = make_events(1)
    sqlite_ledger.recorder.insert_events([created])
    later = StoredEvent(created.originator_id, 2, created.topic, created.state)
    (fresh,) = make_events(1)
    written = sqlite_ledger.recorder.insert_new_aggregates([later, fresh])
    assert written.existing == {created.originator_id}
    assert written.ids == [2]


def test_sqlite_inserts_a_fresh_batch_without_an_existence_query(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_query(*args: Any) -> set[str]:
        raise AssertionError("a fresh batch needs no existence query")

    monkeypatch.setattr(sqlite_ledger.recorder, "_existing_texts", no_query)
    written = sqlite_ledger.recorder.insert_new_aggregates(make_events(20))
    assert written.ids == list(range(1, 21)) and written.existing == set()
