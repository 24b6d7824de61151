"""Console sessions ended by 退出 before they expire, shared by every API worker process.

docs/console.md "Sign-in and sessions", docs/security.md "Copied console cookie".
A console cookie is signed, not stored (api/console/session.py): without a record on
the server, a copy taken before logout would keep working until it expires. So logout
adds the session to ``console_sessions_ended`` in the ledger's database, beside
``api_keys`` and ``security_refusals``, and every console request of every worker reads
it (``uvicorn --workers N`` are separate processes: a set in memory would be one
worker's only).

Rows
    ``session_hash``: SHA-256 of the session id, never the id itself (it is part of the
    cookie, a bearer secret); ``expires_at``: when the cookie expires anyway (Unix
    seconds, fixed in the cookie at sign-in). A row is useless after that moment: logout
    prunes rows older than it by ``PRUNE_GRACE_SECONDS`` (clock skew between hosts).

Reads never write
    SQLite is opened read-only for the check, PostgreSQL only SELECTs; a missing table
    means no session has ended yet. The table is created by the first logout (SQLite;
    PostgreSQL when the role may create) or by ``govledger init`` (:func:`prepare_postgres`).

Guard
    A trigger refuses UPDATE (and TRUNCATE on PostgreSQL) and makes DELETE skip rows not
    yet expired, so the service role's DELETE, needed to prune, cannot revive a session
    that logout ended. The service role gets SELECT, INSERT and DELETE (ops/layout.py).

Connections are the key store's (security/apikeys.py): SQLite per operation, the
PostgreSQL pool the authenticator holds and closes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Final, Protocol

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.config import Settings
from ledger.errors import ConfigurationError, StoreUnavailableError
from security.apikeys import ApiKeyStore, PostgresApiKeyStore, SQLiteApiKeyStore
from security.owner import owner_cursor

TABLE: Final = "console_sessions_ended"
PRUNE_GRACE_SECONDS: Final = 300
_DOMAIN: Final = "govledger-console-session-v1"
_REFUSED: Final = "an ended console session stays ended"

_SQLITE_SCHEMA: Final = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(session_hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_keep_live BEFORE DELETE ON {TABLE} "
    "WHEN OLD.expires_at > CAST(strftime('%s', 'now') AS INTEGER) "
    "BEGIN SELECT RAISE(IGNORE); END",
)


def session_digest(session_id: str) -> str:
    """What the table holds for a session id (a 256-bit random value: a fast hash suffices)."""
    return hashlib.sha256(f"{_DOMAIN}\n{session_id}".encode()).hexdigest()


def _now() -> int:
    return int(time.time())


class EndedSessions(Protocol):
    def is_ended(self, session_id: str) -> bool:
        """Whether logout ended this session (reads only)."""
        ...

    def end(self, session_id: str, expires_at: int, now: int | None = None) -> None:
        """Record the session as ended (idempotent) and prune rows long expired."""
        ...


class SQLiteEndedSessions:
    def __init__(self, path: str) -> None:
        self.path = path
        self.uri = Path(path).resolve().as_uri()

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(
                f"{self.uri}?mode={'rw' if write else 'ro'}", uri=True, timeout=30
            )
        except sqlite3.OperationalError as e:
            raise StoreUnavailableError(f"no ledger database at {self.path}") from e
        try:
            with closing(conn), conn:
                yield conn
        except sqlite3.DatabaseError as e:
            raise StoreUnavailableError(f"the ended-session table is not usable: {e}") from e

    def is_ended(self, session_id: str) -> bool:
        with self._connect(write=False) as conn:
            query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
            if conn.execute(query, (TABLE,)).fetchone() is None:
                return False
            found = conn.execute(
                f"SELECT 1 FROM {TABLE} WHERE session_hash = ?", (session_digest(session_id),)
            )
            return found.fetchone() is not None

    def end(self, session_id: str, expires_at: int, now: int | None = None) -> None:
        with self._connect(write=True) as conn:
            for statement in _SQLITE_SCHEMA:
                conn.execute(statement)
            conn.execute(
                f"INSERT OR IGNORE INTO {TABLE} (session_hash, expires_at) VALUES (?, ?)",
                (session_digest(session_id), expires_at),
            )
            cutoff = (_now() if now is None else now) - PRUNE_GRACE_SECONDS
            conn.execute(f"DELETE FROM {TABLE} WHERE expires_at < ?", (cutoff,))


class _MissingTableError(Exception):
    pass


class PostgresEndedSessions:
    def __init__(self, pool: ConnectionPool[Any], schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.table = sql.Identifier(schema, TABLE)

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        try:
            with self.pool.connection() as conn, conn.cursor() as cursor:
                yield cursor
        except psycopg.errors.UndefinedTable as e:  # rolled back by the pool's context
            raise _MissingTableError from e
        except (PoolTimeout, psycopg.OperationalError) as e:
            raise StoreUnavailableError("cannot reach PostgreSQL for console sessions") from e
        except psycopg.Error as e:  # e.g. a role without the grant
            first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise StoreUnavailableError(f"the ended-session table refused: {first_line}") from e

    def is_ended(self, session_id: str) -> bool:
        query = sql.SQL("SELECT 1 FROM {} WHERE session_hash = %s").format(self.table)
        try:
            with self._cursor() as cursor:
                cursor.execute(query, (session_digest(session_id),))
                return cursor.fetchone() is not None
        except _MissingTableError:
            return False  # no session has ended yet

    def end(self, session_id: str, expires_at: int, now: int | None = None) -> None:
        try:
            self._end(session_id, expires_at, now)
        except _MissingTableError:
            with self._cursor() as cursor:  # a role that may not create: run `govledger init`
                _create_postgres(cursor, self.schema)
            self._end(session_id, expires_at, now)

    def _end(self, session_id: str, expires_at: int, now: int | None) -> None:
        cutoff = (_now() if now is None else now) - PRUNE_GRACE_SECONDS
        with self._cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "INSERT INTO {} (session_hash, expires_at) VALUES (%s, %s) "
                    "ON CONFLICT (session_hash) DO NOTHING"
                ).format(self.table),
                (session_digest(session_id), expires_at),
            )
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE expires_at < %s").format(self.table), (cutoff,)
            )


def ended_sessions(store: ApiKeyStore) -> EndedSessions:
    """The ended sessions in the database of the key store (and through its connections)."""
    if isinstance(store, SQLiteApiKeyStore):
        return SQLiteEndedSessions(store.path)
    if isinstance(store, PostgresApiKeyStore):
        return PostgresEndedSessions(store.pool, store.schema)
    raise ConfigurationError(f"console sessions cannot be ended in a {type(store).__name__}")


def prepare_postgres(settings: Settings, role: str | None = None) -> None:
    """As the owner (``govledger init``): the table and its guard; ``role`` may end sessions.

    ``role`` (the service's) gets SELECT, INSERT and DELETE on the table, nothing more: no
    UPDATE or TRUNCATE, and no right to create it, so ``init`` must have run first.
    """
    with owner_cursor(settings, "the ended-session table") as cur:
        _create_postgres(cur, settings.postgres_schema)
        if role:
            table, who = sql.Identifier(settings.postgres_schema, TABLE), sql.Identifier(role)
            cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(table, who))
            cur.execute(sql.SQL("GRANT SELECT, INSERT, DELETE ON {} TO {}").format(table, who))


def grant_session_ending(settings: Settings, role: str) -> None:
    """SELECT, INSERT, DELETE on the ended console sessions (prepare_postgres)."""
    prepare_postgres(settings, role)


def _create_postgres(cur: psycopg.Cursor[Any], schema: str) -> None:
    table = sql.Identifier(schema, TABLE)
    cur.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} "
            "(session_hash text PRIMARY KEY, expires_at bigint NOT NULL)"
        ).format(table)
    )
    function = sql.Identifier(schema, f"{TABLE}_guard")
    cur.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP <> 'DELETE' THEN RAISE EXCEPTION '" + _REFUSED + "' "
            "USING ERRCODE = 'insufficient_privilege'; END IF; "
            "IF OLD.expires_at > extract(epoch FROM now()) THEN RETURN NULL; END IF; "
            "RETURN OLD; END $$"
        ).format(function)
    )
    cur.execute(
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR TRUNCATE ON {} "
            "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
        ).format(sql.Identifier(f"{TABLE}_no_update"), table, function)
    )
    cur.execute(
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {} BEFORE DELETE ON {} FOR EACH ROW EXECUTE FUNCTION {}()"
        ).format(sql.Identifier(f"{TABLE}_keep_live"), table, function)
    )
