"""Verification speed, and what the verifier's memory outside the database costs.

Builds a chained ledger (SQLite: 200,000 events of ~600 bytes by default; PostgreSQL:
half as many), then measures in one process, interleaved where two things are compared:

- a raw loop that reads every row and hashes its fields with no checks, and
  ``verify --full`` without a pin over the same rows (the verifier's own rate);
- ``verify --full --jobs 2`` beside the same in one process (issue 20: worker processes
  recompute the hashes over ranges, ledger/verify_parallel.py);
- ``verify --full`` against a pin and its row memory (docs/ledger-format.md §8: every
  row's hash prefix compared, the new ones collected) beside the same without;
- an incremental run with nothing new: what the deployment's timer pays every time
  (the table's shape: lowest and highest position, row count, head record; the pinned
  head's row), in seconds per million rows;
- SQLite: locating a rewrite that recomputed every hash of the last 100 rows, which
  scans the stored hashes against the row memory (the worst case: the end of the log);
- the row memory's size on disk.

Targets: verify >= 0.5 x raw and >= 200,000 events/s on SQLite; ``--jobs 2`` >= 1.6 x one
process on both backends (a 2-core machine; on a shared one, the ratio is what is left);
the memory's compare >= 0.9 x verifying without it; an idle incremental run <= 1 s per
million rows; locating <= 5 s per million rows; 8 bytes a row.

    .venv/bin/python bench/verify.py [--events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from _common import pg_settings, postgres_url, scratch_schema, target
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from ledger.chain import entry_input, hash_function
from ledger.config import Settings
from ledger.pins import PinStore, ledger_location
from ledger.store.base import RowReader
from ledger.store.connect import application_env, init_ledger, open_reader
from ledger.verify import Parallel, PinnedLocation, verify_ledger

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


def raw_read_and_hash(reader: RowReader, _: Settings) -> int:
    count = 0
    for batch in reader.iter_batches(0, 5000):
        for position, oid, version, topic, state, prev, _ in batch:
            hashlib.sha256(
                b"".join((position.to_bytes(8, "big"), prev, oid.encode(), topic.encode(), state))
            ).digest()
            del version
        count += len(batch)
    return count


def full_verify(reader: RowReader, _: Settings) -> int:
    report = verify_ledger(reader, full=True)
    assert report.ok, report.failure
    return report.count


def full_verify_jobs(reader: RowReader, settings: Settings) -> int:
    report = verify_ledger(reader, full=True, parallel=Parallel(2, partial(open_reader, settings)))
    assert report.ok, report.failure
    return report.count


def full_verify_pinned(reader: RowReader, settings: Settings) -> int:
    report = verify_ledger(reader, PinnedLocation.of(settings), full=True)
    assert report.ok, report.failure
    return report.count


Run = Callable[[RowReader, Settings], int]


def rates(settings: Settings, runs: dict[str, Run], repeats: int) -> dict[str, float]:
    """Median rows/s of each run, interleaved run by run."""
    found: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            reader = open_reader(settings)
            started = time.perf_counter()
            count = run(reader, settings)
            found[name].append(count / (time.perf_counter() - started))
            reader.close()
    return {name: statistics.median(values) for name, values in found.items()}


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the verify workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def jobs_figures(settings: Settings, repeats: int) -> dict[str, float]:
    """``--full`` in one process and with ``--jobs 2``, interleaved: median rows/s (wall) and
    median CPU seconds per million rows (all processes: what the workers cost beyond one)."""
    walls: dict[str, list[float]] = {"one": [], "two": []}
    cpus: dict[str, list[float]] = {"one": [], "two": []}
    for _ in range(repeats):
        for name, run in (("one", full_verify), ("two", full_verify_jobs)):
            reader = open_reader(settings)
            cpu, started = cpu_seconds(), time.perf_counter()
            count = run(reader, settings)
            walls[name].append(count / (time.perf_counter() - started))
            cpus[name].append((cpu_seconds() - cpu) * 1_000_000 / count)
            reader.close()
    figures = {f"{k}_jobs": statistics.median(v) for k, v in walls.items()}
    return figures | {f"{k}_cpu": statistics.median(v) for k, v in cpus.items()}


def idle_incremental(settings: Settings, repeats: int) -> float:
    """Median seconds of an incremental run that finds nothing new."""
    times = []
    for _ in range(repeats):
        reader = open_reader(settings)
        started = time.perf_counter()
        report = verify_ledger(reader, PinnedLocation.of(settings))
        times.append(time.perf_counter() - started)
        reader.close()
        assert report.ok and report.count == 0, report
    return statistics.median(times)


def locate_rewrite(settings: Settings, events: int, repeats: int) -> float:
    """Median seconds for an incremental run to name a rewrite of the last 100 rows."""
    path = Path(settings.database.path)
    forged = path.with_name("forged.db")
    shutil.copy(path, forged)
    conn = sqlite3.connect(forged, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    first = events - 99
    rows = conn.execute(
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
        "WHERE rowid >= ? ORDER BY rowid",
        (first,),
    ).fetchall()
    before = conn.execute("SELECT hash FROM stored_events WHERE rowid = ?", (first - 1,)).fetchone()
    digest, prev = hash_function("sha256"), before[0]
    for position, oid, version, topic, stored_state in rows:
        state = stored_state + b"!"
        new = digest(entry_input(position, prev, oid, version, topic, state))
        conn.execute(
            "UPDATE stored_events SET state = ?, prev_hash = ?, hash = ? WHERE rowid = ?",
            (state, prev, new, position),
        )
        prev = new
    conn.close()
    moved = replace(settings, database_url=f"sqlite:///{forged}")
    pins = PinStore(settings.state_dir)
    pin = pins.load(ledger_location(settings))
    assert pin is not None
    pins.save(replace(pin, location=ledger_location(moved)), kept=0,
              prefixes=pins.memory(pin))  # fmt: skip
    times = []
    for _ in range(repeats):
        reader = open_reader(moved)
        started = time.perf_counter()
        report = verify_ledger(reader, PinnedLocation.of(moved))
        times.append(time.perf_counter() - started)
        reader.close()
        assert report.failure is not None and report.failure.position == first, report.failure
    return statistics.median(times)


def measure(settings: Settings, events: int, repeats: int, *, locate: bool) -> dict[str, float]:
    figures = rates(settings, {"raw": raw_read_and_hash, "verify": full_verify}, repeats)
    figures |= jobs_figures(settings, repeats)
    full_verify_pinned(open_reader(settings), settings)  # pins, and writes the row memory
    figures |= {
        f"{k}_memory": v
        for k, v in rates(
            settings, {"without": full_verify, "with": full_verify_pinned}, repeats
        ).items()
    }
    figures["idle_s"] = idle_incremental(settings, repeats)
    memory = sum(p.stat().st_size for p in Path(settings.state_dir).glob("ledger-rows-*.bin"))
    figures["memory_bytes_per_row"] = memory / events
    if locate:
        figures["locate_s"] = locate_rewrite(settings, events, repeats)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as directory:
        sqlite = Settings(
            database_url=f"sqlite:///{directory}/bench.db", state_dir=f"{directory}/state"
        )
        build(sqlite, args.events)
        sizes["sqlite"] = args.events
        results["sqlite"] = measure(sqlite, args.events, args.repeats, locate=True)
        url = postgres_url()
        if url:
            with scratch_schema(url) as schema:
                pg = pg_settings(url, schema, f"{directory}/pg-state")
                build(pg, args.events // 2)
                sizes["postgresql"] = args.events // 2
                results["postgresql"] = measure(pg, args.events // 2, args.repeats, locate=False)
    print(
        f"{'backend':<11} {'rows':>9} {'raw ev/s':>10} {'verify ev/s':>12} {'ratio':>6} "
        f"{'+memory ev/s':>13} {'ratio':>6} {'idle run s':>11} {'locate s':>9} {'B/row':>6}"
    )
    jobs_lines = []
    for backend, f in results.items():
        print(
            f"{backend:<11} {sizes[backend]:>9,} {f['raw']:>10,.0f} {f['verify']:>12,.0f} "
            f"{f['verify'] / f['raw']:>6.2f} {f['with_memory']:>13,.0f} "
            f"{f['with_memory'] / f['without_memory']:>6.2f} {f['idle_s']:>11.3f} "
            f"{f.get('locate_s', float('nan')):>9.3f} {f['memory_bytes_per_row']:>6.1f}"
        )
        jobs_lines.append(
            f"{backend:<11} {sizes[backend]:>9,} {f['one_jobs']:>14,.0f} {f['two_jobs']:>14,.0f} "
            f"{f['two_jobs'] / f['one_jobs']:>6.2f} {f['one_cpu']:>12.2f} {f['two_cpu']:>12.2f}"
        )
    print()
    print(
        f"{'backend':<11} {'rows':>9} {'1 process ev/s':>14} {'--jobs 2 ev/s':>14} {'x':>6} "
        f"{'1 cpu s/M':>12} {'2 cpu s/M':>12}"
    )
    print("\n".join(jobs_lines))
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores: x is what a shared machine left")
    print()
    per_million = {b: 1_000_000 / sizes[b] for b in results}
    f = results["sqlite"]
    print(target("verify_ratio_sqlite", f["verify"] / f["raw"], 0.5))
    print(target("verify_rate_sqlite", f["verify"], 200_000))
    print(target("memory_compare_ratio_sqlite", f["with_memory"] / f["without_memory"], 0.9))
    print(target("idle_incremental_s_per_million_sqlite", f["idle_s"] * per_million["sqlite"],
                 1.0, higher_is_better=False))  # fmt: skip
    print(target("locate_s_per_million_sqlite", f["locate_s"] * per_million["sqlite"], 5.0,
                 higher_is_better=False))  # fmt: skip
    print(target("memory_bytes_per_row", f["memory_bytes_per_row"], 8, higher_is_better=False))
    print(target("verify_jobs2_speedup_sqlite", f["two_jobs"] / f["one_jobs"], 1.6))
    if "postgresql" in results:
        f = results["postgresql"]
        print(target("verify_ratio_postgresql", f["verify"] / f["raw"], 0.5))
        print(target("memory_compare_ratio_postgresql",
                     f["with_memory"] / f["without_memory"], 0.9))  # fmt: skip
        idle = f["idle_s"] * per_million["postgresql"]
        print(
            target("idle_incremental_s_per_million_postgresql", idle, 1.0, higher_is_better=False)
        )
        print(target("verify_jobs2_speedup_postgresql", f["two_jobs"] / f["one_jobs"], 1.6))


if __name__ == "__main__":
    main()
