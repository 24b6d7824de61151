"""What a PostgreSQL writer knows of the chain's head, and whether it writes alone
(docs/ledger-format.md §6).

A writer remembers where its own last batch ended, so while it is alone it never
reads the head: it bets on it (``_optimistic``), or, streaming a batch
(``ledger/store/postgres_stream.py``), holds the head's lock while the batch is
built. Neither suits a writer that is not alone, and "not alone" has two sources:

- another process wrote since our last batch (``_contended``: the head was not
  where we left it; cleared when a batch finds it there again);
- another batch of this process is in the store's hands right now, being built or
  inserted (``_batch_in_hand``). Two threads of one process share the remembered head, so
  each finds the head where the process left it and would stream, holding the
  head's lock while it builds, with the other thread's Python (the GIL) slowing
  that build and the other batch waiting on the lock with nothing to do (issue 20).

Kept apart from the recorder (``ledger/store/postgres.py``) so the judgment
"alone or not" is made in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ledger.chain import RowTuple

# Batches of at least this many events take the head's lock before chaining (see _optimistic).
LOCK_FIRST_BATCH_SIZE = 100


class WriterHead:
    """Mixed into the chained PostgreSQL recorder: its remembered head and its company."""

    _head: tuple[int, bytes] | None
    _contended: bool

    def _init_writer_head(self) -> None:
        self._head = None
        self._head_lock = threading.Lock()
        self._contended = False
        self._in_hand = 0  # batches of this process inside insert_new_stream now
        # Heads this process is committing: written, perhaps visible, not yet remembered.
        self._committing: set[tuple[int, bytes]] = set()

    def _optimistic(self, size: int) -> bool:
        """Whether to bet on the remembered head rather than wait for the head's lock.

        A large batch always waits: the lock's round trip is small beside its
        insert, while a lost bet would have sent and checked the whole batch for
        nothing (with two writers, about every other batch lost it).
        """
        return not self._contended and size < LOCK_FIRST_BATCH_SIZE

    @contextmanager
    def _batch_in_hand(self) -> Iterator[bool]:
        """Count a batch as in the store's hands while the block runs; yields whether it
        may stream: no other writer about, in this process or another."""
        with self._head_lock:
            alone = self._in_hand == 0 and not self._contended
            self._in_hand += 1
        try:
            yield alone
        finally:
            with self._head_lock:
                self._in_hand -= 1

    def _will_commit(self, rows: list[RowTuple]) -> None:
        """Note the head ``rows`` will leave, before their commit makes it visible.

        Another batch of this process may be granted the head's lock the moment that
        commit lands, before ``_remember_head`` runs: it must know the head it finds as
        this process's own, not another writer's (``_wrote_last``).
        """
        if rows:
            with self._head_lock:
                self._committing.add((rows[-1][0], rows[-1][6]))

    def _wrote_last(self, head: tuple[int, bytes]) -> bool:
        """Whether ``head``, found under the head's lock, is one this process wrote."""
        with self._head_lock:
            return head == self._head or head in self._committing

    def _remember_head(self, rows: list[RowTuple]) -> None:
        if not rows:
            return
        with self._head_lock:
            if self._head is None or rows[-1][0] > self._head[0]:
                self._head = (rows[-1][0], rows[-1][6])
            # Committed, or rolled back and overtaken: either way no longer in flight.
            self._committing = {h for h in self._committing if h[0] > rows[-1][0]}

    def _forget_head(self) -> None:
        with self._head_lock:
            self._head = None
            self._committing.clear()
