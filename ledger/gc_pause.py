"""The cyclic garbage collector held off while a batch of accesses is built and stored.

Issue 20: a batch holds thousands of fresh objects (ids, reports, entries,
stored events, chain rows) while it is built. The collector's young-generation
passes, every 700 allocations, found them alive and promoted them, and every few
batches that set off a full collection of the whole process (the API's own
objects too): measured in process, about a quarter of the batch path's Python
time outside the store, paid in pauses of tens of milliseconds. Nothing a batch
builds is in a reference cycle (values, tuples, lists, untracked msgspec
structs); it is all freed by reference counting when the batch is done. So the
collector waits for the batch to end, as it would for any short burst of
allocation, and runs as usual afterwards: a cycle made meanwhile elsewhere in
the process is collected then, only later.

A serving worker already collects its young generation only every 50,000
allocations and keeps its startup objects out of collections (api/collector.py,
for the whole process); the pause is for the batch alone, wherever it runs (a
worker, the Python API, a CLI import), so that no collection falls inside one.

Batches of concurrent requests (threads of one process) share the pause: the
collector resumes when the last of them ends, and only if it was running before
the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.resume = False


_PAUSE = _Pause()


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (reentrant, across threads)."""
    pause = _PAUSE
    with pause.lock:
        if pause.holders == 0:
            pause.resume = gc.isenabled()
            gc.disable()
        pause.holders += 1
    try:
        yield
    finally:
        with pause.lock:
            pause.holders -= 1
            if pause.holders == 0 and pause.resume:
                gc.enable()
