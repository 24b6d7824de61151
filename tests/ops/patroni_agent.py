"""What the failover test and bench run on the service's machine: a command line.

``python -m tests.ops.patroni_agent COMMAND``, so that it runs inside the ``app`` network namespace
(tests/ops/patroni_cluster.py), the only place the cluster's addresses are
reachable from. Each command answers one JSON object on stdout, except
``load``, which prints one line per acknowledged request while it runs:

* ``members NAME=URL…`` — what each member that answers says of itself
  (Patroni's ``GET /patroni``: role, timeline, the primary's replication);
* ``await --streaming N [--within S] NAME=URL…`` — until one member runs as
  primary and N others stream from it, one synchronously (deadline S, 120 s
  unless given);
* ``await-replica [--within S] NAME=URL`` — until that member says its
  PostgreSQL runs as a replica (run on the member's own machine when its
  link is cut);
* ``cached URL`` — the member's ``GET /cluster``, its cached copy of etcd;
* ``keys URL…`` — Patroni's ``leader``, ``sync`` and ``history`` keys as etcd
  holds them (a linearizable read through etcd's JSON gateway), to explain a
  failover;
* ``setup`` — the ledger created through the multi-host URL, with the
  departments, resource and grant the accesses name, and a platform key;
* ``load`` — the exchange platform: batches and single accesses through the
  service (the FastAPI app in-process, its real exception handlers), each
  retried after a 503 until acknowledged, until SIGTERM; then the books (as
  they stand if a request still waits 20 s later: ``in_flight``);
* ``present`` — read only: how many acknowledged accesses the primary lacks
  or holds twice, and its chain head;
* ``check`` — ``present``, ``govledger verify --full`` on the primary, and
  (unless ``--no-views``) the views, caught up incrementally across the
  failovers, equal to a rebuild.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
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
_STOP_GRACE_SECONDS = 20


# ------------------------------------------------------------------ Patroni


def _own_view(client: httpx.Client, name: str, url: str) -> dict[str, Any] | None:
    """What one member says of itself (``GET /patroni``): its PostgreSQL's role and
    timeline and, on a primary, its ``pg_stat_replication``. Never ``GET /cluster``: that
    is the member's cached copy of etcd, stale on a member that was cut off."""
    try:
        status: dict[str, Any] = client.get(f"{url}/patroni", timeout=2).json()
    except (httpx.TransportError, ValueError):  # cut off, or answering half a reply
        return None
    primary = status.get("role") in ("master", "primary")
    role = "leader" if primary else "sync_standby" if status.get("sync_standby") else "replica"
    return {
        "name": name,
        "role": role,
        "state": status.get("state", ""),
        "timeline": status.get("timeline"),
        "replication": status.get("replication", []) if primary else [],
    }


def _views(client: httpx.Client, urls: list[str]) -> list[dict[str, Any]]:
    named = (url.split("=", 1) for url in urls)
    return [v for name, url in named if (v := _own_view(client, name, url)) is not None]


def members(urls: list[str]) -> dict[str, Any]:
    """Each reachable member's own view (``NAME=URL`` arguments)."""
    with httpx.Client() as client:
        return {"members": _views(client, urls)}


def _settled(found: list[dict[str, Any]], streaming: int, not_leader: str) -> bool:
    """One primary, and ``streaming`` of the others in its ``pg_stat_replication`` as
    streaming, one of them synchronous: a replica streams only on the primary's history."""
    leaders = [m for m in found if m["role"] == "leader" and m["state"] == "running"]
    if len(leaders) != 1 or leaders[0]["name"] == not_leader:
        return False
    others = {m["name"] for m in found} - {leaders[0]["name"]}
    senders = [
        r
        for r in leaders[0]["replication"]
        if r.get("application_name") in others and r.get("state") == "streaming"
    ]
    return len(senders) >= streaming and any(r.get("sync_state") == "sync" for r in senders)


