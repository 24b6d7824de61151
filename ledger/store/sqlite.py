"""Chained recorders on SQLite (docs/ledger-format.md §2, §6).

The position is the table's ``rowid``, assigned by the writer: inside a
``BEGIN IMMEDIATE`` transaction (the database write lock is taken before the
head is read, so two processes can never chain onto the same head), the
writer reads the last row, computes positions and hashes, and inserts every
column in one ``executemany``. A batch of accesses may instead arrive in
chunks, each inserted by a writer thread while the next is built, still in one
such transaction (``insert_new_stream``, ledger/store/sqlite_stream.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing import sqlite as es_sqlite
from eventsourcing.persistence import IntegrityError, InterfaceError, StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteProcessRecorder,
)
from eventsourcing.utils import resolve_topic

from ledger.chain import Genesis, RowTuple, chain_rows, hash_function
from ledger.errors import ConfigurationError, ForeignStoreError, StoreUnavailableError
from ledger.store.base import (
    HASH_ALGORITHM_KEY,
    Bounds,
    NewAggregates,
    NotificationsFromOne,
    chain_input,
    check_requested_algorithm,
    genesis_from_row,
    new_genesis,
)
from ledger.store.sqlite_stream import ChunkWriter, insert_new_stream, remember_batch
from ledger.store.sqlite_turn import ImmediateTransaction, WriterTurn

# Tables a govledger SQLite file may hold besides the chain itself.
KNOWN_TABLES = frozenset(
    {"stored_events", "tracking", "stored_snapshots", "subject_keys", "api_keys"}
)


class _StatementCachingPool(SQLiteConnectionPool):
    """The library's pool, with a real prepared-statement cache on each connection
    (and temporary tables in memory, below).

    eventsourcing 9.5 opens connections with ``cached_statements=True``, a cache of
    ONE statement: an append (BEGIN IMMEDIATE, read the head, insert) re-prepares all
    three statements every time, a third of the cost of a one-event transaction.
    """

    STATEMENT_CACHE_SIZE = 64

    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: transactions are begun explicitly
                cached_statements=self.STATEMENT_CACHE_SIZE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                c.execute("PRAGMA journal_mode=WAL")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        # A multi-row INSERT into a table with row triggers (a streamed chunk,
        # ledger/store/sqlite_stream.py) first copies its rows into a temporary table:
        # kept in memory, not a file created and removed per chunk (a third of its cost).
        c.execute("PRAGMA temp_store=MEMORY")
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


def _cache_statements(datastore: SQLiteDatastore) -> None:
    """Give the datastore's pool a statement cache (see :class:`_StatementCachingPool`).

    Done by the recorder, so that every datastore a chained recorder writes through,
    however it was built, gets it; connections already open keep the library's.
    """
    if type(datastore.pool) is SQLiteConnectionPool:
        datastore.pool.__class__ = _StatementCachingPool


class ChainedSQLiteApplicationRecorder(NotificationsFromOne, SQLiteApplicationRecorder):
    """SQLite application recorder whose rows form the hash chain."""

    # A streamed batch holds the database's one write lock while it is built: whoever
    # builds it must not write meanwhile (ledger/commands/accesses.py).
    stream_locks_database = True

    def __init__(
        self,
        datastore: SQLiteDatastore,
        events_table_name: str = "stored_events",
        hash_algorithm: str | None = None,
    ) -> None:
        self.genesis_table_name = f"{events_table_name}_genesis"
        _cache_statements(datastore)
        super().__init__(datastore, events_table_name)
        self.requested_algorithm = hash_algorithm
        self._genesis: Genesis | None = None
        pool = datastore.pool
        self._turn = WriterTurn(pool.db_name, pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT)
        # The last batch's head, whether another writer is about, and the thread that
        # inserts a streamed batch's chunks (ledger/store/sqlite_stream.py).
        self._head: tuple[int, bytes] | None = None
        self._contended = False
        self._chunk_writer = ChunkWriter()
        self.insert_events_statement = (
            f"INSERT INTO {self.events_table_name} (rowid, originator_id, originator_version, "
            "topic, state, prev_hash, hash) VALUES (?,?,?,?,?,?,?)"
        )
        self.select_head_statement = (
            f"SELECT rowid, hash FROM {self.events_table_name} ORDER BY rowid DESC LIMIT 1"
        )
        # The domain model reads positions >= 1 only, as verify does (ledger-format §2).
        self.select_events_statement = (
            f"SELECT * FROM {self.events_table_name} WHERE originator_id=? AND rowid>=1 "
        )

    def construct_create_table_statements(self) -> list[str]:
        t, g = self.events_table_name, self.genesis_table_name
        return [
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
            "prev_hash BLOB NOT NULL, hash BLOB NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version))",
            f"CREATE TABLE IF NOT EXISTS {g} ("
            "singleton INTEGER PRIMARY KEY CHECK (singleton = 1), "
            "format_version INTEGER NOT NULL, ledger_id TEXT NOT NULL, "
            "created_at TEXT NOT NULL, hash_algorithm TEXT NOT NULL, genesis_hash BLOB NOT NULL)",
            *_append_only_triggers(t),
            *_append_only_triggers(g),
            _append_at_head_trigger(t, g),
        ]

    # ------------------------------------------------------------------ schema

    def create_table(self) -> None:
        _refuse_foreign_file(
            self.datastore.pool.db_name, self.events_table_name, self.genesis_table_name
        )
        super().create_table()
        with self.datastore.get_connection(commit=True) as conn, _immediate(conn) as c:
            c.execute(f"SELECT * FROM {self.genesis_table_name}")
            if c.fetchone() is None:
                g = new_genesis(self.requested_algorithm)
                c.execute(
                    f"INSERT INTO {self.genesis_table_name} VALUES (1, ?, ?, ?, ?, ?)",
                    (g.format_version, g.ledger_id, g.created_at, g.hash_algorithm, g.genesis_hash),
                )
        self.load_genesis()

    def load_genesis(self) -> Genesis:
        """Read the genesis record; refuse a setting that contradicts it."""
        _refuse_foreign_file(
            self.datastore.pool.db_name, self.events_table_name, self.genesis_table_name
        )
        with self.datastore.transaction(commit=False) as c:
            try:
                c.execute(f"SELECT * FROM {self.genesis_table_name}")
            except sqlite3.OperationalError as e:
                raise ForeignStoreError("no govledger ledger here (run `govledger init`)") from e
            row = c.fetchone()
        if row is None:
            raise ForeignStoreError("the ledger has no genesis record (run `govledger init`)")
        genesis = genesis_from_row(row)
        check_requested_algorithm(genesis, self.requested_algorithm)
        self._genesis = genesis
        return genesis

    @property
    def genesis(self) -> Genesis:
        return self._genesis or self.load_genesis()

    # ------------------------------------------------------------------ writes

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        genesis = self._genesis or self.load_genesis()
        # One flat `with`: at one event per transaction, each extra layer of context
        # managers costs as much as the hashing (bench/append.py).
        with (
            self.datastore.get_connection(commit=True) as conn,
            ImmediateTransaction(conn, commit=True) as c,
            c,  # closes the cursor
        ):
            # Through _insert_events, so the process recorder adds its tracking record here.
            return self._insert_events(c, stored_events, genesis=genesis, **kwargs)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        genesis: Genesis = kwargs.get("genesis") or self.genesis
        return [row[0] for row in self._chain(c, genesis, chain_input(stored_events))]

    def _chain(
        self, c: SQLiteCursor, genesis: Genesis, inputs: list[tuple[str, int, str, bytes]]
    ) -> list[RowTuple]:
        """Chain these rows onto the head and insert them (under the caller's write lock)."""
        head_position, head_hash = self._read_head(c, genesis)
        rows = chain_rows(hash_function(genesis.hash_algorithm), head_position, head_hash, inputs)
        if len(rows) == 1:  # executemany costs twice execute for one row
            c.execute(self.insert_events_statement, rows[0])
        else:
            c.executemany(self.insert_events_statement, rows)
        return rows

    def _read_head(self, c: SQLiteCursor, genesis: Genesis) -> tuple[int, bytes]:
        """The head's position and hash (0 and the genesis hash for an empty chain)."""
        c.execute(self.select_head_statement)
        head = c.fetchone()
        return (head[0], head[1]) if head else (0, genesis.genesis_hash)

    def insert_new_stream(self, chunks: Iterable[Sequence[StoredEvent]]) -> NewAggregates:
        """``insert_new_aggregates`` of the chunks' events, each chunk inserted as the next is
        built, in one transaction (ledger/store/sqlite_stream.py)."""
        return insert_new_stream(self, chunks)

    def insert_new_aggregates(
        self, stored_events: Sequence[StoredEvent], *, checked: bool = False
    ) -> NewAggregates:
        """Insert, in one transaction, the events whose originator has no events yet.

        Idempotent batch ingestion, as on PostgreSQL. The usual batch is all new,
        and the insert probes the (originator_id, originator_version) key of every
        row anyway: so it is tried first, unchecked, and a batch holding a stored
        originator (a retry) fails on its key, is rolled back whole, and is then
        checked after ``BEGIN IMMEDIATE``, under the write lock, so no other writer
        can store one of these originators between the check and the insert.
        Only events that create their aggregate may skip the check (version 1:
        an originator with events has its version 1). ``checked``: a batch known
        to hold a stored originator (a streamed one that failed on the key) goes
        straight to the check.
        """
        with self._turn.taken():  # batches of two API workers: see ledger/store/sqlite_turn.py
            return self._insert_new(stored_events, checked)

    def _insert_new(self, stored_events: Sequence[StoredEvent], checked: bool) -> NewAggregates:
        genesis = self._genesis or self.load_genesis()
        inputs = chain_input(stored_events)
        if not checked and inputs and all(version == 1 for _, version, _, _ in inputs):
            try:
                with (
                    self.datastore.get_connection(commit=True) as conn,
                    ImmediateTransaction(conn, commit=True) as c,
                    c,  # closes the cursor
                ):
                    rows = self._chain(c, genesis, inputs)
                remember_batch(self, rows, self._turn.waited)
                return NewAggregates([row[0] for row in rows], set())
            except IntegrityError:
                pass  # some originator is stored already: rolled back, nothing written
        with (
            self.datastore.get_connection(commit=True) as conn,
            ImmediateTransaction(conn, commit=True) as c,
            c,  # closes the cursor
        ):
            found = self._existing_texts(c, [row[0] for row in inputs])
            if found:
                inputs = [row for row in inputs if row[0] not in found]
            rows = self._chain(c, genesis, inputs) if inputs else []
        remember_batch(self, rows, self._turn.waited)
        return NewAggregates([row[0] for row in rows], {UUID(text) for text in found})

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates already have events: one query per 900 ids.

        Idempotent batch ingestion asks this for thousands of ids at once.
        """
        with self.datastore.transaction(commit=False) as c:
            found = self._existing_texts(c, [i.hex for i in originator_ids])
        return {UUID(text) for text in found}

    def position_of_originator(self, originator_id: UUID, version: int = 1) -> int | None:
        """The position of one aggregate event: a primary-key probe, whatever the ledger's size."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} WHERE originator_id = ? "
                "AND originator_version = ? AND rowid >= 1",
                (originator_id.hex, version),
            )
            row = c.fetchone()
        return int(row[0]) if row else None

    def _existing_texts(self, c: SQLiteCursor, ids: Sequence[str]) -> set[str]:
        """Which of these originator texts (§2) have rows at positions >= 1."""
        found: set[str] = set()
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            c.execute(
                f"SELECT DISTINCT originator_id FROM {self.events_table_name} "
                f"WHERE originator_id IN ({','.join('?' * len(chunk))}) AND rowid >= 1",
                chunk,
            )
            found.update(row[0] for row in c.fetchall())
        return found


