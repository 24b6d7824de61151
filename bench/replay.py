"""Projection rebuild beside the raw read of the same rows, and as-of query latency.

For each backend, in one run: a ledger holding the demo zone (departments,
systems, catalogue, requests and grants, filings, funds) plus generated
exchange-platform accesses up to ``--events`` rows; then

* raw read: ``RowReader.iter_batches`` over every row (rows/s), and the same
  with each row's JSON decoded (orjson, as the projections do);
* rebuild: ``govledger projections rebuild`` work (``Projector.rebuild``),
  events/s, and its ratio to the raw read;
* as-of query latency on the rebuilt views: moment + zone state + findings +
  rights register + the year's access counts, as of several dates (median).

Targets (issue #4): rebuild >= 50,000 events/s on SQLite; an as-of query at
1,000,000 events <= 2 s.

    .venv/bin/python bench/replay.py [--events N] [--pg-events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
from _common import pg_settings, postgres_url, scratch_schema, target

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import AccessReason, AccessReport, AccessVerdict, Actor, Role
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.store.connect import application_env, init_ledger, open_reader
from ops.demo import DEPARTMENTS, load_demo
from projections.query import open_views
from projections.runner import open_projector
from projections.sharing_terms import SharingTerms

PLATFORM = Actor("exchange-platform", Role.EXCHANGE_PLATFORM, None, "10.0.0.10", None)
BATCH = 10_000
AS_OF_DATES = (date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31))


def build_ledger(settings: Settings, events: int) -> int:
    """The demo zone, then generated accesses (2% refused) until the ledger holds ``events``."""
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        load_demo(app, accesses=1_000, requests=600)
        resources = sorted(SharingTerms(app).current().resources.values(), key=lambda r: r.code)
        have = app.recorder.max_notification_id() or 0
        rng = random.Random(4)  # reproducible load
        departments = [code for code, _, _ in DEPARTMENTS]
        start = datetime(2026, 1, 12, 8, 30, tzinfo=CST)
        span = (datetime(2026, 12, 31, 18, tzinfo=CST) - start).total_seconds()
        allowed, refused = AccessVerdict.authorize(), AccessVerdict.refuse(AccessReason.NO_GRANT)
        total, n = max(0, events - have), 0
        started = time.perf_counter()
        while n < total:
            batch = []
            for _ in range(min(BATCH, total - n)):
                resource = resources[rng.randrange(len(resources))]
                department = departments[rng.randrange(len(departments))]
                report = AccessReport(
                    platform_event_id=f"bench-{n:09d}",
                    accessor_id=f"{department}-{rng.randrange(12)}",
                    department=department,
                    system=None,
                    resource_code=resource.code,
                    items=("姓名",),
                    row_count=rng.randrange(1, 200),
                    purpose="业务核查",
                    grant_id=None,
                    client_address="10.9.0.1",
                    accessed_at=start + timedelta(seconds=span * n / total),
                )
                batch.append((report, refused if rng.random() < 0.02 else allowed))
                n += 1
            app.record_accesses(PLATFORM, batch)
            print(f"  generated {n:,}/{total:,} accesses", end="\r", file=sys.stderr)
        rate = total / (time.perf_counter() - started)
        print(f"  generated {total:,} accesses ({rate:,.0f}/s)", file=sys.stderr)
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def raw_read(settings: Settings, *, decode: bool) -> int:
    reader = open_reader(settings)
    count = 0
    try:
        for batch in reader.iter_batches(0, BATCH):
            if decode:  # the decoder the projections use
                for row in batch:
                    orjson.loads(row[4])
            count += len(batch)
    finally:
        reader.close()
    return count


def rebuild(settings: Settings) -> int:
    with open_projector(settings) as projector:
        return projector.rebuild()


def as_of_query(settings: Settings, day: date) -> dict[str, float]:
    """One as-of question as a report asks it; seconds per part."""
    parts: dict[str, float] = {}
    with open_views(settings, catch_up=False) as views:
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            parts[name] = now - clock
            clock = now

        m = views.moment(as_of=day)
        views.zone(m)
        lap("zone")
        views.findings(m)
        lap("findings")
        views.rights_register(m)
        lap("rights")
        views.access_counts(m, start=date(2026, 1, 1), end=day)
        lap("counts")
    parts["total"] = sum(parts.values())
    return parts


def rate(run: object, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        count = run()  # type: ignore[operator]
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def measure(name: str, settings: Settings, events: int, repeats: int) -> tuple[float, float]:
    print(f"{name}: building a ledger of {events:,} events", file=sys.stderr)
    held = build_ledger(settings, events)
    read = rate(lambda: raw_read(settings, decode=False), repeats)
    decoded = rate(lambda: raw_read(settings, decode=True), repeats)
    rebuilt = rate(lambda: rebuild(settings), repeats)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{name}: {held:,} events (load average {load} on {os.cpu_count()} cores)")
    print(f"  raw read            {read:>12,.0f} rows/s")
    print(f"  raw read + decode   {decoded:>12,.0f} rows/s")
    print(f"  rebuild             {rebuilt:>12,.0f} events/s  ({rebuilt / read:.2f} x raw read)")
    latencies = [as_of_query(settings, day) for day in AS_OF_DATES for _ in range(repeats)]
    median = statistics.median(q["total"] for q in latencies)
    for part in ("zone", "findings", "rights", "counts"):
        print(f"  as-of {part:<9} {statistics.median(q[part] for q in latencies):>8.3f} s (median)")
    print(f"  as-of query total   {median:>8.3f} s (median of {len(latencies)}, {held:,} events)")
    return rebuilt, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="SQLite ledger size")
    parser.add_argument("--pg-events", type=int, default=200_000, help="PostgreSQL ledger size")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'ledger.db'}", state_dir=f"{tmp}/state"
        )
        sqlite_rebuild, sqlite_query = measure("sqlite", sqlite, args.events, args.repeats)
        pg_rebuild = None
        url = postgres_url()
        if url and args.pg_events > 0:
            with scratch_schema(url) as schema:
                pg = pg_settings(url, schema, f"{tmp}/pg-state")
                pg_rebuild, _ = measure("postgresql", pg, args.pg_events, args.repeats)
    print(target("rebuild_sqlite_events_per_s", sqlite_rebuild, 50_000))
    if pg_rebuild is not None:
        print(f"(postgresql rebuild {pg_rebuild:,.0f} events/s: no target)")
    label = f"as_of_query_s_at_{args.events // 1000}k_events"
    print(target(label, sqlite_query, 2.0, higher_is_better=False))


if __name__ == "__main__":
    main()
