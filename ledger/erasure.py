"""Crypto-shredding of personal fields (docs/ledger-format.md §9; 个人信息保护法 §47).

Personal fields are sealed with AES-256-GCM under a key per data subject
before they enter an event. The sealed value is ordinary JSON inside the
event's state, so it is hashed, chained and proven like everything else.
Erasing a subject deletes its key from the mutable key table: the stored
bytes never change (``verify`` and proofs keep passing) but the field can no
longer be opened.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import LedgerError

SEAL_VERSION: Final = "v1"
NONCE_SIZE: Final = 12


class ErasureError(LedgerError):
    """A sealed value is malformed, or was altered."""


@dataclass(frozen=True)
class Erased:
    """What a reader gets for a field whose subject was erased."""

    key_id: str

    def __str__(self) -> str:
        return "[已删除 erased]"


class SubjectKeyStore(Protocol):
    """Keys by subject. Mutable on purpose: deleting a key is the erasure."""

    def key_for(self, subject: str) -> tuple[str, bytes]:
        """The subject's (key id, key), created on first use."""
        ...

    def key_by_id(self, key_id: str) -> bytes | None: ...

    def erase(self, subject: str) -> bool:
        """Destroy the subject's key; True if there was one."""
        ...


class MemoryKeyStore:
    def __init__(self) -> None:
        self._by_subject: dict[str, tuple[str, bytes]] = {}

    def key_for(self, subject: str) -> tuple[str, bytes]:
        if subject not in self._by_subject:
            self._by_subject[subject] = (str(uuid.uuid4()), AESGCM.generate_key(bit_length=256))
        return self._by_subject[subject]

    def key_by_id(self, key_id: str) -> bytes | None:
        return next((k for kid, k in self._by_subject.values() if kid == key_id), None)

    def erase(self, subject: str) -> bool:
        return self._by_subject.pop(subject, None) is not None


class SQLiteKeyStore:
    """The ``subject_keys`` table beside the ledger: not chained, rows may be deleted."""

    def __init__(self, path: str) -> None:
        self.path = path
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS subject_keys (key_id TEXT PRIMARY KEY, "
                "subject TEXT NOT NULL UNIQUE, key BLOB NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def key_for(self, subject: str) -> tuple[str, bytes]:
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT OR IGNORE INTO subject_keys VALUES (?, ?, ?)",
                (str(uuid.uuid4()), subject, AESGCM.generate_key(bit_length=256)),
            )
            row = conn.execute(
                "SELECT key_id, key FROM subject_keys WHERE subject = ?", (subject,)
            ).fetchone()
        return str(row[0]), bytes(row[1])

    def key_by_id(self, key_id: str) -> bytes | None:
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT key FROM subject_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        return bytes(row[0]) if row else None

    def erase(self, subject: str) -> bool:
        with closing(self._connect()) as conn, conn:
            return (
                conn.execute("DELETE FROM subject_keys WHERE subject = ?", (subject,)).rowcount > 0
            )


def _associated_data(topic: str, field: str) -> bytes:
    # Binds the ciphertext to its place: it cannot be moved to another field or event type.
    return f"govledger-seal-{SEAL_VERSION}\n{topic}\n{field}".encode()


def seal(keys: SubjectKeyStore, subject: str, topic: str, field: str, value: str) -> dict[str, str]:
    """Seal one personal field of an event of class ``topic`` for ``subject``."""
    key_id, key = keys.key_for(subject)
    nonce = os.urandom(NONCE_SIZE)
    ciphertext = AESGCM(key).encrypt(nonce, value.encode(), _associated_data(topic, field))
    return {
        "sealed": SEAL_VERSION,
        "kid": key_id,
        "n": base64.b64encode(nonce).decode(),
        "ct": base64.b64encode(ciphertext).decode(),
    }


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get("sealed") == SEAL_VERSION


def unseal(keys: SubjectKeyStore, sealed: dict[str, str], topic: str, field: str) -> str | Erased:
    """The clear value, or :class:`Erased` once the subject's key is gone."""
    if not is_sealed(sealed):
        raise ErasureError(f"field {field!r} is not a sealed value")
    key = keys.key_by_id(sealed["kid"])
    if key is None:
        return Erased(sealed["kid"])
    try:
        nonce, ciphertext = base64.b64decode(sealed["n"]), base64.b64decode(sealed["ct"])
        clear = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(topic, field))
    except (InvalidTag, ValueError) as e:
        raise ErasureError(f"sealed field {field!r} does not open: altered or misplaced") from e
    return clear.decode()
