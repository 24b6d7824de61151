"""A batch streamed into the SQLite chain while it is built (ledger/store/sqlite_stream.py).

The stream must store exactly what one ``insert_new_aggregates`` of the whole
batch stores, in one transaction: whole or not at all, a retry recorded once,
two writers one chain, and the writer thread never left holding the lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

import ledger.store.sqlite_stream as sqlite_stream
from ledger.config import Settings
from ledger.store.sqlite import _StatementCachingPool
from ledger.store.sqlite_turn import WriterTurn
from tests.conftest import Ledger, make_events
from tests.ledger._rows import verified_rows

# Bounds a wait for the writer thread; reached only when the test fails.
WRITER_TIMEOUT = 30


@pytest.fixture
def sqlite_ledger(sqlite_settings: Settings) -> Iterator[Ledger]:
    opened = Ledger(sqlite_settings)
    yield opened
    opened.close()


def _path(settings: Settings) -> str:
    return settings.database_url.removeprefix("sqlite:///")


def _copy(settings: Settings, tmp_path: Path, name: str) -> Settings:
    """The same ledger (same genesis, same rows) in another file."""
    target = tmp_path / name
    with sqlite3.connect(_path(settings)) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return Settings(database_url=f"sqlite:///{target}", state_dir=str(tmp_path / f"{name}.state"))


def _assert_lock_free(settings: Settings) -> None:
    """No transaction holds SQLite's write lock, nor a writer the turn."""
    with sqlite3.connect(_path(settings), timeout=0, isolation_level=None) as conn:
        conn.execute("BEGIN IMMEDIATE")  # "database is locked" if anyone holds it
        conn.execute("ROLLBACK")
    with WriterTurn(_path(settings), timeout=1).taken_if_free() as free:
        assert free


