"""The data subjects' key table, its access index and its erasure generation (ledger-format §9.1).

Three small tables beside the chain, none chained, none holding an identifier:

- ``<events>_subject_keys``: key id, blind index, key (NULL once erased), erased at;
- ``<events>_subject_index``: per access naming subjects, its id and the key ids its
  sealed ``subjects`` name, under an inverted index (SQLite FTS5, PostgreSQL GIN),
  so "who read my records" reads only the subject's accesses (blind index → key
  ids → access ids → rows by primary key) instead of scanning every access. An
  inverted index appends what a chunk adds (FTS5 writes one segment a
  transaction; GIN's pending list takes it), where a B-tree keyed by key id
  touched one random page per (access, subject): that halved batch ingest. Key
  ids and access ids are both in the chain in clear: the index holds nothing the
  chain does not. It is written *before* the accesses (with the keys), so it can
  name an access that a failed batch never stored, never miss one that is
  stored; readers check each row (§9.1);
- ``<events>_subject_generation``: one random token, replaced by every erasure and
  every restore of a key-table backup, in the same transaction. A process that
  keeps subject keys in memory (``ledger/subjects.py``) reads it under the table's
  writer lock before it uses them, and forgets them all when it changed: a key
  destroyed in any process is never used again from another's memory.

The vault (``ledger/subjects.py``) uses these in one transaction a chunk of accesses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from ledger.tree_database import Database

KEYS_SUFFIX: Final = "subject_keys"
INDEX_SUFFIX: Final = "subject_index"
GENERATION_SUFFIX: Final = "subject_generation"
ACCESS_TOPIC: Final = "ledger.domain.access:DataAccess.Recorded"
SUFFIXES: Final = (KEYS_SUFFIX, INDEX_SUFFIX, GENERATION_SUFFIX)
_CHUNK: Final = 900  # placeholders per statement (SQLite allows 999 at least)


@dataclass(frozen=True, slots=True)
class KeyRow:
    key_id: str
    blind: str
    key: bytes | None
    erased_at: str | None


class SubjectKeys:
    """``<events>_subject_keys``: key id, blind index, key (NULL once erased), erased at;
    with the access index and the erasure generation (module docstring).

    Mutable on purpose (ledger-format §9): erasure sets the key to NULL. At most one
    live key per blind index (keys are created under the table's writer lock); erased
    rows stay as tombstones. Keyed by (blind, key id), clustered on SQLite (WITHOUT
    ROWID), with the key id unique: two B-trees to maintain per new subject.
    """

    def __init__(self, database: Database) -> None:
        self.db = database
        self.table = database.table(KEYS_SUFFIX)
        self.index = database.table(INDEX_SUFFIX)
        self.generation_table = database.table(GENERATION_SUFFIX)

    def create(self, app_role: str = "") -> None:
        """The three tables (idempotent); an access index created now is filled from the
        chain's access rows that name subjects (a ledger older than the index)."""
        t, name = self.table, f"{self.db.events}_{KEYS_SUFFIX}"
        sqlite = self.db.backend == "sqlite"
        binary = "BLOB" if sqlite else "bytea"
        clustered = " WITHOUT ROWID" if sqlite else ""
        new_index = not self.db.has_table(INDEX_SUFFIX)
        statements = [
            f"CREATE TABLE IF NOT EXISTS {t} (blind TEXT NOT NULL, key_id TEXT NOT NULL, "
            f"key {binary}, erased_at TEXT, PRIMARY KEY (blind, key_id)){clustered}",
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}_key_id" ON {t} (key_id)',
            *self._index_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.generation_table} "
            "(one INTEGER PRIMARY KEY CHECK (one = 1), token TEXT NOT NULL)",
        ]
        if app_role and not sqlite:
            role = '"' + app_role.replace('"', '""') + '"'
            statements += [
                f"GRANT SELECT, INSERT, UPDATE ON {t} TO {role}",
                f"GRANT SELECT, INSERT ON {self.index} TO {role}",
                f"GRANT SELECT, INSERT, UPDATE ON {self.generation_table} TO {role}",
            ]
        self.db.create(statements)
        if new_index:
            self._fill_index()

    def _index_statements(self) -> list[str]:
        name = f"{self.db.events}_{INDEX_SUFFIX}"
        if self.db.backend == "sqlite":  # key ids are hex: one unicode61 token each
            return [
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.index} USING fts5(key_ids, "
                "access_id UNINDEXED, detail=none, columnsize=0)"
            ]
        return [
            f"CREATE TABLE IF NOT EXISTS {self.index} "
            "(access_id uuid NOT NULL, key_ids text[] NOT NULL)",
            f'CREATE INDEX IF NOT EXISTS "{name}_key_ids" ON {self.index} '
            "USING gin (key_ids) WITH (fastupdate = on)",
        ]

    def _fill_index(self) -> None:
        """Index the access rows stored before the index existed (a one-off scan)."""
        table, _ = events_table(self.db)
        sqlite = self.db.backend == "sqlite"
        contains = "instr(state, ?) > 0" if sqlite else "position(? in state) > 0"
        rows = self.db.query(
            f"SELECT originator_id, state FROM {table} WHERE topic = ? AND {contains}",
            (ACCESS_TOPIC, b'"subjects":['),
        )
        named = []
        for originator, raw in rows:
            subjects = json.loads(bytes(raw)).get("subjects", ())
            kids = [s["kid"] for s in subjects if isinstance(s, dict) and "kid" in s]
            if kids:
                named.append((str(originator).replace("-", ""), kids))
        if named:
            with self.db.transaction("subject_keys"):
                self.add_index(named)

    @contextmanager
    def writing(self) -> Iterator[SubjectKeys]:
        """A transaction under the table's writer lock, without a flush of its own at
        commit: the accesses that use what it writes commit after it, and their durable
        commit flushes the write-ahead log up to and past it (SQLite WAL, PostgreSQL
        WAL: one log, flushed in order). A crash before that loses keys and index
        rows that no stored access names (ledger-format §9.1)."""
        with self.db.transaction("subject_keys", durable=False):
            yield self

    def generation(self) -> str:
        """The erasure generation's token ("" before the first erasure or restore)."""
        rows = self.db.query(f"SELECT token FROM {self.generation_table} WHERE one = 1")
        return str(rows[0][0]) if rows else ""

    def _next_generation(self) -> None:
        """A new token (inside the transaction that erases or restores)."""
        self.db.query(
            f"INSERT INTO {self.generation_table} (one, token) VALUES (1, ?) "
            "ON CONFLICT (one) DO UPDATE SET token = excluded.token",
            (os.urandom(16).hex(),),
        )

    def live_keys(self, blinds: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """Each blind index's live (key id, key), created where there is none: one
        transaction under the table's writer lock, so no other writer creates one between."""
        with self.db.transaction("subject_keys"):
            return self.live_or_new(blinds)

    def live_or_new(self, blinds: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """:meth:`live_keys` inside the caller's transaction (:meth:`writing`)."""
        unique = list(dict.fromkeys(blinds))
        found = self._live(unique)
        missing = [b for b in unique if b not in found]
        if missing:
            ids, keys = os.urandom(16 * len(missing)).hex(), os.urandom(32 * len(missing))
            rows = [
                (ids[32 * i : 32 * i + 32], blind, keys[32 * i : 32 * i + 32])
                for i, blind in enumerate(missing)
            ]
            self._insert(rows)
            found.update((blind, (key_id, key)) for key_id, blind, key in rows)
        return found

    def _insert(self, rows: list[tuple[str, str, bytes]]) -> None:
        if self.db.backend == "sqlite":
            self.db.execute_many(
                f"INSERT INTO {self.table} (key_id, blind, key) VALUES (?, ?, ?)", rows
            )
            return
        # PostgreSQL: one statement, not one round trip a row. Every column is hex, so each
        # goes as one comma-joined text: psycopg's text-array dumper quotes element by
        # element in Python (about 40 µs a subject, more than the sealing).
        key_ids, blinds, keys = zip(*rows, strict=True)
        self.db.query(
            f"INSERT INTO {self.table} (key_id, blind, key) "
            "SELECT k, b, decode(x, 'hex') FROM unnest(string_to_array(?, ','), "
            "string_to_array(?, ','), string_to_array(?, ',')) AS t(k, b, x)",
            (",".join(key_ids), ",".join(blinds), ",".join(key.hex() for key in keys)),
        )

    def add_index(self, named: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Index accesses: (access id as 32 hex, the key ids its subjects name). Inside the
        caller's transaction. A batch retried adds its rows again: readers take each
        access once."""
        rows = [(access_id, " ".join(key_ids)) for access_id, key_ids in named]
        if self.db.backend == "sqlite":
            self.db.execute_many(
                f"INSERT INTO {self.index} (access_id, key_ids) VALUES (?, ?)", rows
            )
            return
        access_ids, key_ids = zip(*rows, strict=True)
        self.db.query(
            f"INSERT INTO {self.index} (access_id, key_ids) "
            "SELECT a::uuid, string_to_array(k, ' ') "
            "FROM unnest(string_to_array(?, ','), string_to_array(?, ',')) AS t(a, k)",
            (",".join(access_ids), ",".join(key_ids)),
        )

    def accesses_of(self, key_ids: Sequence[str]) -> list[str]:
        """The access ids (32 hex) the index holds for these keys (reading), each once."""
        found: dict[str, None] = {}
        for i in range(0, len(key_ids), _CHUNK):
            chunk = list(key_ids[i : i + _CHUNK])
            if self.db.backend == "sqlite":
                match = " OR ".join(f'"{kid}"' for kid in chunk if kid.isalnum())
                if not match:
                    continue
                rows = self.db.query(
                    f"SELECT access_id FROM {self.index} WHERE {self.index} MATCH ?", (match,)
                )
            else:
                rows = self.db.query(
                    f"SELECT access_id FROM {self.index} WHERE key_ids && string_to_array(?, ',')",
                    (",".join(chunk),),
                )
            found.update((str(access).replace("-", ""), None) for (access,) in rows)
        return list(found)

    def _live(self, unique: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        found: dict[str, tuple[str, bytes]] = {}
        if self.db.backend == "postgresql":  # one statement; blinds are hex: one joined text
            rows = self.db.query(
                f"SELECT blind, key_id, key FROM {self.table} "
                "WHERE blind = ANY(string_to_array(?, ',')) AND key IS NOT NULL",
                (",".join(unique),),
            )
            found.update((blind, (key_id, bytes(key))) for blind, key_id, key in rows)
            return found
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self.db.query(
                f"SELECT blind, key_id, key FROM {self.table} "
                f"WHERE blind IN ({marks}) AND key IS NOT NULL",
                chunk,
            )
            found.update((blind, (key_id, bytes(key))) for blind, key_id, key in rows)
        return found

    def rows_of(self, blind: str) -> list[KeyRow]:
        """Every key the subject had, live or erased (reading: creates nothing)."""
        rows = self.db.query(
            f"SELECT key_id, blind, key, erased_at FROM {self.table} WHERE blind = ? "
            "ORDER BY key_id",
            (blind,),
        )
        return [KeyRow(k, b, None if key is None else bytes(key), e) for k, b, key, e in rows]

    def keys_by_id(self, key_ids: Iterable[str]) -> dict[str, bytes | None]:
        ids = list(dict.fromkeys(key_ids))
        found: dict[str, bytes | None] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for key_id, key in self.db.query(
                f"SELECT key_id, key FROM {self.table} WHERE key_id IN ({marks})", chunk
            ):
                found[key_id] = None if key is None else bytes(key)
        return found

    def erase(self, key_ids: Sequence[str], at: datetime | None = None) -> int:
        """Destroy these keys (idempotent); the number destroyed now. Writes only when one
        of them still has its key (a replayed erasure log usually finds none); then the
        erasure generation changes in the same transaction (every process forgets the
        keys it kept)."""
        live = [kid for kid, key in self.keys_by_id(key_ids).items() if key is not None]
        if not live:
            return 0
        moment = (at or datetime.now(UTC)).isoformat()
        with self.db.transaction("subject_keys"):
            for i in range(0, len(live), _CHUNK):
                chunk = live[i : i + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                self.db.query(
                    f"UPDATE {self.table} SET key = NULL, erased_at = ? "
                    f"WHERE key_id IN ({marks}) AND key IS NOT NULL",
                    [moment, *chunk],
                )
            self._next_generation()
        return len(live)

    def all_rows(self) -> list[KeyRow]:
        """The whole table (a key-table backup; tests and ``govledger erase --reapply``)."""
        rows = self.db.query(f"SELECT key_id, blind, key, erased_at FROM {self.table}")
        return [KeyRow(k, b, None if key is None else bytes(key), e) for k, b, key, e in rows]

    def restore(self, rows: Sequence[KeyRow]) -> None:
        """Put a backup back (replacing the table's rows): then :meth:`reapply` the log.
        The erasure generation changes: no process keeps a key the backup lacks."""
        with self.db.transaction("subject_keys"):
            self.db.query(f"DELETE FROM {self.table}")
            self.db.execute_many(
                f"INSERT INTO {self.table} (key_id, blind, key, erased_at) VALUES (?, ?, ?, ?)",
                [(r.key_id, r.blind, r.key, r.erased_at) for r in rows],
            )
            self._next_generation()


def events_table(database: Database) -> tuple[str, str]:
    """The chained events table and its position column (ledger-format §2)."""
    if database.backend == "sqlite":
        return database.events, "rowid"
    schema = database.table("x").split(".")[0]
    return f'{schema}."{database.events}"', "notification_id"
