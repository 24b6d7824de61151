"""Deterministic aggregate ids (uuid5) for things that have a natural key.

The namespace is fixed forever: changing it would give a retried report or a
re-registered code a new id and defeat idempotency and uniqueness.
"""

from __future__ import annotations

import hashlib
import json
from uuid import UUID, SafeUUID, uuid5

LEDGER_NAMESPACE = UUID("9d7a003b-6bd7-47fe-8e64-0bc07908a513")

# uuid5's SHA-1 input before the platform event id (a fresh hash of the short input costs
# less than copying a prepared hash state).
_ACCESS_PREFIX = LEDGER_NAMESPACE.bytes + b"data_access:"


def department_id(code: str) -> UUID:
    """One Department aggregate per department code."""
    return uuid5(LEDGER_NAMESPACE, f"department:{code}")


def idempotent_create_id(kind: str, principal: str, idempotency_key: str) -> UUID:
    """One created aggregate per (kind of record, principal, Idempotency-Key).

    A retried create with the same key maps to the same id, so the event
    store's uniqueness of (aggregate id, version 1) makes it apply once, even
    when two copies race. ``kind`` keeps one key on two endpoints apart;
    ``principal`` (the credential's subject) keeps two clients' keys apart.
    """
    # JSON keeps the parts apart: a subject or a key may itself contain ':'.
    name = json.dumps(["create", kind, principal, idempotency_key], ensure_ascii=False)
    return uuid5(LEDGER_NAMESPACE, name)


def resource_id(code: str) -> UUID:
    """One Resource aggregate per catalogue code (信息资源代码)."""
    return uuid5(LEDGER_NAMESPACE, f"resource:{code}")


def data_access_id(platform_event_id: str) -> UUID:
    """One DataAccess per exchange-platform event id: a retried report maps to the same id.

    Exactly ``uuid5(LEDGER_NAMESPACE, f"data_access:{platform_event_id}")`` (RFC 4122
    §4.3; pinned by tests/ledger/domain/test_values.py), computed from a prepared
    hash state because batch ingestion derives thousands of these per request.
    """
    digest = _sha1(_ACCESS_PREFIX + platform_event_id.encode(), usedforsecurity=False)
    # UUID(bytes=..., version=5), less its argument checks: the RFC 4122 variant and
    # version bits set exactly as UUID.__init__ sets them.
    access_id = _new_uuid(UUID)
    _set(access_id, "int", int.from_bytes(digest.digest()[:16]) & _CLEAR_BITS | _V5_RFC_4122)
    _set(access_id, "is_safe", _UNKNOWN)
    return access_id


# The variant bits and the version bits cleared, then set, in one operation each.
_CLEAR_BITS = ~(0xC000 << 48) & ~(0xF000 << 64)
_V5_RFC_4122 = 0x8000 << 48 | 5 << 76
_new_uuid = object.__new__
_set = object.__setattr__
_sha1 = hashlib.sha1
_UNKNOWN = SafeUUID.unknown  # an enum member looked up once: each lookup runs Python code


def anomaly_review_id(anomaly_id: str) -> UUID:
    """One AnomalyReview per anomaly id (anomaly ids are stable hashes from projections)."""
    return uuid5(LEDGER_NAMESPACE, f"anomaly_review:{anomaly_id}")
