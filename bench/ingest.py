"""Access-event ingestion: HTTP batch endpoint, Python API, and the chained store's raw append.

For each backend, in one run: the raw append rate of stored events the size
of a recorded access (no application, no evaluation), ``GovLedger.record_accesses``
with evaluation (the Python API), and ``POST /api/v1/accesses/batch`` against a
real ``govledger serve`` on loopback (1 worker and 1 sender; 2 workers and 2
senders, each sender on a keep-alive connection served by a worker of its own:
bench/_workers.py says why; a sender posts prebuilt request bytes, as light a load
generator as wrk, bench/_sender.py), each warmed up by a few one-access requests first
(a worker's first request builds FastAPI's routes: a one-off of about 0.5 s per
process). Then
where an access's time goes: each in-process stage of the batch path timed
alone on one batch (µs per access), beside the HTTP figure, whose remainder is
the HTTP server, FastAPI and the transfer. Targets (issue 20): on each backend,
one HTTP worker >= 0.5 x raw append and two workers >= 0.8 x raw append; and
>= 10,000 access events/s into PostgreSQL.

``--connections 2`` gives each worker two senders, so a batch waits in every worker
while another is recorded: beside the default run it says whether the two-worker line
is held back by workers idle between one sender's requests, or by the head's lock and
the cores (stop 31's note on issue 20).

Beside the rates, the whole machine's busy CPU over each timed run, in µs an access (Linux's
/proc/stat: the workers, the bench's senders and the database server alike): on a machine
of few cores, the two workers' rate cannot pass ``cores / that``, and its ratio to raw append
is printed as the ceiling the two-worker target has on this machine.

The denominator, raw append: stored events the size of a recorded access,
built before the clock starts, through the recorder's own chained insert (the
chain's hashes, the write, one transaction per batch of ``--batch``), in one
process. So the ratio measures what the service adds to the store, and nothing
else: work made faster *inside* the store speeds both sides and lowers the
ratio (with the service's Python overlapping the store's insert, it can only
lower it). The HTTP runs share the machine's cores with their own client (one
sender a worker); on a machine loaded by other work both sides slow down, but
not alike: quote ratios measured quiet.

Issue 19: the Python API with 1-10 data subjects per access (named by key ids,
blind-indexed: docs/ledger-format.md §9.1) over the plain case, side by side,
on a ledger of its own, >= 0.7 (``--subjects-only``: that alone); beside the
target's case, people all new and people named the run before; and the rate at
which a lookup then brings the access index (no longer written by ingest) up to
the chain.

The zone it records into and the bodies it sends are bench/_ingest_ledger.py's; the stage
table is bench/_ingest_stages.py's.

    .venv/bin/python bench/ingest.py [--events N] [--batch B] [--repeats R] [--connections C]
                                     [--subjects-only]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import count
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

import httpx
from _common import ROOT, busy_cpu_seconds, pg_settings, postgres_url, scratch_schema, target
from _ingest_ledger import PLATFORM, access_json, prepare, report_of, subjects_of
from _ingest_stages import print_stages, stage_costs
from _sender import RawSender, SenderError, post_request
from _workers import connection_owner, worker_pids
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    Role,
)
from ledger.store.connect import application_env
from ledger.subjects import SubjectVault
from projections.sharing_terms import SharingTerms
from security.apikeys import open_api_keys

T = TypeVar("T")


def python_api_rate(
    app: GovLedger, grant: Any, events: int, batch: int, *, subjects: int | None = None
) -> float:
    """Accesses/s through ``GovLedger.record_accesses``; ``subjects``: the cohort they name."""
    terms = SharingTerms(app)
    bodies = [access_json(i, grant, f"py{uuid.uuid4().hex[:6]}") for i in range(events)]
    if subjects is not None:
        for i, body in enumerate(bodies):
            body["subjects"] = subjects_of(i, subjects)
    started = time.perf_counter()
    for i in range(0, events, batch):
        evaluate = terms.evaluator()
        reports = [report_of(b) for b in bodies[i : i + batch]]
        app.record_accesses(PLATFORM, ((r, evaluate(r)) for r in reports))
    return events / (time.perf_counter() - started)


# The raw rows' topic: as long as an access's (40 characters, the same bytes hashed), but
# no domain event. An access's topic over random state would be a row no reader decodes:
# each worker's /metrics follower stops on it (collector_up{part="ledger"} 0) and the
# projections would set it aside.
RAW_TOPIC = "bench.raw_append:AccessSizedRow.Recorded"


def raw_append_rate(
    settings: Settings, state_size: int, events: int, batch: int, cpu: list[float] | None = None
) -> float:
    """Accesses/s of the raw chained append; ``cpu``: gets the machine's CPU µs an access."""
    factory = InfrastructureFactory.construct(Environment(env=application_env(settings)))
    recorder = factory.application_recorder()
    state = os.urandom(state_size)
    batches = [
        [StoredEvent(uuid.uuid4(), 1, RAW_TOPIC, state) for _ in range(batch)]
        for _ in range(events // batch)
    ]
    with _CpuMeter(cpu, events):
        started = time.perf_counter()
        for b in batches:
            recorder.insert_events(b)
        rate = events / (time.perf_counter() - started)
    factory.close()
    return rate


class _CpuMeter:
    """The whole machine's busy CPU over a timed run, in µs an access, appended to ``into``
    (when given and the machine says: Linux's /proc/stat). With the cores busy beside it,
    it says whether a rate is capped by the CPU every process of the run shares."""

    def __init__(self, into: list[float] | None, events: int) -> None:
        self.into, self.events = into, events
        self.before: float | None = None

    def __enter__(self) -> None:
        self.before = busy_cpu_seconds()

    def __exit__(self, *exc: object) -> None:
        after = busy_cpu_seconds()
        if self.into is not None and self.before is not None and after is not None:
            self.into.append((after - self.before) / self.events * 1e6)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BATCH_PATH = "/api/v1/accesses/batch"


def http_rate(
    settings: Settings,
    grant: Any,
    events: int,
    batch: int,
    workers: int,
    senders: int = 1,
    cpu: list[float] | None = None,
) -> float:
    """Accesses/s through ``POST /accesses/batch``; ``cpu``: gets the machine's CPU µs an
    access over the timed part (workers, senders and database server alike)."""
    with open_api_keys(settings) as keys:  # closed: a collected pool warns from its own thread
        token = keys.create(Role.EXCHANGE_PLATFORM, label="bench").token
    port = free_port()
    env = dict(
        os.environ,
        GOVLEDGER_DATABASE_URL=settings.database_url,
        GOVLEDGER_POSTGRES_SCHEMA=settings.postgres_schema,
        GOVLEDGER_STATE_DIR=settings.state_dir,
        # Several workers share their request metrics through files (docs/operations.md).
        GOVLEDGER_METRICS_DIR=tempfile.mkdtemp(prefix="govledger-metrics-"),
    )
    server = subprocess.Popen(
        [Path(sys.executable).parent / "govledger", "serve", "--port", str(port),
         "--workers", str(workers)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    run = f"http{uuid.uuid4().hex[:6]}"
    bodies = [
        json.dumps({"accesses": [access_json(i, grant, run) for i in range(j, j + batch)]})
        for j in range(0, events, batch)
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base_url = f"http://127.0.0.1:{port}"
    requests = [post_request(port, BATCH_PATH, headers, body) for body in bodies]
    clients: list[RawSender] = []
    try:
        with httpx.Client(base_url=base_url, timeout=120) as probe:
            _wait_until_up(probe)
        warm_up = (
            post_request(
                port,
                BATCH_PATH,
                headers,
                json.dumps({"accesses": [access_json(i, grant, f"{run}w{i}")]}),
            )
            for i in count()
        )
        # Untimed: each sender's connection is placed on a worker of its own (bench/_workers.py),
        # and each worker's first requests build FastAPI's routes and fill its pool (about
        # 0.5 s, once per process): the rate is that of a running service.
        place = _Placement(server.pid, port, workers, -(-senders // workers))
        taken: Counter[int] = Counter()
        for _ in range(senders):
            clients.append(place.sender(taken, warm_up, clients))
        _wait_until_counted(clients)
        queue: SimpleQueue[bytes] = SimpleQueue()
        for request in requests:
            queue.put(request)

        def send(client: RawSender) -> None:  # each sender on its own connection
            while True:
                try:
                    request = queue.get_nowait()
                except Empty:
                    return
                status = client.post(request)
                if status != 200:  # recorded (retries are not sent here)
                    raise SenderError(f"a batch was answered {status}")

        with _CpuMeter(cpu, events):
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=senders) as pool:
                list(pool.map(send, clients))
            elapsed = time.perf_counter() - started
        return events / elapsed
    finally:
        for client in clients:
            client.close()
        server.terminate()
        server.wait(timeout=30)


# How long a sender may reconnect to find a worker no other sender uses: each try is about
# a coin flip, once every worker is up (a loaded machine starts a worker slowly).
PLACEMENT_SECONDS = 120


@dataclass
class _Placement:
    """One sender (one keep-alive connection, bench/_sender.py) served by a worker no other
    sender's connection is on while there are workers to spare (bench/_workers.py)."""

    server_pid: int
    port: int
    workers: int
    per_worker: int  # senders a worker serves at most

    def sender(
        self, taken: Counter[int], warm_up: Iterator[bytes], placed: list[RawSender]
    ) -> RawSender:
        """A sender warmed up twice on a worker serving fewer than ``per_worker`` of the
        senders counted in ``taken`` (then counted there); the senders ``placed`` before it
        are kept from idling past the server's keep-alive meanwhile."""
        deadline = time.monotonic() + PLACEMENT_SECONDS
        while time.monotonic() < deadline:
            _touch(placed)
            client = RawSender(self.port)
            for _ in range(2):
                status = client.post(next(warm_up))
                if status != 200:
                    raise SenderError(f"a warm-up batch was answered {status}")
            processes = [self.server_pid, *worker_pids(self.server_pid)]
            owner = connection_owner(self.port, client.client_port, processes)
            if owner is not None and taken[owner] < self.per_worker:
                taken[owner] += 1
                return client
            client.close()  # on a worker another sender has: reconnect
        raise RuntimeError(f"no worker with room for sender {taken.total() + 1}")


# A worker's ``/metrics`` once its follower has read the ledger to the head (api/metrics.py).
COUNTED = re.compile(rb'^govledger_collector_up\{part="ledger"\} 1(?:\.0)?$', re.MULTILINE)


def _touch(clients: list[RawSender]) -> None:
    """One request on each connection: uvicorn closes one idle for 5 s (its keep-alive)."""
    for client in clients:
        status, _ = client.get("/healthz")
        if status != 200:
            raise SenderError(f"/healthz was answered {status}")


def _wait_until_counted(clients: list[RawSender]) -> None:
    """Until each sender's worker has counted the ledger for ``/metrics``: a worker starting
    reads the whole ledger for its counts, page by page (docs/operations.md §Metrics, "A
    worker's first minutes"), and that reading, on the cores the timed run shares, grew
    with the ledger from repeat to repeat (two workers: about 50k, 30k, then 19k accesses
    a second on one ledger). The rate is that of a running service."""
    deadline = time.monotonic() + 300
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        while time.monotonic() < deadline:
            # Every connection asks at once each round (a scrape may follow the ledger for
            # 2 s), so none idles past the server's keep-alive of 5 s.
            answers = list(pool.map(lambda client: client.get("/metrics"), clients))
            if all(status == 200 and COUNTED.search(body) for status, body in answers):
                return
            time.sleep(0.2)  # a worker is still reading the ledger: poll, bounded
    raise RuntimeError("a worker did not count the ledger for /metrics within 300 s")


def _wait_until_up(client: httpx.Client) -> None:
    deadline = time.monotonic() + 180  # a loaded machine starts a worker slowly
    while time.monotonic() < deadline:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)  # the server process is still starting: poll, bounded
    raise RuntimeError("govledger serve did not come up within 180 s")


# In-process stages of one batch on its way through POST /accesses/batch, in order.
def measure(
    settings: Settings,
    events: int,
    batch: int,
    repeats: int,
    *,
    stages_only: bool = False,
    connections: int = 1,
) -> dict[str, Any]:
    app, grant = prepare(settings)
    sample = app.recorder.select_notifications(start=1, limit=10)[-1]
    state_size = len(sample.state)  # a recorded access is about this size; see below
    rates: dict[str, list[float]] = {"raw": [], "python": [], "http": [], "http2": []}
    cpu: dict[str, list[float]] = {"raw": [], "http": [], "http2": []}
    for _ in range(repeats):
        rates["raw"].append(raw_append_rate(settings, state_size, events, batch, cpu["raw"]))
        rates["python"].append(python_api_rate(app, grant, events, batch))
        if stages_only:  # iterating on the batch path: no servers (no target lines either)
            continue
        for name, workers in (("http", 1), ("http2", 2)):
            senders = workers * connections
            rates[name].append(
                http_rate(settings, grant, events, batch, workers, senders, cpu[name])
            )
    result: dict[str, Any] = {
        name: statistics.median(values) if values else float("nan")
        for name, values in rates.items()
    }
    result["cpu"] = {name: statistics.median(values) for name, values in cpu.items() if values}
    result["stages"] = stage_costs(app, grant, batch, max(repeats, 5))
    app.close()
    return result


SUBJECT_CASES = (
    ("mixed", "the same people every repeat (the target)"),
    ("new", "people never named before: a key each"),
    ("again", "the people of the run before: keys found"),
)


def subjects_ratio(
    settings: Settings, events: int, batch: int, repeats: int
) -> tuple[dict[str, list[float]], float]:
    """Python API with 1-10 data subjects per access over the plain case, side by side:
    each case's rate (accesses/s) in each repeat, ``plain`` first; and the rate (chain
    rows/s) at which a lookup then catches the access index up with all of them.

    ``mixed`` names the same people in every repeat (its first run creates their keys,
    the others find them: the figure measured since issue 19); ``new`` names a cohort
    never named before, ``again`` the cohort of the ``new`` run just before it. A
    process keeps key ids in memory (``ledger/subjects.py``, ``CACHE_SIZE``): ``mixed``
    and ``again`` find them there while two runs' people fit in it. Ratios are taken
    per repeat, not of medians: the ledger grows run by run (and the machine is
    shared), so runs of different repeats are not side by side, and ``mixed``'s slow
    first run would always pit its later, slower runs against plain's middle one.
    """
    app, grant = prepare(settings)
    app.subjects = vault = SubjectVault(settings, os.urandom(32))
    rates: dict[str, list[float]] = {"plain": [], **{case: [] for case, _ in SUBJECT_CASES}}
    for repeat in range(repeats):
        rates["plain"].append(python_api_rate(app, grant, events, batch))
        for case, cohort in (("mixed", 0), ("new", 1 + repeat), ("again", 1 + repeat)):
            rates[case].append(python_api_rate(app, grant, events, batch, subjects=cohort))
    head = app.recorder.max_notification_id() or 0
    with vault.keys() as keys:
        started = time.perf_counter()
        keys.catch_up(head)
        catch_up = head / (time.perf_counter() - started)
    app.close()
    return rates, catch_up


def print_subjects(directory: str, events: int, batch: int, repeats: int) -> None:
    """The issue-19 ratios on each backend, each on a ledger of its own."""
    results = {"sqlite": subjects_ratio(
        Settings(database_url=f"sqlite:///{directory}/subjects.db", state_dir=directory),
        events, batch, repeats,
    )}  # fmt: skip
    url = postgres_url()
    if url:
        with scratch_schema(url) as schema:
            results["postgresql"] = subjects_ratio(
                pg_settings(url, schema, directory), events, batch, repeats
            )
    print(f"python API, 1-10 data subjects per access / plain; {events} accesses a run")
    print("median of the repeats' side-by-side ratios (each repeat's; the ratio of medians)")
    ratios = {backend: _ratios(rates) for backend, (rates, _) in results.items()}
    for backend, (rates, catch_up) in results.items():
        for case, label in SUBJECT_CASES:
            each = " ".join(f"{r:.2f}" for r in ratios[backend][case])
            of_medians = statistics.median(rates[case]) / statistics.median(rates["plain"])
            middle = statistics.median(ratios[backend][case])
            print(f"  {backend:<11} {case:<6} {middle:.2f}  ({each}; {of_medians:.2f})  {label}")
        print(f"  {backend:<11} access index caught up by a lookup: {catch_up:,.0f} rows/s")
    for backend, by_case in ratios.items():
        print(target(f"ingest_subjects_ratio_{backend}", statistics.median(by_case["mixed"]), 0.7))


def _ratios(rates: dict[str, list[float]]) -> dict[str, list[float]]:
    """Each case's rate over the plain rate of the same repeat."""
    return {
        case: [rate / plain for rate, plain in zip(rates[case], rates["plain"], strict=True)]
        for case, _ in SUBJECT_CASES
    }


def print_rates(
    results: dict[str, dict[str, Any]], batch: int, repeats: int, connections: int
) -> None:
    print(f"access events/s, batches of {batch}; medians of {repeats} runs")
    print(
        f"HTTP: 1 worker, {connections} sender(s); "
        f"HTTP x2: 2 workers, {2 * connections} concurrent senders, {connections} a worker"
    )
    header = f"{'backend':<11} {'raw append':>11} {'python API':>11} {'HTTP':>8} {'HTTP x2':>8}"
    print(header + f" {'py/raw':>7} {'HTTP/raw':>9} {'x2/raw':>7}")
    for backend, r in results.items():
        print(
            f"{backend:<11} {r['raw']:>11,.0f} {r['python']:>11,.0f} {r['http']:>8,.0f} "
            f"{r['http2']:>8,.0f} {r['python'] / r['raw']:>7.2f} {r['http'] / r['raw']:>9.2f} "
            f"{r['http2'] / r['raw']:>7.2f}"
        )


def print_cpu(results: dict[str, dict[str, Any]]) -> None:
    """The machine's CPU an access in each run, and what it allows the two workers.

    The two-worker run shares the machine's cores among the workers, the senders and the
    database server; at ``c`` µs of CPU an access in all, no code can take it past
    ``cores / c`` accesses a second. Its ceiling over raw append says how far the
    two-worker ratio could go on this machine with every core busy.
    """
    cores = os.cpu_count() or 1
    shown = {b: r["cpu"] for b, r in results.items() if {"raw", "http2"} <= r.get("cpu", {}).keys()}
    if not shown:
        return
    print(f"\nmachine CPU µs an access, all processes (service, senders, database); {cores} cores")
    print(f"{'backend':<11} {'raw append':>11} {'HTTP':>8} {'HTTP x2':>8} {'x2 ceiling/raw':>15}")
    for backend, cpu in shown.items():
        ceiling = cores * 1e6 / cpu["http2"]
        print(
            f"{backend:<11} {cpu['raw']:>11.1f} {cpu.get('http', float('nan')):>8.1f} "
            f"{cpu['http2']:>8.1f} {ceiling / results[backend]['raw']:>15.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--stages-only",
        action="store_true",
        help="raw append, Python API and the stage table only: no HTTP server, no targets",
    )
    parser.add_argument(
        "--subjects-only", action="store_true", help="only the data-subjects ratio (issue 19)"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=1,
        help="senders a worker serves at once (default 1; 2: does a batch in flight per "
        "worker leave the workers idle?)",
    )
    args = parser.parse_args()
    only = args.stages_only
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as directory:
        if args.subjects_only or not only:
            print_subjects(directory, args.events, args.batch, args.repeats)
        if args.subjects_only:
            return
        sqlite = Settings(database_url=f"sqlite:///{directory}/ingest.db", state_dir=directory)
        run = partial(
            measure,
            events=args.events,
            batch=args.batch,
            repeats=args.repeats,
            stages_only=only,
            connections=args.connections,
        )
        results["sqlite"] = run(sqlite)
        url = postgres_url()
        if url:
            with scratch_schema(url) as schema:
                results["postgresql"] = run(pg_settings(url, schema, directory))
    print_rates(results, args.batch, args.repeats, args.connections)
    print_cpu(results)
    print_stages(results)
    if only:
        return
    print()
    for backend, r in results.items():
        print(target(f"ingest_http_1worker_ratio_{backend}", r["http"] / r["raw"], 0.5))
        print(target(f"ingest_http_2workers_ratio_{backend}", r["http2"] / r["raw"], 0.8))
    if "postgresql" in results:
        on_pg = results["postgresql"]
        best = max(on_pg["http"], on_pg["http2"])
        print(target("ingest_http_postgresql_events_per_s", best, 10_000))


if __name__ == "__main__":
    main()
