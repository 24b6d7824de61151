"""``govledger status``: which versions are running, and whether they match.

Wiring (ops/cli.py :func:`build_parser`): ``register(sub)``. It reports the code's
release, the ledger's format version (its genesis record) against the code's, the views'
schema version in the store (and the release that last wrote them) against the code's,
and the projection worker's position against the ledger's head
(docs/operations.md §Upgrading). Read only: it never creates nor changes anything.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ledger.chain import FORMAT_VERSION
from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from ledger.store.connect import open_reader
from ops.terminal import EXIT_OK
from projections.runner import SCHEMA_VERSION, code_version, positions_of, stored_version
from projections.store import ViewStore

__all__ = ["register", "status"]


def status(settings: Settings) -> dict[str, Any]:
    """Versions and positions, as ``govledger status --json`` prints them."""
    reader = open_reader(settings)
    try:
        head = reader.max_position()
        ledger_format = reader.genesis().format_version
    finally:
        reader.close()
    views_version, written_by, positions = None, None, {}
    try:
        store = ViewStore(settings, readonly=True)
    except StoreUnavailableError:
        if settings.database.backend != "sqlite":
            raise
    else:  # SQLite: no views file yet is "none", and status creates none
        try:
            views_version = stored_version(store)
            written_by = store.meta("code_version")
            positions = positions_of(store) if store.has_table("tracking") else {}
        finally:
            store.close()
    position = min(positions.values(), default=0)
    views_match = views_version == SCHEMA_VERSION
    ledger_match = ledger_format == FORMAT_VERSION
    return {
        "code_version": code_version(),
        "ledger": {
            "format_version": ledger_format,
            "code_format_version": FORMAT_VERSION,
            "match": ledger_match,
            "head": head,
        },
        "views": {
            "schema_version": views_version,
            "code_schema_version": SCHEMA_VERSION,
            "written_by": written_by,
            "match": views_match,
            "position": position,
            "lag": max(0, head - position),
        },
        "match": views_match and ledger_match,
    }


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    body = status(settings)
    if args.json:
        print(json.dumps(body))
        return EXIT_OK
    ledger, views = body["ledger"], body["views"]
    print(f"govledger {body['code_version']}")
    print(
        f"ledger  format version {ledger['format_version']} (this code: "
        f"{ledger['code_format_version']}) {'match' if ledger['match'] else 'MISMATCH'}; "
        f"head {ledger['head']}"
    )
    built = views["schema_version"] if views["schema_version"] is not None else "none"
    print(
        f"views   schema version {built} (this code: {views['code_schema_version']}) "
        f"{'match' if views['match'] else 'MISMATCH'}; written by govledger "
        f"{views['written_by'] or '-'}"
    )
    print(f"worker  position {views['position']} of {ledger['head']} (lag {views['lag']})")
    return EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "status", help="versions running (code, ledger format, views schema) and the worker's lag"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
