"""``govledger verify`` and ``govledger export``: the chain checked, the chain written out.

verify: docs/ledger-format.md §5, §8 (and docs/checkpoint-format.md §11 with trusted
keys); export: §7. Handlers follow ops/cli.py: ``(settings, args) -> int``, errors as
:class:`LedgerError` (one line, exit 2); a verification that finds a break exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ledger.chain import format_report
from ledger.config import Settings
from ledger.export import export_jsonl
from ledger.store.connect import open_reader
from ledger.verify_job import record_error, run_verify
from ledger.verify_parallel import default_jobs
from ops import argtypes
from ops.terminal import EXIT_FAILED, EXIT_OK, output_file, progress_bar

__all__ = ["cmd_export", "cmd_verify", "register"]


def register(sub: Any) -> None:
    """Add ``verify`` and ``export`` to the ``govledger`` subcommands."""
    p = sub.add_parser("verify", help="recompute every hash; name the first bad position")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--from", dest="from_position", type=argtypes.position, help="start at position N"
    )
    where.add_argument("--full", action="store_true", help="start at genesis, not the last head")
    where.add_argument(
        "--adopt",
        action="store_true",
        help="accept the ledger now at this location in place of the one pinned here, "
        "once it verifies in full (docs/ledger-format.md §8)",
    )
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        help="processes recomputing the hashes (default: the cores); the first bad position "
        "is the one-process run's",
    )
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("export", help="write the rows as JSON Lines (docs/ledger-format.md §7)")
    p.add_argument("-o", "--output", required=True, help="file to write, or - for stdout")
    p.add_argument("--from", dest="from_position", type=argtypes.position, default=1)
    p.set_defaults(func=cmd_export)


def _jobs(text: str) -> int:
    return argtypes.whole_number(text, minimum=1)


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 verified, 1 a break (named), 2 could not run; recorded in every case (C1)."""
    try:
        outcome = run_verify(
            settings,
            full=args.full,
            start=args.from_position,
            adopt=getattr(args, "adopt", False),
            progress_bar=lambda total: progress_bar(total, "verify"),
            jobs=getattr(args, "jobs", None) or default_jobs(),
        )
    except Exception as e:
        mode = "full" if args.full or getattr(args, "adopt", False) else "incremental"
        outcome = record_error(settings, mode, e)
    if args.json:
        print(json.dumps(outcome.to_json()))
    elif outcome.report is None:
        print(f"govledger: error: {outcome.run.detail}", file=sys.stderr)
    else:
        if outcome.adopted:
            print(outcome.adopted)
        print(format_report(outcome.report))
    return outcome.exit_code


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 written; 1 written, but the rows break (named, as ``verify`` names it)."""
    reader = open_reader(settings.reading())  # a replica's prefix is an export too
    try:
        total = reader.max_position() - max(args.from_position, 1) + 1
        with output_file(args.output) as out, progress_bar(max(total, 0), "export") as advance:
            exported = export_jsonl(reader, out, start=args.from_position, progress=advance)
    finally:
        reader.close()
    print(f"exported {exported.count} rows to {args.output}", file=sys.stderr)
    if failure := exported.failure:
        print(
            f"FAIL position {failure.position}: {failure.kind}: {failure.detail}", file=sys.stderr
        )
        return EXIT_FAILED
    return EXIT_OK
