"""The garbage collector of a serving worker, set for batches of thousands (issue 20).

A batch of 2,000 accesses keeps tens of thousands of small objects alive until
it is recorded. With CPython's default thresholds (700, 10, 10) they are
scanned by dozens of young collections per batch, survive them all, and are
promoted into the oldest generation, whose full collections then also rescan
everything the worker built at startup (FastAPI's routes, pydantic schemas, the
imported libraries). Measured in a worker serving ``POST /accesses/batch``, the
collector took more time per access than decoding the JSON (bench/ingest.py's
"HTTP server, FastAPI, transfer" remainder).

So, once the worker has started: what exists then lives as long as the process
and is frozen out of every collection (``gc.freeze``), and the youngest
generation is collected every ``YOUNG_THRESHOLD`` allocations instead of 700.
Nothing is switched off: cycles are still found, only less often, which costs
memory in proportion to one batch, not to the process's life. When the service
stops, the collector is given back as it was (a test process starts and stops
many services, and must not keep what each froze).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# About the tracked objects one batch of the default size holds at its peak.
YOUNG_THRESHOLD = 50_000


@contextmanager
def serving_collector() -> Iterator[None]:
    """While serving: what startup built frozen, young objects collected less often."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
