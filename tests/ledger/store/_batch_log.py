"""What a recorder did with a streamed batch, as the stream tests read it: whether it
streamed the batch (each chunk inserted as it was built) or built it first and inserted it
as one, which a writer that is not alone must do (docs/ledger-format.md §6;
ledger/store/sqlite_stream.py, ledger/store/postgres_stream.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from tests.conftest import make_events


class BatchLog:
    """In order: "chunk n" as a batch's n-th chunk is built, "insert n" when n events go in
    as one ``insert_new_aggregates`` of the recorder (a batch built first)."""

    def __init__(self, recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        self.inserting = threading.Event()  # set at the first whole insert
        insert_new = recorder.insert_new_aggregates

        def spied(events: Sequence[StoredEvent], **kwargs: Any) -> Any:
            self.calls.append(f"insert {len(events)}")
            self.inserting.set()
            return insert_new(events, **kwargs)

        monkeypatch.setattr(recorder, "insert_new_aggregates", spied)

    def chunks(self, count: int) -> Iterator[list[StoredEvent]]:
        """A batch of ``count`` chunks of two events, each logged as it is built."""
        for n in range(count):
            self.calls.append(f"chunk {n}")
            yield make_events(2)
