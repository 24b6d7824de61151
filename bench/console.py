"""Web console: server time per page on a large demo ledger (issue #16: every page <= 300 ms).

Loads (once, then reuses) a deterministic demo year with ``--accesses`` data
accesses into a SQLite ledger, signs and witnesses a checkpoint, verifies the
chain once and brings the read models to the head: the state of a service
that has been running. Then each console page is requested in-process
(``TestClient``, the ASGI app itself: no network) as a signed-in auditor or
security officer, once the service's metrics warm-up (a fresh process's one background read
of the ledger) is done, ``--repeats`` times after one warm-up; the median is the
page's server time, "cold" (the console's memo of view answers emptied before each request:
the first request after the ledger moved) and "warm" (the same position asked again within
30 s). After a move the views fold only the facts added since their last head
(projections.query: most moves are accesses, which add none), so "cold" keeps that fold;
"first" empties it too: the first request of a process, which folds only the facts after the
worker's newest facts snapshot (``--without-fact-snapshots``: from the first fact). Report
generation (a replay of the whole ledger) is shown for reference; it is a download, not a page.

    .venv/bin/python bench/console.py [--ledger var/bench-console.db] [--accesses 1000000]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, target
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.session import SESSION_COOKIE
from api.console.views_common import answers, names
from ledger.checkpoints import generate_key_file, issue_checkpoint, witness_checkpoint
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import ledger_head
from ledger.tree import open_ledger_tree
from projections import fact_snapshots
from projections.query import forget_folds, open_views
from security.apikeys import open_api_keys

GOAL_MS = 300  # issue #16: every page, filtered queues and trail searches included


def prepare(args: argparse.Namespace) -> Settings:
    ledger = Path(args.ledger).resolve()
    work = ledger.parent / f"{ledger.stem}-state"
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=f"sqlite:///{ledger}", state_dir=str(work / "state"))
    if not ledger.exists():
        print(f"loading the demo year with {args.accesses:,} accesses into {ledger} …", flush=True)
        started = time.perf_counter()
        env = {
            **os.environ,
            "GOVLEDGER_DATABASE_URL": settings.database_url,
            "GOVLEDGER_STATE_DIR": settings.state_dir,
        }
        cli = str(Path(sys.executable).with_name("govledger"))
        subprocess.run([cli, "init"], check=True, cwd=ROOT, env=env)
        subprocess.run([cli, "demo", "--accesses", str(args.accesses)], check=True, env=env)
        print(f"demo loaded in {time.perf_counter() - started:.0f} s", flush=True)
    settings = _signed(settings, work)
    _timed("tree and checkpoint", lambda: _checkpoint(settings, work))
    _timed("read models to the head", lambda: _views(settings))
    return settings


def _signed(settings: Settings, work: Path) -> Settings:
    # The log's key is the one `govledger init` made and listed as active (state/keys).
    log_key, witness_key = (
        Path(settings.state_dir) / "keys" / "checkpoint.key",
        work / "witness.key",
    )
    if not witness_key.exists():
        vkey = generate_key_file(str(witness_key), "witness.bench", witness=True)
        (work / "witnesses.txt").write_text(vkey + "\n", encoding="utf-8")
    return settings.with_overrides(
        checkpoint_key_file=str(log_key),
        witness_keys_file=str(work / "witnesses.txt"),
        checkpoint_interval_seconds=3600,
    )


def _checkpoint(settings: Settings, work: Path) -> None:
    with open_ledger_tree(settings) as tree:
        tree.integrate()
    issue_checkpoint(settings)
    witness_checkpoint(settings, str(work / "witness.key"), str(work / "witness.state"))


def _views(settings: Settings) -> None:
    with open_views(settings, catch_up=True):  # the bench builds the views
        pass


def _timed(what: str, step: Callable[[], None]) -> None:
    started = time.perf_counter()
    step()
    print(f"{what}: {time.perf_counter() - started:.1f} s", flush=True)


class Browser:
    """A signed-in console user: the login form posted as a browser posts it, then its cookie."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        client.cookies.clear()
        form = client.get("/console/login").text
        nonce = form.split('name="nonce" value="')[1].split('"')[0]
        reply = client.post(
            "/console/login", data={"credential": token, "nonce": nonce}, follow_redirects=False
        )
        assert reply.status_code == 303, reply.text
        self.cookie = client.cookies[SESSION_COOKIE]

    def get(self, path: str) -> bytes:
        self.client.cookies.clear()
        self.client.cookies.set(SESSION_COOKIE, self.cookie, path="/console")
        reply = self.client.get(path)
        assert reply.status_code == 200, f"{path}: {reply.status_code} {reply.text[:300]}"
        body: bytes = reply.content
        return body

    def median_ms(self, path: str, repeats: int, *, cold: bool, first: bool = False) -> float:
        """Median server time; ``cold``: the console's memo of view answers emptied first;
        ``first``: the views' memo of head folds as well."""
        self.get(path)  # warm-up: connections, templates
        times = []
        for _ in range(repeats):
            if cold or first:
                answers.clear()
                names.clear()
            if first:
                forget_folds()
            started = time.perf_counter()
            self.get(path)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)


