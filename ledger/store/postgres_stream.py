"""A batch of new aggregates streamed into the PostgreSQL chain while it is still being built.

Issue 20: recording a batch of accesses was two halves in turn, the service's
Python (checks, ids, state bytes, hashes) and then the database's (the
chained insert, ledger-format §6.1), each about as long as the other, with
one waiting on the other. Here the batch arrives as chunks, built on demand,
and each chunk is chained and sent on in pipeline mode as soon as it is
built: the database inserts chunk k while the next one is being built. It is
still ONE transaction under the head's lock (§6: one writer at a time, insert
order is commit order), so a batch is stored whole or not at all, and the
rows and hashes are exactly those of one ``insert_new_aggregates`` of the
whole batch.

Only a writer that is alone streams: the head's lock is held from the first
chunk to the commit, so with another writer about (another process moved the
head since our last batch, or another batch of this process is in the store's
hands, streamed or built: ``_batch_in_hand``, ledger/store/postgres_head.py) the batch is built
first and inserted as one, and the other writer never waits on our Python.

The chunks are inserted unchecked, as ``insert_new_aggregates`` first tries
a batch of creations: the (originator_id, originator_version) key is the
check. A batch holding a stored originator (a retry) fails on that key, is
rolled back whole, and the batch (what was sent and the chunks still to
come) goes again through ``insert_new_aggregates``, checked: it is recorded
once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from itertools import chain
from typing import Any, Protocol

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.errors import UniqueViolation
from psycopg.rows import DictRow
from psycopg.sql import Composed

from ledger.chain import Genesis, RowTuple, chain_rows, hash_function
from ledger.errors import ChainWriteError, ForeignStoreError
from ledger.store.base import NewAggregates, chain_input


class ChainedRecorder(Protocol):
    """What the stream uses of ``ChainedPostgresApplicationRecorder`` (ledger/store/postgres.py),
    whose write path this module is: named here so the two modules do not import each other."""

    datastore: PostgresDatastore
    _head: tuple[int, bytes] | None
    _contended: bool
    _lock_head: Composed
    _notify: Composed
    _append_statement: Composed

    @property
    def genesis(self) -> Genesis: ...

    def insert_new_aggregates(
        self, stored_events: Sequence[StoredEvent], *, checked: bool = False
    ) -> NewAggregates: ...

    def _will_commit(self, rows: list[RowTuple]) -> None: ...

    def _wrote_last(self, head: tuple[int, bytes]) -> bool: ...

    def _remember_head(self, rows: list[RowTuple]) -> None: ...

    def _forget_head(self) -> None: ...

    def _batch_in_hand(self) -> AbstractContextManager[bool]: ...


class _NotCreationsError(Exception):
    """A chunk holds an event that does not create its aggregate: check the whole batch."""


def insert_new_stream(
    recorder: ChainedRecorder, chunks: Iterable[Sequence[StoredEvent]]
) -> NewAggregates:
    """``insert_new_aggregates`` of the chunks' events, in order, each chunk sent on when built."""
    with recorder._batch_in_hand() as alone:
        if alone:
            return _streamed(recorder, chunks)
        # Another writer is about: the head's lock is held from the first chunk to the
        # commit, so building the batch under it would make the other writer wait on our
        # Python. The batch is built first, then inserted as one (insert_new_aggregates).
        whole: NewAggregates = recorder.insert_new_aggregates([e for c in chunks for e in c])
        return whole


def _streamed(recorder: ChainedRecorder, chunks: Iterable[Sequence[StoredEvent]]) -> NewAggregates:
    """The stream, or, when it wrote nothing (a stored originator, a lost connection), the
    whole batch checked."""
    pending = iter(chunks)
    sent: list[StoredEvent] = []
    try:
        ids = _stream(recorder, pending, sent)
    except (InterfaceError, OperationalError):
        ids = None  # a lost connection: what did commit is found by the checked insert
    if ids is not None:
        return NewAggregates(ids, set())
    # Not written (or not known to be): the rest is built, then the whole batch checked.
    sent.extend(event for chunk in pending for event in chunk)
    checked: NewAggregates = recorder.insert_new_aggregates(sent, checked=True)
    return checked


def _stream(
    recorder: ChainedRecorder,
    chunks: Iterator[Sequence[StoredEvent]],
    sent: list[StoredEvent],
) -> list[int] | None:
    """The positions written; None when the batch must go again checked (nothing written)."""
    digest = hash_function(recorder.genesis.hash_algorithm)
    with recorder.datastore.get_connection() as conn:
        try:
            with conn.pipeline(), conn.transaction(), conn.cursor() as lock:
                lock.execute(recorder._lock_head)
                first = next(chunks, None)  # built while the lock's answer travels
                found = lock.fetchone()
                if found is None:
                    raise ForeignStoreError("the ledger has no head record (run `govledger init`)")
                head = (int(found["position"]), bytes(found["hash"]))
                if recorder._head is not None and not recorder._wrote_last(head):
                    recorder._contended = True  # another writer wrote since our last batch
                position, prev = head
                answers: list[tuple[Cursor[DictRow], int]] = []
                written: list[int] = []
                last: list[RowTuple] = []
                for chunk in chain(() if first is None else (first,), chunks):
                    if not chunk:
                        continue
                    sent.extend(chunk)
                    if any(event.originator_version != 1 for event in chunk):
                        raise _NotCreationsError
                    if not answers:
                        lock.execute(recorder._notify)
                    rows = chain_rows(digest, position, prev, chain_input(chunk))
                    curs = conn.cursor()
                    params = append_params((position, prev), rows, chunk, False)
                    curs.execute(recorder._append_statement, params)  # sent: not waited for
                    answers.append((curs, len(rows)))
                    written += [row[0] for row in rows]
                    position, prev, last = rows[-1][0], rows[-1][6], rows
                recorder._will_commit(last)
                for curs, size in answers:
                    answer = curs.fetchone()
                    curs.close()
                    # Under the head's lock the head cannot move: anything else is a fault.
                    if answer is None or answer["found"] or answer["inserted"] != size:
                        raise ChainWriteError("a chunk of the streamed batch was not inserted")
        except (UniqueViolation, _NotCreationsError):
            return None  # rolled back whole: the head did not move
        except BaseException:
            recorder._forget_head()
            raise
    recorder._remember_head(last)
    return written


def append_params(
    head: tuple[int, bytes],
    rows: list[RowTuple],
    stored_events: Sequence[StoredEvent],
    only_new: bool,
) -> dict[str, Any]:
    """The append function's arguments (ledger/store/postgres_ddl.py) for rows chained onto
    ``head``. No positions: the function assigns head + 1 ... itself (§6.1)."""
    return {
        "position": head[0],
        "hash": head[1],
        "o": [e.originator_id for e in stored_events],
        "v": [r[2] for r in rows],
        "t": [r[3] for r in rows],
        "s": [r[4] for r in rows],
        "p": [r[5] for r in rows],
        "h": [r[6] for r in rows],
        "only_new": only_new,
    }
