"""Append throughput: plain eventsourcing against the chained recorders, side by side.

Prints events/s for each backend x transaction size x store, the ratio
chained/plain per cell (target >= 0.85), and chained PostgreSQL events/s with
1, 2 and 4 writer processes. Runs are interleaved (plain, chained, plain, ...)
so drift on a noisy machine hits both sides alike; medians are quoted.

    .venv/bin/python bench/append.py [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from typing import Any

from _common import postgres_url, scratch_schema, target
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from ledger.config import DatabaseURL
from ledger.store.postgres import ChainedPostgresApplicationRecorder
from ledger.store.sqlite import ChainedSQLiteApplicationRecorder

STATE = os.urandom(600)  # a data-access event is about this size once JSON-encoded


def events(n: int) -> list[StoredEvent]:
    return [StoredEvent(uuid.uuid4(), 1, "bench:Access.Recorded", STATE) for _ in range(n)]


def sqlite_recorder(chained: bool, directory: str) -> Any:
    datastore = SQLiteDatastore(os.path.join(directory, f"{uuid.uuid4().hex}.db"))
    cls = ChainedSQLiteApplicationRecorder if chained else SQLiteApplicationRecorder
    recorder = cls(datastore)
    recorder.create_table()
    return recorder


def pg_datastore(url: str, schema: str) -> PostgresDatastore:
    db = DatabaseURL.parse(url)
    return PostgresDatastore(
        db.dbname, db.host, db.port, db.user, db.password, schema=schema, pool_size=2
    )


def pg_recorder(chained: bool, url: str, schema: str) -> Any:
    cls = ChainedPostgresApplicationRecorder if chained else PostgresApplicationRecorder
    table = f"{'chained' if chained else 'plain'}_{uuid.uuid4().hex[:8]}"
    recorder = cls(pg_datastore(url, schema), events_table_name=table)
    recorder.create_table()
    return recorder


def append_rate(recorder: Any, total: int, per_txn: int) -> float:
    """Events/s of appending ``total`` prepared events, ``per_txn`` per transaction."""
    batches = [events(per_txn) for _ in range(total // per_txn)]
    started = time.perf_counter()
    for batch in batches:
        recorder.insert_events(batch)
    return total / (time.perf_counter() - started)


def cell(make: Any, total: int, per_txn: int, repeats: int) -> tuple[float, float]:
    """Median events/s of plain and chained, interleaved run by run."""
    plain, chained = make(False), make(True)
    append_rate(plain, per_txn * 10, per_txn)  # warm both: connections, caches, WAL
    append_rate(chained, per_txn * 10, per_txn)
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats):
        for kind, recorder in ((False, plain), (True, chained)):
            rates[kind].append(append_rate(recorder, total, per_txn))
    return statistics.median(rates[False]), statistics.median(rates[True])


def _writer(url: str, schema: str, table: str, txns: int, per_txn: int, go: Any) -> None:
    recorder = ChainedPostgresApplicationRecorder(
        pg_datastore(url, schema), events_table_name=table
    )
    batch = events(txns * per_txn)
    go.wait()
    for i in range(0, len(batch), per_txn):
        recorder.insert_events(batch[i : i + per_txn])


def writers_rate(url: str, schema: str, writers: int, txns: int, per_txn: int) -> float:
    table = f"w{writers}_{uuid.uuid4().hex[:8]}"
    ChainedPostgresApplicationRecorder(
        pg_datastore(url, schema), events_table_name=table
    ).create_table()
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    procs = [
        context.Process(target=_writer, args=(url, schema, table, txns, per_txn, go))
        for _ in range(writers)
    ]
    for p in procs:
        p.start()
    time.sleep(3)  # let every child import and connect; the timed part starts at `go`
    started = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    assert all(p.exitcode == 0 for p in procs)
    return writers * txns * per_txn / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    sizes = {1: 600 if args.quick else 1500, 100: 10_000 if args.quick else 30_000}
    results: dict[tuple[str, int], tuple[float, float]] = {}

    with tempfile.TemporaryDirectory() as directory:
        for per_txn, total in sizes.items():
            results[("sqlite", per_txn)] = cell(
                lambda chained: sqlite_recorder(chained, directory), total, per_txn, repeats
            )
    url = postgres_url()
    if url:
        with scratch_schema(url) as schema:
            for per_txn, total in sizes.items():
                results[("postgresql", per_txn)] = cell(
                    lambda chained: pg_recorder(chained, url, schema), total, per_txn, repeats
                )
            scaling = {
                (w, per_txn): writers_rate(url, schema, w, txns, per_txn)
                for per_txn, txns in ((1, 400), (100, 40))
                for w in (1, 2, 4)
            }
    else:
        print("PostgreSQL: not available (set GOVLEDGER_BENCH_DATABASE_URL); cells skipped")
        scaling = {}

    print(
        f"{'backend':<11} {'events/txn':>10} {'plain ev/s':>11} {'chained ev/s':>13} {'ratio':>6}"
    )
    for (backend, per_txn), (plain, chained) in results.items():
        print(
            f"{backend:<11} {per_txn:>10} {plain:>11,.0f} {chained:>13,.0f} {chained / plain:>6.2f}"
        )
    if scaling:
        print("\nchained PostgreSQL, writer processes (events/s):")
        for (w, per_txn), rate in scaling.items():
            print(f"  {w} writer(s), {per_txn:>3} events/txn: {rate:>9,.0f}")
    print()
    for (backend, per_txn), (plain, chained) in results.items():
        print(target(f"append_ratio_{backend}_{per_txn}per_txn", chained / plain, 0.85))


if __name__ == "__main__":
    main()
