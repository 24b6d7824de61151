"""Reading the chain on PostgreSQL for verify, export, proofs and the feed
(docs/ledger-format.md §2, §7): one read-only connection, server-side cursors in binary,
every read of one run inside one snapshot. Writing lives in ``ledger/store/postgres.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import IsolationLevel
from psycopg.sql import SQL, Composed, Identifier

from ledger.chain import Genesis, RowTuple
from ledger.errors import ForeignStoreError, StoreUnavailableError
from ledger.store.base import Bounds
from ledger.store.postgres import LEDGER_EVENTS_TABLE


class PostgresRowReader:
    """Read-only access to the chain for verify and export (server-side cursors)."""

    def __init__(self, conninfo: dict[str, Any], schema: str = "public") -> None:
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(
                **conninfo, autocommit=True, connect_timeout=10
            )
        except psycopg.OperationalError as e:
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else "refused"
            raise StoreUnavailableError(f"cannot connect to PostgreSQL: {first_line}") from e
        self.schema = schema
        self.events = SQL("{}.{}").format(Identifier(schema), Identifier(LEDGER_EVENTS_TABLE))
        self.genesis_table = SQL("{}.{}").format(
            Identifier(schema), Identifier(f"{LEDGER_EVENTS_TABLE}_genesis")
        )
        self.head_table = SQL("{}.{}").format(
            Identifier(schema), Identifier(f"{LEDGER_EVENTS_TABLE}_head")
        )
        found = self.conn.execute(
            "SELECT to_regclass(%s)", (f'"{schema}"."{LEDGER_EVENTS_TABLE}_genesis"',)
        ).fetchone()
        if not found or found[0] is None:
            self.conn.close()
            raise ForeignStoreError("this database holds no govledger ledger (no genesis record)")
        self._select = SQL(
            "SELECT notification_id, replace(originator_id::text, '-', ''), originator_version, "
            "topic, state, prev_hash, hash FROM {}"
        ).format(self.events)
        self._cursors = 0

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees one snapshot (REPEATABLE READ, READ ONLY)."""
        self.conn.isolation_level = IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        try:
            with self.conn.transaction():
                yield
        finally:
            self.conn.isolation_level = None
            self.conn.read_only = None

    def genesis(self) -> Genesis:
        row = self.conn.execute(
            SQL(
                "SELECT ledger_id, created_at, hash_algorithm, genesis_hash, format_version FROM {}"
            ).format(self.genesis_table)
        ).fetchone()
        if row is None:
            raise ForeignStoreError("the ledger has no genesis record")
        return Genesis(row[0], row[1], row[2], bytes(row[3]), row[4])

    def max_position(self) -> int:
        row = self.conn.execute(SQL("SELECT max(notification_id) FROM {}").format(self.events))
        value = row.fetchone()
        return int(value[0] or 0) if value else 0

    def bounds(self, *, count: bool = True) -> Bounds:
        rows = SQL("count(*)") if count else SQL("-1")
        low, high, found = self.conn.execute(
            SQL("SELECT min(notification_id), max(notification_id), {} FROM {}").format(
                rows, self.events
            )
        ).fetchone() or (None, None, 0)
        # Without a valid unique index on the position, count and bounds prove nothing.
        unique = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_index AS i JOIN pg_attribute AS a "
            "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indisvalid "
            "AND i.indnatts = 1 AND i.indpred IS NULL AND a.attname = 'notification_id')",
            (f'"{self.schema}"."{LEDGER_EVENTS_TABLE}"',),
        ).fetchone()
        return Bounds(low, int(high or 0), int(found), unique=bool(unique and unique[0]))

    def head_record(self) -> tuple[int, bytes] | None:
        row = self.conn.execute(
            SQL("SELECT position, hash FROM {} WHERE singleton = 1").format(self.head_table)
        ).fetchone()
        return (int(row[0]), bytes(row[1])) if row else None

    def iter_batches(self, after: int | None, batch_size: int) -> Iterator[list[RowTuple]]:
        # Binary results: bytea arrives as bytes, without hex-decoding every state.
        where = SQL("") if after is None else SQL(" WHERE notification_id > %s")
        yield from self._stream(
            self._select + where + SQL(" ORDER BY notification_id"),
            () if after is None else (after,),
            batch_size,
        )

    def positions(self, after: int | None = None) -> Iterator[list[int]]:
        where = SQL("") if after is None else SQL(" WHERE notification_id > %s")
        for batch in self._stream(
            SQL("SELECT notification_id FROM {}").format(self.events)
            + where
            + SQL(" ORDER BY notification_id"),
            () if after is None else (after,),
            10_000,
        ):
            yield [row[0] for row in batch]

    def hashes(self, after: int, batch_size: int) -> Iterator[list[tuple[int, bytes]]]:
        yield from self._stream(
            SQL(
                "SELECT notification_id, hash FROM {} WHERE notification_id > %s "
                "ORDER BY notification_id"
            ).format(self.events),
            (after,),
            batch_size,
        )

    def _stream(self, query: Composed, params: tuple[Any, ...], size: int) -> Iterator[list[Any]]:
        self._cursors += 1  # one name per open cursor: streams may interleave
        name = f"govledger_rows_{self._cursors}"
        with (
            self.conn.transaction(),
            self.conn.cursor(name=name, binary=True) as cursor,
        ):
            cursor.itersize = size
            cursor.execute(query, params)
            while batch := cursor.fetchmany(size):
                yield batch

    def row_at(self, position: int) -> RowTuple | None:
        row = self.conn.execute(
            self._select + SQL(" WHERE notification_id = %s"), (position,)
        ).fetchone()
        return tuple(row) if row else None

    def rows_at(self, positions: Sequence[int]) -> dict[int, RowTuple]:
        rows = self.conn.execute(
            self._select + SQL(" WHERE notification_id = ANY(%s::bigint[])"),
            (sorted(set(positions)),),
        )
        return {int(row[0]): tuple(row) for row in rows}

    def position_of_hash(self, stored_hash: bytes, after: int) -> int | None:
        row = self.conn.execute(
            SQL(
                "SELECT notification_id FROM {} WHERE hash = %s AND notification_id > %s LIMIT 1"
            ).format(self.events),
            (stored_hash, after),
        ).fetchone()
        return int(row[0]) if row else None

    def close(self) -> None:
        self.conn.close()
