"""An exchange-platform client that keeps books: which batches were acknowledged.

Shared by the crash-safety and database-fault tests. A batch is acknowledged
only by a 200 with a body that accounts for every access in it; anything else
(a dropped connection, a 503) leaves it unacknowledged, to be re-sent.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

import httpx

from ledger.config import Settings
from ledger.domain.ids import data_access_id
from ledger.store.connect import open_reader
from tests.api.conftest import access

BATCH_PATH = "/api/v1/accesses/batch"


@dataclass(frozen=True)
class Batch:
    name: str
    event_ids: tuple[str, ...]

    def body(self) -> bytes:
        return json.dumps({"accesses": [access(e) for e in self.event_ids]}).encode()

    def access_ids(self) -> set[UUID]:
        return {data_access_id(e) for e in self.event_ids}


def make_batches(prefix: str, count: int, size: int) -> list[Batch]:
    return [
        Batch(f"{prefix}-{b}", tuple(f"{prefix}-{b}-{i}" for i in range(size)))
        for b in range(count)
    ]


@dataclass
class Books:
    """What the client knows: acknowledged batches, and every status it saw."""

    acknowledged: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    refused_bodies: list[httpx.Response] = field(default_factory=list)

    def send(self, client: httpx.Client, token: str, batch: Batch) -> bool:
        """True when the server acknowledged the whole batch; False when the server went away."""
        try:
            reply = client.post(
                BATCH_PATH,
                content=batch.body(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except httpx.TransportError:
            return False
        self.statuses[reply.status_code] += 1
        if reply.status_code != 200:
            self.refused_bodies.append(reply)
            return False
        counts = reply.json()
        assert counts["recorded"] + counts["already_recorded"] == len(batch.event_ids), counts
        self.acknowledged.add(batch.name)
        return True


def stored_access_counts(settings: Settings, ids: set[UUID]) -> Counter[UUID]:
    """How many rows of the chain belong to each of ``ids`` (read straight from the store)."""
    reader = open_reader(settings)
    found: Counter[UUID] = Counter()
    try:
        for rows in reader.iter_batches(0, 5000):
            for row in rows:
                originator = UUID(str(row[1]))
                if originator in ids:
                    found[originator] += 1
    finally:
        reader.close()
    return found


def check_books(settings: Settings, batches: list[Batch], books: Books) -> Counter[UUID]:
    """Acknowledged batches are stored exactly once; no batch is stored in part."""
    every_id = set().union(*(b.access_ids() for b in batches))
    counts = stored_access_counts(settings, every_id)
    assert max(counts.values(), default=1) == 1, "an access is stored twice"
    for batch in batches:
        present = sum(counts[i] for i in batch.access_ids())
        if batch.name in books.acknowledged:
            assert present == len(batch.event_ids), f"acknowledged {batch.name} lost events"
        else:
            assert present in (0, len(batch.event_ids)), f"{batch.name} is half-written"
    return counts
