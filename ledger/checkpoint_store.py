"""The checkpoint and cosignature tables and their write paths (docs/checkpoint-format.md §11).

``<events>_checkpoints`` (id, tree_size, root_hash, note, issued_at) and
``<events>_cosignatures`` (id, checkpoint_id, witness, line, added_at) are
append-only: triggers refuse UPDATE, DELETE and TRUNCATE, as on the event table.

What a stored row may be is decided by the database where one exists to
decide it (§11 *Store*, *Privileges*): on PostgreSQL the only write paths are
two ``SECURITY DEFINER`` functions created by the schema's owner, so ids and
times are the database's, a checkpoint smaller than the newest is refused, and
a cosignature line must name the witness it is stored under. The database
cannot check an Ed25519 signature, so it never lets a first line block a
second: readers pick, per witness they trust, the first line that verifies
(:meth:`StoredCheckpoint.cosigned`). SQLite, which has no roles, runs the same
checks in Python under the writer lock.

One grant function per role (contract C2): :func:`grant_checkpoint_reader`,
:func:`grant_checkpoint_issuer`, :func:`grant_checkpoint_witness`.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from ledger import note
from ledger.checkpoint import Checkpoint, CosignatureVerifier
from ledger.config import Settings
from ledger.errors import ConfigurationError, NoteError, ProofError
from ledger.tree import Database

__all__ = [
    "CheckpointStore",
    "StoredCheckpoint",
    "grant_checkpoint_issuer",
    "grant_checkpoint_reader",
    "grant_checkpoint_witness",
]

CHECKPOINTS, COSIGNATURES = "checkpoints", "cosignatures"
ADD_CHECKPOINT, ADD_COSIGNATURE = "add_checkpoint", "add_cosignature"
_ADD_CHECKPOINT_ARGS, _ADD_COSIGNATURE_ARGS = "(bigint, bytea, text)", "(bigint, text, text)"
_LINE_INDEX = "cosignatures_line"  # unique (checkpoint_id, line): an identical line once
_OLD_UNIQUE = "UNIQUE (checkpoint_id, witness)"  # before: a first line blocked the witness
_OLD_UNIQUE_INDEX = f"{COSIGNATURES}_checkpoint_id_witness_key"  # its PostgreSQL name
_COSIGNATURE_LINE_BYTES = 4 + 8 + 64  # key ID, then a cosignature/v1 signature (§7)
_MAX_NOTE_BYTES = 1_000_000  # §8
_MAX_LINE_BYTES = 1_000
_PAGE = 64


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class StoredCheckpoint:
    """One issued checkpoint as stored, with every cosignature line witnesses added."""

    id: int
    tree_size: int
    root_hash: bytes
    note: str
    issued_at: str
    cosignatures: tuple[str, ...] = ()

    @property
    def served(self) -> str:
        """The note followed by every stored line, unchecked: for display only.

        A line that does not verify would make a client reject the whole note
        (§8): serve and verify :meth:`cosigned` instead.
        """
        return self.note + "".join(self.cosignatures)

    def cosigned(self, witnesses: Sequence[CosignatureVerifier]) -> str:
        """The note with, for each of ``witnesses`` in turn, its first stored line that
        verifies (§11 *Serve*). Lines of other keys, and lines that do not verify, are left out."""
        body = note.parse(self.note).text.encode("utf-8")
        signatures = _parsed_lines(self.cosignatures)
        chosen: list[str] = []
        for witness in dict.fromkeys(witnesses):
            for line, signature in signatures:
                if signature.key == (witness.name, witness.key_id) and witness.verify(
                    body, signature.signature
                ):
                    chosen.append(line)
                    break
        return self.note + "".join(chosen)


def _parsed_lines(lines: Sequence[str]) -> list[tuple[str, note.NoteSignature]]:
    parsed = []
    for line in lines:
        try:
            parsed.append((line, note.NoteSignature.parse_line(line.removesuffix("\n"))))
        except NoteError:
            continue  # not a signature line: never served, never counted
    return parsed


class CheckpointStore:
    """``<events>_checkpoints`` and ``<events>_cosignatures``: append-only tables."""

    _COLUMNS = "id, tree_size, root_hash, note, issued_at"

    def __init__(self, database: Database) -> None:
        self.db = database
        self.checkpoints = database.table(CHECKPOINTS)
        self.cosignatures = database.table(COSIGNATURES)
        self._postgres = database.backend == "postgresql"

    # ------------------------------------------------------------ schema

    @property
    def exists(self) -> bool:
        """Both tables are there (enough to read)."""
        return self.db.has_table(CHECKPOINTS) and self.db.has_table(COSIGNATURES)

    def ready(self) -> bool:
        """Tables, unique line index and (PostgreSQL) write functions, in today's shape."""
        if not self.exists:
            return False
        if self._postgres:
            found = self.db.query(
                "SELECT to_regclass(?), to_regclass(?), to_regprocedure(?), to_regprocedure(?)",
                (
                    self.db.table(_LINE_INDEX),
                    self.db.table(_OLD_UNIQUE_INDEX),
                    self.db.table(ADD_CHECKPOINT) + _ADD_CHECKPOINT_ARGS,
                    self.db.table(ADD_COSIGNATURE) + _ADD_COSIGNATURE_ARGS,
                ),
            )[0]
            return bool(found[0]) and found[1] is None and bool(found[2]) and bool(found[3])
        has_index = self.db.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (self._index_name(),)
        )
        return bool(has_index) and _OLD_UNIQUE not in self._sqlite_table_sql(COSIGNATURES)

    def create(self) -> None:
        """Create (or bring up to date) both tables, their triggers and write paths.

        Idempotent; needs the schema owner's rights unless everything is in place.
        """
        if self.ready():
            return
        sqlite = not self._postgres
        pk = (
            "INTEGER PRIMARY KEY AUTOINCREMENT"
            if sqlite
            else "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        )
        blob = "BLOB" if sqlite else "bytea"
        cosignatures_table = (
            f"CREATE TABLE IF NOT EXISTS {self.cosignatures} (id {pk}, "
            "checkpoint_id bigint NOT NULL, witness text NOT NULL, line text NOT NULL, "
            "added_at text NOT NULL)"
        )
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints} (id {pk}, "
            f"tree_size bigint NOT NULL, root_hash {blob} NOT NULL, "
            "note text NOT NULL, issued_at text NOT NULL)",
            *self._migrate_cosignatures(cosignatures_table),
            cosignatures_table,
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{self._index_name()}" '
            f"ON {self.cosignatures} (checkpoint_id, line)",
            # The newest checkpoint (§11) is read on every serve, verify and scrape.
            f'CREATE INDEX IF NOT EXISTS "{self.db.events}_{CHECKPOINTS}_newest" '
            f"ON {self.checkpoints} (tree_size, id)",
            *self.db.append_only_statements(CHECKPOINTS),
            *self.db.append_only_statements(COSIGNATURES),
        ]
        if self._postgres:
            statements += _postgres_write_functions(self.db)
        self.db.create(statements)

    def _index_name(self) -> str:
        return f"{self.db.events}_{_LINE_INDEX}"

    def _sqlite_table_sql(self, suffix: str) -> str:
        rows = self.db.query(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
            (f"{self.db.events}_{suffix}",),
        )
        return str(rows[0][0]) if rows else ""

    def _migrate_cosignatures(self, new_table: str) -> list[str]:
        """Drop the old one-line-per-witness uniqueness, which let a junk line block a witness."""
        if self._postgres:
            old = f"{self.db.events}_{_OLD_UNIQUE_INDEX}"
            if not self.db.has_table(COSIGNATURES):
                return []
            return [f'ALTER TABLE {self.cosignatures} DROP CONSTRAINT IF EXISTS "{old}"']
        if _OLD_UNIQUE not in self._sqlite_table_sql(COSIGNATURES):
            return []
        # SQLite cannot drop a table constraint: rebuild (DROP TABLE drops the old triggers
        # before its implicit delete, so they do not fire).
        old_copy = f"{self.cosignatures}_before_migration"
        columns = "id, checkpoint_id, witness, line, added_at"
        return [
            f"ALTER TABLE {self.cosignatures} RENAME TO {old_copy}",
            new_table,
            f"INSERT INTO {self.cosignatures} ({columns}) SELECT {columns} FROM {old_copy}",
            f"DROP TABLE {old_copy}",
        ]

    # ------------------------------------------------------------ checkpoints

    def append(self, checkpoint: Checkpoint, signed: str) -> StoredCheckpoint:
        """Store one issued checkpoint; the database assigns its id and time."""
        size, root = checkpoint.size, checkpoint.root_hash
        with self.db.transaction(CHECKPOINTS), _refusals("add checkpoints", "issuer"):
            if self._postgres:
                sql = f"SELECT new_id, new_issued_at FROM {self.db.table(ADD_CHECKPOINT)}(?, ?, ?)"
                new_id, issued_at = self.db.query(sql, (size, root, signed))[0]
            else:
                newest = self.db.query(f"SELECT max(tree_size) FROM {self.checkpoints}")[0][0]
                _check_checkpoint_row(size, root, signed, newest)
                issued_at = _now()
                self.db.query(
                    f"INSERT INTO {self.checkpoints} (tree_size, root_hash, note, issued_at) "
                    "VALUES (?, ?, ?, ?)",
                    (size, root, signed, issued_at),
                )
                new_id = self.db.query("SELECT last_insert_rowid()")[0][0]
        return StoredCheckpoint(int(new_id), size, root, signed, str(issued_at))

    def latest(self) -> StoredCheckpoint | None:
        """The newest checkpoint: the largest tree size, the latest id among equals (§11)."""
        return next(self.newest_first(page=1), None)

    def newest_first(self, *, page: int = _PAGE) -> Iterator[StoredCheckpoint]:
        """Every stored checkpoint, newest first (§11), read a page at a time."""
        if not self.exists:
            return
        order = "ORDER BY tree_size DESC, id DESC LIMIT ?"
        rows = self.db.query(f"SELECT {self._COLUMNS} FROM {self.checkpoints} {order}", (page,))
        while rows:
            yield from self._with_cosignatures(rows)
            last_size, last_id = rows[-1][1], rows[-1][0]
            rows = self.db.query(
                f"SELECT {self._COLUMNS} FROM {self.checkpoints} "
                f"WHERE tree_size < ? OR (tree_size = ? AND id < ?) {order}",
                (last_size, last_size, last_id, page),
            )

    def newest_cosigned_by(
        self, witnesses: Sequence[CosignatureVerifier]
    ) -> StoredCheckpoint | None:
        """The newest checkpoint (§11 order) with a line of one of ``witnesses`` that verifies.

        Only checkpoints holding a line stored under one of their labels are read,
        newest first, so a witness that has been away for long costs no scan.
        """
        if not self.exists or not witnesses:
            return None
        labels = sorted({f"{w.name}+{w.key_id:08x}" for w in witnesses})
        marks = ",".join("?" * len(labels))
        candidates = (
            f"SELECT {self._COLUMNS} FROM {self.checkpoints} c WHERE EXISTS (SELECT 1 FROM "
            f"{self.cosignatures} s WHERE s.checkpoint_id = c.id AND s.witness IN ({marks})) "
            "ORDER BY tree_size DESC, id DESC LIMIT ? OFFSET ?"
        )
        offset = 0
        while rows := self.db.query(candidates, (*labels, _PAGE, offset)):
            for stored in self._with_cosignatures(rows):
                if stored.cosigned(witnesses) != stored.note:
                    return stored
            offset += len(rows)
        return None

    def find(self, body: str) -> StoredCheckpoint | None:
        """The newest stored checkpoint whose note text is ``body``."""
        if not self.exists:
            return None
        rows = self.db.query(
            f"SELECT {self._COLUMNS} FROM {self.checkpoints} WHERE tree_size = ? ORDER BY id DESC",
            (Checkpoint.parse(body).size,),
        )
        found = [row for row in rows if note.parse(row[3]).text == body]
        return self._with_cosignatures(found[:1])[0] if found else None

    def _with_cosignatures(self, rows: Sequence[Sequence[Any]]) -> list[StoredCheckpoint]:
        if not rows:
            return []
        ids = [int(row[0]) for row in rows]
        params: list[Any]
        if self._postgres:
            where, params = "checkpoint_id = ANY(?)", [ids]
        else:
            where, params = f"checkpoint_id IN ({','.join('?' * len(ids))})", list(ids)
        lines: dict[int, list[str]] = {i: [] for i in ids}
        for checkpoint_id, line in self.db.query(
            f"SELECT checkpoint_id, line FROM {self.cosignatures} WHERE {where} ORDER BY id",
            params,
        ):
            lines[int(checkpoint_id)].append(str(line))
        return [
            StoredCheckpoint(
                int(row[0]),
                int(row[1]),
                bytes(row[2]),
                str(row[3]),
                str(row[4]),
                tuple(lines[int(row[0])]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------ cosignatures

    def add_cosignature(self, checkpoint_id: int, line: str, witness: CosignatureVerifier) -> bool:
        """Store ``witness``'s cosignature ``line``; ``False`` if a line of this witness that
        verifies is already stored for that checkpoint (then nothing is written)."""
        signature = note.NoteSignature.parse_line(line.removesuffix("\n"))
        label = signature.label()
        with self.db.transaction(COSIGNATURES), _refusals("add cosignatures", "witness"):
            stored = self._with_cosignatures(
                self.db.query(
                    f"SELECT {self._COLUMNS} FROM {self.checkpoints} WHERE id = ?",
                    (checkpoint_id,),
                )
            )
            if stored and stored[0].cosigned([witness]) != stored[0].note:
                return False
            if self._postgres:
                sql = f"SELECT {self.db.table(ADD_COSIGNATURE)}(?, ?, ?)"
                return bool(self.db.query(sql, (checkpoint_id, label, line))[0][0])
            _check_cosignature_row(bool(stored), checkpoint_id, label, line)
            self.db.query(
                f"INSERT OR IGNORE INTO {self.cosignatures} "
                "(checkpoint_id, witness, line, added_at) VALUES (?, ?, ?, ?)",
                (checkpoint_id, label, line, _now()),
            )
            return bool(self.db.query("SELECT changes()")[0][0])


# ---------------------------------------------------------------- the checks, twice


def _check_checkpoint_row(size: int, root: bytes, signed: str, newest: int | None) -> None:
    """SQLite's copy of ``<events>_add_checkpoint``'s checks (keep them alike)."""
    if newest is not None and size < newest:
        raise ProofError(f"refusing checkpoint of size {size}: the newest stored has size {newest}")
    lines = signed.split("\n")
    stated = lines[1:3] == [str(size), base64.b64encode(root).decode("ascii")]
    if not (len(root) == 32 and lines[0] and stated):
        raise ProofError("refusing checkpoint: its note does not state this tree size and root")
    if len(signed.encode("utf-8")) > _MAX_NOTE_BYTES or "\n\n— " not in signed:
        raise ProofError("refusing checkpoint: the note is not a signed note")
    if not signed.endswith("\n"):
        raise ProofError("refusing checkpoint: the note is not a signed note")


def _check_cosignature_row(known: bool, checkpoint_id: int, label: str, line: str) -> None:
    """SQLite's copy of ``<events>_add_cosignature``'s checks (keep them alike)."""
    if not known:
        raise ProofError(f"refusing cosignature: there is no checkpoint {checkpoint_id}")
    signature = note.NoteSignature.parse_line(line.removesuffix("\n"))
    shaped = len(line.encode("utf-8")) <= _MAX_LINE_BYTES and line.count("\n") == 1
    if not shaped or 4 + len(signature.signature) != _COSIGNATURE_LINE_BYTES:
        raise ProofError("refusing cosignature: not one cosignature/v1 line")
    if signature.label() != label:
        raise ProofError(f"refusing cosignature: the line is not by {label}")


def _postgres_write_functions(db: Database) -> list[str]:
    """The two SECURITY DEFINER write paths (§11 *Privileges*), owned by the schema's owner."""
    checkpoints, cosignatures = db.table(CHECKPOINTS), db.table(COSIGNATURES)
    add_checkpoint, add_cosignature = db.table(ADD_CHECKPOINT), db.table(ADD_COSIGNATURE)
    refuse = "RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE ="
    return [
        rf"""CREATE OR REPLACE FUNCTION {add_checkpoint}(
    p_tree_size bigint, p_root_hash bytea, p_note text,
    OUT new_id bigint, OUT new_issued_at text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE newest bigint;
BEGIN
  LOCK TABLE {checkpoints} IN SHARE ROW EXCLUSIVE MODE;
  SELECT max(c.tree_size) INTO newest FROM {checkpoints} c;
  IF p_tree_size IS NULL OR p_tree_size < coalesce(newest, 0) THEN
    {refuse} format('refusing checkpoint of size %s: the newest stored has size %s',
                    p_tree_size, newest);
  END IF;
  IF p_root_hash IS NULL OR octet_length(p_root_hash) <> 32 OR p_note IS NULL
     OR split_part(p_note, E'\n', 1) = ''
     OR split_part(p_note, E'\n', 2) <> p_tree_size::text
     OR split_part(p_note, E'\n', 3) <> encode(p_root_hash, 'base64') THEN
    {refuse} 'refusing checkpoint: its note does not state this tree size and root';
  END IF;
  IF octet_length(p_note) > {_MAX_NOTE_BYTES} OR strpos(p_note, E'\n\n— ') = 0
     OR right(p_note, 1) <> E'\n' THEN
    {refuse} 'refusing checkpoint: the note is not a signed note';
  END IF;
  INSERT INTO {checkpoints} (tree_size, root_hash, note, issued_at)
  VALUES (p_tree_size, p_root_hash, p_note,
          to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
  RETURNING id, issued_at INTO new_id, new_issued_at;
END
$fn$""",
        rf"""CREATE OR REPLACE FUNCTION {add_cosignature}(
    p_checkpoint_id bigint, p_witness text, p_line text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE fields text; signature bytea;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM {checkpoints} c WHERE c.id = p_checkpoint_id) THEN
    {refuse} format('refusing cosignature: there is no checkpoint %s', p_checkpoint_id);
  END IF;
  IF p_line IS NULL OR octet_length(p_line) > {_MAX_LINE_BYTES} OR left(p_line, 2) <> '— '
     OR right(p_line, 1) <> E'\n' OR strpos(left(p_line, -1), E'\n') > 0 THEN
    {refuse} 'refusing cosignature: not one cosignature/v1 line';
  END IF;
  fields := substr(p_line, 3, length(p_line) - 3);
  BEGIN
    signature := decode(split_part(fields, ' ', 2), 'base64');
  EXCEPTION WHEN others THEN
    {refuse} 'refusing cosignature: not one cosignature/v1 line';
  END;
  IF split_part(fields, ' ', 3) <> '' OR octet_length(signature) <> {_COSIGNATURE_LINE_BYTES} THEN
    {refuse} 'refusing cosignature: not one cosignature/v1 line';
  END IF;
  IF p_witness IS DISTINCT FROM
     split_part(fields, ' ', 1) || '+' || encode(substring(signature FROM 1 FOR 4), 'hex') THEN
    {refuse} format('refusing cosignature: the line is not by %s', p_witness);
  END IF;
  INSERT INTO {cosignatures} (checkpoint_id, witness, line, added_at)
  VALUES (p_checkpoint_id, p_witness, p_line,
          to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
  ON CONFLICT (checkpoint_id, line) DO NOTHING;
  RETURN FOUND;
END
$fn$""",
        f"REVOKE ALL ON FUNCTION {add_checkpoint}{_ADD_CHECKPOINT_ARGS} FROM PUBLIC",
        f"REVOKE ALL ON FUNCTION {add_cosignature}{_ADD_COSIGNATURE_ARGS} FROM PUBLIC",
    ]


@contextmanager
def _refusals(what: str, grant: str) -> Iterator[None]:
    """The database's refusals as one-line errors."""
    try:
        yield
    except pg_errors.InsufficientPrivilege:
        raise ConfigurationError(
            f"this database role may not {what}: grant it with grant_checkpoint_{grant}"
        ) from None
    except pg_errors.UndefinedFunction:
        raise ConfigurationError(
            "the checkpoint tables predate their write functions: run `govledger init` as the "
            "schema owner"
        ) from None
    except pg_errors.CheckViolation as e:
        raise ProofError(_first_line(e)) from None
    except (psycopg.Error, sqlite3.Error) as e:
        raise ProofError(f"cannot store: {_first_line(e)}") from e


def _first_line(error: Exception) -> str:
    text = (getattr(getattr(error, "diag", None), "message_primary", None) or str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ---------------------------------------------------------------- grants (contract C2)


def _grant(settings: Settings, role: str, *functions: str) -> None:
    database = Database(settings)
    try:
        if database.backend != "postgresql":
            raise ConfigurationError("database roles apply to PostgreSQL only")
        store = CheckpointStore(database)
        store.create()
        quoted = '"' + role.replace('"', '""') + '"'
        statements = [f'GRANT USAGE ON SCHEMA "{settings.postgres_schema}" TO {quoted}']
        for suffix in (CHECKPOINTS, COSIGNATURES):
            table = database.table(suffix)
            statements += [
                f"REVOKE ALL ON {table} FROM {quoted}",
                f"GRANT SELECT ON {table} TO {quoted}",
            ]
            (sequence,) = database.query("SELECT pg_get_serial_sequence(?, 'id')", (table,))[0]
            statements.append(f"GRANT SELECT ON SEQUENCE {sequence} TO {quoted}")
        for function in functions:
            signature = database.table(function) + _signature(function)
            statements.append(f"GRANT EXECUTE ON FUNCTION {signature} TO {quoted}")
        database.create(statements)
    finally:
        database.close()


def _signature(function: str) -> str:
    return _ADD_CHECKPOINT_ARGS if function == ADD_CHECKPOINT else _ADD_COSIGNATURE_ARGS


def grant_checkpoint_reader(settings: Settings, role: str) -> None:
    """The service (API), verifier, backup and console: ``SELECT`` on both tables and their
    id sequences (pg_dump reads those), nothing else; earlier grants on them are revoked."""
    _grant(settings, role)


def grant_checkpoint_issuer(settings: Settings, role: str) -> None:
    """The checkpoint issuer: the reader's grants and ``EXECUTE`` on ``<events>_add_checkpoint``.

    An issuer that also collects its witnesses' cosignatures over HTTP (§16) stores
    them through ``<events>_add_cosignature``: grant it :func:`grant_checkpoint_witness` too.
    """
    _grant(settings, role, ADD_CHECKPOINT)


def grant_checkpoint_witness(settings: Settings, role: str) -> None:
    """A witness: the reader's grants and ``EXECUTE`` on ``<events>_add_cosignature``."""
    _grant(settings, role, ADD_COSIGNATURE)
