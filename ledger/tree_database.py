"""One connection to the ledger's database for the proof tables (tree, checkpoints, grants).

docs/checkpoint-format.md §10: the tree and the checkpoints live beside the chained
events, in tables named ``<events table>_<suffix>`` of the ledger's own schema. This
module is the connection and its few operations (query, a write transaction under a
named writer lock, idempotent DDL, append-only triggers); the tree's nodes are in
``ledger/tree_nodes.py``, the tree and its proofs in ``ledger/tree.py``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.errors import ConfigurationError, StoreUnavailableError
from ledger.store.conninfo import postgres_conninfo

__all__ = ["Database"]

_SQLITE_EVENTS, _POSTGRES_EVENTS = "stored_events", "ledger_events"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class Database:
    """One connection to the ledger's database for the proof tables (SQLite or PostgreSQL).

    Statements use ``?`` placeholders; PostgreSQL gets ``%s``. Table names are
    ``<events table>_<suffix>`` in the ledger's own schema.
    """

    def __init__(self, settings: Settings, *, readonly: bool = False) -> None:
        db = settings.database
        self.backend = db.backend
        self.readonly = readonly
        if db.backend == "sqlite":
            self._sqlite = _connect_sqlite(db.path, readonly)
            self.events = _SQLITE_EVENTS
            self._schema = ""
        else:
            schema = settings.postgres_schema
            if not _IDENTIFIER.fullmatch(schema):
                raise ConfigurationError(f"PostgreSQL schema name {schema!r} is not an identifier")
            self._pg = _connect_postgres(postgres_conninfo(db))
            self.events = _POSTGRES_EVENTS
            self._schema = schema

    def table(self, suffix: str) -> str:
        """The qualified name of ``<events>_<suffix>``."""
        name = f"{self.events}_{suffix}"
        return f'"{self._schema}"."{name}"' if self._schema else name

    def has_table(self, suffix: str) -> bool:
        name = f"{self.events}_{suffix}"
        if self.backend == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
            return bool(self.query(sql, (name,)))
        return bool(self.query("SELECT to_regclass(?)", (f'"{self._schema}"."{name}"',))[0][0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            return self._sqlite.execute(sql, params).fetchall()
        cursor = self._pg.execute(sql.replace("?", "%s"), params or None)
        return [_bytes_row(row) for row in cursor.fetchall()] if cursor.description else []

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows (inside :meth:`transaction`)."""
        if self.backend == "sqlite":
            self._sqlite.executemany(sql, rows)
        else:
            with self._pg.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), rows)

    @contextmanager
    def transaction(self, lock_name: str, *, durable: bool = True) -> Iterator[Database]:
        """One write transaction holding the writer lock ``lock_name`` (all or nothing).

        ``durable=False`` (derived data only: tree nodes) skips the flush at
        commit; a crash can lose the last batches, never leave half of one.
        """
        if self.backend == "sqlite":
            self._sqlite.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._sqlite.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._sqlite.execute("ROLLBACK")
                raise
            self._sqlite.execute("COMMIT")
            return
        with self._pg.transaction():
            if not durable:
                self.query("SET LOCAL synchronous_commit = off")
            self.query("SELECT pg_advisory_xact_lock(hashtext(?))", (self._lock_key(lock_name),))
            yield self

    def _lock_key(self, lock_name: str) -> str:
        return f"govledger:{self._schema}.{self.events}:{lock_name}"

    def append_only_statements(self, suffix: str) -> list[str]:
        """Triggers refusing UPDATE and DELETE (and TRUNCATE) like the event table's."""
        name, table = f"{self.events}_{suffix}", self.table(suffix)
        if self.backend == "sqlite":
            return [
                f"CREATE TRIGGER IF NOT EXISTS {name}_no_{op.lower()} BEFORE {op} ON {name} "
                f"BEGIN SELECT RAISE(ABORT, 'govledger: {name} is append-only: {op} refused'); END"
                for op in ("UPDATE", "DELETE")
            ]
        # The refusing function is created with the ledger (ledger/store/postgres.py).
        refuse = f'"{self._schema}".govledger_refuse_change'
        return [
            f'CREATE OR REPLACE TRIGGER "{name}_append_only" BEFORE UPDATE OR DELETE ON {table} '
            f"FOR EACH ROW EXECUTE FUNCTION {refuse}()",
            f'CREATE OR REPLACE TRIGGER "{name}_no_truncate" BEFORE TRUNCATE ON {table} '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {refuse}()",
        ]

    def create(self, statements: Sequence[str]) -> None:
        """Run idempotent DDL once, serialised against concurrent creators."""
        if self.readonly:
            raise StoreUnavailableError(
                "the proof tables are absent (run `govledger checkpoint issue`)"
            )
        try:
            with self.transaction("ddl"):
                for statement in statements:
                    self.query(statement)
        except (sqlite3.Error, psycopg.Error) as e:
            raise StoreUnavailableError(f"cannot create the proof tables: {_first_line(e)}") from e

    def close(self) -> None:
        if self.backend == "sqlite":
            self._sqlite.close()
        else:
            self._pg.close()


def _connect_sqlite(path: str, readonly: bool) -> sqlite3.Connection:
    if path != ":memory:" and not Path(path).is_file():
        raise StoreUnavailableError(f"no ledger database at {path}")
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    except sqlite3.Error as e:
        raise StoreUnavailableError(f"cannot open {path}: {e}") from e


def _connect_postgres(conninfo: dict[str, Any]) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(**conninfo, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as e:
        raise StoreUnavailableError(f"cannot connect to PostgreSQL: {_first_line(e)}") from e


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _bytes_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
