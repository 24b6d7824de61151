"""Idempotent creates: a create retried with the same ``Idempotency-Key`` applies once.

Follows the IETF httpapi draft *The Idempotency-Key HTTP Header Field*
(draft-ietf-httpapi-idempotency-key-header): the key names one request of one
client; a retry with the same key and payload gets the first result; the same
key with another payload is an error (docs/security.md, "Replayed creates").

There is no side table: the new aggregate's id is derived from (kind, the
actor's subject, key) (``ids.idempotent_create_id``), so the event store's
uniqueness of (aggregate id, version 1) stores it once, also when two copies
race. "Same payload" is judged on what the first request recorded: the created
event's fields, less those the ledger fills in itself (ids, times, the actor
record with its request id, the business time and the deadline computed from
it: a retry may come seconds later, and its first record's times stand).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from ledger.domain.actor import Actor
from ledger.domain.errors import ErrorCode, require
from ledger.domain.ids import idempotent_create_id

MAX_KEY_LENGTH = 255
# Visible ASCII: what an sf-string (RFC 8941) may hold, without its quotes.
_KEY = re.compile(r"[\x20-\x7e]+")

# Created-event fields set by the ledger, not by the request: a retry differs in them.
_LEDGER_FILLED_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",  # request id and client address differ per attempt; the subject is in the id
        "submitted_at",
        "decided_at",
        "occurred_at",  # business time: the clock's, unless given (docs/facts.md §1)
        "reported_at",  # a project's progress report (docs/facts.md §7)
        "raised_at",  # a data-quality objection (docs/facts.md §7)
        "response_due",
        "response_working_days",
    }
)


def create_id_for(kind: str, actor: Actor, idempotency_key: str | None) -> UUID | None:
    """The id a keyed create gets, or None (a fresh random id) without a key."""
    if idempotency_key is None:
        return None
    require(
        0 < len(idempotency_key) <= MAX_KEY_LENGTH and _KEY.fullmatch(idempotency_key) is not None,
        ErrorCode.INVALID_VALUE,
        f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters",
    )
    return idempotent_create_id(kind, actor.actor_id, idempotency_key)


def requested_fields(created: object) -> dict[str, Any]:
    """What the request asked for, as recorded in its created event (sorted by name)."""
    state = vars(created)
    return {name: state[name] for name in sorted(state) if name not in _LEDGER_FILLED_FIELDS}