def await_members(
    urls: list[str], streaming: int, not_leader: str, within: float = _DEADLINE_SECONDS
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    found: list[dict[str, Any]] = []
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            found = _views(client, urls)
            if _settled(found, streaming, not_leader):
                return {"ok": True, "members": found}
            time.sleep(0.2)  # poll Patroni while it elects and replicas stream, bounded
    raise SystemExit(f"the cluster did not settle within {within:.0f} s: {json.dumps(found)}")


def await_replica(url: str, within: float) -> dict[str, Any]:
    """Until the member (``NAME=URL``) says its PostgreSQL runs, as a replica."""
    name, _, url = url.partition("=")
    deadline = time.monotonic() + within
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            view = _own_view(client, name, url)
            if view is not None and view["role"] != "leader" and view["state"] == "running":
                return {"ok": True, "member": view}
            time.sleep(0.2)  # poll while it demotes, bounded
    raise SystemExit(f"{name} did not demote within {within:.0f} s")


def cached(url: str) -> dict[str, Any]:
    """The member's ``GET /cluster``: its cached copy of etcd, not necessarily the truth."""
    with httpx.Client() as client:
        members: list[dict[str, Any]] = client.get(f"{url}/cluster", timeout=5).json()["members"]
    return {"members": members}


_KEYS = ("leader", "sync", "history")


def keys(urls: list[str], scope: str = "/service/govledger/") -> dict[str, Any]:
    """Patroni's keys from the first etcd member that answers (linearizable: the truth,
    not what one member's possibly stale copy says)."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    with httpx.Client() as client:
        for url in urls:
            try:
                reply = client.post(
                    f"{url}/v3/kv/range",
                    json={"key": b64(scope), "range_end": b64(scope[:-1] + "0")},
                    timeout=3,
                )
            except httpx.TransportError:
                continue
            if reply.status_code != 200:
                continue
            found = {}
            for kv in reply.json().get("kvs", []):
                name = base64.b64decode(kv["key"]).decode()[len(scope) :]
                if name in _KEYS:
                    found[name] = base64.b64decode(kv.get("value", "")).decode()
            return {"keys": found, "from": url}
    return {"keys": {}, "from": None}


# ------------------------------------------------------------------ the ledger


def _settings(args: argparse.Namespace) -> Any:
    from ledger.config import Settings  # noqa: PLC0415 - Patroni commands need no ledger

    return Settings(database_url=args.url, state_dir=args.state, postgres_pool_size=2)


def setup(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    from _ingest_ledger import prepare  # noqa: PLC0415 - bench/ingest.py's zone: one grant

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
    from _ingest_ledger import access_json  # noqa: PLC0415
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    began = time.monotonic()
    books = Books()

    def write_books(in_flight: bool) -> None:
        Path(args.out).write_text(
            json.dumps(
                {
                    "acknowledged": list(books.acknowledged),
                    "statuses": {str(k): v for k, v in books.statuses.items()},
                    "retried_and_found": books.retried_and_found,
                    "missing_retry_after": books.missing_retry_after,
                    "attempts": list(books.attempts),
                    "seconds": time.monotonic() - began,
                    "in_flight": in_flight,
                }
            ),
            encoding="utf-8",
        )

    def stop(*_: Any) -> None:
        _STOP.set()
        # A request whose COMMIT waits for a synchronous standby that never comes would hold
        # the books forever: after a grace period they are written as they stand.
        grace = threading.Timer(_STOP_GRACE_SECONDS, lambda: (write_books(True), os._exit(0)))
        grace.daemon = True
        grace.start()

    signal.signal(signal.SIGTERM, stop)
    if args.seconds:  # a measured run: stop by itself
        threading.Timer(args.seconds, _STOP.set).start()
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
    write_books(False)
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


def present(args: argparse.Namespace) -> dict[str, Any]:
    """Read only, on the primary: the acknowledged accesses it lacks or holds twice."""
    import psycopg  # noqa: PLC0415

    from ledger.domain.ids import data_access_id  # noqa: PLC0415
    from ledger.store.conninfo import postgres_conninfo  # noqa: PLC0415

    settings = _settings(args)
    acknowledged = json.loads(Path(args.acknowledged).read_text(encoding="utf-8"))["acknowledged"]
    ids = [data_access_id(p) for p in acknowledged]
    conninfo = postgres_conninfo(settings.database)
    with psycopg.connect(**conninfo, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT originator_id, count(*) FROM ledger_events"
            " WHERE originator_id = ANY(%s) GROUP BY originator_id",
            (ids,),
        ).fetchall()
        (head,) = conn.execute("SELECT max(notification_id) FROM ledger_events").fetchone() or (0,)
    counts = {row[0]: int(row[1]) for row in rows}
    return {
        "acknowledged": len(ids),
        "distinct_acknowledged": len(set(ids)),
        "missing": sum(1 for i in set(ids) if i not in counts),
        "duplicated": sum(1 for c in counts.values() if c != 1),
        "head": head,
    }


def check(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg  # noqa: PLC0415

    from ledger.store.conninfo import postgres_conninfo  # noqa: PLC0415
    from projections.store import ViewStore  # noqa: PLC0415
    from tests.ops.test_projection_worker_crash import (  # noqa: PLC0415
        rebuild_elsewhere,
        view_tables,
    )

    settings = _settings(args)
    found = present(args)
    verified = subprocess.run(
        [str(Path(sys.executable).parent / "govledger"), "verify", "--full", "--json"],
        env={**_env(settings), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    checked = {
        **found,
        "verify_returncode": verified.returncode,
        "verify_output": (verified.stdout + verified.stderr)[-2000:],
    }
    if args.no_views:
        return checked
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
        **checked,
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
    p.add_argument("--within", type=float, default=_DEADLINE_SECONDS)
    p.add_argument("urls", nargs="+")
    sub.add_parser("keys").add_argument("urls", nargs="+")
    p = sub.add_parser("await-replica")
    p.add_argument("--within", type=float, default=_DEADLINE_SECONDS)
    p.add_argument("url")
    sub.add_parser("cached").add_argument("url")
    for name in ("setup", "load", "project", "present", "check"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--state", required=True)
        if name == "load":
            p.add_argument("--token", required=True)
            p.add_argument("--grant", required=True)
            p.add_argument("--out", required=True)
            p.add_argument("--batch", type=int, default=20)
            p.add_argument("--seconds", type=float, default=0, help="stop after (0: SIGTERM)")
        if name in ("present", "check"):
            p.add_argument("--acknowledged", required=True)
        if name == "check":
            p.add_argument("--no-views", action="store_true", help="the ledger only")
    sub.add_parser("heads").add_argument("node", nargs="+")
    args = parser.parse_args(argv)
    commands = {
        "members": lambda: members(args.urls),
        "await": lambda: await_members(args.urls, args.streaming, args.not_leader, args.within),
        "keys": lambda: keys(args.urls),
        "await-replica": lambda: await_replica(args.url, args.within),
        "cached": lambda: cached(args.url),
        "setup": lambda: setup(args),
        "load": lambda: load(args),
        "project": lambda: project(args),
        "present": lambda: present(args),
        "check": lambda: check(args),
        "heads": lambda: heads(args),
    }
    json.dump(commands[args.command](), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
