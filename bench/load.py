"""A bounded mixed load on loopback: ingesters, clerks and auditors at once (issue #7 item 3).

Against a real ``govledger serve --workers 2`` on PostgreSQL (a scratch schema):

- ingesters POST batches of accesses to ``/api/v1/accesses/batch``;
- clerks run commands: a department clerk submits a sharing request, the
  provider approves it;
- auditors read: the raw ledger feed, inclusion proofs, the head, records.

Prints throughput and p50/p99 latency per class, every non-2xx status, then
runs ``govledger verify --full`` on the result. Ends with ``target`` lines.
The driver is asyncio + httpx rather than locust: locust's gevent
monkey-patching does not mix with the in-process setup (keys, scratch schema,
server lifecycle), and a closed-loop driver of ~150 lines is all this needs.

    .venv/bin/python bench/load.py [--seconds 60] [--ingesters 4] [--clerks 4] [--auditors 4]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _common import pg_settings, postgres_url, scratch_schema, target

from ledger.checkpoints import prepare_proof_tables
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from security.apikeys import open_api_keys
from tests.api.conftest import PROVIDER, USER, access, population_resource, sharing_request
from tests.served import Server, run_cli

MAX_SECONDS = 600
BATCH = 100


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter[int]] = defaultdict(Counter)
        self.items: Counter[str] = Counter()

    def record(self, kind: str, seconds: float, status: int, items: int = 1) -> None:
        self.latency[kind].append(seconds)
        self.status[kind][status] += 1
        if status < 400:
            self.items[kind] += items

    def fivexx(self) -> int:
        return sum(n for c in self.status.values() for s, n in c.items() if s >= 500)


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def tokens(settings: Settings) -> dict[str, dict[str, str]]:
    wanted = {
        "platform": (Role.EXCHANGE_PLATFORM, None),
        "clerk": (Role.DEPARTMENT_CLERK, USER),
        "provider": (Role.DATA_PROVIDER, PROVIDER),
        "auditor": (Role.AUDITOR, None),
        "admin": (Role.ADMIN, None),
    }
    with open_api_keys(settings) as keys:
        return {
            name: {"Authorization": f"Bearer {keys.create(role, dept, label='load').token}"}
            for name, (role, dept) in wanted.items()
        }


def approve_body() -> dict[str, Any]:
    expires = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    return {"items": ["姓名", "住址"], "expires_at": expires}


def seed(client: httpx.Client, auth: dict[str, dict[str, str]]) -> str:
    """Two departments, the population resource and one grant: the grant id."""
    for code, name in ((PROVIDER, "区公安分局"), (USER, "区民政局")):
        client.post(
            "/api/v1/departments", json={"code": code, "name": name}, headers=auth["admin"]
        ).raise_for_status()
    client.post(
        "/api/v1/resources", json=population_resource(), headers=auth["provider"]
    ).raise_for_status()
    reply = client.post(
        "/api/v1/sharing-requests",
        json=sharing_request(period_end="2027-12-31"),
        headers=auth["clerk"],
    )
    grant = str(reply.raise_for_status().json()["id"])
    client.post(
        f"/api/v1/sharing-requests/{grant}/approve", json=approve_body(), headers=auth["provider"]
    ).raise_for_status()
    return grant


async def timed(
    stats: Stats, kind: str, call: Awaitable[httpx.Response], items: int = 1
) -> httpx.Response:
    started = time.perf_counter()
    reply = await call
    stats.record(kind, time.perf_counter() - started, reply.status_code, items)
    return reply


@dataclass
class User:
    """One simulated user: its client, credentials, the shared grant and stats, its own RNG."""

    c: httpx.AsyncClient
    auth: dict[str, dict[str, str]]
    grant: str
    stats: Stats
    stop: float
    rng: random.Random


async def ingester(u: User) -> None:
    run = uuid.uuid4().hex[:8]
    n = 0
    while time.monotonic() < u.stop:
        now = datetime.now(UTC).isoformat()
        accesses = [
            access(f"load-{run}-{n}-{i}", grant_id=u.grant, accessed_at=now) for i in range(BATCH)
        ]
        body = {"accesses": accesses}
        call = u.c.post("/api/v1/accesses/batch", json=body, headers=u.auth["platform"])
        await timed(u.stats, "ingest", call, BATCH)
        n += 1


async def clerk(u: User) -> None:
    """A command pair: the user department submits, the provider approves."""
    while time.monotonic() < u.stop:
        body = sharing_request(period_end="2027-12-31")
        call = u.c.post("/api/v1/sharing-requests", json=body, headers=u.auth["clerk"])
        reply = await timed(u.stats, "command", call)
        if reply.status_code != 201:
            continue
        path = f"/api/v1/sharing-requests/{reply.json()['id']}/approve"
        call = u.c.post(path, json=approve_body(), headers=u.auth["provider"])
        await timed(u.stats, "command", call)


async def auditor(u: User) -> None:
    head = 1
    reader = u.auth["auditor"]
    while time.monotonic() < u.stop:
        choice = u.rng.random()
        if choice < 0.25:
            reply = await timed(u.stats, "read", u.c.get("/api/v1/ledger"))
            head = max(head, int(reply.json().get("head_position", head)))
        elif choice < 0.5:
            params = {"after": u.rng.randrange(0, head)}
            call = u.c.get("/api/v1/ledger/events", params=params, headers=reader)
            await timed(u.stats, "read", call)
        elif choice < 0.75:
            params = {"position": u.rng.randrange(1, head + 1)}
            call = u.c.get("/api/v1/proofs/inclusion", params=params, headers=reader)
            await timed(u.stats, "proof", call)
        else:
            call = u.c.get(f"/api/v1/sharing-requests/{u.grant}", headers=reader)
            await timed(u.stats, "read", call)


Worker = Callable[[User], Awaitable[None]]


async def drive(
    url: str,
    auth: dict[str, dict[str, str]],
    grant: str,
    seconds: float,
    mix: dict[Worker, int],
    seed_value: int,
) -> tuple[Stats, float]:
    stats = Stats()
    limits = httpx.Limits(max_connections=sum(mix.values()) + 4)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
        started = time.monotonic()
        stop = started + seconds
        workers = [w for w, count in mix.items() for _ in range(count)]
        users = [
            User(c, auth, grant, stats, stop, random.Random(seed_value * 100 + n))
            for n in range(len(workers))
        ]
        await asyncio.gather(*(worker(user) for worker, user in zip(workers, users, strict=True)))
        return stats, time.monotonic() - started


def verify(settings: Settings) -> tuple[bool, float]:
    started = time.perf_counter()
    done = run_cli(settings, "verify", "--full")
    print(done.stdout.strip() or done.stderr.strip())
    return done.returncode == 0, time.perf_counter() - started


def report(stats: Stats, elapsed: float) -> None:
    print(
        f"{'class':<8} {'requests':>9} {'req/s':>8} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        "  statuses"
    )
    for kind in ("ingest", "command", "read", "proof"):
        lat = stats.latency.get(kind, [])
        print(
            f"{kind:<8} {len(lat):>9} {len(lat) / elapsed:>8.1f} "
            f"{stats.items[kind] / elapsed:>9.1f} {percentile(lat, 50) * 1000:>8.1f} "
            f"{percentile(lat, 99) * 1000:>8.1f}  {dict(stats.status.get(kind, {}))}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ingesters", type=int, default=4)
    parser.add_argument("--clerks", type=int, default=4)
    parser.add_argument("--auditors", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    url = postgres_url()
    if url is None:
        raise SystemExit("load: no PostgreSQL (set GOVLEDGER_BENCH_DATABASE_URL)")
    mix: dict[Worker, int] = {ingester: args.ingesters, clerk: args.clerks, auditor: args.auditors}
    with scratch_schema(url) as schema, tempfile.TemporaryDirectory() as tmp:
        settings = pg_settings(url, schema, str(Path(tmp) / "state"))
        init_ledger(settings)
        prepare_proof_tables(settings, None)
        auth = tokens(settings)
        with Server(settings, workers=args.workers) as server:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                grant = seed(client, auth)
            print(
                f"load: {seconds:.0f} s, {args.ingesters} ingesters (batches of {BATCH}), "
                f"{args.clerks} clerks, {args.auditors} auditors, "
                f"govledger serve --workers {args.workers}, PostgreSQL"
            )
            stats, elapsed = asyncio.run(drive(server.url, auth, grant, seconds, mix, args.seed))
        report(stats, elapsed)
        valid, verify_seconds = verify(settings)
        print(f"verify --full: {'ok' if valid else 'FAILED'} in {verify_seconds:.1f} s")
    unexpected_4xx = sum(n for c in stats.status.values() for s, n in c.items() if 400 <= s < 500)
    print(target("load_5xx", stats.fivexx(), 0, higher_is_better=False))
    print(target("load_unexpected_4xx", unexpected_4xx, 0, higher_is_better=False))
    print(target("load_chain_valid", 1 if valid else 0, 1))
    print(target("load_ingest_events_per_s", stats.items["ingest"] / elapsed, 1000))
    for kind, goal_ms in (("command", 500), ("read", 500), ("proof", 500)):
        p99 = percentile(stats.latency.get(kind, []), 99) * 1000
        print(target(f"load_{kind}_p99_ms", p99, goal_ms, higher_is_better=False))


if __name__ == "__main__":
    main()
