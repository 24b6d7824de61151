"""What the failover test and bench run on the service's machine: a command line.

``python -m tests.ops.patroni_agent COMMAND``, so that it runs inside the ``app`` network namespace
(tests/ops/patroni_cluster.py), the only place the cluster's addresses are
reachable from. Each command answers one JSON object on stdout, except
``load``, which prints one line per acknowledged request while it runs:

* ``members URL…`` — Patroni's ``GET /cluster`` from the first member that answers;
* ``await --streaming N URL…`` — until one leader runs and N replicas stream
  from it on its timeline (deadline 120 s);
* ``setup`` — the ledger created through the multi-host URL, with the
  departments, resource and grant the accesses name, and a platform key;
* ``load`` — the exchange platform: batches and single accesses through the
  service (the FastAPI app in-process, its real exception handlers), each
  retried after a 503 until acknowledged, until SIGTERM; then the books;
* ``check`` — every acknowledged access present exactly once, ``govledger
  verify --full`` on the primary, every node holding the same chain, and the
  views (caught up incrementally across the failovers) equal to a rebuild.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parents[2] / "bench"
_DEADLINE_SECONDS = 120
_RETRY_PAUSE_SECONDS = 0.1


# ------------------------------------------------------------------ Patroni


def _cluster(client: httpx.Client, urls: list[str]) -> list[dict[str, Any]] | None:
    for url in urls:
        try:
            reply = client.get(f"{url}/cluster", timeout=2)
        except httpx.TransportError:
            continue
        if reply.status_code == 200:
            members: list[dict[str, Any]] = reply.json().get("members", [])
            return members
    return None


def members(urls: list[str]) -> dict[str, Any]:
    with httpx.Client() as client:
        return {"members": _cluster(client, urls) or []}


def _settled(found: list[dict[str, Any]], streaming: int, not_leader: str) -> bool:
    leaders = [m for m in found if m["role"] == "leader" and m["state"] == "running"]
    if len(leaders) != 1 or leaders[0]["name"] == not_leader:
        return False
    timeline = leaders[0].get("timeline")
    replicas = [
        m
        for m in found
        if m["role"] in ("sync_standby", "replica")
        and m["state"] in ("streaming", "running")
        and m.get("timeline") == timeline
        and isinstance(m.get("lag"), int)
    ]
    return len(replicas) >= streaming and any(m["role"] == "sync_standby" for m in replicas)


def await_members(urls: list[str], streaming: int, not_leader: str) -> dict[str, Any]:
    deadline = time.monotonic() + _DEADLINE_SECONDS
    found: list[dict[str, Any]] = []
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            found = _cluster(client, urls) or []
            if _settled(found, streaming, not_leader):
                return {"ok": True, "members": found}
            time.sleep(0.2)  # poll Patroni while it elects and replicas stream, bounded
    raise SystemExit(f"the cluster did not settle: {json.dumps(found)}")


# ------------------------------------------------------------------ the ledger


def _settings(args: argparse.Namespace) -> Any:
    from ledger.config import Settings  # noqa: PLC0415 - Patroni commands need no ledger

    return Settings(database_url=args.url, state_dir=args.state, postgres_pool_size=2)


def setup(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    from ingest import prepare  # noqa: PLC0415 - bench/ingest.py's zone: one grant

    from ledger.domain import Role  # noqa: PLC0415
    from security.apikeys import open_api_keys  # noqa: PLC0415

    settings = _settings(args)
    app, grant = prepare(settings)
    app.close()
    with open_api_keys(settings) as keys:
        token = keys.create(Role.EXCHANGE_PLATFORM, label="failover").token
    return {"token": token, "grant": str(grant)}


class Books:
    """What the platform sent, what was acknowledged, every status seen."""

    def __init__(self) -> None:
        self.acknowledged: list[str] = []  # platform_event_ids
        self.statuses: Counter[int] = Counter()
        self.retried_and_found = 0  # acknowledged on a retry as already recorded
        self.missing_retry_after = 0
        self.attempts: list[tuple[float, float, int]] = []  # (start, end, status)


def _send(client: Any, headers: dict[str, str], path: str, body: Any, books: Books) -> Any:
    """POST until acknowledged (200/201); a 503 must carry Retry-After; stop on SIGTERM."""
    while True:
        started = time.time()
        reply = client.post(path, json=body, headers=headers)
        books.attempts.append((started, time.time(), reply.status_code))
        books.statuses[reply.status_code] += 1
        if reply.status_code in (200, 201):
            return reply.json()
        if reply.status_code == 503 and "retry-after" not in reply.headers:
            books.missing_retry_after += 1
        if _STOP.is_set():
            return None
        _STOP.wait(_RETRY_PAUSE_SECONDS)  # pace the retries (Retry-After is for real clients)


_STOP = threading.Event()


def load(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    from fastapi.testclient import TestClient  # noqa: PLC0415
    from ingest import access_json  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    signal.signal(signal.SIGTERM, lambda *_: _STOP.set())
    if args.seconds:  # a measured run: stop by itself
        threading.Timer(args.seconds, _STOP.set).start()
    began = time.monotonic()
    books = Books()
    headers = {"Authorization": f"Bearer {args.token}"}
    run = uuid.uuid4().hex[:8]
    n = 0
    with TestClient(create_app(_settings(args)), raise_server_exceptions=False) as client:
        while not _STOP.is_set():
            single = n % 4 == 3
            size = 1 if single else args.batch
            bodies = [access_json(n + i, args.grant, run) for i in range(size)]
            n += size
            if single:
                answer = _send(client, headers, "/api/v1/accesses", bodies[0], books)
                found = answer is not None and answer.get("newly_recorded") is False
            else:
                answer = _send(
                    client, headers, "/api/v1/accesses/batch", {"accesses": bodies}, books
                )
                found = answer is not None and answer["already_recorded"] > 0
            if answer is None:
                break
            books.retried_and_found += int(found)
            books.acknowledged += [b["platform_event_id"] for b in bodies]
            sent = books.attempts[-1][0]  # the acknowledged attempt's start
            line = {"sent": sent, "t": time.time(), "acknowledged": len(books.acknowledged)}
            print(json.dumps(line))
            sys.stdout.flush()
    Path(args.out).write_text(
        json.dumps(
            {
                "acknowledged": books.acknowledged,
                "statuses": {str(k): v for k, v in books.statuses.items()},
                "retried_and_found": books.retried_and_found,
                "missing_retry_after": books.missing_retry_after,
                "attempts": books.attempts,
                "seconds": time.monotonic() - began,
            }
        ),
        encoding="utf-8",
    )
    return {"done": True}


def project(args: argparse.Namespace) -> dict[str, Any]:
    """Bring the views to the ledger's head (incrementally, from their tracking record)."""
    from ledger.store.connect import open_reader  # noqa: PLC0415
    from projections.runner import Projector  # noqa: PLC0415
    from projections.store import ViewStore  # noqa: PLC0415

    settings = _settings(args)
    store, reader = ViewStore(settings), open_reader(settings)
    try:
        return {"position": Projector(settings, store, reader).run()}
    finally:
        reader.close()
        store.close()


