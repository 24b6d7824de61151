"""Whose turn it is to write an SQLite ledger, across the processes that share the file.

Every chained insert takes SQLite's write lock first (``BEGIN IMMEDIATE``,
docs/ledger-format.md §6). A writer that finds it taken is put to sleep by
SQLite's busy handler for 1, 2, 5, 10, 15, 20, 25 ... ms in turn, however soon
the lock is given back: with two API workers ingesting batches (each holds the
lock for the ~15 ms of its insert while the other decodes and evaluates), the
waiting worker overslept by several milliseconds a batch, a good part of the
second worker's gain (issue 20).

So writers queue first on an advisory ``flock`` of the database file, polled
every half millisecond; the ``BEGIN IMMEDIATE`` that follows then nearly always
finds the lock free. The turn only orders writers: SQLite's lock stays what
makes the head safe, a writer that does not take turns is still excluded by it,
and one that waits longer than the store's lock timeout goes on to SQLite's
own wait and its "database is locked" error, as before.

The turn also tells a batch whether it is alone (``waited``; ``taken_if_free``):
a batch streamed while it is built (ledger/store/sqlite_stream.py) holds the
turn from its first chunk to its commit, which only a writer alone may do.

``ImmediateTransaction`` is the lock itself, taken once the turn is: the
library's transaction, beginning with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eventsourcing.sqlite import SQLiteCursor, SQLiteTransaction

POLL_SECONDS = 0.0005


class WriterTurn:
    """An exclusive turn to write one database file, for threads and processes alike.

    ``flock`` excludes other open files of the database (other processes, other
    recorders); the thread lock, the threads sharing this recorder's open file.
    """

    def __init__(self, db_name: str, timeout: float) -> None:
        self.path = db_name
        self.timeout = timeout
        self._threads = threading.Lock()
        self._fd: int | None = None
        # An in-memory database or a URI names no file to lock: no turns needed or possible.
        self.enabled = not (db_name.startswith("file:") or ":memory:" in db_name)
        # Whether the last turn taken was held by another writer when asked for (read by
        # the holder of the turn, set by whoever took it: the same thread).
        self.waited = False

    @contextmanager
    def taken(self) -> Iterator[None]:
        if not self.enabled:
            self.waited = False
            yield
            return
        waited = not self._threads.acquire(blocking=False)
        if waited:
            self._threads.acquire()
        try:
            fd = self._open()
            free = fd is not None and _try_lock(fd)
            held = free or (fd is not None and self._wait(fd))
            self.waited = waited or (fd is not None and not free)
            try:
                yield
            finally:
                if held and fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    @contextmanager
    def taken_if_free(self) -> Iterator[bool]:
        """The turn if no other writer holds it now (True); else nothing is held (False)."""
        if not self.enabled:
            self.waited = False
            yield True
            return
        if not self._threads.acquire(blocking=False):
            yield False
            return
        try:
            fd = self._open()
            if fd is not None and not _try_lock(fd):
                yield False
                return
            self.waited = False
            try:
                yield True
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _open(self) -> int | None:
        if self._fd is None and Path(self.path).is_file():
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            weakref.finalize(self, os.close, self._fd)
        return self._fd

    def _wait(self, fd: int) -> bool:
        """Whether the turn was taken within the timeout (else SQLite's own wait decides)."""
        deadline = time.monotonic() + self.timeout
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)
        return True


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class ImmediateTransaction(SQLiteTransaction):
    """The library's transaction, but taking the write lock up front."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor
