"""Data subjects of accesses: sealed in the ledger, found by a blind index (ledger-format §9.1).

The exchange platform may name, per access, the data subjects whose records
were read (citizen id numbers or other identifiers). None is ever stored in
clear (个人信息保护法 §47, §51):

- in the access event, each subject is a sealed value (``ledger/erasure.py``,
  AES-256-GCM) under the subject's own key; the key id is 128 random bits (32 hex);
- the key table ``<events>_subject_keys`` (beside the chain, not chained) finds
  a subject's keys by a **blind index**: HMAC-SHA256 of the normalised
  identifier under the *index secret*, a file outside the database (mode 0600,
  ``GOVLEDGER_SUBJECT_INDEX_KEY_FILE``, created by ``govledger init``);
- erasing a subject destroys its keys (the rows stay as tombstones, key NULL,
  so a later lookup can still show the entries as erased). The erasure is a
  ledger event (``DataSubject.Erased``) naming the key ids: re-applying those
  events to a restored key table (:meth:`SubjectKeys.reapply`) erases again.

Batch ingest seals each distinct subject of a batch once (one HMAC, one
AES-GCM call), fetches or creates all the batch's keys in two statements, and
hands the batch writer each access's ``subjects`` array as pre-encoded JSON.
"""

from __future__ import annotations

import base64
import hmac
import os
import stat
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from msgspec import Raw

from ledger.config import Settings
from ledger.erasure import NONCE_SIZE, SEAL_VERSION, Erased, ErasureError, is_sealed
from ledger.erasure import associated_data as sealed_field_data
from ledger.errors import ConfigurationError
from ledger.tree_database import Database

SUBJECTS_FIELD: Final = "subjects"
ACCESS_TOPIC: Final = "ledger.domain.access:DataAccess.Recorded"
INDEX_CONTEXT: Final = b"govledger-subject-index-v1\n"
SECRET_SIZE: Final = 32
KEYS_SUFFIX: Final = "subject_keys"
DEFAULT_INDEX_KEY: Final = "subject-index.key"
_CHUNK: Final = 900  # placeholders per statement (SQLite allows 999 at least)


def normalise(identifier: str) -> str:
    """The form that is hashed and sealed: NFKC, no surrounding white space, letters upper
    case (a citizen id number's check character ``x`` is ``X``)."""
    return unicodedata.normalize("NFKC", identifier).strip().upper()


def blind_index(secret: bytes, identifier: str) -> str:
    """HMAC-SHA256(secret, "govledger-subject-index-v1\\n" || UTF-8(normalised)), hex."""
    message = INDEX_CONTEXT + normalise(identifier).encode()
    return hmac.digest(secret, message, "sha256").hex()


def associated_data() -> bytes:
    """What every sealed subject is bound to (ledger-format §9): its topic and field."""
    return sealed_field_data(ACCESS_TOPIC, SUBJECTS_FIELD)


_AD: Final = associated_data()


def sealed_json(key_id: str, key: bytes, form: str, nonce: bytes) -> bytes:
    """One sealed subject (``form``: its :func:`normalise`d identifier) as the JSON the
    state holds (compact, keys in this order)."""
    ct = AESGCM(key).encrypt(nonce, form.encode(), _AD)
    return (
        b'{"sealed":"' + SEAL_VERSION.encode() + b'","kid":"' + key_id.encode()
        + b'","n":"' + base64.b64encode(nonce) + b'","ct":"' + base64.b64encode(ct) + b'"}'
    )  # fmt: skip


def open_sealed(sealed: Any, key: bytes | None) -> str | Erased:
    """The identifier a sealed subject holds, or :class:`Erased` without its key."""
    if not is_sealed(sealed) or not isinstance(sealed.get("kid"), str):
        raise ErasureError("a subject is not a sealed value")
    if key is None:
        return Erased(sealed["kid"])
    try:
        nonce, ct = base64.b64decode(sealed["n"]), base64.b64decode(sealed["ct"])
        return AESGCM(key).decrypt(nonce, ct, _AD).decode()
    except (InvalidTag, ValueError, KeyError, TypeError) as e:
        raise ErasureError("a sealed subject does not open: altered or misplaced") from e


