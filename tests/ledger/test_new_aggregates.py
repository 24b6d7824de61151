"""PostgreSQL's one-statement idempotent batch: only new originators are chained, once.

``insert_new_aggregates`` inserts a batch of creations unchecked first (the
(originator_id, originator_version) key is the check) and a batch that fails on
it checked, inside the chained insert (ledger/store/postgres.py);
``insert_new_stream`` sends a batch in chunks as they are built
(ledger/store/postgres_stream.py). These tests hold both to the ledger's rules:
gapless positions over the rows actually written, a retried batch writes
nothing, and concurrent writers with stale heads keep one valid chain.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DataError, StoredEvent
from psycopg.sql import SQL

from ledger.config import Settings
from ledger.errors import ChainWriteError
from ledger.store.postgres import _AlreadyStoredError
from ledger.store.postgres_head import LOCK_FIRST_BATCH_SIZE
from tests.conftest import Ledger, make_events
from tests.ledger._rows import verified_rows


@pytest.fixture
def pg_ledger(postgres_settings: Settings) -> Iterator[Ledger]:
    opened = Ledger(postgres_settings)
    yield opened
    opened.close()


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
    other = Ledger(pg_ledger.settings)
    written: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def send(recorder: Any, seed: int) -> None:
        mine = random.Random(seed).sample(batches, len(batches))
        try:
            start.wait()
            for batch in mine:
                written.append(recorder.insert_new_aggregates(batch).ids)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [
        threading.Thread(target=send, args=(recorder, seed))
        for seed, recorder in enumerate([pg_ledger.recorder, other.recorder] * 2)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()
    assert errors == []
    assert sorted(i for ids in written for i in ids) == list(range(1, len(events) + 1))
    rows = verified_rows(pg_ledger.settings)
    assert sorted(UUID(row[1]) for row in rows) == sorted(e.originator_id for e in events)


def test_a_streamed_batch_is_chained_as_one_and_a_retry_recorded_once(pg_ledger: Ledger) -> None:
    """Chunks are sent as they are built, in one transaction (ledger/store/postgres_stream.py):
    the rows are those of one batch; a stored originator in any chunk sends the whole batch
    again, checked."""
    recorder = pg_ledger.recorder
    known = make_events(2)
    recorder.insert_events(known)
    new = make_events(7)
    written = recorder.insert_new_stream([new[:3], [], new[3:7]])
    assert written.ids == list(range(3, 10)) and written.existing == set()
    later = make_events(4)
    again = recorder.insert_new_stream(iter([later[:2], [new[5], *later[2:]], [known[1]]]))
    assert again.existing == {new[5].originator_id, known[1].originator_id}
    assert again.ids == [10, 11, 12, 13]
    rows = verified_rows(pg_ledger.settings)
    assert [row[0] for row in rows] == list(range(1, 14))
    assert [row[1] for row in rows] == [e.originator_id.hex for e in [*known, *new, *later]]


def test_a_failure_while_a_chunk_is_built_writes_nothing(pg_ledger: Ledger) -> None:
    """The chunk builder refuses a malformed access mid-batch: the open transaction, with
    the chunks already sent, rolls back whole, and the next batch chains onto the head."""
    recorder = pg_ledger.recorder
    recorder.insert_new_aggregates(make_events(1))

    def chunks() -> Iterator[list[StoredEvent]]:
        yield make_events(3)
        yield make_events(3)
        raise ValueError("a malformed access")

    with pytest.raises(ValueError, match="malformed"):
        recorder.insert_new_stream(chunks())
    assert recorder.max_notification_id() == 1
    assert recorder.insert_new_stream([make_events(2)]).ids == [2, 3]
    assert len(verified_rows(pg_ledger.settings)) == 3


def test_a_streamed_event_that_does_not_create_its_aggregate_is_checked(
    pg_ledger: Ledger,
) -> None:
    recorder = pg_ledger.recorder
    (created,) = make_events(1)
    recorder.insert_events([created])
    later = StoredEvent(created.originator_id, 2, created.topic, created.state)
    fresh = make_events(2)
    written = recorder.insert_new_stream([fresh[:1], [later, fresh[1]]])
    assert written.existing == {created.originator_id}
    assert written.ids == [2, 3]


def test_a_writer_that_is_not_alone_builds_the_batch_before_taking_the_lock(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streaming holds the head's lock while the batch is built: only a lone writer does it.
    Once another writer moved the head, the batch is built first, then inserted as one."""
    mine, other = pg_ledger.recorder, Ledger(pg_ledger.settings)
    calls: list[str] = []
    insert_new = mine.insert_new_aggregates

    def spied(events: list[StoredEvent], **kwargs: Any) -> Any:
        calls.append(f"insert {len(events)}")
        return insert_new(events, **kwargs)

    def chunks(count: int) -> Iterator[list[StoredEvent]]:
        for n in range(count):
            calls.append(f"chunk {n}")
            yield make_events(2)

    monkeypatch.setattr(mine, "insert_new_aggregates", spied)
    try:
        mine.insert_new_stream(chunks(2))  # alone: streamed, no whole-batch insert
        other.recorder.insert_new_aggregates(make_events(1))
        mine.insert_new_stream(chunks(2))  # finds the head moved: still streamed, now wary
        assert calls == ["chunk 0", "chunk 1"] * 2
        calls.clear()
        written = mine.insert_new_stream(chunks(3))
        assert calls == ["chunk 0", "chunk 1", "chunk 2", "insert 6"]
        assert written.ids == list(range(10, 16))
    finally:
        other.close()
    assert len(verified_rows(pg_ledger.settings)) == 15


