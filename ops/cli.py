"""``govledger``: the operator's command line.

Every command reads the settings once (``GOVLEDGER_*``, see
docs/configuration.md) and works the same against SQLite or PostgreSQL.
Errors are one line on stderr and exit status 2; a verification that finds a
break exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ledger.chain import ChainFormatError
from ledger.checkpoints import create_log_keys, prepare_proof_tables
from ledger.config import Settings, load_settings
from ledger.errors import LedgerError
from ledger.store.connect import init_ledger
from ops import (
    demo,
    importer,
    keys_cli,
    ledger_cli,
    projections_cli,
    proofs_cli,
    report_cli,
)
from ops.terminal import EXIT_ERROR, EXIT_FAILED, EXIT_OK
from projections.store import grant_views_role
from security.apikeys import PostgresApiKeyStore, open_key_store

# The exit codes are re-exported: callers of main() compare its answer with them.
__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_OK", "build_parser", "main"]


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
    for done in create_log_keys(settings, genesis.ledger_id):  # checkpoint-format §11 Keys
        print(done, file=sys.stderr)
    if role:
        grant_views_role(settings, role)
    print(
        f"ledger {genesis.ledger_id} ({genesis.hash_algorithm}, created {genesis.created_at}) "
        f"at {settings.database.redacted()}"
    )
    return EXIT_OK


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

    ledger_cli.register(sub)  # verify, export
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