# -- the index secret -------------------------------------------------------------------


def index_key_path(settings: Settings) -> str:
    """``subject_index_key_file``, or on SQLite ``<state_dir>/keys/subject-index.key``."""
    if settings.subject_index_key_file:
        return settings.subject_index_key_file
    if settings.database.backend == "sqlite":
        return str(Path(settings.state_dir) / "keys" / DEFAULT_INDEX_KEY)
    return ""


def create_index_key(settings: Settings) -> list[str]:
    """``govledger init``: the index secret where no file is (mode 0600, never overwritten)."""
    path = index_key_path(settings)
    if not path or Path(path).exists():
        return []
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(os.urandom(SECRET_SIZE).hex() + "\n")
    return [f"created the subject index secret {path} (keep it out of the database and backups)"]


def read_index_key(path: str) -> bytes:
    """The secret in ``path``: 64 hex digits; refused if others may read the file."""
    try:
        mode = os.stat(path).st_mode
        text = Path(path).read_text(encoding="ascii").strip()
    except OSError as e:
        raise ConfigurationError(
            f"cannot read the subject index secret {path}: {e.strerror}"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"the subject index secret {path} is readable by others (chmod 600)"
        )
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != SECRET_SIZE:
        raise ConfigurationError(f"the subject index secret {path} is not {SECRET_SIZE} bytes hex")
    return secret


# -- the key table ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRow:
    key_id: str
    blind: str
    key: bytes | None
    erased_at: str | None