def _warmed_up() -> None:
    """Wait for the service's metrics warm-up (api.app lifespan): a fresh process reads the
    whole ledger once in a background thread, minutes on 1M events, and that thread holds
    the interpreter's lock for much of the time a page has. The pages are timed as in a
    service that has been running (``--during-warm-up``: not)."""
    for thread in threading.enumerate():
        if thread.name == "metrics-warm-up":
            thread.join()


def pages(settings: Settings) -> dict[str, str]:
    """Page name -> a representative request on this ledger."""
    head = ledger_head(settings)
    with open_views(settings) as views:
        m = views.moment()
        anomaly = max(views.anomalies(m), key=lambda a: a.score)
        department = anomaly.department or ""
        # The ledger's domain year, not now's (as of a date after every fact asks nothing
        # mid-year): the domain clock halfway through the ledger. Not at the head: a demo
        # year's last facts (annual reports, …) are dated in the January after it.
        year = views.moment(at=m.position // 2).reference_time.year
    return {
        "ledger": "/console/ledger",
        "proof": f"/console/ledger/proof?position={head // 2}",
        "evidence": f"/console/ledger/evidence?position={head // 2}",
        "anomalies": "/console/anomalies",
        "anomaly": f"/console/anomalies/{anomaly.anomaly_id}",
        "rights": "/console/rights",
        "rights_as_of": f"/console/rights?as_of={year}-06-30",
        "audit": f"/console/audit?department={department}&start={year}-06-01&end={year}-06-30",
        "audit_actor": f"/console/audit?actor={anomaly.subject}",
        # Issue #16: the triage queue narrowed and sorted, and the trail's text search.
        "anomalies_filtered": (
            f"/console/anomalies?kind={anomaly.kind}&severity={anomaly.severity}"
            f"&start={year}-03-01&end={year}-09-30&sort=oldest"
        ),
        "anomalies_overdue": f"/console/anomalies?overdue=1&department={department}&page=2",
        "anomalies_accessor": f"/console/anomalies?status=&accessor={anomaly.subject}",
        "audit_search_kind": "/console/audit?q=撤销共享授权",
        "audit_search_id": f"/console/audit?q={anomaly.subject}",
        "inventory": "/console/inventory",
        "inventory_requests": "/console/inventory?section=requests",
        "reports": "/console/reports",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ledger", default=str(ROOT / "var" / "bench-console.db"))
    parser.add_argument("--accesses", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--report-year", type=int, default=0, help="also time one report (0: no)")
    parser.add_argument(
        "--without-fact-snapshots",
        action="store_true",
        help="fold from the first fact on a first request (what the worker's snapshots save)",
    )
    parser.add_argument(
        "--during-warm-up",
        action="store_true",
        help="time the pages while the metrics warm-up still reads the ledger in the background",
    )
    args = parser.parse_args()
    settings = prepare(args)
    if args.without_fact_snapshots:
        fact_snapshots.load = lambda *_: (0, None)
    events = ledger_head(settings)
    with open_api_keys(settings) as keys:
        officer_token = keys.create(Role.SECURITY_OFFICER, label="bench").token
        auditor_token = keys.create(Role.AUDITOR, label="bench").token
    targets = []
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        # The service's request log (one JSON line a request) would bury the table.
        logging.getLogger("govledger.api.request").setLevel(logging.WARNING)
        officer, auditor = Browser(client, officer_token), Browser(client, auditor_token)
        if not args.during_warm_up:
            _timed("metrics warm-up (a fresh process's one read of the ledger)", _warmed_up)
        print(f"ledger: {events:,} events; median of {args.repeats} after one warm-up")
        print(f"{'page':<20} {'first':>9} {'cold':>9} {'warm':>9}")
        for name, path in pages(settings).items():
            user = officer if name.startswith("anomal") else auditor
            first = user.median_ms(path, args.repeats, cold=True, first=True)
            cold = user.median_ms(path, args.repeats, cold=True)
            warm = user.median_ms(path, args.repeats, cold=False)
            print(f"{name:<20} {first:6.1f} ms {cold:6.1f} ms {warm:6.1f} ms  {path}", flush=True)
            for suffix, measured in (("_first", first), ("", cold), ("_warm", warm)):
                targets.append(
                    target(f"console_{name}{suffix}_ms", measured, GOAL_MS, higher_is_better=False)
                )
        for fmt in ("pdf", "xlsx") if args.report_year else ():
            started = time.perf_counter()
            auditor.get(f"/console/reports/audit?year={args.report_year}&format={fmt}")
            print(f"report audit {fmt}: {time.perf_counter() - started:.1f} s (first, uncached)")
    print("\n".join(targets))


if __name__ == "__main__":
    main()
