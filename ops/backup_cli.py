"""``govledger backup`` and ``govledger restore``: a PostgreSQL ledger saved and brought back.

docs/operations.md §Backup and restore is the specification. Both are all or nothing:

* **backup** (as ``govledger_backup``) verifies the ledger, takes as its anchor the newest
  stored checkpoint, which must open under the configured trust (the log's keys and, with
  ``GOVLEDGER_WITNESS_QUORUM``, that many witnesses' cosignatures; it waits a bounded time
  for them), dumps the ledger's schema but the read models (derived data, rebuilt after a
  restore) and packs the verifier's state. Everything is written into a private directory
  beside the target (mode 0700, files 0600: a dump holds accessor ids) and renamed into
  place only when complete; a failure leaves nothing behind.
* **restore** (as ``govledger_owner``, into a fresh database made by
  ``ops/deploy/sql/database.sql``) checks the checksums, restores the dump in one
  transaction, grants the role layout again (``govledger init``), unpacks the verifier's
  state, runs ``govledger verify --full`` and checks the anchor
  (:func:`ops.restore_check.check_anchor`). If any step fails, what it restored is removed
  again: the target is left as it was found.

Exit codes: 0 done; 1 the ledger (or the backup's content) does not verify; 2 any other
error, one line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ledger import note
from ledger.checkpoints import (
    CheckpointPolicy,
    CheckpointStore,
    StoredCheckpoint,
    policy_from_settings,
)
from ledger.config import Settings
from ledger.errors import ConfigurationError, LedgerError, NoteError, VerificationError
from ledger.store.connect import postgres_conninfo
from ledger.tree import Database
from ops.restore_check import check_anchor
from ops.terminal import EXIT_FAILED, EXIT_OK, one_line

__all__ = ["backup", "register", "restore"]
# Exit codes: EXIT_OK; EXIT_FAILED (the ledger or the backup does not verify); any other
# failure is a LedgerError, reported by ops/cli.py as one line with exit 2.

FORMAT: Final = 1
NOTE, DUMP, STATE, MANIFEST, SUMS = (
    "checkpoint.note",
    "ledger.dump",
    "state.tar.gz",
    "MANIFEST.json",
    "SHA256SUMS",
)
FILES: Final = (NOTE, DUMP, STATE, MANIFEST)
VIEWS_PATTERN: Final = "views_*"  # the read models' tables (projections/store.py PREFIX)
DEFAULT_WITNESS_WAIT: Final = 120.0
ANCHOR_CANDIDATES: Final = 100  # how far back an anchor is looked for


class BackupRefusedError(VerificationError):
    """The ledger does not verify, or its backup does not: exit 1, as a found break."""


# ---------------------------------------------------------------- shared


def _postgres(settings: Settings) -> None:
    if settings.database.backend != "postgresql":
        raise ConfigurationError(
            "backup and restore are for PostgreSQL ledgers (SQLite: copy the file)"
        )


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """A conninfo string without the password, and the environment that carries it."""
    info = postgres_conninfo(settings.database)
    password = info.pop("password")
    conninfo = make_conninfo(**{k: v for k, v in info.items() if v})
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password  # not on a command line, where ps would show it
    return conninfo, env


def _client(tool: str) -> str:
    """The path of a PostgreSQL client program (Debian's postgresql-client)."""
    found = shutil.which(tool)
    if found is None:
        raise ConfigurationError(f"{tool} is not installed (Debian: postgresql-client)")
    return found


def _tool(argv: list[str], env: dict[str, str], what: str) -> None:
    """Run a PostgreSQL client tool; its first error line becomes ours."""
    done = subprocess.run(  # noqa: S603 - a resolved client program, arguments as a list
        [_client(argv[0]), *argv[1:]], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if "error" in line.lower()]
        detail = (lines or done.stderr.strip().splitlines() or ["no output"])[0]
        raise LedgerError(f"{what} failed: {detail.strip()}")


def _govledger(config: str | None, *argv: str) -> subprocess.CompletedProcess[str]:
    """``govledger ARGV`` in a child process with this one's settings (its record, its exit)."""
    options = ["--config", config] if config else []
    return subprocess.run(  # noqa: S603 - this interpreter and this package, no shell
        [sys.executable, "-m", "ops.cli", *options, *argv],
        capture_output=True,
        text=True,
        check=False,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- backup


def _recent_checkpoints(database: Database, limit: int) -> list[StoredCheckpoint]:
    """The newest ``limit`` stored checkpoints with their cosignatures, newest first."""
    ids = database.query(
        f"SELECT id FROM {database.table('checkpoints')} ORDER BY id DESC LIMIT {int(limit)}"
    )
    store = CheckpointStore(database)
    found = []
    for (checkpoint_id,) in ids:
        rows = database.query(
            f"SELECT note FROM {database.table('checkpoints')} WHERE id = ?", (checkpoint_id,)
        )
        stored = store.find(note.parse(str(rows[0][0])).text)
        if stored is not None:
            found.append(stored)
    return found


def _newest_trusted(
    policy: CheckpointPolicy, candidates: list[StoredCheckpoint]
) -> tuple[StoredCheckpoint | None, str]:
    """The first of ``candidates`` that opens under ``policy``, and why the newest did not."""
    why_not = ""
    for candidate in candidates:
        try:
            policy.open(candidate.served)
        except NoteError as e:
            why_not = why_not or str(e)
            continue
        return candidate, why_not
    return None, why_not


def _anchor(settings: Settings, wait_seconds: float) -> StoredCheckpoint:
    """The newest stored checkpoint that opens under the configured trust (the log's keys
    and the witness quorum). The newest one is waited for up to ``wait_seconds`` (the
    witnesses cosign on their own schedule); after that an older trusted one anchors the
    backup, said on stderr: the restore proves the ledger extends it, and every row is
    still covered by its hash."""
    database = Database(settings, readonly=True)
    try:
        genesis = database.query(f"SELECT ledger_id FROM {database.table('genesis')}")
        policy = policy_from_settings(settings, str(genesis[0][0]))
        if policy is None:
            raise ConfigurationError(
                "no trusted keys to check the backup's anchor: set GOVLEDGER_TRUSTED_KEYS_FILE"
            )
        deadline = time.monotonic() + wait_seconds
        while True:
            expired = time.monotonic() >= deadline
            candidates = _recent_checkpoints(database, ANCHOR_CANDIDATES)
            if not candidates:
                raise LedgerError(
                    "no checkpoint to anchor the backup: the checkpoint issuer has not run "
                    "(govledger checkpoint issue)"
                )
            trusted, why_not = _newest_trusted(policy, candidates)
            if trusted is candidates[0]:
                return trusted
            if expired:
                if trusted is None:
                    raise LedgerError(
                        f"none of the {len(candidates)} newest checkpoints is trusted: "
                        f"{why_not} (are the witnesses running?)"
                    )
                print(
                    f"govledger backup: anchored on checkpoint {trusted.id} (size "
                    f"{trusted.tree_size}): the newest, {candidates[0].id}, is not trusted "
                    f"yet: {why_not}",
                    file=sys.stderr,
                )
                return trusted
            time.sleep(2)  # polling the witnesses' progress, with a deadline
    finally:
        database.close()


def backup(
    settings: Settings, parent: Path, *, witness_wait: float, config: str | None = None
) -> Path:
    """Write a complete backup into a new directory under ``parent``; return its path."""
    _postgres(settings)
    checked = _govledger(config, "verify")
    if checked.returncode == EXIT_FAILED:
        raise BackupRefusedError(f"the ledger does not verify: {checked.stdout.strip()}")
    if checked.returncode != EXIT_OK:
        raise LedgerError(f"verification could not run: {checked.stderr.strip()}")
    anchor = _anchor(settings, witness_wait)
    stamp = datetime.now(UTC)
    target = parent / stamp.strftime("%Y%m%dT%H%M%SZ")
    if target.exists():
        raise LedgerError(f"{target} already exists")
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=parent))  # mode 0700
    old_umask = os.umask(0o077)
    try:
        (work / NOTE).write_text(anchor.served, encoding="utf-8")
        conninfo, env = _libpq(settings)
        schema = settings.postgres_schema
        _tool(
            [
                "pg_dump",
                "--format=custom",
                "--no-password",
                f"--schema={schema}",
                f"--exclude-table={schema}.{VIEWS_PATTERN}",
                f"--file={work / DUMP}",
                f"--dbname={conninfo}",
            ],
            env,
            "pg_dump",
        )
        _pack_state(Path(settings.state_dir), work / STATE)
        manifest = {
            "format": FORMAT,
            "created_at": stamp.isoformat(timespec="seconds"),
            "schema": schema,
            "checkpoint_size": anchor.tree_size,
            "checkpoint_id": anchor.id,
            "checkpoint_issued_at": anchor.issued_at,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        sums = "".join(f"{_sha256(work / name)}  {name}\n" for name in FILES)
        (work / SUMS).write_text(sums, encoding="utf-8")
        for name in (*FILES, SUMS):
            with (work / name).open("rb") as f:
                os.fsync(f.fileno())
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        os.umask(old_umask)
    return target


def _pack_state(state_dir: Path, out: Path) -> None:
    with tarfile.open(out, "w:gz") as tar:
        if state_dir.is_dir():
            for path in sorted(state_dir.iterdir()):
                tar.add(path, arcname=path.name)


# ---------------------------------------------------------------- restore


def _check_backup(directory: Path) -> dict[str, Any]:
    try:
        lines = (directory / SUMS).read_text(encoding="utf-8").splitlines()
        expected: dict[str, str] = {}
        for line in filter(None, lines):
            digest, name = line.split("  ", 1)
            expected[name] = digest
    except (OSError, ValueError) as e:
        raise LedgerError(f"{directory} is not a govledger backup: {e}") from None
    for name in FILES:
        if name not in expected or not (directory / name).is_file():
            raise LedgerError(f"{directory} is not a complete govledger backup: {name} is missing")
        if _sha256(directory / name) != expected[name]:
            raise LedgerError(f"the backup is damaged: {name} does not match SHA256SUMS")
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise LedgerError(f"backup format {manifest.get('format')!r} is not {FORMAT}")
    return manifest


class _Target:
    """The target database as the owner: is the schema empty; empty it again on failure."""

    def __init__(self, settings: Settings) -> None:
        self.schema = settings.postgres_schema
        self.conn = psycopg.connect(
            **postgres_conninfo(settings.database), autocommit=True, connect_timeout=10
        )
        self.created_schema = False

    def prepare(self) -> None:
        found = self.conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (self.schema,)
        ).fetchone()
        if not found or not found[0]:
            self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
            self.created_schema = True
            return
        if self._objects():
            raise LedgerError(
                f"the target's schema {self.schema} is not empty: restore into a fresh database "
                "(ops/deploy/sql/database.sql)"
            )

    def _objects(self) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT 'TABLE', c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p', 'v', "
            "'m', 'f') UNION ALL SELECT 'SEQUENCE', c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %(s)s AND c.relkind = 'S' "
            "UNION ALL SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s "
            "UNION ALL SELECT 'TYPE', t.typname FROM pg_type t JOIN pg_namespace n "
            "ON n.oid = t.typnamespace WHERE n.nspname = %(s)s AND t.typtype IN ('c', 'd', 'e') "
            "AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')",
            {"s": self.schema},
        ).fetchall()
        return [(str(kind), str(name)) for kind, name in rows]

    def empty_again(self) -> None:
        """Remove what the restore made: the schema was empty (or absent) before."""
        if self.created_schema:
            self.conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )
            return
        for kind, name in self._objects():
            statement: sql.Composable
            if kind == "FUNCTION":  # already qualified and typed by ::regprocedure
                statement = sql.SQL("DROP FUNCTION IF EXISTS " + name + " CASCADE")
            else:
                statement = sql.SQL("DROP " + kind + " IF EXISTS {} CASCADE").format(
                    sql.Identifier(self.schema, name)
                )
            self.conn.execute(statement)

    def close(self) -> None:
        self.conn.close()


