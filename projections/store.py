"""Where the read models live: their tables, their tracking records, one transaction per batch.

Design (docs/projections.md):

* **SQLite** (the embedded default): a separate file beside the ledger,
  ``<ledger>.views.db``. The ledger file has one write lock, which ingestion
  needs; a rebuild writing a million rows must not stall it, and views are
  derived data that may be dropped and rebuilt at any time, so they stay out of
  the ledger's file (and out of its backups). ``synchronous=NORMAL``: a crash
  may lose the newest committed batches, never half of one, and the tracking
  record is lost with them, so they are simply processed again. Writers keep a
  64 MB page cache (2 MB while a rebuild builds its indexes) and checkpoint the
  WAL every 10,000 pages (bulk loads: fewer fsyncs).
* **PostgreSQL**: the ledger's own database and schema, tables prefixed
  ``views_``. MVCC means no contention with the ledger's writers.

Either way the view rows and the tracking record of a batch are written in
ONE transaction of ONE database: exactly once.

Statements use ``?`` placeholders; PostgreSQL gets ``%s``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.errors import ConfigurationError, LedgerError, StoreUnavailableError
from ledger.store.connect import postgres_conninfo

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PREFIX = "views_"
SIDE_PREFIX = "views_next_"  # a rebuild's tables until the swap (matches backup's ``views_*``)
_BATCH_CACHE = -65536  # KiB of page cache for writers (a batch's pages until its commit)


class ProjectionError(LedgerError):
    """A read model cannot follow this ledger (for instance: the ledger was rewritten)."""


class ViewsVersionError(StoreUnavailableError):
    """The views are of another schema version than this code's: not read, never written.

    The API answers 503 with ``Retry-After`` (an upgrade is under way); the CLI exits
    with ``EXIT_VERSION`` (docs/operations.md §Upgrading)."""


def _base_path(settings: Settings) -> Path:
    ledger = settings.database.path
    if ledger == ":memory:":
        raise ConfigurationError("an in-memory ledger has no views file")
    path = Path(ledger)
    return path.with_name(path.stem + ".views.db")


def pointer_path(settings: Settings) -> Path:
    """SQLite: the file naming which views file is current, once a rebuild has swapped one in."""
    base = _base_path(settings)
    return base.with_name(base.name.removesuffix(".db") + ".current")


def views_path(settings: Settings) -> str:
    """The SQLite file of the views: the ledger's path with ``.views.db`` for ``.db``, or the
    generation a rebuild swapped in (``<ledger>.views.<n>.db``, named by ``.views.current``)."""
    base = _base_path(settings)
    try:
        name = pointer_path(settings).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return str(base)
    return str(base.with_name(name)) if name else str(base)


def _generation(settings: Settings, path: str) -> int:
    base = _base_path(settings)
    found = re.fullmatch(re.escape(base.stem) + r"\.(\d+)\.db", Path(path).name)
    return int(found.group(1)) if found else 1


def side_views_path(settings: Settings) -> str:
    """SQLite: the file a rebuild builds into, the generation after the current one."""
    current = views_path(settings)
    base = _base_path(settings)
    return str(base.with_name(f"{base.stem}.{_generation(settings, current) + 1}.db"))


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def clear_old_generations(settings: Settings) -> None:
    """SQLite: delete every views file but the current one (a reader that opened an older
    one before the last swap keeps its open file; the next rebuild frees the disk)."""
    base = _base_path(settings)
    current = Path(views_path(settings))
    pattern = re.compile(re.escape(base.stem) + r"(\.\d+)?\.db")
    for found in base.parent.iterdir():
        if pattern.fullmatch(found.name) and found != current:
            _remove_sqlite(found)


@dataclass(frozen=True)
class Tracking:
    """How far one projection has followed the ledger."""

    name: str
    position: int
    hash: bytes | None
    version: int


class ViewStore:
    """One connection to the views' database, SQLite or PostgreSQL."""

    def __init__(self, settings: Settings, *, readonly: bool = False, side: bool = False) -> None:
        """``side``: a rebuild's views, swapped in by :meth:`swap_in` (PostgreSQL: tables
        prefixed ``views_next_``; SQLite: the next generation's file)."""
        db = settings.database
        self.settings = settings
        self.backend = db.backend
        self.readonly = readonly
        self.side = side
        # SQLite: the side views are a file of their own, with the usual table names.
        self.prefix = SIDE_PREFIX if side and self.backend == "postgresql" else PREFIX
        self.blob = "BLOB" if self.backend == "sqlite" else "bytea"
        self.path = ""
        if self.backend == "sqlite":
            path = side_views_path(settings) if side else views_path(settings)
            self.path = path
            if readonly and not Path(path).is_file():
                raise StoreUnavailableError(f"no views at {path} (run `govledger projections run`)")
            # A reader opens an existing file (mode=rw never creates one) and refuses writes
            # (query_only); unlike mode=ro, its last close removes the WAL files it made, so
            # reading leaves the files as it found them (docs/projections.md).
            mode = "?mode=rw" if readonly else ""
            try:
                self._sqlite = sqlite3.connect(
                    f"file:{path}{mode}", uri=True, isolation_level=None, timeout=30
                )
                if readonly:
                    self._sqlite.execute("PRAGMA query_only=ON")
                else:
                    self._sqlite.execute("PRAGMA journal_mode=WAL")
                    # A batch (10,000 rows, a few MB) stays in the page cache until its
                    # commit; the WAL is copied into the database (two fsyncs) every ~40 MB
                    # instead of every 4 MB, about every batch of a rebuild. Neither
                    # changes what a crash can lose.
                    self._sqlite.execute(f"PRAGMA cache_size={_BATCH_CACHE}")
                    self._sqlite.execute("PRAGMA wal_autocheckpoint=10000")
                self._sqlite.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as e:
                raise StoreUnavailableError(f"cannot open the views at {path}: {e}") from e
            self._schema = ""
        else:
            schema = settings.postgres_schema
            if not _IDENTIFIER.fullmatch(schema):
                raise ConfigurationError(f"PostgreSQL schema name {schema!r} is not an identifier")
            try:
                self._pg = psycopg.connect(
                    **postgres_conninfo(db), autocommit=True, connect_timeout=10
                )
            except psycopg.OperationalError as e:
                raise StoreUnavailableError(f"cannot connect to PostgreSQL: {e}") from e
            self._schema = schema
        self._in_transaction = False

    # ------------------------------------------------------------------ names and SQL

    def table(self, name: str) -> str:
        """The qualified name of view table ``name``."""
        full = f"{self.prefix}{name}"
        return f'"{self._schema}"."{full}"' if self._schema else full

    def index_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def has_table(self, name: str) -> bool:
        full = f"{self.prefix}{name}"
        if self.backend == "sqlite":
            rows = self.query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (full,))
            return bool(rows)
        return bool(self.query("SELECT to_regclass(?)", (f'"{self._schema}"."{full}"',))[0][0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            return self._sqlite.execute(sql, params).fetchall()
        cursor = self._pg.execute(sql.replace("?", "%s"), params or None)
        if cursor.description is None:
            return []
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in cursor]

    def stream(
        self, sql: str, params: Sequence[Any] = (), size: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of a SQLite query in batches of ``size``: a reader folds a large
        answer without holding it (PostgreSQL: one batch, its answer is already whole)."""
        if self.backend != "sqlite":
            yield self.query(sql, params)
            return
        cursor = self._sqlite.execute(sql, params)
        while batch := cursor.fetchmany(size):
            yield batch

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.backend == "sqlite":
            self._sqlite.executemany(sql, rows)
        else:
            with self._pg.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), rows)

    def insert_many(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append rows: ``executemany`` on SQLite, ``COPY`` on PostgreSQL (one round trip)."""
        if not rows:
            return
        cols = ", ".join(columns)
        if self.backend == "sqlite":
            marks = ",".join("?" * len(columns))
            self._sqlite.executemany(
                f"INSERT INTO {self.table(name)} ({cols}) VALUES ({marks})", rows
            )
            return
        with (
            self._pg.cursor() as cursor,
            cursor.copy(f"COPY {self.table(name)} ({cols}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([pg_text(v) for v in row])

    @contextmanager
    def transaction(self) -> Iterator[ViewStore]:
        """One write transaction, serialised against other runners of the same views."""
        if self.backend == "sqlite":
            self._sqlite.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield self
            except BaseException:
                self._sqlite.execute("ROLLBACK")
                raise
            finally:
                self._in_transaction = False
            self._sqlite.execute("COMMIT")
            return
        with self._pg.transaction():
            lock = f"govledger:views:{self._schema}" + (":side" if self.side else "")
            self.query("SELECT pg_advisory_xact_lock(hashtext(?))", (lock,))
            yield self

    @contextmanager
    def index_build(self) -> Iterator[None]:
        """SQLite: the default 2 MB page cache while indexes are built. CREATE INDEX sorts
        in cache-sized runs and merges them; one 64 MB run sorts slower (measured: ~1.2 s
        against ~0.7 s an index at a million rows)."""
        if self.backend != "sqlite":
            yield
            return
        self._sqlite.execute("PRAGMA cache_size=-2000")
        try:
            yield
        finally:
            self._sqlite.execute(f"PRAGMA cache_size={_BATCH_CACHE}")

    def close(self) -> None:
        if self.backend == "sqlite":
            self._sqlite.close()
        else:
            self._pg.close()

    def moved(self) -> bool:
        """SQLite: a rebuild swapped another file in since this store opened its own."""
        if self.backend != "sqlite" or self.side:
            return False
        return views_path(self.settings) != self.path

    def reopen(self) -> None:
        """Open the views now current (after :meth:`moved`)."""
        self.close()
        self.__init__(self.settings, readonly=self.readonly, side=self.side)  # type: ignore[misc]

    def swap_in(
        self,
        side: ViewStore,
        tables: Sequence[str],
        indexes: Sequence[str],
        catch_up: Callable[[], object],
    ) -> None:
        """Make the rebuilt ``side`` views these, atomically for every reader.

        Under this store's write lock (no runner commits here meanwhile) ``catch_up`` brings
        the side views to the ledger's head, so they are never behind the ones they replace
        (a count on /metrics never goes back). Then PostgreSQL, in the same transaction,
        drops these tables and renames the side's tables and indexes to their names: a
        reader's statement sees either the old tables or the new, never none. SQLite makes
        the side file current by an atomic rename of the pointer file: readers open it from
        then on, those that opened the old one read it to their end; this store follows
        (:meth:`reopen`).
        """
        if self.backend == "sqlite":
            with self.transaction():
                catch_up()
                pointer = pointer_path(self.settings)
                temporary = pointer.with_name(pointer.name + ".tmp")
                with open(temporary, "w", encoding="utf-8") as out:
                    out.write(Path(side.path).name + "\n")
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, pointer)
            self.reopen()
            return
        with self.transaction():
            catch_up()
            for name in tables:
                self.query(f"DROP TABLE IF EXISTS {self.table(name)}")
            for name in tables:
                primary = self.query(
                    "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(?) "
                    "AND contype = 'p'",
                    (side.table(name),),
                )
                self.query(f'ALTER TABLE {side.table(name)} RENAME TO "{self.prefix}{name}"')
                if primary:  # its index too: the next rebuild's side tables reuse the name
                    self.query(
                        f'ALTER TABLE {self.table(name)} RENAME CONSTRAINT "{primary[0][0]}" '
                        f'TO "{self.prefix}{name}_pkey"'
                    )
            for index in indexes:
                self.query(
                    f'ALTER INDEX IF EXISTS "{self._schema}"."{side.index_name(index)}" '
                    f'RENAME TO "{self.index_name(index)}"'
                )

    # ------------------------------------------------------------------ meta and tracking

    def ensure_meta(self) -> None:
        """The tracking and meta tables (idempotent)."""
        with self.transaction():
            self.query(
                f"CREATE TABLE IF NOT EXISTS {self.table('tracking')} (name TEXT PRIMARY KEY, "
                f"position BIGINT NOT NULL, hash {self.blob}, version INTEGER NOT NULL)"
            )
            self.query(
                f"CREATE TABLE IF NOT EXISTS {self.table('meta')} "
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )

    def meta(self, key: str) -> str | None:
        if not self.has_table("meta"):
            return None
        rows = self.query(f"SELECT value FROM {self.table('meta')} WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.query(
            f"INSERT INTO {self.table('meta')} (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def tracking(self) -> dict[str, Tracking]:
        if not self.has_table("tracking"):
            return {}
        rows = self.query(f"SELECT name, position, hash, version FROM {self.table('tracking')}")
        return {
            r[0]: Tracking(r[0], int(r[1]), bytes(r[2]) if r[2] is not None else None, int(r[3]))
            for r in rows
        }

    def set_tracking(
        self, names: Sequence[str], position: int, hash_: bytes | None, version: int
    ) -> None:
        """Inside the batch's transaction: the records that make the batch count once (one
        statement for every projection named: a round trip on PostgreSQL)."""
        self.execute_many(
            f"INSERT INTO {self.table('tracking')} (name, position, hash, version) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
            "hash = excluded.hash, version = excluded.version",
            [(name, position, hash_, version) for name in names],
        )

    def drop(self, names: Sequence[str]) -> None:
        for name in names:
            self.query(f"DROP TABLE IF EXISTS {self.table(name)}")


def pg_text(value: Any) -> Any:
    """PostgreSQL ``text`` cannot hold NUL, which a reported fact may carry verbatim: such a
    character becomes U+FFFD in the view (the ledger row, cited by position, keeps it)."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def grant_views_role(settings: Settings, role: str) -> None:
    """Let a least-privileged PostgreSQL ``role`` keep the read models (``govledger init
    --app-role``): ``CREATE`` on the ledger's schema, so the projection worker running as
    that role creates, fills and drops (rebuilds) its own ``views_`` tables, which the API
    under the same role then reads. It owns nothing else: the chain stays SELECT and INSERT
    to it. SQLite views are a file beside the ledger: nothing to grant."""
    if settings.database.backend != "postgresql":
        return
    store = ViewStore(settings)
    try:
        grantee = '"' + role.replace('"', '""') + '"'
        store.query(f'GRANT USAGE, CREATE ON SCHEMA "{settings.postgres_schema}" TO {grantee}')
    finally:
        store.close()
