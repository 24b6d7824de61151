"""Data accesses reported by the exchange platform, with their evaluation verdict.

An access is a fact: it is recorded whatever the verdict. Only a malformed
report is refused. The verdict is computed by ``security.access`` and handed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from ledger.domain import bounds
from ledger.domain.actor import Actor
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.ids import data_access_id


class AccessReason(StrEnum):
    """Closed set of reasons an access is unauthorized, with the domain.md rule each proves."""

    NO_GRANT = "no_grant"  # S2
    GRANT_EXPIRED = "grant_expired"  # S2
    GRANT_REVOKED = "grant_revoked"  # S2
    ITEMS_BEYOND_GRANT = "items_beyond_grant"  # S3
    RESOURCE_NOT_SHAREABLE = "resource_not_shareable"  # S1
    PURPOSE_MISMATCH = "purpose_mismatch"  # S4; P1 when sensitive_personal items
    UNKNOWN_RESOURCE = "unknown_resource"  # S5


@dataclass(frozen=True, slots=True)
class AccessVerdict:
    """Authorized iff there are no reasons; sorted and distinct so equal verdicts encode alike."""

    reasons: tuple[AccessReason, ...] = ()

    def __post_init__(self) -> None:
        try:
            parsed = sorted({AccessReason(reason) for reason in self.reasons})
        except ValueError as error:
            raise DomainError(ErrorCode.INVALID_VALUE, f"access reason: {error}") from None
        object.__setattr__(self, "reasons", tuple(parsed))

    @property
    def authorized(self) -> bool:
        return not self.reasons

    @classmethod
    def authorize(cls) -> AccessVerdict:
        return cls(())

    @classmethod
    def refuse(cls, *reasons: AccessReason) -> AccessVerdict:
        if not reasons:
            raise DomainError(ErrorCode.INVALID_VALUE, "an unauthorized verdict needs a reason")
        return cls(reasons)


class AccessReport(msgspec.Struct, frozen=True, gc=False):
    """One access as the exchange platform reports it (domain.md 数据访问).

    ``platform_event_id`` is the platform's own id for the event: the idempotency key.
    ``accessor_id`` is the person or account that read the data; ``purpose`` None
    means none was recorded (P1). ``grant_id`` is the grant the platform quoted.

    A frozen msgspec struct rather than a dataclass: the batch path builds thousands a
    request, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` a field)
    cost more than evaluating the access (issue 20). Untracked by the garbage
    collector: text, numbers, a UUID and a time are in no cycle.
    """

    platform_event_id: str
    accessor_id: str
    department: str
    system: str | None
    resource_code: str
    items: tuple[str, ...]
    row_count: int
    purpose: str | None
    grant_id: UUID | None
    client_address: str | None
    accessed_at: datetime
    # The data subjects whose records were read (ledger-format §9.1): sealed before they
    # are stored (ledger/subjects.py), never in clear. Empty: none reported.
    subjects: tuple[str, ...] = ()


def check_report(report: AccessReport, seen: set[tuple[object, ...]] | None = None) -> bool:
    """Refuse what cannot be a fact (docs/facts.md §6; the bounds of ledger/domain/bounds.py).

    Blank keys, no items or repeated ones, a code that is not one, a text too
    long or holding a forbidden character (NUL, a control, a lone surrogate), a
    row count outside 0..10**12, a time without an offset or outside the
    ledger's range. One combined test first (the batch path checks thousands of
    reports); only a report that fails it is examined field by field.

    ``seen`` remembers, across one batch, the parts that repeat from access to
    access (who read what, how, why) once they passed: a platform's batch names
    few of them. Returns whether the report holds only plain built-in types
    (:func:`plain_types`), which spares the batch writer asking again.
    """
    if plain_types(report) and _within_bounds(report, seen) and _subjects_ok(report.subjects):
        return True
    problem = _first_problem(report)
    if problem is not None:
        raise DomainError(ErrorCode.MALFORMED_ACCESS, f"{_event_label(report)}: bad {problem}")
    return False


def _event_label(report: AccessReport) -> str:
    label = report.platform_event_id
    if not isinstance(label, str) or not label.strip():
        return "<no id>"
    return repr(label[:60]) if bounds.plain_chars(label) else "<unprintable id>"


def _within_bounds(report: AccessReport, seen: set[tuple[object, ...]] | None) -> bool:
    """True when a report of plain types is within bounds (the common case, cheaply).

    Joined by a space, texts are printable (``str.isprintable``, in C) only if
    none holds a forbidden character; anything else takes the exact test.
    """
    event_id, row_count = report.platform_event_id, report.row_count
    if not (
        0 < len(event_id) <= bounds.MAX_ID
        and 0 < len(report.accessor_id) <= bounds.MAX_ID
        and (event_id.isprintable() or bounds.plain_chars(event_id))
        and not event_id.isspace()
        and 0 <= row_count <= bounds.MAX_ROW_COUNT
        and bounds.within_range(report.accessed_at)
    ):
        return False
    items = report.items
    shared = (
        report.accessor_id,
        report.department,
        report.resource_code,
        items if type(items) is tuple else tuple(items),  # hashable
        report.system,
        report.purpose,
        report.client_address,
    )
    if seen is not None and shared in seen:
        return True
    texts = (report.accessor_id, *items, report.system or "", report.purpose or "")
    joined = " ".join((*texts, report.client_address or ""))
    valid = (
        0 < len(items) <= bounds.MAX_LIST
        and len(set(items)) == len(items)
        and (len(joined) <= bounds.MAX_TEXT or _each_short(texts, (report.client_address or "",)))
        and (joined.isprintable() or bounds.plain_chars(joined))
        # Blank: empty or white space only (forbidden characters are refused above).
        and report.accessor_id != ""
        and "" not in items
        and not report.accessor_id.isspace()
        and not any(map(str.isspace, items))
        and bounds.is_code(report.department)
        and bounds.is_code(report.resource_code)
    )
    if valid and seen is not None and len(seen) < _SEEN_LIMIT:
        seen.add(shared)
    return valid


_SEEN_LIMIT = 10_000


def _each_short(*groups: Sequence[str]) -> bool:
    return all(len(text) <= bounds.MAX_TEXT for group in groups for text in group)


def _first_problem(report: AccessReport) -> str | None:
    """The first field outside the bounds, with why; None if all are within."""
    checks = (
        ("platform_event_id", lambda: _identifier(report.platform_event_id)),
        ("accessor_id", lambda: _identifier(report.accessor_id)),
        ("department", lambda: bounds.code(report.department, "")),
        ("system", lambda: bounds.optional_text(report.system, "")),
        ("resource_code", lambda: bounds.code(report.resource_code, "")),
        ("items", lambda: bounds.text_list(list(report.items), "")),
        ("row_count", lambda: bounds.count(report.row_count, "", maximum=bounds.MAX_ROW_COUNT)),
        ("purpose", lambda: bounds.optional_text(report.purpose, "")),
        ("grant_id", lambda: _grant_id(report.grant_id)),
        ("client_address", lambda: bounds.optional_text(report.client_address, "")),
        ("accessed_at", lambda: _aware(report.accessed_at)),
        ("subjects", lambda: _subjects(report.subjects)),
    )
    for name, check in checks:
        try:
            check()
        except bounds.BoundsError as error:
            return f"{name} ({error.problem})"
        except (TypeError, AttributeError):
            return name
    return None


def _subjects_ok(subjects: tuple[str, ...]) -> bool:
    """No subjects, or 1..MAX_LIST distinct printable identifiers of at most MAX_ID chars
    (tested together: the batch path names thousands)."""
    if not subjects:
        return True
    if type(subjects) is not tuple or len(subjects) > bounds.MAX_LIST:
        return False
    if not _TEXT_ONLY.issuperset(map(type, subjects)) or len(set(subjects)) != len(subjects):
        return False
    lengths = list(map(len, subjects))
    joined = " ".join(subjects)
    return (
        min(lengths) > 0
        and max(lengths) <= bounds.MAX_ID
        and (joined.isprintable() or bounds.plain_chars(joined))
        and not any(map(str.isspace, subjects))
    )


def _subjects(value: object) -> None:
    if value == ():
        return
    if not isinstance(value, tuple):
        raise bounds.BoundsError("subjects", "not a list")
    bounds.text_list(list(value), "", max_items=bounds.MAX_LIST)
    for subject in value:
        _identifier(subject)


def _identifier(value: object) -> None:
    bounds.text(value, "", max_length=bounds.MAX_ID)


def _grant_id(value: object) -> None:
    if value is not None and not isinstance(value, UUID):
        raise bounds.BoundsError("grant_id", "not a UUID")


def _aware(value: object) -> None:
    if not isinstance(value, datetime):
        raise bounds.BoundsError("accessed_at", "not a datetime")
    bounds.in_range(value, "accessed_at")


class DataAccess(Aggregate):
    """One recorded access. Its id derives from the platform event id (idempotent retries)."""

    class Recorded(Aggregate.Created):
        actor: Actor
        platform_event_id: str
        accessor_id: str
        department: str
        system: str | None
        resource_code: str
        items: tuple[str, ...]
        row_count: int
        purpose: str | None
        grant_id: UUID | None
        client_address: str | None
        accessed_at: datetime
        verdict: AccessVerdict

    @staticmethod
    def create_id(platform_event_id: str) -> UUID:
        return data_access_id(platform_event_id)

    @classmethod
    def recorded_event(
        cls,
        actor: Actor,
        report: AccessReport,
        verdict: AccessVerdict,
        access_id: UUID,
        timestamp: datetime | None = None,
    ) -> DataAccess.Recorded:
        """The creation event alone, without building the aggregate.

        An access is a create-only fact, and the exchange platform reports
        thousands per batch: skipping the aggregate's construction and mutation
        (which :meth:`record` pays for) more than doubles ingestion. The event is
        exactly the one :meth:`record` would produce, so it replays the same.
        """
        # The event's fields come from its class annotations (eventsourcing's metaclass).
        fields: dict[str, Any] = {
            "originator_topic": _DATA_ACCESS_TOPIC,
            "originator_id": access_id,
            "originator_version": cls.INITIAL_VERSION,
            "timestamp": timestamp or cls.Recorded.create_timestamp(),
            "actor": actor,
            "platform_event_id": report.platform_event_id,
            "accessor_id": report.accessor_id,
            "department": report.department,
            "system": report.system,
            "resource_code": report.resource_code,
            "items": tuple(report.items),
            "row_count": report.row_count,
            "purpose": report.purpose,
            "grant_id": report.grant_id,
            "client_address": report.client_address,
            "accessed_at": report.accessed_at,
            "verdict": verdict,
        }
        return cls.Recorded(**fields)

    @classmethod
    def record(cls, actor: Actor, report: AccessReport, verdict: AccessVerdict) -> DataAccess:
        """The aggregate of one access, as the library would build it: the reference the
        batch writer's bytes are held to. It checks nothing: the input contract
        (:func:`check_report`, ``ledger.domain.bounds``) is applied where accesses enter
        the ledger, ``GovLedger.record_accesses``."""
        return cls(
            actor=actor,
            platform_event_id=report.platform_event_id,
            accessor_id=report.accessor_id,
            department=report.department,
            system=report.system,
            resource_code=report.resource_code,
            items=tuple(report.items),
            row_count=report.row_count,
            purpose=report.purpose,
            grant_id=report.grant_id,
            client_address=report.client_address,
            accessed_at=report.accessed_at,
            verdict=verdict,
        )

    @event(Recorded)
    def __init__(
        self,
        *,
        actor: Actor,
        platform_event_id: str,
        accessor_id: str,
        department: str,
        system: str | None,
        resource_code: str,
        items: Sequence[str],
        row_count: int,
        purpose: str | None,
        grant_id: UUID | None,
        client_address: str | None,
        accessed_at: datetime,
        verdict: AccessVerdict,
    ) -> None:
        self.report = AccessReport(
            platform_event_id=platform_event_id,
            accessor_id=accessor_id,
            department=department,
            system=system,
            resource_code=resource_code,
            items=tuple(items),
            row_count=row_count,
            purpose=purpose,
            grant_id=grant_id,
            client_address=client_address,
            accessed_at=accessed_at,
        )
        self.verdict = verdict


def plain_types(report: AccessReport) -> bool:
    """Only exact built-in types (the batch writer's fast path, ledger/domain/access_state.py:
    orjson encodes some others (UUID, Enum, dataclass, subclasses) where the library would
    call a transcoding or refuse)."""
    return (
        type(report.platform_event_id) is str
        and type(report.accessor_id) is str
        and type(report.department) is str
        and type(report.system) in _OPTIONAL_TEXT
        and type(report.resource_code) is str
        and type(report.items) in _SEQUENCES
        and _TEXT_ONLY.issuperset(map(type, report.items))
        and type(report.row_count) is int
        and type(report.purpose) in _OPTIONAL_TEXT
        and type(report.grant_id) in _OPTIONAL_UUID
        and type(report.client_address) in _OPTIONAL_TEXT
        and type(report.accessed_at) is datetime
    )


_OPTIONAL_TEXT = frozenset({str, type(None)})
_OPTIONAL_UUID = frozenset({UUID, type(None)})
_SEQUENCES = frozenset({tuple, list})
_TEXT_ONLY = frozenset({str})


_DATA_ACCESS_TOPIC = get_topic(DataAccess)
