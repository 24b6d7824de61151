"""The Merkle tree's nodes in the ledger's database, stored in strips, and their guards.

docs/checkpoint-format.md §10: the row ``(level, strip)`` of ``<events>_tree`` holds the
hashes of the nodes ``strip * 256 … strip * 256 + 255`` of that level, concatenated (a
level-wide variant of the tiles of c2sp.org/tlog-tiles). A strip only grows: triggers
refuse any other change, and on PostgreSQL (SHA-256 ledgers) a new node must follow
from the rows. ``govledger init`` adds the guards to a tree made before them
(:func:`ensure_tree_guards`, called by ``ledger/store/connect.py``, which therefore
must not import the tree itself).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.merkle import HASH_SIZE, NodeId
from ledger.tree_database import Database

__all__ = [
    "STRIP_WIDTH",
    "DatabaseNodeStore",
    "TreeConflictError",
    "ensure_tree_guards",
    "tree_guard_statements",
]

STRIP_WIDTH = 256
"""Node hashes per stored strip (one level, consecutive indices)."""


class TreeConflictError(LedgerError):
    """Another integrator extended the tree first; refresh and retry."""


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