class SubjectKeys:
    """``<events>_subject_keys``: key id, blind index, key (NULL once erased), erased at.

    Mutable on purpose (ledger-format §9): erasure sets the key to NULL. At most one
    live key per blind index (keys are created under the table's writer lock); erased
    rows stay as tombstones. Keyed by (blind, key id), clustered on SQLite (WITHOUT
    ROWID), with the key id unique: two B-trees to maintain per new subject.
    """

    def __init__(self, database: Database) -> None:
        self.db = database
        self.table = database.table(KEYS_SUFFIX)

    def create(self, app_role: str = "") -> None:
        t, name = self.table, f"{self.db.events}_{KEYS_SUFFIX}"
        binary = "BLOB" if self.db.backend == "sqlite" else "bytea"
        clustered = " WITHOUT ROWID" if self.db.backend == "sqlite" else ""
        statements = [
            f"CREATE TABLE IF NOT EXISTS {t} (blind TEXT NOT NULL, key_id TEXT NOT NULL, "
            f"key {binary}, erased_at TEXT, PRIMARY KEY (blind, key_id)){clustered}",
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}_key_id" ON {t} (key_id)',
        ]
        if app_role and self.db.backend == "postgresql":
            role = '"' + app_role.replace('"', '""') + '"'
            statements.append(f"GRANT SELECT, INSERT, UPDATE ON {t} TO {role}")
        self.db.create(statements)

    def live_keys(self, blinds: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """Each blind index's live (key id, key), created where there is none: one
        transaction under the table's writer lock, so no other writer creates one between."""
        unique = list(dict.fromkeys(blinds))
        with self.db.transaction("subject_keys"):
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
        of them still has its key (a replayed erasure log usually finds none)."""
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
        return len(live)

    def all_rows(self) -> list[KeyRow]:
        """The whole table (a key-table backup; tests and ``govledger erase --reapply``)."""
        rows = self.db.query(f"SELECT key_id, blind, key, erased_at FROM {self.table}")
        return [KeyRow(k, b, None if key is None else bytes(key), e) for k, b, key, e in rows]

    def restore(self, rows: Sequence[KeyRow]) -> None:
        """Put a backup back (replacing the table's rows): then :meth:`reapply` the log."""
        with self.db.transaction("subject_keys"):
            self.db.query(f"DELETE FROM {self.table}")
            self.db.execute_many(
                f"INSERT INTO {self.table} (key_id, blind, key, erased_at) VALUES (?, ?, ?, ?)",
                [(r.key_id, r.blind, r.key, r.erased_at) for r in rows],
            )


# -- the vault: the secret and the key table, for the commands ------------------------------


class SubjectVault:
    """The index secret and the key table of one ledger.

    On SQLite the table is opened per use (cheap; a connection stays in its thread). On
    PostgreSQL one connection is kept and shared under a lock: a batch seals its
    subjects a chunk at a time, and a connection per chunk cost more than the sealing
    (about 9 ms each). Key creation is serialised by the table's writer lock anyway.
    A connection that failed is dropped and the next use opens another.
    """

    def __init__(self, settings: Settings, secret: bytes) -> None:
        self.settings = settings
        self.secret = secret
        self._ready = False
        self._shared = settings.database.backend == "postgresql"
        self._lock = threading.RLock()
        self._database: Database | None = None

    @classmethod
    def configured(cls, settings: Settings) -> SubjectVault | None:
        """The vault when the index secret is configured or at its default place; else None."""
        path = index_key_path(settings)
        if not path or not Path(path).exists():
            return None
        return cls(settings, read_index_key(path))

    def blind(self, identifier: str) -> str:
        return blind_index(self.secret, identifier)

    @contextmanager
    def keys(self) -> Iterator[SubjectKeys]:
        if not self._shared:
            database = Database(self.settings)
            try:
                yield self._prepared(database)
            finally:
                database.close()
            return
        with self._lock:
            database = self._database or Database(self.settings)
            self._database = None  # kept again only if this use ends well
            try:
                yield self._prepared(database)
            except BaseException:
                database.close()
                raise
            self._database = database

    def _prepared(self, database: Database) -> SubjectKeys:
        keys = SubjectKeys(database)
        if not self._ready:
            if not database.has_table(KEYS_SUFFIX):
                keys.create()
            self._ready = True
        return keys

    def close(self) -> None:
        """Close the kept connection (PostgreSQL); the next use opens another."""
        with self._lock:
            if self._database is not None:
                self._database.close()
                self._database = None

    def seal_batch(self, entries: Sequence[tuple[UUID, tuple[str, ...]]]) -> dict[UUID, Raw]:
        """Each access's ``subjects`` array, sealed (ledger-format §9.1): one HMAC and one
        AES-GCM call per distinct subject of the batch, its keys in two statements."""
        secret = self.secret
        blinds: dict[str, str] = {}  # normal form -> blind index
        per_access: list[tuple[UUID, list[str]]] = []
        for access_id, subjects in entries:
            forms = [normalise(subject) for subject in subjects]
            for form in forms:
                if form not in blinds:
                    blinds[form] = hmac.digest(
                        secret, INDEX_CONTEXT + form.encode(), "sha256"
                    ).hex()
            per_access.append((access_id, forms))
        with self.keys() as keys:
            live = keys.live_keys(list(blinds.values()))
        nonces = os.urandom(NONCE_SIZE * len(blinds))
        sealed: dict[str, bytes] = {}
        for i, (form, blind) in enumerate(blinds.items()):
            key_id, key = live[blind]
            sealed[form] = sealed_json(
                key_id, key, form, nonces[i * NONCE_SIZE : (i + 1) * NONCE_SIZE]
            )
        return {
            access_id: Raw(b"[" + b",".join([sealed[form] for form in forms]) + b"]")
            for access_id, forms in per_access
        }


def prepare_subject_keys(settings: Settings, app_role: str = "") -> list[str]:
    """``govledger init``: the index secret (where absent) and the key table (with the
    service's grants on PostgreSQL: select, insert, update; never delete)."""
    done = create_index_key(settings)
    database = Database(settings)
    try:
        SubjectKeys(database).create(app_role)
    finally:
        database.close()
    return done
