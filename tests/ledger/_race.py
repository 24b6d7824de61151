"""Two recorders, two threads each, writing overlapping batches at once: the race the
write-path tests share. However the batches are written, docs/ledger-format.md §6
promises one writer at a time and so one chain: each originator stored once, at
gapless positions, every hash valid."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from tests.conftest import Ledger
from tests.ledger._rows import verified_rows

# How a thread writes one batch through a recorder: the positions it wrote.
Write = Callable[[Any, list[StoredEvent]], list[int]]


def inserted_whole(recorder: Any, batch: list[StoredEvent]) -> list[int]:
    """A batch written as one ``insert_new_aggregates``."""
    ids: list[int] = recorder.insert_new_aggregates(batch).ids
    return ids


def race_to_one_chain(
    ledger: Ledger,
    events: list[StoredEvent],
    orders: Sequence[list[list[StoredEvent]]],
    write: Write,
) -> None:
    """Four threads, started together, each writing the batches of one of ``orders`` in turn
    through ``ledger``'s recorder or a second recorder of the same ledger (another API
    worker's); then the chain holds ``events``, each once, and nothing was written twice."""
    assert len(orders) == 4
    other = Ledger(ledger.settings)
    written: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(orders))

    def send(recorder: Any, batches: list[list[StoredEvent]]) -> None:
        try:
            start.wait()
            for batch in batches:
                written.append(write(recorder, batch))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [
        threading.Thread(target=send, args=(recorder, batches))
        for batches, recorder in zip(orders, [ledger.recorder, other.recorder] * 2, strict=True)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.close()
    assert errors == []
    assert sorted(i for ids in written for i in ids) == list(range(1, len(events) + 1))
    rows = verified_rows(ledger.settings)
    assert [row[0] for row in rows] == list(range(1, len(events) + 1))
    assert sorted(UUID(row[1]) for row in rows) == sorted(e.originator_id for e in events)
