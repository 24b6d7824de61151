"""The rate limit on recording refusals (ledger/domain/refusal.py, issue #16).

Every failed sign-in and refused command is a ledger event, so an outsider guessing keys
could grow the ledger at will. A token bucket per client address (``PER_ADDRESS`` records
at once, refilled at ``PER_ADDRESS_PER_MINUTE``) and one for the whole service
(``TOTAL_PER_MINUTE``) bound that; a refusal over the limit is counted, and the count is
carried by the next record from that address, so none goes unaccounted.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

PER_ADDRESS: Final = 20
PER_ADDRESS_PER_MINUTE: Final = 20.0
TOTAL: Final = 300
TOTAL_PER_MINUTE: Final = 300.0
ADDRESSES_KEPT: Final = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float
    suppressed: int = 0


class RefusalLimiter:
    """Decides whether a refusal from an address is recorded now (thread-safe)."""

    def __init__(
        self,
        per_address: int = PER_ADDRESS,
        per_address_per_minute: float = PER_ADDRESS_PER_MINUTE,
        total: int = TOTAL,
        total_per_minute: float = TOTAL_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_address = (per_address, per_address_per_minute / 60)
        self._total = (total, total_per_minute / 60)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._all = _Bucket(float(total), clock())

    def admit(self, address: str) -> int | None:
        """None: over the limit (counted); else how many were suppressed before this one."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(address)
            if bucket is None:
                bucket = _Bucket(float(self._per_address[0]), now)
                self._buckets[address] = bucket
                while len(self._buckets) > ADDRESSES_KEPT:
                    self._buckets.popitem(last=False)
            self._buckets.move_to_end(address)
            _refill(bucket, now, *self._per_address)
            _refill(self._all, now, *self._total)
            if bucket.tokens < 1 or self._all.tokens < 1:
                bucket.suppressed += 1
                return None
            bucket.tokens -= 1
            self._all.tokens -= 1
            suppressed, bucket.suppressed = bucket.suppressed, 0
            return suppressed


def _refill(bucket: _Bucket, now: float, size: int, per_second: float) -> None:
    bucket.tokens = min(float(size), bucket.tokens + (now - bucket.at) * per_second)
    bucket.at = now
