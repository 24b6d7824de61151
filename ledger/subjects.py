"""Data subjects of accesses: named by random key ids, found by a blind index (ledger-format §9.1).

The exchange platform may name, per access, the data subjects whose records
were read (citizen id numbers or other identifiers). No identifier is ever
stored, in clear or sealed (个人信息保护法 §6, §47, §51):

- in the access event, each subject is its key id: 128 random bits (32 hex),
  the same for all of a subject's accesses until it is erased. Rows written
  before 2026-12 hold sealed values instead (``ledger/erasure.py``, AES-256-GCM
  of the identifier under the subject's key); ``subject_key_ids`` is the one
  reader of both forms (``ledger/subject_keys.py``);
- the key table ``<events>_subject_keys`` (beside the chain, not chained) finds
  a subject's key ids by a **blind index**: HMAC-SHA256 of the normalised
  identifier under the *index secret*, a file outside the database (mode 0600,
  ``GOVLEDGER_SUBJECT_INDEX_KEY_FILE``, created by ``govledger init``); the
  table, the access index and the erasure generation are ``ledger/subject_keys.py``;
- erasing a subject destroys its keys (the rows stay as tombstones, key NULL,
  so a later lookup can still show the entries as erased). The erasure is a
  ledger event (``DataSubject.Erased``) naming the key ids: re-applying those
  events to a restored key table (``govledger erase --reapply``) erases again.

Why key ids and not sealed values: a sealed value cost an AES-GCM call and ~130
bytes per subject per access, hashed, checked and written (issue 19: batch
ingest with 1-10 subjects an access ran at 0.2-0.3 of the plain case), and the
identifier it carried was a copy more, not a protection: the key that opened it
sat in the same database. Batch ingest keeps each subject's key id in memory by the identifier
as given (one dict look-up a mention; the normal form and the HMAC only for a
subject not kept), finds or creates the key ids it lacks in one transaction a
chunk, and hands the batch writer each access's ``subjects`` array as
pre-encoded JSON. The access index is brought up to the chain by the service and
before lookups (``ledger/subject_requests.py``), not written by ingest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from msgspec import Raw

from ledger.config import Settings
from ledger.erasure import SEAL_VERSION, Erased, ErasureError, is_sealed
from ledger.erasure import associated_data as sealed_field_data
from ledger.errors import ConfigurationError
from ledger.subject_keys import (
    ACCESS_TOPIC,
    SUFFIXES,
    SubjectKeys,
)
from ledger.tree_database import Database

SUBJECTS_FIELD: Final = "subjects"
INDEX_CONTEXT: Final = b"govledger-subject-index-v1\n"
SECRET_SIZE: Final = 32
DEFAULT_INDEX_KEY: Final = "subject-index.key"
CACHE_SIZE: Final = 262_144  # key ids kept in memory per process (about 55 MB)


def normalise(identifier: str) -> str:
    """The form that is hashed: NFKC, no surrounding white space, letters upper case (a
    citizen id number's check character ``x`` is ``X``)."""
    return unicodedata.normalize("NFKC", identifier).strip().upper()


def blind_index(secret: bytes, identifier: str) -> str:
    """HMAC-SHA256(secret, "govledger-subject-index-v1\\n" || UTF-8(normalised)), hex."""
    message = INDEX_CONTEXT + normalise(identifier).encode()
    return hmac.digest(secret, message, "sha256").hex()


# -- the sealed form of older rows (written no more; §9.1 pins it) ------------------------


def associated_data() -> bytes:
    """What every sealed subject is bound to (ledger-format §9): its topic and field."""
    return sealed_field_data(ACCESS_TOPIC, SUBJECTS_FIELD)


_AD: Final = associated_data()


def sealed_json(key_id: str, key: bytes, form: str, nonce: bytes) -> bytes:
    """One sealed subject (``form``: its :func:`normalise`d identifier) as the JSON older
    rows hold (compact, keys in this order)."""
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


# -- the vault: the secret and the key table, for the commands ------------------------------


class SubjectVault:
    """The index secret and the key table of one ledger, and the key ids it keeps in memory.

    On SQLite the table is opened per use (cheap; a connection stays in its thread). On
    PostgreSQL one connection is kept and shared under a lock: a batch names its
    subjects a chunk at a time, and a connection per chunk cost more than the naming
    (about 9 ms each). Key creation is serialised by the table's writer lock anyway.
    A connection that failed is dropped and the next use opens another.

    A subject's key id is kept in memory once found or created (by the identifier as
    given, at most ``cache_size``, least recently used out), so a subject named again
    costs one dict look-up: no normal form, HMAC or key-table read. The kept key ids
    belong to one erasure generation (``ledger/subject_keys.py``), read before every
    batch (once a batch, not a chunk: under load a PostgreSQL round trip a chunk was a
    tenth of a batch with subjects): when any process erased or restored keys since,
    everything kept is forgotten before use. On PostgreSQL they are forgotten too
    whenever the connection is opened again (keys are committed without a flush of
    their own: a server that restarted may have lost the newest). Identifiers are held
    in clear in this process's memory as long as they are kept, beside the index
    secret that can test any identifier against the key table anyway (docs/privacy.md).
    """

    def __init__(self, settings: Settings, secret: bytes, cache_size: int = CACHE_SIZE) -> None:
        self.settings = settings
        self.secret = secret
        self._blinder = _Blinder(secret)
        self._ready = False
        self._shared = settings.database.backend == "postgresql"
        self._lock = threading.RLock()
        self._database: Database | None = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()  # identifier -> key id (ASCII)
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._generation: str | None = None  # of what the cache holds
        self._epoch = 0  # counts the times it was forgotten

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
            shared = self._database
            if shared is None:
                shared = Database(self.settings)
                # The server may have restarted (or failed over) since the last connection,
                # losing keys committed without a flush: forget what was kept from them.
                self._forget()
            self._database = None  # kept again only if this use ends well
            try:
                yield self._prepared(shared)
            except BaseException:
                shared.close()
                raise
            self._database = shared

    def _prepared(self, database: Database) -> SubjectKeys:
        keys = SubjectKeys(database)
        if not self._ready:
            if not all(database.has_table(suffix) for suffix in SUFFIXES):
                keys.create()
            self._ready = True
        return keys

    def close(self) -> None:
        """Close the kept connection (PostgreSQL); the next use opens another."""
        with self._lock:
            if self._database is not None:
                self._database.close()
                self._database = None

    def subjects_json(
        self, entries: Sequence[tuple[UUID, tuple[str, ...]]], generation: str | None = None
    ) -> tuple[dict[UUID, Raw], str]:
        """Each access's ``subjects`` array: its subjects' live key ids (ledger-format §9.1);
        and the erasure generation they belong to.

        ``generation``: what the batch read before its first chunk (None: read it now, one
        statement). The subjects kept in memory from it cost a dict look-up each, and no
        statement. The others of the chunk get their normal form and blind index, then
        their keys are found or created in one transaction under the key table's writer
        lock, committed before the accesses are (a batch that then fails leaves unused
        keys, nothing else).
        """
        if generation is None:
            with self.keys() as keys:
                generation = keys.generation()
        arrays, pending, epoch = self._kept(generation, entries)
        if pending:  # the database only for subjects not kept
            missing = {s: None for _, subjects, _ in pending for s in subjects}
            with self.keys() as keys, keys.writing():
                found = self._found(keys, list(missing))
            self._keep(epoch, found)
            for access_id, subjects, kids in pending:
                arrays[access_id] = _array(
                    [kid or found[s] for s, kid in zip(subjects, kids, strict=True)]
                )
        return arrays, generation

    def _found(self, keys: SubjectKeys, identifiers: list[str]) -> dict[str, bytes]:
        """The live key id of each identifier, created where there is none (inside the
        caller's transaction)."""
        blind_of = self._blinder.blind
        blinds = [blind_of(normalise(identifier)) for identifier in identifiers]
        live = keys.live_or_new(blinds)
        return {
            identifier: live[blind][0].encode()
            for identifier, blind in zip(identifiers, blinds, strict=True)
        }

    def _kept(
        self, generation: str, entries: Sequence[tuple[UUID, tuple[str, ...]]]
    ) -> tuple[dict[UUID, Raw], list[_Pending], int]:
        """The arrays of the accesses whose subjects are all kept in memory; the others,
        with what is kept of theirs; the epoch that what this chunk adds belongs to. After
        forgetting everything if the erasure generation changed."""
        with self._cache_lock:
            if generation != self._generation:
                self._forget_locked()
                self._generation = generation
            arrays: dict[UUID, Raw] = {}
            pending: list[_Pending] = []
            get, touch = self._cache.get, self._cache.move_to_end
            for access_id, subjects in entries:
                kids = [get(identifier) for identifier in subjects]
                if None in kids:
                    pending.append((access_id, subjects, kids))
                    continue
                for identifier in subjects:
                    touch(identifier)  # least recently used out
                arrays[access_id] = _array(kids)
            return arrays, pending, self._epoch

    def _forget(self) -> None:
        with self._cache_lock:
            self._forget_locked()
            self._generation = None

    def _forget_locked(self) -> None:
        self._cache.clear()
        self._epoch += 1

    def _keep(self, epoch: int, found: dict[str, bytes]) -> None:
        with self._cache_lock:
            if epoch != self._epoch or self._cache_size <= 0:
                return  # forgotten meanwhile (another thread saw an erasure): keep nothing
            cache = self._cache
            cache.update(found)
            while len(cache) > self._cache_size:
                cache.popitem(last=False)


# An access whose subjects are not all kept: its id, subjects, and kept key ids (None: not).
_Pending = tuple[UUID, tuple[str, ...], list[bytes | None]]


def _array(kids: Sequence[bytes | None]) -> Raw:
    """An access's ``subjects`` as its state holds them: ``["<key id>",…]``."""
    return Raw(b'["' + b'","'.join(kids) + b'"]')  # type: ignore[arg-type]  # no None left


class _Blinder:
    """:func:`blind_index` under one secret, its HMAC pads hashed once (RFC 2104): half
    the cost of ``hmac.digest`` a subject. Secrets are 32 bytes, within SHA-256's block."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) > 64:
            secret = hashlib.sha256(secret).digest()
        key = secret.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + INDEX_CONTEXT)
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def blind(self, form: str) -> str:
        """The blind index of a normal form (:func:`normalise`)."""
        inner = self._inner.copy()
        inner.update(form.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


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
