"""The RFC 9162 Merkle tree kept beside the ledger, and the follower that integrates it.

Design (docs/checkpoint-format.md §10): the tree is **integrated by a follower**,
as Tessera splits sequencing from integration. Appending an event does not
touch the tree: the chained recorders stay exactly as they are, and
:meth:`LedgerTree.integrate` later reads the rows after ``tree.size`` from a
:class:`ledger.store.base.RowReader`, checks that they chain onto the leaf it
integrated last, and extends the tree in batches, one
:meth:`DatabaseNodeStore.put_many` transaction per batch. It never recomputes
from scratch.

Nodes are stored in *strips*: the row ``(level, strip)`` holds the hashes of
the nodes ``strip * 256 … strip * 256 + 255`` of that level, concatenated (a
level-wide variant of the tiles of c2sp.org/tlog-tiles). A batch of 10,000
leaves writes about 80 rows instead of 20,000, and a proof reads O(log n)
strips in one query. The strips are derived data: tampering with them can make
a proof fail, never make a rewritten log verify, because ``verify`` recomputes
the roots from the rows (ledger/verify.py).

Leaves (docs/checkpoint-format.md §2): leaf index ``p − 1`` is the row at
position ``p``; the leaf data is its 32-byte entry hash; the leaf hash is
``H(0x00 || entry hash)`` (RFC 9162 §2.1.1).
"""

from __future__ import annotations

import base64
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

from ledger.chain import ChainVerifier, Genesis, hash_function
from ledger.config import Settings
from ledger.errors import (
    ConfigurationError,
    LedgerError,
    ProofError,
    StoreUnavailableError,
    VerificationError,
)
from ledger.merkle import HASH_SIZE, MerkleTree, NodeId, verify_consistency, verify_inclusion
from ledger.store.base import VerifiableReader
from ledger.store.connect import open_reader, postgres_conninfo

__all__ = [
    "STRIP_WIDTH",
    "ConsistencyProof",
    "Database",
    "DatabaseNodeStore",
    "InclusionProof",
    "LedgerTree",
    "TreeConflictError",
    "TreeDivergedError",
    "b64",
    "ensure_tree_guards",
    "open_ledger_tree",
    "tree_guard_statements",
]

STRIP_WIDTH = 256
"""Node hashes per stored strip (one level, consecutive indices)."""
DEFAULT_BATCH_SIZE = 10_000
_SQLITE_EVENTS, _POSTGRES_EVENTS = "stored_events", "ledger_events"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")

Progress = Callable[[int], None]


class TreeDivergedError(VerificationError):
    """The rows no longer match the leaves already integrated: the chain was rewritten or cut."""


class TreeConflictError(LedgerError):
    """Another integrator extended the tree first; refresh and retry."""