class _Held:
    """A streamed batch that stops between its chunks, holding the head's lock, until let go."""

    def __init__(self, chunks: list[list[StoredEvent]]) -> None:
        self.chunks = chunks
        self.holding = threading.Event()
        self.go_on = threading.Event()

    def __iter__(self) -> Iterator[list[StoredEvent]]:
        yield self.chunks[0]
        # Asked for the next chunk: the first is chained, so the head's lock is ours.
        self.holding.set()
        assert self.go_on.wait(timeout=60)
        yield from self.chunks[1:]


def _in_thread(work: Any, results: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            results.append(work())
        except BaseException as e:  # asserted on by the test
            results.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_writers_streaming_at_once_chain_one_batch_after_the_other(
    pg_ledger: Ledger,
) -> None:
    """Two recorders (two workers' pools), each alone as far as it knows, stream at once: the
    second waits for the first's lock, chains onto its commit, and is wary from then on."""
    first, second = pg_ledger.recorder, Ledger(pg_ledger.settings)
    try:
        early = second.recorder.insert_new_stream([make_events(2)])  # a head it remembers
        held = _Held([make_events(3), make_events(3)])
        mine: list[Any] = []
        holder = _in_thread(lambda: first.insert_new_stream(held), mine)
        assert held.holding.wait(timeout=60)
        pulled = threading.Event()

        def chunks() -> Iterator[list[StoredEvent]]:
            pulled.set()  # the second's lock request is on its way
            yield from (make_events(2), make_events(2))

        theirs: list[Any] = []
        waiter = _in_thread(lambda: second.recorder.insert_new_stream(chunks()), theirs)
        assert pulled.wait(timeout=60)
        held.go_on.set()
        holder.join(timeout=60)
        waiter.join(timeout=60)
        assert early.ids == [1, 2]
        assert mine[0].ids == list(range(3, 9)) and theirs[0].ids == list(range(9, 13))
        assert second.recorder._contended  # it found the head moved: it builds first now
    finally:
        second.close()
    assert [row[0] for row in verified_rows(pg_ledger.settings)] == list(range(1, 13))


def test_a_second_batch_of_one_process_is_built_before_it_waits_for_the_lock(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads of one process share its remembered head: the second batch, while the
    first streams, is built whole and inserted as one, never streamed under the lock."""
    recorder = pg_ledger.recorder
    recorder.insert_new_stream([make_events(1)])
    held = _Held([make_events(3), make_events(3)])
    calls: list[str] = []
    inserting = threading.Event()
    insert_new = recorder.insert_new_aggregates

    def spied(events: list[StoredEvent], **kwargs: Any) -> Any:
        calls.append(f"insert {len(events)}")
        inserting.set()
        return insert_new(events, **kwargs)

    def chunks() -> Iterator[list[StoredEvent]]:
        for n in range(3):
            calls.append(f"chunk {n}")
            yield make_events(2)

    monkeypatch.setattr(recorder, "insert_new_aggregates", spied)
    mine: list[Any] = []
    holder = _in_thread(lambda: recorder.insert_new_stream(held), mine)
    assert held.holding.wait(timeout=60)
    theirs: list[Any] = []
    waiter = _in_thread(lambda: recorder.insert_new_stream(chunks()), theirs)
    assert inserting.wait(timeout=60)
    held.go_on.set()
    holder.join(timeout=60)
    waiter.join(timeout=60)
    assert calls == ["chunk 0", "chunk 1", "chunk 2", "insert 6"]  # the first: streamed
    assert mine[0].ids == list(range(2, 8)) and theirs[0].ids == list(range(8, 14))
    assert recorder.insert_new_stream(chunks()).ids == list(range(14, 20))
    assert calls[4:] == ["chunk 0", "chunk 1", "chunk 2"]  # alone again: streamed
    assert [row[0] for row in verified_rows(pg_ledger.settings)] == list(range(1, 20))


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


@pytest.fixture
def sqlite_ledger(sqlite_settings: Settings) -> Iterator[Ledger]:
    opened = Ledger(sqlite_settings)
    yield opened
    opened.close()


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
