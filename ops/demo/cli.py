"""``govledger demo``: the command line of the demo (ops/demo/loading.py does the work)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ledger.config import Settings
from ledger.configured import open_ledger
from ledger.domain import Role
from ledger.store.connect import init_ledger
from ops import argtypes
from ops.demo.loading import load_demo
from ops.demo.zone import (
    DEFAULT_ACCESSES,
    DEFAULT_SEED,
    DEFAULT_VIOLATION_RATE,
    DEMO_YEAR,
    OFF_HOURS_RATE,
    REQUESTS,
)
from ops.terminal import EXIT_OK, progress_bar
from security.apikeys import open_api_keys


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """``govledger demo``: load the demo year into the configured (empty) ledger."""
    init_ledger(settings)
    app = open_ledger(settings)  # its configured calendar is the demo's
    try:
        if args.if_empty and (app.recorder.max_notification_id() or 0) > 0:
            print("govledger: the ledger already holds events; demo not loaded", file=sys.stderr)
            return EXIT_OK
        with progress_bar(args.accesses, "demo accesses") as advance:
            summary = load_demo(
                app,
                accesses=args.accesses,
                seed=args.seed,
                progress=advance,
                violation_rate=args.violation_rate,
                requests=args.requests,
            )
    finally:
        app.close()
    print(json.dumps(summary.to_json(), ensure_ascii=False) if args.json else summary.describe())
    if args.tokens:
        write_demo_tokens(settings, Path(args.tokens))
        print(f"demo API tokens (one per role) written to {args.tokens}", file=sys.stderr)
    return EXIT_OK


# Who a newcomer can be in the console and /docs: one key per role of the demo zone.
# Each key is bound to a named person (its label), whom the console shows for its actions;
# department-bound keys name departments the demo zone has (ops/demo/zone.py DEPARTMENTS).
DEMO_KEY_HOLDERS: tuple[tuple[Role, str | None, str], ...] = (
    (Role.ADMIN, None, "张伟（系统管理员）"),
    (Role.AUDITOR, None, "李静（区审计局）"),
    (Role.SECURITY_OFFICER, None, "王丽华（区网信办）"),
    (Role.NDRC, None, "刘建国（区发改局）"),
    (Role.FINANCE, None, "陈敏（区财政局）"),
    (Role.EXCHANGE_PLATFORM, None, "共享交换平台（系统账号）"),
    (Role.DATA_PROVIDER, "psb", "赵志强（区公安局）"),
    (Role.DEPARTMENT_CLERK, "civil_affairs", "周海燕（区民政局）"),
)


def write_demo_tokens(settings: Settings, path: Path) -> None:
    """Mint demo keys and write them to a file only its owner can read (never the database,
    never a log: the store keeps only their hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = open_api_keys(settings)
    try:
        lines = [
            f"{role.value}\t{department or '-'}\t"
            f"{keys.create(role, department, label=person).token}"
            for role, department, person in DEMO_KEY_HOLDERS
        ]
    finally:
        keys.close()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# role\tdepartment\tbearer token (demo only)\n" + "\n".join(lines) + "\n")


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1 - OFF_HOURS_RATE:
        raise argparse.ArgumentTypeError(f"must be within [0, {1 - OFF_HOURS_RATE}]")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the ``govledger`` command line."""
    p = subparsers.add_parser(
        "demo", help=f"load a deterministic demo year ({DEMO_YEAR}) of the zone into a fresh ledger"
    )
    p.add_argument(
        "--accesses",
        type=argtypes.count,
        default=DEFAULT_ACCESSES,
        help=f"data accesses to report (default {DEFAULT_ACCESSES:,})",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="same seed, same ledger facts")
    p.add_argument(
        "--violation-rate",
        type=_rate,
        default=DEFAULT_VIOLATION_RATE,
        help=f"share of accesses planted as violations (default {DEFAULT_VIOLATION_RATE})",
    )
    p.add_argument(
        "--requests",
        type=argtypes.count,
        default=REQUESTS,
        help=f"sharing requests over the year (default {REQUESTS:,})",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--if-empty", action="store_true", help="do nothing (exit 0) if the ledger has events"
    )
    p.add_argument("--tokens", help="also mint one demo API key per role into this file (0600)")
    p.set_defaults(func=cmd_demo)