def b64(value: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as in the RFC 9162 vector files."""
    return base64.b64encode(value).decode("ascii")


# ---------------------------------------------------------------- database access


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


# ---------------------------------------------------------------- node store


class DatabaseNodeStore:
    """A :class:`ledger.merkle.NodeStore` in the table ``<events>_tree`` (level, strip, hashes).

    :meth:`put_many` is one transaction under the tree's writer lock; it refuses
    (:class:`TreeConflictError`) nodes that do not continue their strip
    exactly, so two integrators can never interleave.
    """

    SUFFIX = "tree"

    def __init__(self, database: Database) -> None:
        self.db = database
        self.table = database.table(self.SUFFIX)
        if not database.has_table(self.SUFFIX):
            blob = "BLOB" if database.backend == "sqlite" else "bytea"
            without_rowid = " WITHOUT ROWID" if database.backend == "sqlite" else ""
            database.create(
                [
                    f"CREATE TABLE IF NOT EXISTS {self.table} (level integer NOT NULL, "
                    f"strip bigint NOT NULL, hashes {blob} NOT NULL, "
                    f"PRIMARY KEY (level, strip)){without_rowid}",
                    *tree_guard_statements(database),
                ]
            )
        length = "length" if database.backend == "sqlite" else "octet_length"
        self._size_sql = (
            f"SELECT strip, {length}(hashes) FROM {self.table} "
            "WHERE level = 0 ORDER BY strip DESC LIMIT 1"
        )

    def size(self) -> int:
        rows = self.db.query(self._size_sql)
        return rows[0][0] * STRIP_WIDTH + rows[0][1] // HASH_SIZE if rows else 0

    def get_many(self, ids: Sequence[NodeId]) -> list[bytes]:
        strips = self._strips({(level, index // STRIP_WIDTH) for level, index in ids})
        found: list[bytes] = []
        for level, index in ids:
            offset = (index % STRIP_WIDTH) * HASH_SIZE
            value = strips.get((level, index // STRIP_WIDTH), b"")[offset : offset + HASH_SIZE]
            if len(value) != HASH_SIZE:
                raise KeyError((level, index))
            found.append(value)
        return found

    def put_many(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        grouped: dict[tuple[int, int], list[tuple[int, bytes]]] = defaultdict(list)
        for level, index, value in nodes:
            grouped[(level, index // STRIP_WIDTH)].append((index % STRIP_WIDTH, value))
        if not grouped:
            return
        # Derived data: a crash may lose the newest batches, which the next integration redoes.
        with self.db.transaction(self.SUFFIX, durable=False):
            existing = self._strips(set(grouped))
            merged = [(k, _extend_strip(k, existing.get(k, b""), v)) for k, v in grouped.items()]
            self._upsert(merged)

    def _strips(self, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        ordered = sorted(keys)
        if self.db.backend == "sqlite":
            # One indexed lookup per level: a row-value IN (VALUES …) would scan the table.
            by_level: dict[int, list[int]] = defaultdict(list)
            for level, strip in ordered:
                by_level[level].append(strip)
            sql = " UNION ALL ".join(
                f"SELECT level, strip, hashes FROM {self.table} "
                f"WHERE level = ? AND strip IN ({','.join('?' * len(strips))})"
                for strips in by_level.values()
            )
            params: list[Any] = [x for level, strips in by_level.items() for x in (level, *strips)]
        else:
            sql = (
                f"SELECT level, strip, hashes FROM {self.table} WHERE (level, strip) IN "
                "(SELECT * FROM unnest(?::integer[], ?::bigint[]))"
            )
            params = [[k[0] for k in ordered], [k[1] for k in ordered]]
        return {(row[0], row[1]): bytes(row[2]) for row in self.db.query(sql, params)}

    def _upsert(self, strips: list[tuple[tuple[int, int], bytes]]) -> None:
        sql = (
            f"INSERT INTO {self.table} (level, strip, hashes) VALUES (?, ?, ?) "
            "ON CONFLICT (level, strip) DO UPDATE SET hashes = excluded.hashes"
        )
        # Lower levels first: a node is checked against its children (checkpoint-format §10).
        rows = [(level, strip, value) for (level, strip), value in sorted(strips)]
        if self.db.backend == "sqlite":
            self.db._sqlite.executemany(sql, rows)
        else:
            with self.db._pg.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), rows)


# checkpoint-format §10: a strip only grows, and (SHA-256 ledgers) every new node follows
# from the rows: a leaf is H(0x00 || hash) of its row, a node H(0x01 || left || right).
_PG_TREE_GUARD = """
CREATE OR REPLACE FUNCTION {guard}() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    kept integer := 0;
    first_index bigint;
    n integer;
    expected bytea;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'govledger: DELETE on %: stored tree nodes never change', TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.level IS DISTINCT FROM OLD.level OR NEW.strip IS DISTINCT FROM OLD.strip
           OR substring(NEW.hashes FROM 1 FOR octet_length(OLD.hashes))
              IS DISTINCT FROM OLD.hashes THEN
            RAISE EXCEPTION 'govledger: UPDATE on %: stored tree nodes never change',
                TG_TABLE_NAME USING ERRCODE = 'check_violation';
        END IF;
        kept := octet_length(OLD.hashes);
    END IF;
    IF NEW.level < 0 OR NEW.strip < 0 OR octet_length(NEW.hashes) % 32 <> 0
       OR octet_length(NEW.hashes) > 32 * {width} THEN
        RAISE EXCEPTION 'govledger: %: not a strip of tree nodes', TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END IF;
    n := (octet_length(NEW.hashes) - kept) / 32;
    IF n = 0 OR (SELECT g.hash_algorithm FROM {genesis} AS g) IS DISTINCT FROM 'sha256' THEN
        RETURN NEW;  -- PostgreSQL has no SM3: the shape is checked, verify checks the roots
    END IF;
    first_index := NEW.strip * {width} + kept / 32;
    IF NEW.level = 0 THEN
        SELECT string_agg(sha256('\\x00'::bytea || e.hash), ''::bytea ORDER BY e.notification_id)
            INTO expected FROM {events} AS e
            WHERE e.notification_id BETWEEN first_index + 1 AND first_index + n;
    ELSE
        SELECT string_agg(
                   sha256('\\x01'::bytea
                          || substring(c.hashes FROM ((2 * k.i) % {width})::int * 32 + 1 FOR 64)),
                   ''::bytea ORDER BY k.i)
            INTO expected
            FROM generate_series(first_index, first_index + n - 1) AS k(i)
            LEFT JOIN {tree} AS c ON c.level = NEW.level - 1 AND c.strip = (2 * k.i) / {width};
    END IF;
    IF expected IS DISTINCT FROM substring(NEW.hashes FROM kept + 1) THEN
        RAISE EXCEPTION 'govledger: %: nodes at level % from index % do not follow from the rows',
            TG_TABLE_NAME, NEW.level, first_index USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $fn$
"""


def tree_guard_statements(database: Database) -> list[str]:
    """The tree table's guards (checkpoint-format §10), idempotent: a strip only grows; on
    PostgreSQL a new node must also follow from the rows (SHA-256 ledgers)."""
    name, table = f"{database.events}_{DatabaseNodeStore.SUFFIX}", database.table("tree")
    if database.backend == "sqlite":
        refuse = f"SELECT RAISE(ABORT, 'govledger: {name}: stored tree nodes never change')"
        return [
            f"CREATE TRIGGER IF NOT EXISTS {name}_grow_only BEFORE UPDATE ON {name} BEGIN "
            f"{refuse} WHERE NEW.level IS NOT OLD.level OR NEW.strip IS NOT OLD.strip "
            "OR substr(NEW.hashes, 1, length(OLD.hashes)) IS NOT OLD.hashes; END",
            f"CREATE TRIGGER IF NOT EXISTS {name}_no_delete BEFORE DELETE ON {name} "
            f"BEGIN {refuse}; END",
        ]
    schema = database._schema
    guard = f'"{schema}"."{name}_guard"'
    events, genesis = f'"{schema}"."{database.events}"', database.table("genesis")
    function = _PG_TREE_GUARD.format(
        guard=guard, events=events, genesis=genesis, tree=table, width=STRIP_WIDTH
    )
    return [
        function,
        f'CREATE OR REPLACE TRIGGER "{name}_guard" BEFORE INSERT OR UPDATE OR DELETE ON {table} '
        f"FOR EACH ROW EXECUTE FUNCTION {guard}()",
        f'CREATE OR REPLACE TRIGGER "{name}_no_truncate" BEFORE TRUNCATE ON {table} '
        f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".govledger_refuse_change()',
    ]


def ensure_tree_guards(settings: Settings) -> None:
    """Add the guards to a tree made before them (``govledger init``, as the owner)."""
    database = Database(settings)
    try:
        if database.has_table(DatabaseNodeStore.SUFFIX):
            database.create(tree_guard_statements(database))
    finally:
        database.close()


def _extend_strip(key: tuple[int, int], stored: bytes, new: list[tuple[int, bytes]]) -> bytes:
    """``stored`` followed by ``new``, which must continue it without a gap or overlap."""
    new.sort()
    expected = len(stored) // HASH_SIZE
    if [offset for offset, _ in new] != list(range(expected, expected + len(new))):
        level, strip = key
        raise TreeConflictError(
            f"tree nodes at level {level} from index {strip * STRIP_WIDTH + new[0][0]} do not "
            f"continue the stored strip (it holds {expected}): another integrator moved on"
        )
    return stored + b"".join(value for _, value in new)


# ---------------------------------------------------------------- proofs


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3 inclusion proof of one ledger row in the tree of ``tree_size`` leaves."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    root: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": b64(self.leaf_hash),
            "proof": [b64(p) for p in self.proof],
            "root": b64(self.root),
        }

    def verify(self, hash_fn: Callable[[bytes], bytes]) -> None:
        """RFC 9162 §2.1.3.2; raises :class:`ProofError`."""
        verify_inclusion(
            self.leaf_hash, self.leaf_index, self.tree_size, self.proof, self.root, hash_fn=hash_fn
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4 proof that the tree of ``size1`` leaves is a prefix of ``size2``."""

    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "size1": self.size1,
            "size2": self.size2,
            "root1": b64(self.root1),
            "root2": b64(self.root2),
            "proof": [b64(p) for p in self.proof],
        }

    def verify(self, hash_fn: Callable[[bytes], bytes]) -> None:
        """RFC 9162 §2.1.4.2; raises :class:`ProofError`."""
        verify_consistency(
            self.size1, self.size2, self.root1, self.root2, self.proof, hash_fn=hash_fn
        )


