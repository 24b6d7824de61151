"""The security audit record: failed sign-ins and refused commands (issue #16; GB/T
22239-2019 8.1.4.3 b: an audit record says whether the event succeeded; 网络安全法 §21:
network logs kept at least six months). docs/security.md "Refusal record".

A refused request leaves the ledger unchanged (the guide's rule for bad input), so its
record is kept beside the ledger, in the same database, protected the way the ledger is:
append-only (triggers refuse UPDATE and DELETE, as on the ledger's table) and hash-chained
(each row's SHA-256 covers the previous row's hash and its own fields, so a changed,
removed or reordered row is found by ``verify``). Nothing in govledger deletes rows: the
retention is the database's backups' (≥ ``RETENTION_DAYS``). Secrets are never written:
a credential appears as its key id at most. Writes are rate-limited
(security/audit.py) so that an outsider cannot flood the record.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql

from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from ledger.store.connect import postgres_conninfo
from security.owner import owner_cursor

TABLE: Final = "security_refusals"
RETENTION_DAYS: Final = 183  # six months at least (网络安全法 §21)
GENESIS_HASH: Final = "0" * 64
MAX_FIELD: Final = 200
COLUMNS: Final = (
    "at", "kind", "subject", "credential_id", "client_address", "method", "path", "reason",
    "suppressed",
)  # fmt: skip


class RefusalKind(StrEnum):
    SIGN_IN_FAILED = "sign_in_failed"  # no credential accepted (API 401, console login)
    COMMAND_REFUSED = "command_refused"  # an authenticated caller refused (403)


@dataclass(frozen=True)
class Refusal:
    at: str  # ISO 8601, UTC, to the millisecond
    kind: str
    subject: str  # the principal's subject, or "anonymous"
    credential_id: str  # a key id or JWT id, never a secret; may be empty
    client_address: str
    method: str
    path: str
    reason: str
    suppressed: int  # refusals from this address not recorded just before (rate limit)

    @classmethod
    def now(cls, kind: RefusalKind, **fields: Any) -> Refusal:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        bounded = {k: str(fields.get(k) or "")[:MAX_FIELD] for k in COLUMNS[2:-1]}
        return cls(at, kind.value, suppressed=int(fields.get("suppressed", 0)), **bounded)


def row_hash(previous: str, refusal: Refusal) -> str:
    """SHA-256 over the previous row's hash and this row's fields (canonical JSON)."""
    body = json.dumps(asdict(refusal), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()


_SQLITE_SCHEMA: Final = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, "
    "kind TEXT NOT NULL, subject TEXT NOT NULL, credential_id TEXT NOT NULL, "
    "client_address TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, "
    "reason TEXT NOT NULL, suppressed INTEGER NOT NULL, hash TEXT NOT NULL)",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'the refusal record is append-only'); END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'the refusal record is append-only'); END",
)


class RefusalLog:
    """The refusal record of the configured database (SQLite file or PostgreSQL schema)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = settings.database

    # ------------------------------------------------------------------ connections

    @contextmanager
    def _sqlite(self) -> Iterator[sqlite3.Connection]:
        uri = Path(self.db.path).resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=30, isolation_level=None)
        except sqlite3.OperationalError as e:
            raise StoreUnavailableError(f"no ledger database at {self.db.path}") from e
        with closing(conn):
            for statement in _SQLITE_SCHEMA:
                conn.execute(statement)
            yield conn

    @contextmanager
    def _postgres(self) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        schema = self.settings.postgres_schema
        try:
            with psycopg.connect(**postgres_conninfo(self.db)) as conn, conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s)", (f'"{schema}"."{TABLE}"',))
                found = cur.fetchone()
                if found is None or found[0] is None:
                    _create_postgres(cur, schema)
                yield cur
        except psycopg.Error as e:
            raise StoreUnavailableError(f"the refusal record refused: {e}") from e

    # ------------------------------------------------------------------ operations

    def append(self, refusal: Refusal) -> str:
        """Add one row at the end of the chain; returns its hash."""
        values = [getattr(refusal, c) for c in COLUMNS]
        if self.db.backend == "sqlite":
            with self._sqlite() as conn:
                conn.execute("BEGIN IMMEDIATE")
                last = conn.execute(f"SELECT hash FROM {TABLE} ORDER BY seq DESC LIMIT 1")
                previous = (last.fetchone() or (GENESIS_HASH,))[0]
                digest = row_hash(previous, refusal)
                conn.execute(
                    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, hash) "
                    f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
                    [*values, digest],
                )
                conn.execute("COMMIT")
            return digest
        table = sql.Identifier(self.settings.postgres_schema, TABLE)
        with self._postgres() as cur:
            # One writer at a time without a right to lock the table (LOCK ... EXCLUSIVE
            # needs UPDATE or DELETE, which the service role must not hold).
            lock = f"{self.settings.postgres_schema}.{TABLE}"
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
            cur.execute(sql.SQL("SELECT hash FROM {} ORDER BY seq DESC LIMIT 1").format(table))
            previous = (cur.fetchone() or (GENESIS_HASH,))[0]
            digest = row_hash(previous, refusal)
            cur.execute(
                sql.SQL("INSERT INTO {} ({}, hash) VALUES ({})").format(
                    table,
                    sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
                    sql.SQL(", ").join(sql.Placeholder() * (len(COLUMNS) + 1)),
                ),
                [*values, digest],
            )
        return digest

    def rows(self, limit: int = 100) -> list[tuple[int, Refusal, str]]:
        """The newest ``limit`` rows, newest first: (seq, refusal, hash)."""
        query = f"SELECT seq, {', '.join(COLUMNS)}, hash FROM {{}} ORDER BY seq DESC LIMIT {{}}"
        if self.db.backend == "sqlite":
            with self._sqlite() as conn:
                found = conn.execute(query.format(TABLE, "?"), (limit,)).fetchall()
        else:
            table = sql.Identifier(self.settings.postgres_schema, TABLE)
            with self._postgres() as cur:
                cur.execute(sql.SQL(query.format("{}", "%s")).format(table), (limit,))
                found = cur.fetchall()
        return [(int(r[0]), Refusal(*r[1:-1]), str(r[-1])) for r in found]

    def verify(self) -> int | None:
        """The sequence number of the first row whose hash does not follow; None if intact."""
        previous = GENESIS_HASH
        for seq, refusal, digest in reversed(self.rows(limit=10**9)):
            if row_hash(previous, refusal) != digest:
                return seq
            previous = digest
        return None


