"""What only SQLite's streamed batch does (ledger/store/sqlite_stream.py).

The contract both stores keep (one transaction, the bytes of one unstreamed
insert, a retry recorded once, a failure leaving nothing behind, a writer not
alone building first) is tests/ledger/store/test_stream.py. Here: a chunk split
under SQLite's parameter limit, the writer thread inserting one chunk while the
builder builds the next (the GIL handed over), and the writer turn
(ledger/store/sqlite_turn.py) telling a batch it is not alone.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

import ledger.store.sqlite_stream as sqlite_stream
from ledger.config import Settings
from ledger.store.sqlite import _StatementCachingPool
from ledger.store.sqlite_turn import WriterTurn
from tests.conftest import Ledger, make_events
from tests.ledger._rows import verified_rows
from tests.ledger.store._batch_log import BatchLog

# Bounds a wait for the writer thread; reached only when the test fails.
WRITER_TIMEOUT = 30


def _path(settings: Settings) -> str:
    return settings.database_url.removeprefix("sqlite:///")


def _copy(settings: Settings, tmp_path: Path, name: str) -> Settings:
    """The same ledger (same genesis, same rows) in another file."""
    target = tmp_path / name
    with sqlite3.connect(_path(settings)) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return Settings(database_url=f"sqlite:///{target}", state_dir=str(tmp_path / f"{name}.state"))


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


def test_a_batch_that_finds_the_turn_taken_builds_first(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holds the turn when the batch comes: the batch is built without the
    turn (anyone may take it meanwhile), then inserted as one, and the recorder stays wary.
    A lone writer builds holding it."""
    recorder, path = sqlite_ledger.recorder, _path(sqlite_ledger.settings)
    log = BatchLog(recorder, monkeypatch)

    def chunks(release: ExitStack) -> Iterator[list[StoredEvent]]:
        release.close()  # the other writer is done while ours builds
        with WriterTurn(path, timeout=1).taken_if_free() as free:
            log.calls.append("built with the turn free" if free else "built holding the turn")
        yield make_events(2)

    with ExitStack() as other:
        other.enter_context(WriterTurn(path, timeout=1).taken())
        assert recorder.insert_new_stream(chunks(other)).ids == [1, 2]
    assert log.calls == ["built with the turn free", "insert 2"]
    assert recorder._contended
    log.calls.clear()
    recorder.insert_new_stream(chunks(ExitStack()))  # finds the head where it left it
    recorder.insert_new_stream(chunks(ExitStack()))  # alone: streamed
    assert log.calls == ["built with the turn free", "insert 2", "built holding the turn"]
