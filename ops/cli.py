"""``govledger``: the operator's command line.

Every command reads the settings once (``GOVLEDGER_*``, see
docs/configuration.md) and works the same against SQLite or PostgreSQL.
Exit codes (docs/operations.md §Exit codes): 0 done; 1 a verification found a
break; 2 an error, one line on stderr (configuration, input, a database or file
that refused or did not answer); 3 an unexpected error, also one line (``--debug``
shows its traceback); 130 interrupted. No command prints a traceback otherwise.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg_pool import PoolTimeout

from ledger.chain import ChainFormatError
from ledger.checkpoints import create_log_keys, prepare_proof_tables
from ledger.config import ENV_PREFIX, Settings, load_settings
from ledger.errors import LedgerError
from ledger.store.connect import init_ledger
from ledger.subjects import prepare_subject_keys
from ops import (
    backup_cli,
    calendar_cli,
    demo,
    importer,
    keys_cli,
    ledger_cli,
    passwords,
    projections_cli,
    proofs_cli,
    report_cli,
    status_cli,
    subjects_cli,
)
from ops.layout import apply_layout
from ops.terminal import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_VERSION,
    one_line,
)
from projections.store import ViewsVersionError, grant_views_role
from security.apikeys import PostgresApiKeyStore, open_key_store
from security.audit_log import prepare_postgres as prepare_refusal_record
from security.ended_sessions import prepare_postgres as prepare_ended_sessions

# The exit codes are re-exported: callers of main() compare its answer with them.
__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_OK", "EXIT_UNEXPECTED", "build_parser", "main"]


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
    if settings.database.backend == "postgresql":
        prepare_refusal_record(settings, role)  # the service cannot create it
        prepare_ended_sessions(settings, role)  # console logout (docs/console.md)
    for done in create_log_keys(settings, genesis.ledger_id):  # checkpoint-format §11 Keys
        print(done, file=sys.stderr)
    for done in prepare_subject_keys(settings, role):  # ledger-format §9.1
        print(done, file=sys.stderr)
    if role:
        grant_views_role(settings, role)
    if args.layout or settings.postgres_layout:
        granted = apply_layout(settings)
        print(f"granted the role layout: {', '.join(granted)}", file=sys.stderr)
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
    if args.config:  # the workers read their settings themselves: from the same file
        os.environ[CONFIG_VARIABLE] = str(Path(args.config).resolve())

    with shared_console_key(settings, args.workers):
        # By import string: ops does not import api (docs/architecture.md).
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=args.host or settings.api_host,
            port=args.port or settings.api_port,
            workers=args.workers,
        )
    return EXIT_OK


CONFIG_VARIABLE = f"{ENV_PREFIX}CONFIG"
SESSION_KEY_VARIABLE = f"{ENV_PREFIX}CONSOLE_SESSION_KEY_FILE"


@contextmanager
def shared_console_key(settings: Settings, workers: int) -> Iterator[None]:
    """One console session key for all the workers of this run.

    Each worker signs and opens console cookies (api/console/session.py); with a key of its
    own per worker, a login form served by one worker is refused by the next (issue 21 item
    5). The configured ``GOVLEDGER_CONSOLE_SESSION_KEY_FILE`` is shared as it is (sessions
    outlive restarts); without one, a key made now in a private directory (0700, file 0600)
    is handed to the workers and removed when the service stops, so sessions end with the
    service, as with one worker.
    """
    if workers <= 1 or settings.console_session_key_file:
        yield
        return
    directory = Path(tempfile.mkdtemp(prefix="govledger-console-"))
    path = directory / "session.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    os.environ[SESSION_KEY_VARIABLE] = str(path)
    try:
        yield
    finally:
        os.environ.pop(SESSION_KEY_VARIABLE, None)
        shutil.rmtree(directory, ignore_errors=True)


EXAMPLES = """\
examples:
  govledger init                                  create the ledger (SQLite: var/govledger.db)
  govledger demo --tokens var/demo-tokens.txt     load the demo year, mint one key per role
  govledger serve                                 API, /docs and the console on :8000
  govledger verify                                recompute every hash, name the first bad one
  govledger view anomalies --as-of 2025-06-30     a read model as of a date
  govledger view audit-trail | head               (stops quietly when the reader does)
  govledger import accesses.jsonl                 record access reports (docs/import-format.md)
  govledger report audit --year 2025 --format pdf -o audit.pdf   a report in Chinese
  govledger keys create --role auditor --label "李静（区审计局）"

  govledger COMMAND --help shows a command's own options.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govledger",
        description="govledger: the operator's command line (docs/operations.md).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="TOML settings file (GOVLEDGER_CONFIG)")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create the ledger (schema and genesis record) if absent")
    p.add_argument("--app-role", help="PostgreSQL role to grant INSERT/SELECT on the chain")
    p.add_argument(
        "--layout",
        action="store_true",
        help="grant the documented role layout (GOVLEDGER_POSTGRES_LAYOUT; docs/install.md)",
    )
    p.set_defaults(func=cmd_init)

    ledger_cli.register(sub)  # verify, export
    proofs_cli.add_key_commands(keys_cli.register(sub))  # keys create/list/revoke + public/generate
    proofs_cli.register(sub)  # prove, checkpoint, witness, evidence
    demo.register(sub)
    importer.register(sub)
    report_cli.register(sub)  # report risk|annual|audit
    projections_cli.register(sub)  # projections run|rebuild|status, view, anomaly review
    passwords.register(sub)  # pgpass: the role layout's password files
    backup_cli.register(sub)  # backup, restore (PostgreSQL)
    calendar_cli.register(sub)  # calendar: the configured calendar against the one in force
    status_cli.register(sub)  # status: versions running (code, ledger, views) and worker lag
    subjects_cli.register(sub)  # erase: a data subject's erasure, the erasure log re-applied

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
    except KeyboardInterrupt:
        print("govledger: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped (``| head``): not an error. Python's own flush at exit would
        # fail again and print a traceback, so the rest of stdout goes nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as e:  # the last line of defence: one line, never a traceback
        if args.debug and not isinstance(e, LedgerError | ChainFormatError):
            raise
        code, message = describe_failure(e)
        print(f"govledger: error: {message}", file=sys.stderr)
        return code
    return result


_ROLE_HINT = (
    "(this command's PostgreSQL role lacks that privilege: which role runs what is in "
    "docs/install.md §Database and roles)"
)


def describe_failure(e: Exception) -> tuple[int, str]:
    """The exit code and the one line that report ``e`` (docs/operations.md §Exit codes)."""
    if isinstance(e, ViewsVersionError):
        return EXIT_VERSION, one_line(e)
    if isinstance(e, LedgerError | ChainFormatError):
        return EXIT_ERROR, one_line(e)
    if isinstance(e, psycopg.errors.InsufficientPrivilege):
        return EXIT_ERROR, f"the database refused: {one_line(e)} {_ROLE_HINT}"
    if isinstance(e, psycopg.Error | PoolTimeout | PersistenceError):
        return EXIT_ERROR, f"the database refused or did not answer: {one_line(e)}"
    if isinstance(e, OSError):
        where = f" ({e.filename})" if e.filename else ""
        return EXIT_ERROR, f"{e.strerror or one_line(e)}{where}"
    return (
        EXIT_UNEXPECTED,
        f"unexpected {type(e).__name__}: {one_line(e)} (a bug: run with --debug for details)",
    )


if __name__ == "__main__":
    sys.exit(main())
