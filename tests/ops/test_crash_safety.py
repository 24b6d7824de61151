"""kill -9 during batch ingestion, 20 times (issue #7 item 1, the service half).

A client streams batches at a real ``govledger serve``; a timer SIGKILLs the
server at a random moment (seeded, so a failure replays), and the server is
restarted. Afterwards every acknowledged access is stored exactly once, no
batch is stored in part (a batch is one transaction), ``govledger verify``
passes, and re-sending the unacknowledged batches completes the set without
duplicates. The projection-worker half: test_projection_worker_crash.py.
"""

from __future__ import annotations

import random
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from security.apikeys import open_api_keys
from tests.ops.batches import Batch, Books, check_books, make_batches
from tests.served import Server, run_cli

pytestmark = pytest.mark.slow

KILLS = 20
SEED = 20260707
BATCH_SIZE = 40
# Longest a cycle streams before its kill: long enough for several batches to land.
MAX_KILL_DELAY = 0.4


def platform_token(settings: Settings) -> str:
    with open_api_keys(settings) as keys:
        return keys.create(Role.EXCHANGE_PLATFORM, label="crash-test").token


def verify(settings: Settings) -> subprocess.CompletedProcess[str]:
    return run_cli(settings, "verify", "--full")


def stream_until_killed(
    server: Server, token: str, pending: Iterator[Batch], books: Books, delay: float
) -> list[Batch]:
    """Send batches back to back; ``delay`` after the first acknowledgement (a process's
    first request warms its caches), the timer kills the server. Return the batches tried."""
    tried: list[Batch] = []
    killer = threading.Timer(delay, server.kill)
    armed = False
    with httpx.Client(base_url=server.url, timeout=30) as client:
        try:
            for batch in pending:
                tried.append(batch)
                if not books.send(client, token, batch):
                    break
                if not armed:
                    killer.start()
                    armed = True
        finally:
            if armed:
                killer.join()
            else:
                server.kill()  # the first batch already failed: still one kill per cycle
    return tried


def fresh_batches() -> Iterator[Batch]:
    n = 0
    while True:
        yield from make_batches(f"crash{n}", 1, BATCH_SIZE)
        n += 1


@pytest.fixture(params=["sqlite", "postgresql"])
def crash_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    name = "sqlite_settings" if request.param == "sqlite" else "postgres_settings"
    settings: Settings = request.getfixturevalue(name)
    init_ledger(settings)
    return settings


def test_sigkill_during_ingestion_loses_no_acknowledged_batch(crash_settings: Settings) -> None:
    settings = crash_settings
    token = platform_token(settings)
    rng = random.Random(SEED)
    books = Books()
    pending = fresh_batches()
    sent: list[Batch] = []
    server = Server(settings)
    for _kill in range(KILLS):
        server.start()
        sent += stream_until_killed(
            server, token, pending, books, rng.uniform(0.05, MAX_KILL_DELAY)
        )
    assert books.statuses.keys() <= {200}, books.statuses
    unacknowledged = [b for b in sent if b.name not in books.acknowledged]
    assert len(books.acknowledged) >= KILLS, "too few batches landed to test anything"
    assert unacknowledged, "no kill hit a batch in flight"

    with server:  # the last restart
        check_books(settings, sent, books)
        assert verify(settings).returncode == 0
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for batch in unacknowledged:
                assert books.send(client, token, batch), f"re-sending {batch.name} failed"
    counts = check_books(settings, sent, books)
    assert sum(counts.values()) == len(sent) * BATCH_SIZE
    done = verify(settings)
    assert done.returncode == 0, done.stdout + done.stderr