def test_a_streamed_batch_stores_the_bytes_of_one_unstreamed_insert(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    sqlite_ledger.recorder.insert_events(make_events(3))
    twin = Ledger(_copy(sqlite_ledger.settings, tmp_path, "twin.db"))
    try:
        batch = make_events(600, state_size=300)
        chunks = [batch[:250], [], batch[250:251], batch[251:500], batch[500:]]
        streamed = sqlite_ledger.recorder.insert_new_stream(iter(chunks))
        whole = twin.recorder.insert_new_aggregates(batch)
    finally:
        twin.close()
    assert streamed.ids == whole.ids == list(range(4, 604))
    assert streamed.existing == whole.existing == set()
    assert verified_rows(sqlite_ledger.settings) == verified_rows(twin.settings)


def test_a_chunk_over_the_parameter_limit_is_inserted_in_parts(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite binds a bounded number of parameters a statement: a chunk over it goes in
    several statements of the same transaction, the same rows as one insert."""
    create = _StatementCachingPool._create_connection

    def limited(pool: _StatementCachingPool) -> Any:
        conn = create(pool)
        conn._sqlite_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 70)  # 10 rows
        return conn

    statements: list[int] = []
    insert = sqlite_stream._insert

    def counted(cursor: sqlite3.Cursor, statement: str, params: list[Any]) -> None:
        statements.append(len(params) // 7)
        insert(cursor, statement, params)

    monkeypatch.setattr(_StatementCachingPool, "_create_connection", limited)
    monkeypatch.setattr(sqlite_stream, "_insert", counted)
    streamed = Ledger(sqlite_settings)
    twin = Ledger(_copy(sqlite_settings, tmp_path, "twin.db"))
    try:
        batch = make_events(25)
        assert streamed.recorder.insert_new_stream([batch]).ids == list(range(1, 26))
        twin.recorder.insert_new_aggregates(batch)
    finally:
        streamed.close()
        twin.close()
    assert statements == [10, 10, 5]
    assert verified_rows(sqlite_settings) == verified_rows(twin.settings)


def test_chunks_are_inserted_by_the_writer_while_the_next_is_built(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunk 0's insert completes in another thread before chunk 1 is handed over."""
    assert sqlite_stream.INLINE_ROWS <= 40
    inserted = threading.Event()
    threads: list[int] = []
    insert = sqlite_stream._insert

    def spied(*args: Any) -> None:
        insert(*args)
        threads.append(threading.get_ident())
        inserted.set()

    def chunks() -> Iterator[list[StoredEvent]]:
        yield make_events(40)
        assert inserted.wait(WRITER_TIMEOUT), "chunk 0 was not inserted while chunk 1 was built"
        yield make_events(40)

    monkeypatch.setattr(sqlite_stream, "_insert", spied)
    written = sqlite_ledger.recorder.insert_new_stream(chunks())
    assert written.ids == list(range(1, 81))
    assert len(threads) == 2 and threading.get_ident() not in threads
    threads.clear()  # a short chunk is inserted by the builder, after the writer's
    assert sqlite_ledger.recorder.insert_new_stream([make_events(40), make_events(3)]).ids == list(
        range(81, 124)
    )
    assert len(threads) == 2 and threads[1] == threading.get_ident() != threads[0]


def test_a_failure_while_a_chunk_is_built_writes_nothing_and_frees_the_lock(
    sqlite_ledger: Ledger,
) -> None:
    """The builder refuses a malformed access mid-batch: the chunks given to the writer are
    rolled back with the rest, and the next batch chains onto the old head."""
    recorder = sqlite_ledger.recorder
    recorder.insert_new_aggregates(make_events(1))

    def chunks() -> Iterator[list[StoredEvent]]:
        yield make_events(40)  # to the writer thread
        yield make_events(40)
        raise ValueError("a malformed access")

    with pytest.raises(ValueError, match="malformed"):
        recorder.insert_new_stream(chunks())
    _assert_lock_free(sqlite_ledger.settings)
    assert recorder.max_notification_id() == 1
    assert recorder.insert_new_stream([make_events(2)]).ids == [2, 3]
    assert len(verified_rows(sqlite_ledger.settings)) == 3


def test_a_retried_batch_is_rolled_back_whole_and_recorded_once(sqlite_ledger: Ledger) -> None:
    """A stored originator in any chunk fails on the key: nothing of the streamed attempt
    stays, and the whole batch goes again checked."""
    recorder = sqlite_ledger.recorder
    known = make_events(2)
    recorder.insert_events(known)
    new = make_events(70)  # chunks of 40 go to the writer thread, shorter ones inline
    assert recorder.insert_new_stream([new[:3], new[3:43], new[43:]]).ids == list(range(3, 73))
    later = make_events(44)
    again = recorder.insert_new_stream(iter([later[:40], [new[5], *later[40:]], [known[1]]]))
    assert again.existing == {new[5].originator_id, known[1].originator_id}
    assert again.ids == list(range(73, 117))
    repeat = recorder.insert_new_stream([new[:40], new[40:]])
    assert repeat.ids == [] and repeat.existing == {e.originator_id for e in new}
    _assert_lock_free(sqlite_ledger.settings)
    rows = verified_rows(sqlite_ledger.settings)
    assert [row[1] for row in rows] == [e.originator_id.hex for e in [*known, *new, *later]]


def test_a_streamed_event_that_does_not_create_its_aggregate_is_checked(
    sqlite_ledger: Ledger,
) -> None:
    recorder = sqlite_ledger.recorder
    (created,) = make_events(1)
    recorder.insert_events([created])
    later = StoredEvent(created.originator_id, 2, created.topic, created.state)
    fresh = make_events(2)
    written = recorder.insert_new_stream([fresh[:1], [later, fresh[1]]])
    assert written.existing == {created.originator_id}
    assert written.ids == [2, 3]


def test_a_writer_that_is_not_alone_builds_the_batch_before_taking_the_lock(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streaming holds the write lock while the batch is built: only a lone writer does it.
    Once another writer moved the head, the batch is built first, then inserted as one,
    until a batch finds the head where it left it."""
    mine, other = sqlite_ledger.recorder, Ledger(sqlite_ledger.settings)
    calls: list[str] = []
    insert_new = mine.insert_new_aggregates

    def spied(events: Sequence[StoredEvent], **kwargs: Any) -> Any:
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
        assert mine.insert_new_stream(chunks(3)).ids == list(range(10, 16))  # built first
        mine.insert_new_stream(chunks(1))  # that batch found the head where it left it: alone
        assert calls == ["chunk 0", "chunk 1", "chunk 2", "insert 6", "chunk 0"]
    finally:
        other.close()
    assert len(verified_rows(sqlite_ledger.settings)) == 17


def test_a_batch_that_finds_the_turn_taken_builds_first(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holds the turn when the batch comes: the batch is built without the
    turn (anyone may take it meanwhile), then inserted as one, and the recorder stays wary.
    A lone writer builds holding it."""
    recorder, path = sqlite_ledger.recorder, _path(sqlite_ledger.settings)
    calls: list[str] = []
    insert_new = recorder.insert_new_aggregates

    def spied(events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        calls.append(f"insert {len(events)}")
        return insert_new(events, **kwargs)

    def chunks(release: ExitStack) -> Iterator[list[StoredEvent]]:
        release.close()  # the other writer is done while ours builds
        with WriterTurn(path, timeout=1).taken_if_free() as free:
            calls.append("built with the turn free" if free else "built holding the turn")
        yield make_events(2)

    monkeypatch.setattr(recorder, "insert_new_aggregates", spied)
    with ExitStack() as other:
        other.enter_context(WriterTurn(path, timeout=1).taken())
        assert recorder.insert_new_stream(chunks(other)).ids == [1, 2]
    assert calls == ["built with the turn free", "insert 2"]
    assert recorder._contended
    calls.clear()
    recorder.insert_new_stream(chunks(ExitStack()))  # finds the head where it left it
    recorder.insert_new_stream(chunks(ExitStack()))  # alone: streamed
    assert calls == ["built with the turn free", "insert 2", "built holding the turn"]


def test_two_writers_streaming_overlapping_batches_keep_one_chain(
    sqlite_ledger: Ledger,
) -> None:
    """Two recorders (two open files, as two API workers), two threads each, sending the same
    batches in different orders: every originator stored once, one gapless chain."""
    events = make_events(1200, state_size=32)
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]
    other = Ledger(sqlite_ledger.settings)
    written: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def send(recorder: Any, offset: int) -> None:
        mine = batches[offset:] + batches[:offset]
        try:
            start.wait()
            for batch in mine:
                chunks = (batch[i : i + 40] for i in range(0, len(batch), 40))
                written.append(recorder.insert_new_stream(chunks).ids)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [
        threading.Thread(target=send, args=(recorder, offset))
        for offset, recorder in enumerate([sqlite_ledger.recorder, other.recorder] * 2)
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
    rows = verified_rows(sqlite_ledger.settings)
    assert sorted(UUID(row[1]) for row in rows) == sorted(e.originator_id for e in events)
    _assert_lock_free(sqlite_ledger.settings)
