"""A batch of new aggregates streamed into the SQLite chain while it is still being built.

Issue 20: recording a batch of accesses was two halves in turn, the service's
Python (checks, ids, state bytes, hashes) and then SQLite's insert, one
waiting on the other. Here the batch arrives as chunks, built on demand, and
each chunk is chained (positions and hashes, in the building thread) and
handed to a writer thread that inserts it while the next chunk is built:
Python's ``sqlite3`` releases the GIL inside ``sqlite3_step``, so SQLite's
half runs on the other core. It is still ONE transaction (``BEGIN IMMEDIATE``,
docs/ledger-format.md §6: the write lock is taken before the head is read), so
a batch is stored whole or not at all, and the rows and hashes are exactly
those of one ``insert_new_aggregates`` of the whole batch.

A chunk is one multi-row ``INSERT``, one ``sqlite3_step``: ``executemany``
steps each row, and each step's return waits for the GIL behind the builder
(up to the interpreter's switch interval, 5 ms), so the writer would fall a
chunk behind every few rows. (Such an ``INSERT`` into a table with row
triggers first copies its rows into a temporary table: the pool keeps those
in memory, ledger/store/sqlite.py.) The hashes are computed where the chunk
is built: they hold the GIL wherever they run (``hashlib`` releases it only
for inputs over 2 KiB), and there the writer needs the GIL only to bind the
chunk; the builder hands it over as it hands the chunk (``ChunkWriter``).
Measured (issue 20): hashing a row costs about 1.9 µs and inserting it 5.5 µs
of CPU (1-2 µs of it binding the values); placing the hashes in the writer
instead changed nothing measurable. What overlaps is SQLite's step; the
commit's flush still follows the last chunk. It pays only with a core to
spare: on a machine loaded by other work, the writer waits for a core and the
handoffs cost more than the overlap saves.

The builder must not write to the database meanwhile (the lock is ours until
the commit): ``stream_locks_database`` on the recorder says so to its callers
(ledger/commands/accesses.py builds a batch naming data subjects first).

Only a writer that is alone streams: the write lock is held from the first
chunk to the commit, so with another writer about the batch is built first
and inserted as one (``insert_new_aggregates``), and the other writer never
waits on our Python. Another writer is about when the turn was taken when we
asked for it (ledger/store/sqlite_turn.py), or the head moved since our last
batch; a batch that finds its turn free and the head where it left it clears
that (``remember_batch``), as PostgreSQL's ``_contended`` does.

The chunks are inserted unchecked, as ``insert_new_aggregates`` first tries a
batch of creations: the (originator_id, originator_version) key is the check.
A batch holding a stored originator (a retry) fails on that key, is rolled
back whole, and the batch (what was sent and the chunks still to come) goes
again through ``insert_new_aggregates``, checked: it is recorded once. A
failure while a chunk is built (a report that fails its check) waits for the
writer to finish what it was given, then rolls the transaction back: the
writer thread never outlives the transaction, nor holds the lock alone.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import lru_cache
from itertools import chain
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from ledger.chain import Genesis, RowTuple, chain_rows, hash_function
from ledger.store.base import NewAggregates, chain_input
from ledger.store.sqlite_turn import ImmediateTransaction, WriterTurn

# How long the builder gives the GIL up after handing a chunk to the writer (see below).
HANDOFF_SECONDS = 0.0001
# Fewer rows are inserted by the builder itself (after what the writer was given): handing
# them over costs more than their insert, and nothing follows a batch's short last chunk.
INLINE_ROWS = 32
COLUMNS = ("rowid", "originator_id", "originator_version", "topic", "state", "prev_hash", "hash")


class ChainedRecorder(Protocol):
    """What the stream uses of ``ChainedSQLiteApplicationRecorder`` (ledger/store/sqlite.py),
    whose write path this module is: named here so the two modules do not import each other."""

    datastore: SQLiteDatastore
    events_table_name: str
    _turn: WriterTurn
    _head: tuple[int, bytes] | None
    _contended: bool
    _chunk_writer: ChunkWriter

    @property
    def genesis(self) -> Genesis: ...

    def insert_new_aggregates(
        self, stored_events: Sequence[StoredEvent], *, checked: bool = False
    ) -> NewAggregates: ...

    def _read_head(self, c: SQLiteCursor, genesis: Genesis) -> tuple[int, bytes]: ...


class ChunkWriter:
    """The thread that inserts a recorder's streamed chunks, in the order given.

    One per recorder and process (a forked child gets its own: a pool's thread does
    not survive the fork); it ends with the recorder (the pool's own weak reference).
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def insert(self, cursor: sqlite3.Cursor, statement: str, params: list[Any]) -> Future[None]:
        """Insert these rows in the writer thread, after the chunks given before."""
        if self._pool is None or self._pid != os.getpid():
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="govledger-sqlite-writer")
            self._pid = os.getpid()
        inserted = self._pool.submit(_insert, cursor, statement, params)
        # The GIL handed over: the writer, woken by the chunk, takes it, ends the chunk
        # before if it was waiting to, binds this one and gives it back in sqlite3_step.
        # Kept, the builder would give it up only when the interpreter's switch interval
        # (5 ms) forces it off, twice a chunk: the writer fell chunks behind. Waiting on
        # an event the writer sets instead, the builder was woken on the writer's core
        # and ran again only once the chunk was inserted: nothing overlapped.
        time.sleep(HANDOFF_SECONDS)
        return inserted