class ChainedSQLiteProcessRecorder(SQLiteProcessRecorder, ChainedSQLiteApplicationRecorder):
    """Process recorder: chained events and the tracking record in one transaction."""

    def __init__(
        self,
        datastore: SQLiteDatastore,
        *,
        events_table_name: str = "stored_events",
        hash_algorithm: str | None = None,
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.requested_algorithm = hash_algorithm


@contextmanager
def _immediate(conn: SQLiteConnection) -> Iterator[SQLiteCursor]:
    with ImmediateTransaction(conn, commit=True) as curs, curs:
        yield curs


def _append_only_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'govledger: {table} is append-only: UPDATE refused'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'govledger: {table} is append-only: DELETE refused'); END",
    ]


def _append_at_head_trigger(table: str, genesis_table: str) -> str:
    """Rows exactly 1..head, each linked to the one before and of its types (ledger-format §6.1).

    ``rowid`` is explicit in every govledger insert; a row without one (``NEW.rowid``
    is then not max + 1) is refused like any other.
    """
    return (
        f"CREATE TRIGGER IF NOT EXISTS {table}_append_at_head BEFORE INSERT ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'govledger: {table}: a row goes at the head + 1, linked "
        "to the row before it, with fields of their types') "
        f"WHERE NEW.rowid IS NOT (SELECT coalesce(max(rowid), 0) + 1 FROM {table}) "
        "OR NEW.prev_hash IS NOT (CASE WHEN NEW.rowid = 1 "
        f"THEN (SELECT genesis_hash FROM {genesis_table}) "
        f"ELSE (SELECT hash FROM {table} WHERE rowid = NEW.rowid - 1) END) "
        "OR typeof(NEW.originator_id) != 'text' OR typeof(NEW.originator_version) != 'integer' "
        "OR typeof(NEW.topic) != 'text' OR typeof(NEW.state) != 'blob' "
        "OR typeof(NEW.hash) != 'blob' OR length(NEW.hash) != 32; END"
    )


