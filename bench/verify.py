"""Verification speed next to the raw speed of reading the same rows and hashing them.

Builds a chained ledger (SQLite: 200,000 events of ~600 bytes; PostgreSQL:
100,000), then times, in one process and interleaved: a raw loop that reads
every row and hashes its fields with no checks, and ``verify_ledger`` over the
same rows. Targets: verify >= 0.5 x raw, and >= 200,000 events/s on SQLite.

    .venv/bin/python bench/verify.py [--events N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable

from _common import pg_settings, postgres_url, scratch_schema, target
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from ledger.config import Settings
from ledger.store.base import RowReader
from ledger.store.connect import application_env, init_ledger, open_reader
from ledger.verify import verify_ledger

STATE = os.urandom(600)


def build(settings: Settings, count: int) -> None:
    init_ledger(settings)
    factory = InfrastructureFactory.construct(Environment(env=application_env(settings)))
    recorder = factory.application_recorder()
    for _ in range(count // 1000):
        recorder.insert_events(
            [StoredEvent(uuid.uuid4(), 1, "bench:Access.Recorded", STATE) for _ in range(1000)]
        )
    factory.close()


def raw_read_and_hash(reader: RowReader) -> int:
    count = 0
    for batch in reader.iter_batches(0, 5000):
        for position, oid, version, topic, state, prev, _ in batch:
            hashlib.sha256(
                b"".join((position.to_bytes(8, "big"), prev, oid.encode(), topic.encode(), state))
            ).digest()
            del version
        count += len(batch)
    return count


def full_verify(reader: RowReader) -> int:
    report = verify_ledger(reader, full=True)
    assert report.ok, report.failure
    return report.count


def measure(settings: Settings, repeats: int) -> tuple[float, float]:
    rates: dict[str, list[float]] = {"raw": [], "verify": []}
    runs: dict[str, Callable[[RowReader], int]] = {"raw": raw_read_and_hash, "verify": full_verify}
    for _ in range(repeats):
        for name, run in runs.items():
            reader = open_reader(settings)
            started = time.perf_counter()
            count = run(reader)
            rates[name].append(count / (time.perf_counter() - started))
            reader.close()
    return statistics.median(rates["raw"]), statistics.median(rates["verify"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        sqlite = Settings(database_url=f"sqlite:///{directory}/bench.db", state_dir=directory)
        build(sqlite, args.events)
        results["sqlite"] = measure(sqlite, args.repeats)
        url = postgres_url()
        if url:
            with scratch_schema(url) as schema:
                pg = pg_settings(url, schema, directory)
                build(pg, args.events // 2)
                results["postgresql"] = measure(pg, args.repeats)
    print(f"{'backend':<11} {'raw read+hash ev/s':>19} {'verify ev/s':>12} {'ratio':>6}")
    for backend, (raw, verified) in results.items():
        print(f"{backend:<11} {raw:>19,.0f} {verified:>12,.0f} {verified / raw:>6.2f}")
    print()
    raw, verified = results["sqlite"]
    print(target("verify_ratio_sqlite", verified / raw, 0.5))
    print(target("verify_rate_sqlite", verified, 200_000))
    if "postgresql" in results:
        raw, verified = results["postgresql"]
        print(target("verify_ratio_postgresql", verified / raw, 0.5))


if __name__ == "__main__":
    main()
