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

    @contextmanager
    def taken(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._threads:
            fd = self._open()
            held = fd is not None and self._wait(fd)
            try:
                yield
            finally:
                if held and fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _open(self) -> int | None:
        if self._fd is None and Path(self.path).is_file():
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            weakref.finalize(self, os.close, self._fd)
        return self._fd

    def _wait(self, fd: int) -> bool:
        """Whether the turn was taken within the timeout (else SQLite's own wait decides)."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(POLL_SECONDS)
