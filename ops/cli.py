"""``govledger``: the operator's command line.

Every command reads the settings once (``GOVLEDGER_*``, see
docs/configuration.md) and works the same against SQLite or PostgreSQL.
Errors are one line on stderr and exit status 2; a verification that finds a
break exits 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ledger.chain import ChainFormatError, format_report
from ledger.checkpoints import checkpoint_source, prepare_proof_tables
from ledger.config import Settings, load_settings
from ledger.errors import LedgerError
from ledger.export import export_jsonl
from ledger.store.connect import init_ledger, open_reader
from ledger.verify import HeadRecord, LastRunRecord, verify_ledger
from ops import argtypes, demo, importer, keys_cli, projections_cli, proofs_cli, report_cli
from projections.store import grant_views_role
from security.apikeys import PostgresApiKeyStore, open_key_store

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


@contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """A tqdm bar on a terminal; silent when stderr is a pipe or file."""
    from tqdm import tqdm  # noqa: PLC0415 - only commands with long work pay for it

    # A terminal that reports no width (some ptys) would make tqdm print nothing.
    width = shutil.get_terminal_size().columns or 80
    with tqdm(
        total=total,
        desc=description,
        unit=" rows",
        unit_scale=True,
        disable=not sys.stderr.isatty(),
        file=sys.stderr,
        ncols=min(width, 100),
    ) as bar:
        yield bar.update


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    role = args.app_role or settings.postgres_app_role
    genesis = init_ledger(settings, app_role=role)
    keys = open_key_store(settings)
    try:
        keys.ensure_table()
        if role and isinstance(keys, PostgresApiKeyStore):
            keys.grant_read(role)  # the service authenticates; only operators mint keys
    finally:
        keys.close()
    prepare_proof_tables(settings, role)
    if role:
        grant_views_role(settings, role)
    print(
        f"ledger {genesis.ledger_id} ({genesis.hash_algorithm}, created {genesis.created_at}) "
        f"at {settings.database.redacted()}"
    )
    return EXIT_OK


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
        with _output(args.output) as out, progress_bar(max(total, 0), "export") as advance:
            count = export_jsonl(reader, out, start=args.from_position, progress=advance)
    finally:
        reader.close()
    print(f"exported {count} rows to {args.output}", file=sys.stderr)
    return EXIT_OK


@contextmanager
def _output(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdout
        return
    # Write beside, then rename: an interrupted export never looks complete. The path is
    # used literally; a NUL byte, an overlong name or a directory is a one-line error.
    try:
        target = Path(path)
        if target.is_dir():
            raise LedgerError(f"{path!r} is a directory")
        partial = target.with_name(target.name + ".partial")
        handle = partial.open("w", encoding="utf-8")
    except (OSError, ValueError) as e:
        raise LedgerError(f"cannot write {path[:200]!r}: {_reason(e)}") from e
    try:
        with handle:
            yield handle
        partial.replace(target)
    except OSError as e:
        raise LedgerError(f"cannot write {path[:200]!r}: {_reason(e)}") from e
    finally:
        partial.unlink(missing_ok=True)


def _reason(e: OSError | ValueError) -> str:
    return (e.strerror if isinstance(e, OSError) else None) or str(e)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    if args.workers > 1 and not settings.metrics_dir:
        # Each worker would expose only its own request histograms (docs/operations.md).
        raise LedgerError("--workers > 1 needs GOVLEDGER_METRICS_DIR (a directory per service)")

    # By import string: ops does not import api (docs/architecture.md).
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        workers=args.workers,
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="govledger", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML settings file (GOVLEDGER_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the ledger (schema and genesis record) if absent")
    p.add_argument("--app-role", help="PostgreSQL role to grant INSERT/SELECT on the chain")
    p.set_defaults(func=cmd_init)

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

    proofs_cli.add_key_commands(keys_cli.register(sub))  # keys create/list/revoke + public/generate
    proofs_cli.register(sub)  # prove, checkpoint, witness, evidence
    demo.register(sub)
    importer.register(sub)
    report_cli.register(sub)  # report risk|annual|audit
    projections_cli.register(sub)  # projections run|rebuild|status, view, anomaly review

    p = sub.add_parser("serve", help="serve the API and console")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(config_file=args.config)
        result: int = args.func(settings, args)
    except (LedgerError, ChainFormatError) as e:
        print(f"govledger: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("govledger: interrupted", file=sys.stderr)
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
