"""The contract both stores keep for a batch streamed while it is built (``insert_new_stream``).

SQLite (ledger/store/sqlite_stream.py) hands each chunk to a writer thread,
PostgreSQL (ledger/store/postgres_stream.py) sends it on in pipeline mode; both
promise the same (docs/ledger-format.md §6): the batch is ONE transaction, its
rows and hashes those of one ``insert_new_aggregates`` of the whole batch; a
chunk failing on the (originator_id, originator_version) key (a retry) is
rolled back whole and the batch recorded once, checked; a failure while a chunk
is built rolls everything back and leaves no lock (nor SQLite's writer thread)
behind; a writer that is not alone builds the batch first, then inserts it.
Written once here, run on each backend (the ``ledger`` fixture, tests/conftest.py);
what only one store does is in tests/ledger/store/test_sqlite_stream.py and
tests/ledger/store/test_postgres_stream.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.config import Settings
from ledger.store.sqlite_turn import WriterTurn
from tests.conftest import Attacker, Ledger, fresh_schema, make_events, pg_connect
from tests.ledger._race import race_to_one_chain
from tests.ledger._rows import verified_rows
from tests.ledger.store._batch_log import BatchLog


@pytest.fixture
def twin(request: pytest.FixtureRequest, ledger: Ledger, tmp_path: Path) -> Iterator[Ledger]:
    """Another empty ledger on the same backend with ``ledger``'s genesis record: the same
    events give it the same rows and hashes."""
    with ExitStack() as stack:
        admin = None
        if ledger.settings.database.backend == "sqlite":
            settings = Settings(
                database_url=f"sqlite:///{tmp_path / 'twin.db'}",
                state_dir=str(tmp_path / "twin.state"),
            )
        else:
            urls = request.getfixturevalue("postgres_urls")
            admin = urls.admin
            settings = Settings(
                database_url=urls.owner,
                postgres_schema=stack.enter_context(fresh_schema(urls)),
                state_dir=str(tmp_path / "twin.state"),
            )
        Ledger(settings).close()  # created, with a genesis record of its own
        forger = Attacker(settings, admin)
        try:
            genesis = ledger.recorder.genesis
            forger.execute(  # on PostgreSQL the head record follows (it holds the genesis hash)
                "UPDATE {t}_genesis SET ledger_id = ?, created_at = ?, genesis_hash = ?",
                (genesis.ledger_id, genesis.created_at, genesis.genesis_hash),
            )
        finally:
            forger.close()
        opened = Ledger(settings)
        stack.callback(opened.close)
        assert opened.recorder.genesis == genesis
        yield opened


def _assert_lock_free(settings: Settings) -> None:
    """No transaction holds the store's write lock (SQLite's, or PostgreSQL's head row), nor,
    on SQLite, a writer the turn: nothing of a batch outlived its call."""
    db = settings.database
    if db.backend == "sqlite":
        with sqlite3.connect(db.path, timeout=0, isolation_level=None) as lite:
            lite.execute("BEGIN IMMEDIATE")  # "database is locked" if anyone holds it
            lite.execute("ROLLBACK")
        with WriterTurn(db.path, timeout=1).taken_if_free() as free:
            assert free
        return
    with pg_connect(settings.database_url) as conn, conn.transaction():
        conn.execute(f"SET LOCAL search_path TO {settings.postgres_schema}")
        # LockNotAvailable if a transaction holds the head row's lock.
        conn.execute("SELECT position FROM ledger_events_head FOR UPDATE NOWAIT")


def test_a_streamed_batch_stores_the_bytes_of_one_unstreamed_insert(
    ledger: Ledger, twin: Ledger
) -> None:
    before = make_events(3)
    ledger.recorder.insert_events(before)
    twin.recorder.insert_events(before)
    batch = make_events(600, state_size=300)
    chunks = [batch[:250], [], batch[250:251], batch[251:500], batch[500:]]
    streamed = ledger.recorder.insert_new_stream(iter(chunks))
    whole = twin.recorder.insert_new_aggregates(batch)
    assert streamed.ids == whole.ids == list(range(4, 604))
    assert streamed.existing == whole.existing == set()
    rows = verified_rows(ledger.settings)
    assert len(rows) == 603
    assert rows == verified_rows(twin.settings)


def test_a_retried_batch_is_rolled_back_whole_and_recorded_once(ledger: Ledger) -> None:
    """A stored originator in any chunk fails on the key: nothing of the streamed attempt
    stays, and the whole batch (what was sent and what was still to come) goes again
    checked."""
    recorder = ledger.recorder
    known = make_events(2)
    recorder.insert_events(known)
    new = make_events(70)  # on SQLite, chunks of 40 go to the writer thread, shorter ones inline
    written = recorder.insert_new_stream([new[:3], [], new[3:43], new[43:]])
    assert written.ids == list(range(3, 73)) and written.existing == set()
    later = make_events(44)
    again = recorder.insert_new_stream(iter([later[:40], [new[5], *later[40:]], [known[1]]]))
    assert again.existing == {new[5].originator_id, known[1].originator_id}
    assert again.ids == list(range(73, 117))
    repeat = recorder.insert_new_stream([new[:40], new[40:]])
    assert repeat.ids == [] and repeat.existing == {e.originator_id for e in new}
    _assert_lock_free(ledger.settings)
    rows = verified_rows(ledger.settings)
    assert [row[0] for row in rows] == list(range(1, 117))
    assert [UUID(row[1]) for row in rows] == [e.originator_id for e in [*known, *new, *later]]


def test_a_failure_while_a_chunk_is_built_writes_nothing_and_frees_the_lock(
    ledger: Ledger,
) -> None:
    """The builder refuses a malformed access mid-batch: the chunks already sent (on SQLite,
    given to the writer thread) are rolled back with the rest, the lock is free at once, and
    the next batch chains onto the old head."""
    recorder = ledger.recorder
    recorder.insert_new_aggregates(make_events(1))

    def chunks() -> Iterator[list[StoredEvent]]:
        yield make_events(40)
        yield make_events(40)
        raise ValueError("a malformed access")

    with pytest.raises(ValueError, match="malformed"):
        recorder.insert_new_stream(chunks())
    _assert_lock_free(ledger.settings)
    assert recorder.max_notification_id() == 1
    assert recorder.insert_new_stream([make_events(2)]).ids == [2, 3]
    assert len(verified_rows(ledger.settings)) == 3


def test_a_streamed_event_that_does_not_create_its_aggregate_is_checked(ledger: Ledger) -> None:
    recorder = ledger.recorder
    (created,) = make_events(1)
    recorder.insert_events([created])
    later = StoredEvent(created.originator_id, 2, created.topic, created.state)
    fresh = make_events(2)
    written = recorder.insert_new_stream([fresh[:1], [later, fresh[1]]])
    assert written.existing == {created.originator_id}
    assert written.ids == [2, 3]


def test_a_writer_that_is_not_alone_builds_the_batch_before_taking_the_lock(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streaming holds the lock (SQLite's write lock, PostgreSQL's head row) while the batch
    is built: only a lone writer does it. Once another writer moved the head, the batch is
    built first, then inserted as one, until a batch finds the head where it left it."""
    mine, other = ledger.recorder, Ledger(ledger.settings)
    log = BatchLog(mine, monkeypatch)
    try:
        mine.insert_new_stream(log.chunks(2))  # alone: streamed, no whole-batch insert
        other.recorder.insert_new_aggregates(make_events(1))
        mine.insert_new_stream(log.chunks(2))  # finds the head moved: still streamed, now wary
        assert log.calls == ["chunk 0", "chunk 1"] * 2
        log.calls.clear()
        assert mine.insert_new_stream(log.chunks(3)).ids == list(range(10, 16))  # built first
        mine.insert_new_stream(log.chunks(1))  # that batch found the head where it left it: alone
        assert log.calls == ["chunk 0", "chunk 1", "chunk 2", "insert 6", "chunk 0"]
    finally:
        other.close()
    assert len(verified_rows(ledger.settings)) == 17


def test_two_writers_streaming_overlapping_batches_keep_one_chain(ledger: Ledger) -> None:
    """Two recorders (two API workers), two threads each, streaming the same batches in
    different orders: every originator stored once, one gapless chain, no lock left held."""
    events = make_events(1200, state_size=32)
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]

    def stream(recorder: Any, batch: list[StoredEvent]) -> list[int]:
        chunks = (batch[i : i + 40] for i in range(0, len(batch), 40))
        ids: list[int] = recorder.insert_new_stream(chunks).ids
        return ids

    orders = [batches[offset:] + batches[:offset] for offset in range(4)]
    race_to_one_chain(ledger, events, orders, stream)
    _assert_lock_free(ledger.settings)