def _refuse_foreign_file(db_name: str, events_table: str, genesis_table: str) -> None:
    """Never write into a file that holds something other than a govledger ledger.

    Inspected read-only, before the library's pool opens it: opening switches
    the journal mode to WAL, which is already a write.
    """
    if db_name.startswith("file:") or ":memory:" in db_name or not Path(db_name).exists():
        return
    try:
        with closing(sqlite3.connect(f"file:{db_name}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as e:
        raise ForeignStoreError(f"{db_name} is not an SQLite database ({e})") from e
    tables = {row[0] for row in rows if not row[0].startswith("sqlite_")}  # SQLite's own
    if genesis_table in tables or not tables:
        return
    if events_table in tables:
        raise ForeignStoreError(
            f"table {events_table} exists without a genesis record: not a govledger ledger"
        )
    unknown = sorted(tables - KNOWN_TABLES - {events_table, genesis_table})
    if unknown:
        raise ForeignStoreError(
            f"the database holds other tables ({', '.join(unknown[:3])}): not a govledger ledger"
        )


# The module must expose exactly one factory class: eventsourcing finds it by scanning.
class Factory(es_sqlite.SQLiteFactory):
    """``PERSISTENCE_MODULE=ledger.store.sqlite``: eventsourcing's factory, chained."""

    application_recorder_class = ChainedSQLiteApplicationRecorder
    process_recorder_class = ChainedSQLiteProcessRecorder

    def _hash_algorithm(self) -> str | None:
        return self.env.get(HASH_ALGORITHM_KEY) or None

    def _chained_class(self, key: str, default: type[Any]) -> type[Any]:
        topic = self.env.get(key)
        cls: type[Any] = resolve_topic(topic) if topic else default
        if not issubclass(cls, ChainedSQLiteApplicationRecorder):
            raise ConfigurationError(f"{key}={topic} is not a chained recorder")
        return cls

    def application_recorder(self) -> ChainedSQLiteApplicationRecorder:
        cls = self._chained_class(self.APPLICATION_RECORDER_TOPIC, self.application_recorder_class)
        recorder: ChainedSQLiteApplicationRecorder = cls(
            datastore=self.datastore, hash_algorithm=self._hash_algorithm()
        )
        _prepare(recorder, self.env_create_table())
        return recorder

    def process_recorder(self) -> ChainedSQLiteProcessRecorder:
        cls = self._chained_class(self.PROCESS_RECORDER_TOPIC, self.process_recorder_class)
        recorder: ChainedSQLiteProcessRecorder = cls(
            datastore=self.datastore, hash_algorithm=self._hash_algorithm()
        )
        _prepare(recorder, self.env_create_table())
        return recorder


def _prepare(recorder: ChainedSQLiteApplicationRecorder, create: bool) -> None:
    try:
        recorder.create_table() if create else recorder.load_genesis()
    except sqlite3.DatabaseError as e:
        raise StoreUnavailableError(f"cannot use the SQLite database: {e}") from e


# ---------------------------------------------------------------------- reading


class SQLiteRowReader:
    """Read-only access to a chained SQLite file for verify and export.

    Opens the file with ``mode=ro`` and never through the library's pool, which
    would switch the journal mode (a write) on a file that may not be ours.
    Text that is not UTF-8 (an attacker's ``CAST(x'ff' AS TEXT)``) is read, not
    raised: the batch holding it is read again with a lenient decoder, so the
    verifier names the row ``malformed`` (ledger-format §5 rule 2).
    """

    def __init__(self, path: str, events_table_name: str = "stored_events") -> None:
        if path != ":memory:" and not Path(path).is_file():
            raise StoreUnavailableError(f"no ledger database at {path}")
        try:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as e:
            raise ForeignStoreError(f"{path} is not an SQLite database ({e})") from e
        self.table = events_table_name
        if f"{self.table}_genesis" not in tables or self.table not in tables:
            self.conn.close()
            raise ForeignStoreError(f"{path} is not a govledger ledger (no genesis record)")
        self._select = (
            "SELECT rowid, originator_id, originator_version, topic, state, prev_hash, hash "
            f"FROM {self.table}"
        )

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees one state of the file (a read transaction)."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def genesis(self) -> Genesis:
        with self._lenient():
            self.conn.row_factory = sqlite3.Row
            try:
                row = self.conn.execute(f"SELECT * FROM {self.table}_genesis").fetchone()
            finally:
                self.conn.row_factory = None
        if row is None:
            raise ForeignStoreError("the ledger has no genesis record")
        return genesis_from_row(row)

    def max_position(self) -> int:
        value = self.conn.execute(f"SELECT MAX(rowid) FROM {self.table}").fetchone()[0]
        return int(value or 0)

    def bounds(self, *, count: bool = True) -> Bounds:
        if count:
            query = f"SELECT min(rowid), max(rowid), count(*) FROM {self.table}"
        else:  # min and max in one SELECT scan the table: each alone is one index probe
            query = (
                f"SELECT (SELECT min(rowid) FROM {self.table}), "
                f"(SELECT max(rowid) FROM {self.table}), -1"
            )
        low, high, found = self.conn.execute(query).fetchone()
        # rowid is the table's key: two rows never share a position.
        return Bounds(low, high or 0, found, unique=True)

    def iter_batches(self, after: int | None, batch_size: int) -> Iterator[list[RowTuple]]:
        last = after
        while True:
            where, params = ("", ()) if last is None else (" WHERE rowid > ?", (last,))
            cursor = self.conn.execute(f"{self._select}{where} ORDER BY rowid", params)
            try:
                while batch := cursor.fetchmany(batch_size):
                    yield batch
                    last = batch[-1][0]
                return
            except sqlite3.OperationalError as e:
                if "decode" not in str(e):
                    raise
            where, params = ("", ()) if last is None else (" WHERE rowid > ?", (last,))
            with self._lenient():  # the batch holding text that is not UTF-8
                batch = self.conn.execute(
                    f"{self._select}{where} ORDER BY rowid LIMIT ?", (*params, batch_size)
                ).fetchall()
            yield batch
            last = batch[-1][0]

    def positions(self, after: int | None = None) -> Iterator[list[int]]:
        where, params = ("", ()) if after is None else (" WHERE rowid > ?", (after,))
        cursor = self.conn.execute(f"SELECT rowid FROM {self.table}{where} ORDER BY rowid", params)
        while batch := cursor.fetchmany(10_000):
            yield [row[0] for row in batch]

    def hashes(self, after: int, batch_size: int) -> Iterator[list[tuple[int, bytes]]]:
        cursor = self.conn.execute(
            f"SELECT rowid, hash FROM {self.table} WHERE rowid > ? ORDER BY rowid", (after,)
        )
        while batch := cursor.fetchmany(batch_size):
            yield batch

    def row_at(self, position: int) -> RowTuple | None:
        with self._lenient():
            row = self.conn.execute(f"{self._select} WHERE rowid = ?", (position,)).fetchone()
        return tuple(row) if row else None

    def rows_at(self, positions: Sequence[int]) -> dict[int, RowTuple]:
        wanted = sorted(set(positions))
        found: dict[int, RowTuple] = {}
        # SQLite binds at most 32,766 parameters a statement (999 before 3.32).
        with self._lenient():
            for start in range(0, len(wanted), 900):
                chunk = wanted[start : start + 900]
                marks = ",".join("?" * len(chunk))
                for row in self.conn.execute(f"{self._select} WHERE rowid IN ({marks})", chunk):
                    found[int(row[0])] = tuple(row)
        return found

    def position_of_hash(self, stored_hash: bytes, after: int) -> int | None:
        row = self.conn.execute(
            f"SELECT rowid FROM {self.table} WHERE hash = ? AND rowid > ? LIMIT 1",
            (stored_hash, after),
        ).fetchone()
        return int(row[0]) if row else None

    def head_record(self) -> None:
        """SQLite keeps no head record: the head is the greatest ``rowid``."""
        return None

    @contextmanager
    def _lenient(self) -> Iterator[None]:
        self.conn.text_factory = _lenient_text
        try:
            yield
        finally:
            self.conn.text_factory = str

    def close(self) -> None:
        self.conn.close()


def _lenient_text(data: bytes) -> str:
    # Bytes that are not UTF-8 become lone surrogates: text the verifier calls malformed.
    return data.decode("utf-8", "surrogateescape")