# ---------------------------------------------------------------- the ledger's tree


class LedgerTree(AbstractContextManager["LedgerTree"]):
    """The tree over one ledger: its node store, its rows, and the integrator."""

    def __init__(self, reader: VerifiableReader, database: Database) -> None:
        self.reader = reader
        self.database = database
        self.genesis: Genesis = reader.genesis()
        self.hash_fn = hash_function(self.genesis.hash_algorithm)
        self.store = DatabaseNodeStore(database)
        self.tree = MerkleTree(self.store, hash_fn=self.hash_fn)

    @property
    def size(self) -> int:
        return self.tree.size

    def refresh(self) -> int:
        """Re-read the stored tree (what other integrators have added); its size."""
        self.tree.refresh()
        return self.tree.size

    def leaf_hash(self, entry_hash: bytes) -> bytes:
        """RFC 9162 §2.1.1 leaf hash of a row: ``H(0x00 || entry hash)`` (checkpoint-format §2)."""
        return self.hash_fn(b"\x00" + entry_hash)

    def integrate(
        self, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
    ) -> int:
        """Bring the tree up to the chain's head; return the new tree size.

        Raises :class:`TreeDivergedError` if the rows no longer extend the
        leaves already integrated. Another integrator winning a race is retried.
        """
        for _ in range(5):
            try:
                return self._integrate_once(batch_size, progress)
            except TreeConflictError:
                self.tree.refresh()
        raise TreeConflictError("the tree kept moving under this integrator; try again")

    def _integrate_once(self, batch_size: int, progress: Progress | None) -> int:
        self.tree.refresh()
        self._check_bounds()
        size, anchor_hash = self._check_last_leaf()
        verifier = ChainVerifier(self.genesis.digest(), size, anchor_hash)
        leaf = self.leaf_hash
        for batch in self.reader.iter_batches(size, batch_size):
            index = verifier.feed(batch)
            if index is not None:
                found = verifier.classify(batch[index], self.reader)
                raise TreeDivergedError(
                    f"cannot integrate: position {found.position}: {found.kind}: {found.detail}"
                )
            self.tree.extend([leaf(row[6]) for row in batch])
            if progress:
                progress(len(batch))
        return self.tree.size

    def _check_bounds(self) -> None:
        """The tree covers what the domain model reads: nothing at 0 or below, nothing after
        PostgreSQL's head record (ledger-format §2). Index lookups only."""
        bounds = self.reader.bounds(count=False)
        if bounds.low is not None and bounds.low < 1:
            raise TreeDivergedError(
                f"cannot integrate: position {bounds.low}: below_genesis: a row before row 1"
            )
        head = self.reader.head_record()
        if head is not None and bounds.high > head[0]:
            raise TreeDivergedError(
                f"cannot integrate: position {head[0] + 1}: beyond_head: "
                f"a row after the head record's position {head[0]}"
            )

    def _check_last_leaf(self) -> tuple[int, bytes]:
        """The last integrated row must still be the leaf the tree holds (no silent divergence)."""
        size = self.tree.size
        if size == 0:
            return 0, self.genesis.genesis_hash
        row = self.reader.row_at(size)
        if row is None:
            raise TreeDivergedError(
                f"the tree holds {size} leaves but the log has no row {size}: the log was cut"
            )
        if self.leaf_hash(row[6]) != self.store.get_many([(0, size - 1)])[0]:
            raise TreeDivergedError(
                f"row {size} is not the leaf {size - 1} integrated earlier: the log was rewritten"
            )
        return size, row[6]

    def inclusion(self, position: int, size: int | None = None) -> InclusionProof:
        """Inclusion proof for the row at ``position`` in the tree of ``size`` leaves."""
        tree_size = self.tree.size if size is None else size
        self._check_tree_size(tree_size)
        if not 1 <= position <= tree_size:
            raise ProofError(f"position {position} is not in the tree of size {tree_size}")
        leaf = self.store.get_many([(0, position - 1)])[0]
        path = self.tree.inclusion_proof(position - 1, tree_size)
        return InclusionProof(position - 1, tree_size, leaf, tuple(path), self.tree.root(tree_size))

    def consistency(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        """Consistency proof between two tree sizes (default: up to the current size)."""
        second = self.tree.size if size2 is None else size2
        self._check_tree_size(second)
        if not 0 < size1 <= second:
            raise ProofError(f"no consistency proof from size {size1} to size {second}")
        path = self.tree.consistency_proof(size1, second)
        return ConsistencyProof(
            size1, second, self.tree.root(size1), self.tree.root(second), tuple(path)
        )

    def _check_tree_size(self, size: int) -> None:
        if not 0 <= size <= self.tree.size:
            raise ProofError(f"tree size {size} is beyond the tree (size {self.tree.size})")

    def close(self) -> None:
        self.database.close()
        self.reader.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_ledger_tree(settings: Settings) -> LedgerTree:
    """The ledger's tree (creating its table if absent); use as a context manager."""
    reader = open_reader(settings)
    try:
        database = Database(settings)
    except BaseException:
        reader.close()
        raise
    try:
        return LedgerTree(reader, database)
    except BaseException:
        database.close()
        reader.close()
        raise
