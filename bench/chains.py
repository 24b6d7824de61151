"""N independent chains on one PostgreSQL cluster: how throughput scales with N (docs/scaling.md).

A province runs one chain per district (docs/scaling.md §A province): each a
complete ledger in its own schema, with its own genesis, positions and head lock,
so chains never wait for each other's lock — only for the cluster's CPU, WAL and
disk. For N = 1, 2, 4, 8 chains this runs one writer process per chain, each
appending through the chained PostgreSQL recorder for ``--seconds`` (single-event
transactions, commit-bound; and batches of ``--batch`` events, CPU-bound), and
reports the total events/s and its ratio to one chain. The database is
``GOVLEDGER_BENCH_DATABASE_URL`` or the test database ``make test`` prepares.

    .venv/bin/python bench/chains.py [--chains 1,2,4,8] [--seconds S] [--batch B]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack

from _common import pg_settings, postgres_url, scratch_schema, target
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from ledger.store.connect import application_env, init_ledger

STATE_SIZE = 300  # bytes: about a recorded access's state
TOPIC = "ledger.domain.access:DataAccess.Recorded"


def _writer(url: str, schema: str, seconds: float, batch: int, start: float, out: object) -> None:
    """One chain's writer: append until ``start + seconds``; put the events it appended."""
    settings = pg_settings(url, schema, tempfile.mkdtemp(prefix="bench-chains-"))
    env = application_env(settings, create=False)
    factory = InfrastructureFactory.construct(Environment(env=env))
    recorder = factory.application_recorder()
    state = os.urandom(STATE_SIZE)
    done = 0
    while time.time() < start:  # every writer starts together (a barrier in wall time)
        time.sleep(0.01)
    while time.time() < start + seconds:
        events = [StoredEvent(uuid.uuid4(), 1, TOPIC, state) for _ in range(batch)]
        recorder.insert_events(events)
        done += batch
    factory.close()
    out.put(done)  # type: ignore[attr-defined]


def run(url: str, schemas: list[str], seconds: float, batch: int) -> float:
    """Total events/s of one writer per schema, all at once."""
    results: multiprocessing.Queue[int] = multiprocessing.Queue()
    start = time.time() + 2  # time for every process to connect first
    writers = [
        multiprocessing.Process(target=_writer, args=(url, s, seconds, batch, start, results))
        for s in schemas
    ]
    for w in writers:
        w.start()
    total = sum(results.get(timeout=seconds + 120) for _ in writers)
    for w in writers:
        w.join(timeout=60)
    return total / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    counts = [int(n) for n in args.chains.split(",")]
    url = postgres_url()
    if url is None:
        print("bench/chains.py needs PostgreSQL (GOVLEDGER_BENCH_DATABASE_URL)", file=sys.stderr)
        return 1
    print(f"{os.cpu_count()} cores; {args.seconds:g} s per run; one writer process per chain")
    batched_head = f"{args.batch}/txn ev/s"
    print(f"{'chains':>6} {'1/txn ev/s':>12} {'ratio':>6} {batched_head:>14} {'ratio':>6}")
    rates: dict[int, tuple[float, float]] = {}
    with ExitStack() as stack:
        schemas = [stack.enter_context(scratch_schema(url)) for _ in range(max(counts))]
        for schema in schemas:  # each chain a complete ledger: its own genesis and head
            init_ledger(pg_settings(url, schema, tempfile.mkdtemp(prefix="bench-chains-")))
        for n in counts:
            rates[n] = (
                run(url, schemas[:n], args.seconds, 1),
                run(url, schemas[:n], args.seconds, args.batch),
            )
            first = rates[counts[0]]
            single, batched = rates[n]
            print(
                f"{n:>6} {single:>12.0f} {single / first[0]:>6.2f}"
                f" {batched:>14.0f} {batched / first[1]:>6.2f}",
                flush=True,
            )
    if counts[0] != 1 or len(counts) < 2:
        return 0
    most = max(counts)
    # Commit-bound appends gain from independent chains: each chain's head lock is its own.
    print(target(f"chains_{most}_single_event_scaling", rates[most][0] / rates[1][0], 1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
