"""Data subjects of accesses: sealed in the ledger, found by a blind index (ledger-format §9.1).

The exchange platform may name, per access, the data subjects whose records
were read (citizen id numbers or other identifiers). None is ever stored in
clear (个人信息保护法 §47, §51):

- in the access event, each subject is a sealed value (``ledger/erasure.py``,
  AES-256-GCM) under the subject's own key; the key id is 128 random bits (32 hex);
- the key table ``<events>_subject_keys`` (beside the chain, not chained) finds
  a subject's keys by a **blind index**: HMAC-SHA256 of the normalised
  identifier under the *index secret*, a file outside the database (mode 0600,
  ``GOVLEDGER_SUBJECT_INDEX_KEY_FILE``, created by ``govledger init``); the
  table, the access index and the erasure generation are ``ledger/subject_keys.py``;
- erasing a subject destroys its keys (the rows stay as tombstones, key NULL,
  so a later lookup can still show the entries as erased). The erasure is a
  ledger event (``DataSubject.Erased``) naming the key ids: re-applying those
  events to a restored key table (``govledger erase --reapply``) erases again.

Batch ingest seals each distinct subject of a chunk once (one HMAC; one AES-GCM
call unless the process still holds the subject's sealed value from an earlier
chunk of the same erasure generation), finds or creates the keys it lacks and
writes the access index in one transaction, and hands the batch writer each
access's ``subjects`` array as pre-encoded JSON.
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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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
CACHE_SIZE: Final = 32_768  # sealed subjects kept in memory per process (about 16 MB)


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


# -- the vault: the secret and the key table, for the commands ------------------------------


class SubjectVault:
    """The index secret and the key table of one ledger, and the subjects it keeps sealed.

    On SQLite the table is opened per use (cheap; a connection stays in its thread). On
    PostgreSQL one connection is kept and shared under a lock: a batch seals its
    subjects a chunk at a time, and a connection per chunk cost more than the sealing
    (about 9 ms each). Key creation is serialised by the table's writer lock anyway.
    A connection that failed is dropped and the next use opens another.

    A subject's sealed value is kept in memory once computed (blind index -> key id and
    sealed JSON, at most ``cache_size``, least recently used out), so a subject named
    again costs one HMAC, not a key-table read and an AES-GCM call. The kept values
    belong to one erasure generation (``ledger/subject_keys.py``), read in every
    chunk's transaction under the table's writer lock: when any process erased or
    restored keys since, everything kept is forgotten before use. On PostgreSQL they
    are forgotten too whenever the connection is opened again (keys are committed
    without a flush of their own: a server that restarted may have lost the newest).
    """

    def __init__(self, settings: Settings, secret: bytes, cache_size: int = CACHE_SIZE) -> None:
        self.settings = settings
        self.secret = secret
        self._blinder = _Blinder(secret)
        self._ready = False
        self._shared = settings.database.backend == "postgresql"
        self._lock = threading.RLock()
        self._database: Database | None = None
        self._cache: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
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

    def seal_batch(self, entries: Sequence[tuple[UUID, tuple[str, ...]]]) -> dict[UUID, Raw]:
        """Each access's ``subjects`` array, sealed (ledger-format §9.1).

        One HMAC per distinct subject of the chunk; then one transaction (the erasure
        generation, the keys of subjects not kept in memory, found or created, and the
        access index rows), committed before the accesses are; then one AES-GCM call
        per subject not kept in memory.
        """
        blind_of = self._blinder.blind
        blinds: dict[str, str] = {}  # normal form -> blind index
        per_access: list[tuple[UUID, list[str]]] = []
        for access_id, subjects in entries:
            forms = [normalise(subject) for subject in subjects]
            for form in forms:
                if form not in blinds:
                    blinds[form] = blind_of(form)
            per_access.append((access_id, forms))
        with self.keys() as keys, keys.writing():
            generation = keys.generation()
            kept, epoch = self._kept(generation, blinds.values())
            missing = [blind for blind in blinds.values() if blind not in kept]
            live = keys.live_or_new(missing) if missing else {}
            key_id_of = {form: (kept.get(b) or live[b])[0] for form, b in blinds.items()}
            keys.add_index([(a.hex, [key_id_of[f] for f in forms]) for a, forms in per_access])
        sealed = {form: kept[b][1] for form, b in blinds.items() if b in kept}
        if live:
            fresh: list[tuple[str, tuple[str, bytes]]] = []
            nonces = os.urandom(NONCE_SIZE * len(live))
            i = 0
            for form, blind in blinds.items():
                if blind in kept:
                    continue
                key_id, key = live[blind]
                value = sealed_json(key_id, key, form, nonces[i : i + NONCE_SIZE])
                i += NONCE_SIZE
                sealed[form] = value
                fresh.append((blind, (key_id, value)))
            self._keep(epoch, fresh)
        return {
            access_id: Raw(b"[" + b",".join([sealed[form] for form in forms]) + b"]")
            for access_id, forms in per_access
        }

    def _kept(
        self, generation: str, blinds: Iterable[str]
    ) -> tuple[dict[str, tuple[str, bytes]], int]:
        """What the cache holds for these blind indexes, after forgetting everything if
        the erasure generation changed (read under the key table's writer lock); and the
        epoch that what this chunk adds belongs to."""
        with self._cache_lock:
            cache = self._cache
            if generation != self._generation:
                self._forget_locked()
                self._generation = generation
                return {}, self._epoch
            kept = {}
            for blind in blinds:
                value = cache.get(blind)
                if value is not None:
                    cache.move_to_end(blind)
                    kept[blind] = value
            return kept, self._epoch

    def _forget(self) -> None:
        with self._cache_lock:
            self._forget_locked()
            self._generation = None

    def _forget_locked(self) -> None:
        self._cache.clear()
        self._epoch += 1

    def _keep(self, epoch: int, values: list[tuple[str, tuple[str, bytes]]]) -> None:
        with self._cache_lock:
            if epoch != self._epoch or self._cache_size <= 0:
                return  # forgotten meanwhile (another thread saw an erasure): keep nothing
            cache = self._cache
            cache.update(values)
            while len(cache) > self._cache_size:
                cache.popitem(last=False)


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
