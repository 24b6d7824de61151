"""Shared by the bench scripts: medians, target lines, a scratch PostgreSQL schema."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger.config import DatabaseURL, Settings  # noqa: E402
from ledger.store.connect import postgres_conninfo  # noqa: E402


def median_rate(run: Callable[[], int], repeats: int) -> float:
    """Median of ``repeats`` runs of items/second; ``run`` returns how many items it did."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        count = run()
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (every process: the service,
    the bench's own senders, the database server), from /proc/stat; None where there is none.

    Two readings around a timed run say how many cores the run kept busy and how much CPU
    an item cost in all, which a rate alone hides: on a machine of few cores a rate can be
    capped by the CPU every process of the run shares, not by the code measured.
    """
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return None
    # user, nice, system, idle, iowait, irq, softirq: all but idle and iowait are busy.
    ticks = [int(field) for field in fields[:7]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def target(name: str, measured: float, goal: float, *, higher_is_better: bool = True) -> str:
    ok = measured >= goal if higher_is_better else measured <= goal
    shown = f"{measured:.0f}" if measured >= 1000 else f"{measured:.3g}"
    return f"target {name} {shown} {goal:g} {'ok' if ok else 'short'}"


def postgres_url() -> str | None:
    """GOVLEDGER_BENCH_DATABASE_URL, else the test database make test prepares."""
    url = os.environ.get("GOVLEDGER_BENCH_DATABASE_URL") or os.environ.get(
        "GOVLEDGER_TEST_DATABASE_URL"
    )
    if url:
        return url
    script = ROOT / "ops" / "scripts" / "test-postgres.sh"
    done = subprocess.run([script], capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("export GOVLEDGER_TEST_DATABASE_URL="):
            return line.split("=", 1)[1]
    return None


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    info = postgres_conninfo(DatabaseURL.parse(url))
    with psycopg.connect(**info, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        with psycopg.connect(**info, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def pg_settings(url: str, schema: str, state_dir: str) -> Settings:
    return Settings(database_url=url, postgres_schema=schema, state_dir=state_dir)