@contextmanager
def _fresh_state_dir(state_dir: Path) -> Iterator[Path]:
    """A state directory filled beside the real one and renamed into place at the end."""
    _require_empty(state_dir)
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{state_dir.name}.restoring-", dir=state_dir.parent))
    try:
        yield work
        if state_dir.exists():
            state_dir.rmdir()
        work.rename(state_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _require_empty(state_dir: Path) -> None:
    if state_dir.exists() and any(state_dir.iterdir()):
        raise LedgerError(f"the state directory {state_dir} is not empty: move it aside first")


def restore(settings: Settings, directory: Path, config: str | None = None) -> str:
    """Restore a backup into a fresh database, verify it, or leave the target as it was."""
    _postgres(settings)
    manifest = _check_backup(directory)
    if manifest.get("schema") != settings.postgres_schema:
        raise ConfigurationError(
            f"the backup is of schema {manifest.get('schema')!r}: set "
            f"GOVLEDGER_POSTGRES_SCHEMA={manifest.get('schema')} to restore it"
        )
    state_dir = Path(settings.state_dir)
    _require_empty(state_dir)  # before the database is touched
    target = _Target(settings)
    placed = False  # whether the state directory now in place is this restore's
    try:
        target.prepare()
        try:
            with _fresh_state_dir(state_dir) as work:
                _restore_dump(settings, directory / DUMP)
                _initialise_again(config)
                _unpack_state(directory / STATE, work)
            placed = True
            return _verify_restored(settings, directory, config)
        except BaseException:
            target.empty_again()
            if placed:
                shutil.rmtree(state_dir, ignore_errors=True)
            raise
    finally:
        target.close()


def _restore_dump(settings: Settings, dump: Path) -> None:
    """pg_restore in one transaction, as the restoring role; the schema itself is the target's."""
    conninfo, env = _libpq(settings)
    with tempfile.TemporaryDirectory() as scratch:
        listing = subprocess.run(  # noqa: S603 - a resolved client program, no shell
            [_client("pg_restore"), "--list", str(dump)],
            capture_output=True,
            text=True,
            check=False,
        )
        if listing.returncode != 0:
            raise LedgerError(f"the dump cannot be read: {listing.stderr.strip()[:200]}")
        # pg_dump --schema writes CREATE SCHEMA (and its COMMENT): the target already has it.
        keep = [
            line
            for line in listing.stdout.splitlines()
            if not (" SCHEMA - " in line or " COMMENT - SCHEMA " in line)
        ]
        entries = Path(scratch) / "entries"
        entries.write_text("\n".join(keep) + "\n", encoding="utf-8")
        _tool(
            [
                "pg_restore",
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                "--no-password",
                f"--use-list={entries}",
                f"--dbname={conninfo}",
                str(dump),
            ],
            env,
            "pg_restore",
        )


def _unpack_state(packed: Path, into: Path) -> None:
    """The verifier's files: flat, regular, named plainly (nothing lands outside ``into``)."""
    with tarfile.open(packed, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            if not member.isfile() or "/" in name or name in ("", ".", ".."):
                raise LedgerError(f"the backup's state holds an unexpected entry {name[:80]!r}")
            source = tar.extractfile(member)
            assert source is not None  # a regular file
            (into / name).write_bytes(source.read())


def _initialise_again(config: str | None) -> None:
    """``govledger init``: the restored tables get this version's grants (the role layout)."""
    done = _govledger(config, "init")
    if done.returncode != EXIT_OK:
        raise LedgerError(f"granting the restored tables failed: {done.stderr.strip()}")


def _verify_restored(settings: Settings, directory: Path, config: str | None) -> str:
    checked = _govledger(config, "verify", "--full")
    if checked.returncode == EXIT_FAILED:
        raise BackupRefusedError(f"the restored ledger does not verify: {checked.stdout.strip()}")
    if checked.returncode != EXIT_OK:
        raise LedgerError(f"verification could not run: {checked.stderr.strip()}")
    return check_anchor(settings, (directory / NOTE).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- command line


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    try:
        made = backup(
            settings, Path(args.directory), witness_wait=args.witness_wait, config=args.config
        )
    except BackupRefusedError as e:
        return _refused("backup", e)
    print(f"backed up into {made}", file=sys.stderr)
    print(made)
    return EXIT_OK


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    try:
        print(restore(settings, Path(args.backup), config=args.config))
    except VerificationError as e:  # the restored ledger is not the one backed up
        return _refused("restore", e)
    return EXIT_OK


def _refused(what: str, e: VerificationError) -> int:
    """A break found: exit 1, one line, as ``govledger verify`` (docs/operations.md)."""
    print(f"govledger {what}: refused: {one_line(e)}", file=sys.stderr)
    return EXIT_FAILED


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``backup`` and ``restore`` to the ``govledger`` command line."""
    p = subparsers.add_parser("backup", help="verify, anchor and dump the ledger (PostgreSQL)")
    p.add_argument("directory", help="where backups go: each is a new dated directory in it")
    p.add_argument(
        "--witness-wait",
        type=float,
        default=DEFAULT_WITNESS_WAIT,
        help="seconds to wait for the witnesses' cosignatures on the newest checkpoint",
    )
    p.set_defaults(func=cmd_backup)
    p = subparsers.add_parser("restore", help="restore a backup into a fresh database, verified")
    p.add_argument("backup", help="a directory written by govledger backup")
    p.set_defaults(func=cmd_restore)
