"""kill -9 the projection worker during batch ingestion, 20 times (issue #7 item 1, worker half).

A client streams access batches at a real ``govledger serve`` on top of a small
zone (tests/projections/scenario.py, so there are findings, anomalies and facts
to project). Meanwhile ``govledger projections run --follow`` runs as a real
process; each cycle restarts it, waits until it has committed a batch beyond
where the last one stopped (the tracking position read from the views' database),
then SIGKILLs it at a random moment (seeded, so a failure replays): mid-fold,
mid-commit or idle. Afterwards ingestion stops, the worker catches up once more,
and its views must equal, table by table, a from-scratch rebuild into a separate
views database: a batch committed twice or in part, or a fold restored wrongly
from a snapshot after a kill, shows up as a difference. Every acknowledged access
is in the ledger and in the views exactly once, and ``govledger verify`` passes.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.config import Settings
from ledger.store.connect import open_reader
from projections.facts import ACCESS
from projections.runner import _TABLES, Projector, tracked_position
from projections.store import ViewStore
from tests.conftest import PostgresURLs, fresh_schema
from tests.ops.batches import Batch, Books, check_books, make_batches
from tests.ops.conftest import wait_for
from tests.ops.test_crash_safety import platform_token
from tests.projections.scenario import build_scenario
from tests.served import GOVLEDGER, ROOT, Server, run_cli, settings_env

pytestmark = pytest.mark.slow

KILLS = 20
SEED = 20261129
BATCH_SIZE = 40
# Small projection batches and snapshot intervals: many commits for a kill to land in,
# and restarts that resume from a snapshot and replay, not only from a batch boundary.
PROJECTION_BATCH = 25
SNAPSHOT_INTERVAL = 150
# Longest the worker runs after its first commit of a cycle before the kill.
MAX_KILL_DELAY = 0.4
# Ingestion pauses while the views lag the ledger by more than this: a restart always finds
# work (so the kill lands mid-catch-up or mid-commit), and the test's size stays bounded by
# the worker's pace, not the client's (PostgreSQL projects ~3x slower here: ~20 round trips
# per 25-row batch; a restart is ~2-3 s of interpreter start-up on either backend).
MAX_LAG = 600
# The uninterrupted run projects in larger batches: its views must not depend on batching.
REBUILD_BATCH = 1000
CATCH_UP_SECONDS = 120


class Worker:
    """``govledger projections run --follow`` in its own session; ``kill`` is SIGKILL."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as out:  # every run of the worker appends to one log
            self.process = subprocess.Popen(
                [str(GOVLEDGER), "projections", "run", "--follow"],
                env=settings_env(self.settings),
                cwd=ROOT,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def alive(self) -> bool:
        """Fails the test when the worker exited by itself (it must only die by our kill)."""
        assert self.process is not None
        code = self.process.poll()
        tail = self.log.read_text(errors="replace")[-3000:] if code is not None else ""
        assert code is None, f"the projection worker exited with {code}:\n{tail}"
        return True

    def kill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None
        self.kills += 1

    def stop(self) -> int:
        """SIGTERM: the worker finishes its pass and exits; returns its exit code."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.process = None
        return code


class Positions:
    """The views' tracked position and the ledger's head (one connection each, one thread's)."""

    def __init__(self, settings: Settings) -> None:
        self.store, self.reader = ViewStore(settings), open_reader(settings)

    def views(self) -> int:
        return tracked_position(self.store)

    def head(self) -> int:
        return self.reader.max_position()

    def close(self) -> None:
        self.reader.close()
        self.store.close()


class Ingestion(threading.Thread):
    """The exchange platform: batches back to back until ``stop``, pausing while the views
    lag by more than ``MAX_LAG``; keeps the books."""

    def __init__(self, server: Server, token: str) -> None:
        super().__init__(daemon=True)
        self.server, self.token = server, token
        self.books = Books()
        self.sent: list[Batch] = []
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        positions = Positions(self.server.settings)  # SQLite connections stay in their thread
        try:
            with httpx.Client(base_url=self.server.url, timeout=30) as client:
                n = 0
                while not self.halt.is_set():
                    if positions.head() - positions.views() > MAX_LAG:
                        self.halt.wait(0.05)  # polling interval: the lag decides
                        continue
                    batch = make_batches(f"worker-crash{n}", 1, BATCH_SIZE)[0]
                    self.sent.append(batch)
                    assert self.books.send(client, self.token, batch), f"{batch.name} failed"
                    n += 1
        except BaseException as e:  # reported by stop(): a thread's failure is the test's
            self.error = e
        finally:
            positions.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=60)
        if self.error is not None:
            raise self.error


def view_tables(store: ViewStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every view table and the tracking records, rows in a canonical order."""
    contents = {}
    for name in [*_TABLES, "tracking"]:
        rows = store.query(f"SELECT * FROM {store.table(name)}")
        contents[name] = sorted(rows, key=repr)
    return contents


@pytest.fixture
def rebuild_schema(postgres_urls: PostgresURLs) -> Iterator[str]:
    """A second schema for the PostgreSQL rebuild's views (they live beside the ledger)."""
    with fresh_schema(postgres_urls, prefix="r_") as name:
        yield name


@pytest.fixture(params=["sqlite", "postgresql"])
def worker_settings(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Settings, Settings]:
    """The ledger's settings, and where the from-scratch rebuild puts its views."""
    if request.param == "sqlite":
        settings: Settings = request.getfixturevalue("sqlite_settings")
        elsewhere = settings.with_overrides(
            database_url=f"sqlite:///{tmp_path / 'rebuild' / 'ledger.db'}"
        )
        (tmp_path / "rebuild").mkdir()
    else:
        settings = request.getfixturevalue("postgres_settings")
        elsewhere = settings.with_overrides(
            postgres_schema=request.getfixturevalue("rebuild_schema")
        )
    settings = settings.with_overrides(
        projection_batch_size=PROJECTION_BATCH,
        projection_snapshot_interval=SNAPSHOT_INTERVAL,
        projection_follow_seconds=0,  # poll at the runner's floor (0.1 s)
    )
    build_scenario(settings)
    return settings, elsewhere


def rebuild_elsewhere(settings: Settings, elsewhere: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """An uninterrupted run: every view rebuilt from position 0 in another views database."""
    store, reader = ViewStore(elsewhere), open_reader(settings)
    try:
        uninterrupted = settings.with_overrides(projection_batch_size=REBUILD_BATCH)
        Projector(uninterrupted, store, reader).rebuild()
        return view_tables(store)
    finally:
        reader.close()
        store.close()


@dataclass(frozen=True)
class Kill:
    started_at: int  # the views' position when the worker was (re)started
    stopped_at: int  # ... after its kill
    head: int  # the ledger's head just after the kill


def committed_beyond(positions: Positions, worker: Worker, position: int) -> bool:
    return worker.alive() and positions.views() > position


def kill_cycles(positions: Positions, worker: Worker, rng: random.Random) -> list[Kill]:
    """Restart, wait for a commit beyond the last position, kill at a random moment."""
    kills: list[Kill] = []
    for _kill in range(KILLS):
        before = positions.views()
        worker.start()
        wait_for(
            partial(committed_beyond, positions, worker, before),
            CATCH_UP_SECONDS,
            f"the restarted worker to commit beyond position {before}",
        )
        # The random moment of the kill, not a synchronisation: the wait above was.
        threading.Event().wait(rng.uniform(0, MAX_KILL_DELAY))
        worker.kill()
        kills.append(Kill(before, positions.views(), positions.head()))
    return kills


def test_sigkill_of_the_projection_worker_during_ingestion(
    worker_settings: tuple[Settings, Settings], tmp_path: Path
) -> None:
    settings, elsewhere = worker_settings
    rng = random.Random(SEED)
    positions = Positions(settings)
    with Server(settings) as server:
        ingestion = Ingestion(server, platform_token(settings))
        ingestion.start()
        worker = Worker(settings, tmp_path / "worker.log")
        try:
            kills = kill_cycles(positions, worker, rng)
        finally:
            if worker.process is not None:
                worker.kill()
            ingestion.stop()
        # Restarted from a kill, the worker must go on from its last commit: once more, to
        # the head, then stop cleanly.
        head = positions.head()
        worker.start()
        wait_for(
            lambda: worker.alive() and positions.views() == head,
            CATCH_UP_SECONDS,
            f"the worker to catch up to {head}",
        )
        assert worker.stop() == 0
    positions.close()
    assert worker.kills == KILLS
    assert all(k.stopped_at > k.started_at for k in kills)
    behind = sum(k.head > k.stopped_at for k in kills)
    assert behind >= KILLS // 2, f"only {behind} kills hit a worker with work to do"
    books = ingestion.books
    assert set(books.statuses) == {200} and len(books.acknowledged) == len(ingestion.sent)
    counts = check_books(settings, ingestion.sent, books)
    assert sum(counts.values()) == len(ingestion.sent) * BATCH_SIZE

    store = ViewStore(settings)
    try:
        incremental = view_tables(store)
    finally:
        store.close()
    # Every acknowledged access is in the views once; every ledger position has its row.
    accesses = Counter(row[2] for row in incremental["events"] if row[1] == ACCESS)
    acknowledged = {i.hex for b in ingestion.sent for i in b.access_ids()}
    assert acknowledged <= accesses.keys() and max(accesses.values()) == 1
    assert sorted(r[0] for r in incremental["events"]) == list(range(1, head + 1))
    rebuilt = rebuild_elsewhere(settings, elsewhere)
    for name in rebuilt:
        assert incremental[name] == rebuilt[name], f"views_{name}: incremental != rebuild"
    done = run_cli(settings, "verify", "--full")
    assert done.returncode == 0, done.stdout + done.stderr
