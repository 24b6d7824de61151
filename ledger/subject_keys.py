"""The data subjects' key table, its access index and its erasure generation (ledger-format §9.1).

Four small tables beside the chain, none chained, none holding an identifier:

- ``<events>_subject_keys``: key id, blind index, key (NULL once erased), erased at;
- ``<events>_subject_index``: per access naming subjects, its id and the key ids its
  ``subjects`` name, under an inverted index (SQLite FTS5, PostgreSQL GIN), so "who
  read my records" reads only the subject's accesses (blind index → key ids →
  access ids → rows by primary key) instead of scanning every access. Key ids and
  access ids are both in the chain in clear: the index holds nothing the chain
  does not;
- ``<events>_subject_index_head``: the last chain position the index has read. The
  index is derived from the chain after the fact, like the Merkle tree: a lookup
  first catches it up to the tree's size (:meth:`SubjectKeys.catch_up`). Batch
  ingest writes nothing to it: written with the keys, one row an access, it cost
  PostgreSQL a GIN insert and SQLite an FTS5 segment per chunk, about a third of a
  batch with subjects (issue 19). Rows written that way by earlier versions may
  name an access a failed batch never stored, or one twice: readers check each row;
- ``<events>_subject_generation``: one random token, replaced by every erasure and
  every restore of a key-table backup, in the same transaction. A process that
  keeps subjects' key ids in memory (``ledger/subjects.py``) reads it before it
  uses them, and forgets them all when it changed: a key destroyed in any process
  is not named again from another's memory once it has seen the erasure.

The vault (``ledger/subjects.py``) finds or creates keys in one transaction a chunk
of accesses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from ledger.config import Settings
from ledger.erasure import is_sealed
from ledger.tree_database import Database

KEYS_SUFFIX: Final = "subject_keys"
INDEX_SUFFIX: Final = "subject_index"
GENERATION_SUFFIX: Final = "subject_generation"
HEAD_SUFFIX: Final = "subject_index_head"
ACCESS_TOPIC: Final = "ledger.domain.access:DataAccess.Recorded"
SUFFIXES: Final = (KEYS_SUFFIX, INDEX_SUFFIX, GENERATION_SUFFIX, HEAD_SUFFIX)
_CHUNK: Final = 900  # placeholders per statement (SQLite allows 999 at least)
_SCAN: Final = 20_000  # chain positions read per catch-up transaction


class _Named(msgspec.Struct):
    """The one key of an access state the index reads (the others are skipped unread)."""

    subjects: Any = None


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
        self.head_table = database.table(HEAD_SUFFIX)

    def create(self, app_role: str = "") -> None:
        """The tables (idempotent). A head created now starts at 0 (the index is filled
        from the chain at the next catch-up), or at the chain's last position when the
        index already existed: earlier versions wrote it before every access they stored."""
        t, name = self.table, f"{self.db.events}_{KEYS_SUFFIX}"
        sqlite = self.db.backend == "sqlite"
        binary = "BLOB" if sqlite else "bytea"
        clustered = " WITHOUT ROWID" if sqlite else ""
        filled = self.db.has_table(INDEX_SUFFIX) and not self.db.has_table(HEAD_SUFFIX)
        statements = [
            f"CREATE TABLE IF NOT EXISTS {t} (blind TEXT NOT NULL, key_id TEXT NOT NULL, "
            f"key {binary}, erased_at TEXT, PRIMARY KEY (blind, key_id)){clustered}",
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}_key_id" ON {t} (key_id)',
            *self._index_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.generation_table} "
            "(one INTEGER PRIMARY KEY CHECK (one = 1), token TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.head_table} "
            "(one INTEGER PRIMARY KEY CHECK (one = 1), position BIGINT NOT NULL)",
        ]
        if app_role and not sqlite:
            statements += self.grant_statements(app_role)
        self.db.create(statements)
        if filled:
            table, position = events_table(self.db)
            (last,) = self.db.query(f"SELECT coalesce(max({position}), 0) FROM {table}")[0]
            with self.db.transaction("subject_index", durable=False):
                self._set_head(int(last))

    def grant_statements(self, role: str, *, answers: bool = True) -> list[str]:
        """What a role that records accesses naming subjects needs (PostgreSQL): find and
        create keys, read the erasure generation. ``answers``: also what answering and
        erasing for a person takes (the API): a key set to NULL and a new generation, the
        access index caught up. Never DELETE: only the owner restores a key-table backup."""
        who = '"' + role.replace('"', '""') + '"'
        if not answers:
            return [
                f"GRANT SELECT, INSERT ON {self.table} TO {who}",
                f"GRANT SELECT ON {self.generation_table} TO {who}",
            ]
        return [
            f"GRANT SELECT, INSERT, UPDATE ON {self.table} TO {who}",
            f"GRANT SELECT, INSERT ON {self.index} TO {who}",
            f"GRANT SELECT, INSERT, UPDATE ON {self.generation_table} TO {who}",
            f"GRANT SELECT, INSERT, UPDATE ON {self.head_table} TO {who}",
        ]

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

    @contextmanager
    def writing(self) -> Iterator[SubjectKeys]:
        """A transaction under the table's writer lock, without a flush of its own at
        commit: the accesses that use what it writes commit after it, and their durable
        commit flushes the write-ahead log up to and past it (SQLite WAL, PostgreSQL
        WAL: one log, flushed in order). A crash before that loses keys that no
        stored access names (ledger-format §9.1)."""
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
        # element in Python (about 40 µs a subject, more than the rest of a new subject).
        key_ids, blinds, keys = zip(*rows, strict=True)
        self.db.query(
            f"INSERT INTO {self.table} (key_id, blind, key) "
            "SELECT k, b, decode(x, 'hex') FROM unnest(string_to_array(?, ','), "
            "string_to_array(?, ','), string_to_array(?, ',')) AS t(k, b, x)",
            (",".join(key_ids), ",".join(blinds), ",".join(key.hex() for key in keys)),
        )

    def add_index(self, named: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Index accesses: (access id as 32 hex, the key ids its subjects name). Inside the
        caller's transaction (:meth:`catch_up`)."""
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

    def catch_up(self, upto: int) -> int:
        """Index the access rows after the index's head up to position ``upto`` (the
        tree's size: rows committed, in order); return the head. A transaction a
        stretch of positions, each moving the head with the rows it indexed; under
        the index's own writer lock, so two lookups never index a row twice."""
        table, position = events_table(self.db)
        sqlite = self.db.backend == "sqlite"
        contains = "instr(state, ?) > 0" if sqlite else "position(? in state) > 0"
        select = (
            f"SELECT originator_id, state FROM {table} WHERE {position} > ? "
            f"AND {position} <= ? AND topic = ? AND {contains}"
        )
        head = self.head()
        while head < upto:
            with self.db.transaction("subject_index", durable=False):
                head = self.head()  # another lookup may have moved it
                end = min(upto, head + _SCAN)
                if head >= end:
                    break
                named = []
                for originator, raw in self.db.query(
                    select, (head, end, ACCESS_TOPIC, b'"subjects":[')
                ):
                    kids = _key_ids(bytes(raw))
                    if kids:
                        named.append((str(originator).replace("-", ""), kids))
                if named:
                    self.add_index(named)
                self._set_head(end)
                head = end
        return head

    def head(self) -> int:
        """The last chain position the access index has read (0 before the first)."""
        rows = self.db.query(f"SELECT position FROM {self.head_table} WHERE one = 1")
        return int(rows[0][0]) if rows else 0

    def _set_head(self, position: int) -> None:
        self.db.query(
            f"INSERT INTO {self.head_table} (one, position) VALUES (1, ?) "
            "ON CONFLICT (one) DO UPDATE SET position = excluded.position",
            (position,),
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


def subject_key_ids(subjects: Any) -> list[str]:
    """The key ids an access's decoded ``subjects`` name, in order, in either form
    (ledger-format §9.1): a string is a key id, a sealed value (older rows) names its
    ``kid``. Anything else names nobody. The one reader of the field."""
    if not isinstance(subjects, list):
        return []
    found: list[str] = []
    for subject in subjects:
        if isinstance(subject, str):
            found.append(subject)
        elif is_sealed(subject) and isinstance(subject.get("kid"), str):
            found.append(subject["kid"])
    return found


def _key_ids(state: bytes) -> list[str]:
    """The key ids a stored access state names (only its ``subjects`` key decoded); hex
    only, as the index's tokens must be."""
    try:
        subjects = _NAMED.decode(state).subjects
    except msgspec.DecodeError:
        return []
    return [kid for kid in subject_key_ids(subjects) if _KEY_ID.fullmatch(kid)]


_NAMED: Final = msgspec.json.Decoder(_Named)
_KEY_ID: Final = re.compile("[0-9a-f]{32}")


def events_table(database: Database) -> tuple[str, str]:
    """The chained events table and its position column (ledger-format §2)."""
    if database.backend == "sqlite":
        return database.events, "rowid"
    schema = database.table("x").split(".")[0]
    return f'{schema}."{database.events}"', "notification_id"


def grant_subject_answerer(settings: Settings, role: str) -> None:
    """The layout's grant (ops/layout.py) to the API's role: records accesses naming data
    subjects, answers a person's request and erases (tables created first if missing)."""
    _grant(settings, role, answers=True)


def grant_subject_recorder(settings: Settings, role: str) -> None:
    """The layout's grant to ``govledger import``'s role: records accesses naming subjects."""
    _grant(settings, role, answers=False)


def _grant(settings: Settings, role: str, *, answers: bool) -> None:
    database = Database(settings)
    try:
        keys = SubjectKeys(database)
        keys.create()
        database.create(keys.grant_statements(role, answers=answers))
    finally:
        database.close()