def _insert(cursor: sqlite3.Cursor, statement: str, params: list[Any]) -> None:
    cursor.execute(statement, params)


class _NotCreationsError(Exception):
    """A chunk holds an event that does not create its aggregate: check the whole batch."""


def insert_new_stream(
    recorder: ChainedRecorder, chunks: Iterable[Sequence[StoredEvent]]
) -> NewAggregates:
    """``insert_new_aggregates`` of the chunks' events, in order, each chunk inserted while
    the next is built."""
    pending = iter(chunks)
    sent: list[StoredEvent] = []
    checked = False
    if not recorder._contended:
        with recorder._turn.taken_if_free() as alone:
            written = _stream(recorder, pending, sent) if alone else None
        if written is not None:
            remember_batch(recorder, written, False)
            return NewAggregates([row[0] for row in written], set())
        recorder._contended = not alone
        checked = alone  # streamed, and failed on the key (or held a later version)
    # Another writer is about, or the batch must be checked: built whole, then inserted.
    sent.extend(event for chunk in pending for event in chunk)
    whole: NewAggregates = recorder.insert_new_aggregates(sent, checked=checked)
    return whole


def remember_batch(recorder: ChainedRecorder, rows: list[RowTuple], waited: bool) -> None:
    """After a batch committed: whether another writer is about (it held the turn when this
    batch asked for it, or it moved the head since our last batch), and our new head."""
    if not rows:
        return
    found = (rows[0][0] - 1, rows[0][5])  # the head the batch was chained onto
    if waited or (recorder._head is not None and found != recorder._head):
        recorder._contended = True
    elif found == recorder._head:
        recorder._contended = False  # alone since our last batch
    recorder._head = (rows[-1][0], rows[-1][6])


def _stream(
    recorder: ChainedRecorder, chunks: Iterator[Sequence[StoredEvent]], sent: list[StoredEvent]
) -> list[RowTuple] | None:
    """The rows written; None when the batch must go again checked (nothing written).
    Every chunk given to the writer is inserted or failed before the transaction ends,
    whatever the builder raised."""
    genesis = recorder.genesis
    digest = hash_function(genesis.hash_algorithm)
    table = recorder.events_table_name
    try:
        with (
            recorder.datastore.get_connection(commit=True) as conn,
            ImmediateTransaction(conn, commit=True) as c,
            c as cursor,
        ):
            position, prev = recorder._read_head(c, genesis)
            # SQLite binds at most so many parameters a statement (32,766; 999 before 3.32).
            most = cursor.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(COLUMNS)
            inserts: deque[Future[Any]] = deque()
            written: list[RowTuple] = []
            try:
                for chunk in chunks:
                    if not chunk:
                        continue
                    sent.extend(chunk)
                    if any(event.originator_version != 1 for event in chunk):
                        raise _NotCreationsError
                    while inserts and inserts[0].done():  # a chunk that failed: stop here
                        inserts.popleft().result()
                    rows = chain_rows(digest, position, prev, chain_input(chunk))
                    for start in range(0, len(rows), most):
                        part = rows[start : start + most]
                        statement = insert_rows_statement(table, len(part))
                        params = list(chain.from_iterable(part))
                        if len(part) < INLINE_ROWS:
                            wait(inserts)
                            _insert(cursor, statement, params)
                        else:
                            inserts.append(recorder._chunk_writer.insert(cursor, statement, params))
                    written += rows
                    position, prev = rows[-1][0], rows[-1][6]
            finally:
                wait(inserts)  # the writer is done with the connection before it ends
            for insert in inserts:
                insert.result()  # a stored originator: its key refuses the chunk
    except (IntegrityError, _NotCreationsError):
        return None  # rolled back whole: nothing written
    return written


@lru_cache(maxsize=64)
def insert_rows_statement(table: str, count: int) -> str:
    """One ``INSERT`` of ``count`` rows: one ``sqlite3_step``, the GIL given up once."""
    row = "(" + ",".join("?" * len(COLUMNS)) + ")"
    return f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES " + ",".join((row,) * count)