def check(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg  # noqa: PLC0415

    from ledger.domain.ids import data_access_id  # noqa: PLC0415
    from ledger.store.conninfo import postgres_conninfo  # noqa: PLC0415
    from projections.store import ViewStore  # noqa: PLC0415
    from tests.ops.test_projection_worker_crash import (  # noqa: PLC0415
        rebuild_elsewhere,
        view_tables,
    )

    settings = _settings(args)
    acknowledged = json.loads(Path(args.acknowledged).read_text(encoding="utf-8"))["acknowledged"]
    ids = [data_access_id(p) for p in acknowledged]
    with psycopg.connect(**postgres_conninfo(settings.database), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT originator_id, count(*) FROM ledger_events"
            " WHERE originator_id = ANY(%s) GROUP BY originator_id",
            (ids,),
        ).fetchall()
        (head,) = conn.execute("SELECT max(notification_id) FROM ledger_events").fetchone() or (0,)
    counts = {row[0]: int(row[1]) for row in rows}
    verified = subprocess.run(
        [str(Path(sys.executable).parent / "govledger"), "verify", "--full", "--json"],
        env={**_env(settings), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    project(args)
    store = ViewStore(settings)
    try:
        incremental = view_tables(store)
    finally:
        store.close()
    elsewhere = settings.with_overrides(postgres_schema="rebuilt")
    with psycopg.connect(**postgres_conninfo(settings.database), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS rebuilt CASCADE")
        conn.execute("CREATE SCHEMA rebuilt")
    rebuilt = rebuild_elsewhere(settings, elsewhere)
    differing = sorted(name for name in incremental if incremental[name] != rebuilt.get(name))
    return {
        "acknowledged": len(ids),
        "distinct_acknowledged": len(set(ids)),
        "missing": sum(1 for i in set(ids) if i not in counts),
        "duplicated": sum(1 for c in counts.values() if c != 1),
        "head": head,
        "verify_returncode": verified.returncode,
        "verify_output": (verified.stdout + verified.stderr)[-2000:],
        "views_differing": differing,
        "view_rows": sum(len(v) for v in incremental.values()),
    }


def heads(args: argparse.Namespace) -> dict[str, Any]:
    """Each node's chain head (position, hash), read on the node itself (replicas too)."""
    import psycopg  # noqa: PLC0415

    from ledger.config import DatabaseURL  # noqa: PLC0415
    from ledger.store.conninfo import postgres_conninfo  # noqa: PLC0415

    found: dict[str, Any] = {}
    for url in args.node:
        conninfo = postgres_conninfo(DatabaseURL.parse(url))
        with psycopg.connect(**conninfo, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT notification_id, encode(hash, 'hex'), pg_is_in_recovery()"
                " FROM ledger_events ORDER BY notification_id DESC LIMIT 1"
            ).fetchone()
        found[url.rpartition("@")[2]] = list(row) if row else None
    return {"heads": found}


def _env(settings: Any) -> dict[str, str]:
    return {
        "GOVLEDGER_DATABASE_URL": settings.database_url,
        "GOVLEDGER_STATE_DIR": settings.state_dir,
        "GOVLEDGER_CREATE_SCHEMA": "false",
        "GOVLEDGER_LOG_FORMAT": "text",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="patroni_agent")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("members").add_argument("urls", nargs="+")
    p = sub.add_parser("await")
    p.add_argument("--streaming", type=int, required=True)
    p.add_argument("--not-leader", default="")
    p.add_argument("urls", nargs="+")
    for name in ("setup", "load", "project", "check"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--state", required=True)
        if name == "load":
            p.add_argument("--token", required=True)
            p.add_argument("--grant", required=True)
            p.add_argument("--out", required=True)
            p.add_argument("--batch", type=int, default=20)
            p.add_argument("--seconds", type=float, default=0, help="stop after (0: SIGTERM)")
        if name == "check":
            p.add_argument("--acknowledged", required=True)
    sub.add_parser("heads").add_argument("node", nargs="+")
    args = parser.parse_args(argv)
    commands = {
        "members": lambda: members(args.urls),
        "await": lambda: await_members(args.urls, args.streaming, args.not_leader),
        "setup": lambda: setup(args),
        "load": lambda: load(args),
        "project": lambda: project(args),
        "check": lambda: check(args),
        "heads": lambda: heads(args),
    }
    json.dump(commands[args.command](), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
