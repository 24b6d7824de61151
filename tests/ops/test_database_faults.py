"""PostgreSQL stopped and restarted under load (issue #7 item 2).

Against a PRIVATE cluster started here (initdb into a temporary directory, a
free port), never the shared server: while it is down the API answers 503
with ``Retry-After`` and ``{"error", "detail"}``, quickly; when it is back the
service recovers by itself (no restart of ``govledger serve``); acknowledged
batches are all stored once, refused ones are re-sent and nothing doubles.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ledger.config import Settings
from ledger.store.connect import init_ledger
from tests.ops.batches import Batch, Books, check_books, make_batches
from tests.ops.cluster import PrivateCluster
from tests.ops.test_crash_safety import platform_token, verify
from tests.served import Server

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    made = PrivateCluster()
    try:
        made.start()
        made.create_database("govledger")
        yield made
    finally:
        made.remove()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)  # polling interval of a condition with a deadline


class Ingester(threading.Thread):
    """Sends fresh batches back to back until told to stop."""

    def __init__(self, server: Server, token: str, books: Books) -> None:
        super().__init__(daemon=True)
        self.server, self.token, self.books = server, token, books
        self.sent: list[Batch] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=60) as client:
            n = 0
            while not self.halt.is_set():
                (batch,) = make_batches(f"fault{n}", 1, 20)
                self.sent.append(batch)
                self.books.send(client, self.token, batch)
                n += 1


def test_postgres_down_means_503_then_recovery_without_loss(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=cluster.url("govledger"),
        state_dir=str(tmp_path / "state"),
        postgres_timeout_seconds=2,
    )
    init_ledger(settings)
    token = platform_token(settings)
    books = Books()
    with Server(settings) as server:
        ingester = Ingester(server, token, books)
        ingester.start()
        try:
            wait_for(lambda: len(books.acknowledged) >= 3, 60, "batches acknowledged")
            cluster.stop()
            wait_for(lambda: books.statuses[503] >= 3, 60, "503s while PostgreSQL is down")
            down_reply = _timed_ledger_head(server)
            cluster.start()  # same port: the service must find it again by itself
            acknowledged_at_restart = len(books.acknowledged)
            wait_for(
                lambda: len(books.acknowledged) >= acknowledged_at_restart + 3,
                60,
                "ingestion resumed after PostgreSQL came back",
            )
        finally:
            ingester.halt.set()
            ingester.join(timeout=120)
        status, elapsed, reply = down_reply
        assert status == 503 and elapsed < 10, (status, elapsed)
        assert books.statuses.keys() <= {200, 503}, books.statuses
        for refused in [reply, *books.refused_bodies]:
            assert refused.headers["Retry-After"].isdigit()
            assert set(refused.json()) == {"error", "detail"}
            assert refused.json()["error"] == "store_unavailable"

        with httpx.Client(base_url=server.url, timeout=60) as client:
            for batch in ingester.sent:
                if batch.name not in books.acknowledged:
                    assert books.send(client, token, batch), f"re-sending {batch.name}"
    counts = check_books(settings, ingester.sent, books)
    assert sum(counts.values()) == 20 * len(ingester.sent)
    assert verify(settings).returncode == 0


def _timed_ledger_head(server: Server) -> tuple[int, float, httpx.Response]:
    """A public read while the database is down: a 503 quickly, not a hang or a 500."""
    started = time.monotonic()
    reply = httpx.get(f"{server.url}/api/v1/ledger", timeout=60)
    return reply.status_code, time.monotonic() - started, reply
