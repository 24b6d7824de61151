"""Anomaly queue quality on the demo's planted violations (issue #16 "Less noise, measured").

Loads a demo year (ops/demo) into a scratch SQLite ledger, noting which accesses the demo
planted (each violation reason and each off-hours read of sensitive personal information:
the planner's ``PlannedAccess.kind`` other than ``normal``), brings the read models to the
head, then measures what a security officer is shown:

* precision of the high+medium queue: anomalies of severity high, medium (or critical)
  whose evidence holds at least one planted access, divided by all anomalies shown there;
* recall of planted accesses: planted accesses that the officer is shown, in an anomaly of
  that queue or as a compliance finding (S1–S5 name each unauthorized access), divided by
  all planted accesses.

    .venv/bin/python bench/anomalies.py [--accesses 20000] [--seed 2019]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from _common import target

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.store.connect import application_env, init_ledger, open_reader
from ops.demo import loading
from projections.query import open_views

QUEUE_SEVERITIES = frozenset({"critical", "high", "medium"})
PRECISION_GOAL, RECALL_GOAL = 0.8, 1.0
CHUNK = 5_000


def load(directory: Path, accesses: int, seed: int) -> tuple[Settings, dict[str, str]]:
    """The demo year in a fresh ledger; platform event id -> planted kind."""
    settings = Settings(
        database_url=f"sqlite:///{directory / 'ledger.db'}", state_dir=str(directory / "state")
    )
    init_ledger(settings)
    planted: dict[str, str] = {}
    judge = loading.DemoLoader._judge

    def noting(self: loading.DemoLoader, access: object, live: object) -> object:
        kind = access.kind  # type: ignore[attr-defined]
        if kind != "normal":
            planted[access.report.platform_event_id] = kind  # type: ignore[attr-defined]
        return judge(self, access, live)  # type: ignore[arg-type]

    loading.DemoLoader._judge = noting  # type: ignore[method-assign,assignment]
    app = GovLedger(env=application_env(settings))
    try:
        loading.load_demo(app, accesses=accesses, seed=seed)
    finally:
        app.close()
        loading.DemoLoader._judge = judge  # type: ignore[method-assign]
    return settings, planted


def planted_positions(settings: Settings, planted: dict[str, str]) -> dict[int, str]:
    """Ledger position -> planted kind, read from the accesses' own rows."""
    found: dict[int, str] = {}
    reader = open_reader(settings)
    try:
        head = reader.max_position()
        for start in range(1, head + 1, CHUNK):
            rows = reader.rows_at(list(range(start, min(head, start + CHUNK - 1) + 1)))
            for position, row in rows.items():
                state = bytes(row[4])
                if b"platform_event_id" not in state:
                    continue
                event_id = json.loads(state).get("platform_event_id")
                if event_id in planted:
                    found[position] = planted[event_id]
    finally:
        reader.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accesses", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govledger-bench-anomalies-") as work:
        settings, planted = load(Path(work), args.accesses, args.seed)
        positions = planted_positions(settings, planted)
        with open_views(settings, catch_up=True) as views:  # the bench builds the views
            m = views.moment()
            anomalies = views.anomalies(m)
            findings = views.findings(m)
    queue = [a for a in anomalies if a.severity in QUEUE_SEVERITIES]
    true_positive = [a for a in queue if any(p in positions for p in a.positions)]
    shown = {p for a in queue for p in a.positions} | {p for f in findings for p in f.positions}
    caught = {p for p in positions if p in shown}
    precision = len(true_positive) / len(queue) if queue else 1.0
    recall = len(caught) / len(positions) if positions else 1.0
    by_severity = Counter(a.severity for a in anomalies)
    print(f"demo: {args.accesses:,} accesses, seed {args.seed}; planted {len(positions)} "
          f"({dict(Counter(positions.values()))})")  # fmt: skip
    print(f"anomalies {len(anomalies)} by severity {dict(by_severity)}; "
          f"by kind {dict(Counter(a.kind for a in anomalies))}")  # fmt: skip
    print(f"high+medium queue {len(queue)}, holding a planted access {len(true_positive)}; "
          f"planted accesses shown {len(caught)} / {len(positions)}")  # fmt: skip
    missed = Counter(positions[p] for p in positions if p not in shown)
    if missed:
        print(f"missed planted kinds: {dict(missed)}")
    print(target("queue_precision", precision, PRECISION_GOAL))
    print(target("planted_recall", recall, RECALL_GOAL))
    return 0


if __name__ == "__main__":
    sys.exit(main())