def prepare_postgres(settings: Settings, role: str | None = None) -> None:
    """As the owner (``govledger init``): the table and its guard; ``role`` may append.

    ``role`` gets SELECT and INSERT on the table and USAGE on its sequence, nothing more:
    no UPDATE, DELETE or TRUNCATE (append-only), and no right to create the table itself,
    so the service's role can record a refusal only if ``init`` ran first.
    """
    schema = settings.postgres_schema
    with owner_cursor(settings, "the refusal record") as cur:
        _create_postgres(cur, schema)
        if not role:
            return
        table, who = sql.Identifier(schema, TABLE), sql.Identifier(role)
        qualified = f'"{schema}"."{TABLE}"'
        cur.execute("SELECT pg_get_serial_sequence(%s, 'seq')", (qualified,))
        sequence = sql.SQL((cur.fetchone() or ("",))[0])
        cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(table, who))
        cur.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(table, who))
        cur.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sequence, who))


def grant_refusal_append(settings: Settings, role: str) -> None:
    """SELECT, INSERT on the refusal record and USAGE on its sequence (prepare_postgres)."""
    prepare_postgres(settings, role)


def _create_postgres(cur: psycopg.Cursor[tuple[Any, ...]], schema: str) -> None:
    table = sql.Identifier(schema, TABLE)
    cur.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (seq bigserial PRIMARY KEY, at text NOT NULL, "
            "kind text NOT NULL, subject text NOT NULL, credential_id text NOT NULL, "
            "client_address text NOT NULL, method text NOT NULL, path text NOT NULL, "
            "reason text NOT NULL, suppressed integer NOT NULL, hash text NOT NULL)"
        ).format(table)
    )
    function = sql.Identifier(schema, f"{TABLE}_append_only")
    cur.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'the refusal record is append-only' "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        ).format(function)
    )
    cur.execute(
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE OR TRUNCATE ON {} "
            "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
        ).format(sql.Identifier(f"{TABLE}_append_only"), table, function)
    )
