"""Crypto-shredding of personal fields (docs/ledger-format.md §9; 个人信息保护法 §47).

Personal fields are sealed with AES-256-GCM under a key per data subject
before they enter an event. The sealed value is ordinary JSON inside the
event's state, so it is hashed, chained and proven like everything else.
Erasing a subject deletes its key from the mutable key table: the stored
bytes never change (``verify`` and proofs keep passing) but the field can no
longer be opened.

This module holds what every sealed field shares (its version, nonce size,
associated data, the erased marker and the error); the one sealed field the
ledger has, an access's data subjects, with its key table and blind index, is
``ledger/subjects.py`` (§9.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

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


def associated_data(topic: str, field: str) -> bytes:
    """What a sealed value is bound to (§9): its event topic and field, so a ciphertext
    cannot be moved to another field or event type."""
    return f"govledger-seal-{SEAL_VERSION}\n{topic}\n{field}".encode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get("sealed") == SEAL_VERSION
