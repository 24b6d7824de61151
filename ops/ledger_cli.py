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
from ledger.checkpoints import checkpoint_source
from ledger.config import Settings
from ledger.export import export_jsonl
from ledger.store.connect import open_reader
from ledger.verify import HeadRecord, LastRunRecord, verify_ledger
from ops import argtypes
from ops.terminal import EXIT_FAILED, EXIT_OK, output_file, progress_bar

__all__ = ["cmd_export", "cmd_verify", "register"]


def register(sub: Any) -> None:
    """Add ``verify`` and ``export`` to the ``govledger`` subcommands."""
    p = sub.add_parser("verify", help="recompute every hash; name the first bad position")
    p.add_argument(
        "--from", dest="from_position", type=argtypes.position, help="start at position N"
    )
    p.add_argument("--full", action="store_true", help="start at genesis, not the last head")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("export", help="write the rows as JSON Lines (docs/ledger-format.md §7)")
    p.add_argument("-o", "--output", required=True, help="file to write, or - for stdout")
    p.add_argument("--from", dest="from_position", type=argtypes.position, default=1)
    p.set_defaults(func=cmd_export)


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    reader = open_reader(settings)
    try:
        total = reader.max_position()
        with (
            checkpoint_source(settings, reader.genesis()) as checkpoints,
            progress_bar(total, "verify") as advance,
        ):
            report = verify_ledger(
                reader,
                HeadRecord(settings.state_dir),
                start=args.from_position,
                full=args.full,
                progress=advance,
                checkpoints=checkpoints,
            )
    finally:
        reader.close()
    LastRunRecord(settings.state_dir).save(report)  # read by /metrics (LedgerVerificationFailed)
    print(json.dumps(report.to_json()) if args.json else format_report(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    reader = open_reader(settings)
    try:
        total = reader.max_position() - max(args.from_position, 1) + 1
        with output_file(args.output) as out, progress_bar(max(total, 0), "export") as advance:
            count = export_jsonl(reader, out, start=args.from_position, progress=advance)
    finally:
        reader.close()
    print(f"exported {count} rows to {args.output}", file=sys.stderr)
    return EXIT_OK
