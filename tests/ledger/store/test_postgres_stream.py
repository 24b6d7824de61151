"""What only PostgreSQL's streamed batch does (ledger/store/postgres_stream.py).

The contract both stores keep (one transaction, the bytes of one unstreamed
insert, a retry recorded once, a failure leaving nothing behind, a writer not
alone building first) is tests/ledger/store/test_stream.py. Here: the head's
lock held from the first chunk to the commit, so a second recorder streaming
at once waits for it and chains onto that commit; and ``_batch_in_hand``
(ledger/store/postgres_head.py, docs/ledger-format.md §6): a second batch of
the same process, while the first streams, is built first, never streamed
under the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from tests.conftest import Ledger, make_events
from tests.ledger._rows import verified_rows
from tests.ledger.store._batch_log import BatchLog


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
    log = BatchLog(recorder, monkeypatch)
    mine: list[Any] = []
    holder = _in_thread(lambda: recorder.insert_new_stream(held), mine)
    assert held.holding.wait(timeout=60)
    theirs: list[Any] = []
    waiter = _in_thread(lambda: recorder.insert_new_stream(log.chunks(3)), theirs)
    assert log.inserting.wait(timeout=60)
    held.go_on.set()
    holder.join(timeout=60)
    waiter.join(timeout=60)
    assert log.calls == ["chunk 0", "chunk 1", "chunk 2", "insert 6"]  # the first: streamed
    assert mine[0].ids == list(range(2, 8)) and theirs[0].ids == list(range(8, 14))
    assert recorder.insert_new_stream(log.chunks(3)).ids == list(range(14, 20))
    assert log.calls[4:] == ["chunk 0", "chunk 1", "chunk 2"]  # alone again: streamed
    assert [row[0] for row in verified_rows(pg_ledger.settings)] == list(range(1, 20))


def test_a_head_a_sibling_batch_committed_but_has_not_yet_remembered_is_still_ours(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a batch's commit and its ``_remember_head`` another batch of the process may
    be granted the head's lock: the head it finds there is the process's own, so it does
    not count as another writer's, and the next batch alone streams again (the race the
    test above once lost in CI)."""
    recorder = pg_ledger.recorder
    recorder.insert_new_stream([make_events(1)])
    remember = recorder._remember_head
    committed, go_on = threading.Event(), threading.Event()
    holder_ident: list[int] = []

    def paused(rows: Any) -> None:
        if threading.get_ident() in holder_ident:
            committed.set()  # the holder's batch is committed; it has not remembered it
            assert go_on.wait(timeout=60)
        remember(rows)

    monkeypatch.setattr(recorder, "_remember_head", paused)
    log = BatchLog(recorder, monkeypatch)

    def hold() -> Any:
        holder_ident.append(threading.get_ident())
        return recorder.insert_new_stream([make_events(3), make_events(3)])

    mine: list[Any] = []
    holder = _in_thread(hold, mine)
    assert committed.wait(timeout=60)
    theirs = recorder.insert_new_stream(log.chunks(3))  # not alone: built, then one insert
    go_on.set()
    holder.join(timeout=60)
    assert mine[0].ids == list(range(2, 8)) and theirs.ids == list(range(8, 14))
    assert log.calls == ["chunk 0", "chunk 1", "chunk 2", "insert 6"]
    assert not recorder._contended
    assert recorder.insert_new_stream(log.chunks(3)).ids == list(range(14, 20))
    assert log.calls[4:] == ["chunk 0", "chunk 1", "chunk 2"]  # alone again: streamed
    assert [row[0] for row in verified_rows(pg_ledger.settings)] == list(range(1, 20))
