"""Sharing requests and the grants they become (51号 conditional sharing).

A ``SharingRequest`` that is approved *is* the grant (授权): its id is the grant
reference the exchange platform quotes, bounded by items, purpose and expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.calendar import ResponseDeadlinePolicy
from ledger.domain.catalogue import Resource, SharingType
from ledger.domain.errors import ErrorCode, require
from ledger.domain.values import (
    require_aware,
    require_item_names,
    require_not_before,
    require_text,
)


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


class SharingRequest(Aggregate):
    """A using department's request for items of a resource, then its grant's lifecycle."""

    class Submitted(Aggregate.Created):
        actor: Actor
        requester_department: str
        resource_code: str
        provider_department: str
        items: tuple[str, ...]
        purpose: str
        legal_basis: str
        period_start: date
        period_end: date
        submitted_at: datetime
        response_working_days: int
        response_due: date

    class Approved(Aggregate.Event):
        actor: Actor
        items: tuple[str, ...]
        expires_at: datetime
        decided_at: datetime

    class Rejected(Aggregate.Event):
        actor: Actor
        reason: str
        decided_at: datetime

    class Revoked(Aggregate.Event):
        actor: Actor
        reason: str
        revoked_at: datetime

    class Expired(Aggregate.Event):
        actor: Actor
        expired_at: datetime

    @classmethod
    def submit(
        cls,
        *,
        actor: Actor,
        requester_department: str,
        resource: Resource,
        items: Sequence[str],
        purpose: str,
        legal_basis: str,
        period_start: date,
        period_end: date,
        submitted_at: datetime,
        deadline: ResponseDeadlinePolicy,
        aggregate_id: UUID | None = None,
    ) -> SharingRequest:
        """Validate and submit; the response deadline is fixed now and recorded (S6)."""
        requested = require_item_names(items)
        unknown = set(requested) - resource.item_names
        require(not unknown, ErrorCode.UNKNOWN_ITEMS, f"not in {resource.code}: {sorted(unknown)}")
        require(period_end >= period_start, ErrorCode.INVALID_PERIOD, "period ends before start")
        require_aware(submitted_at, "submitted_at")
        # _create, unlike cls(...), takes an explicit id; it checks nothing else.
        return cls._create(
            cls.Submitted,
            id=aggregate_id,  # given for an idempotent create (ids.idempotent_create_id)
            actor=actor,
            requester_department=require_text(requester_department, "requester_department"),
            resource_code=resource.code,
            provider_department=resource.provider_department,
            items=requested,
            # Purpose limitation (PIPL §6, §34; S4, P1) needs a stated purpose.
            purpose=require_text(purpose, "purpose"),
            legal_basis=legal_basis,
            period_start=period_start,
            period_end=period_end,
            submitted_at=submitted_at,
            response_working_days=deadline.working_days,
            response_due=deadline.due(submitted_at),
        )

    @event(Submitted)
    def __init__(
        self,
        *,
        actor: Actor,
        requester_department: str,
        resource_code: str,
        provider_department: str,
        items: tuple[str, ...],
        purpose: str,
        legal_basis: str,
        period_start: date,
        period_end: date,
        submitted_at: datetime,
        response_working_days: int,
        response_due: date,
    ) -> None:
        self.requester_department = requester_department
        self.resource_code = resource_code
        self.provider_department = provider_department
        self.items: tuple[str, ...] = tuple(items)
        self.purpose = purpose
        self.legal_basis = legal_basis
        self.period_start = period_start
        self.period_end = period_end
        self.submitted_at = submitted_at
        self.response_due = response_due
        self.status = RequestStatus.PENDING
        self.granted_items: tuple[str, ...] = ()
        self.expires_at: datetime | None = None
        self.decided_at: datetime | None = None
        self.rejection_reason: str | None = None
        self.revoked_at: datetime | None = None

    def _require_pending(self) -> None:
        require(
            self.status is RequestStatus.PENDING,
            ErrorCode.REQUEST_ALREADY_DECIDED,
            f"request is already {self.status.value}",
        )

    def approve(
        self,
        actor: Actor,
        resource: Resource,
        items: Sequence[str],
        expires_at: datetime,
        decided_at: datetime,
    ) -> None:
        """Grant use of ``items`` (a subset of those requested) until ``expires_at``.

        ``resource`` is the catalogue entry *now*: a resource reclassified
        not_shareable after submission can no longer be granted (51号).
        """
        self._require_pending()
        require(
            resource.sharing_type is not SharingType.NOT_SHAREABLE,
            ErrorCode.NOT_SHAREABLE,
            f"{resource.code} is not_shareable",
        )
        scope = require_item_names(items)
        beyond = set(scope) - set(self.items)
        require(not beyond, ErrorCode.SCOPE_BEYOND_REQUEST, f"not requested: {sorted(beyond)}")
        require_aware(expires_at, "expires_at")
        require_not_before(decided_at, self.submitted_at, "decided_at")
        require(expires_at > decided_at, ErrorCode.INVALID_EXPIRY, "expiry is not in the future")
        self._approve(actor=actor, items=scope, expires_at=expires_at, decided_at=decided_at)

    @event(Approved)
    def _approve(
        self, actor: Actor, items: tuple[str, ...], expires_at: datetime, decided_at: datetime
    ) -> None:
        self.status = RequestStatus.APPROVED
        self.granted_items = tuple(items)
        self.expires_at = expires_at
        self.decided_at = decided_at

    def reject(self, actor: Actor, reason: str, decided_at: datetime) -> None:
        """A refusal should state its reason (51号), but a blank one is recorded: S7 finds it."""
        self._require_pending()
        require_not_before(decided_at, self.submitted_at, "decided_at")
        self._reject(actor=actor, reason=reason, decided_at=decided_at)

    @event(Rejected)
    def _reject(self, actor: Actor, reason: str, decided_at: datetime) -> None:
        self.status = RequestStatus.REJECTED
        self.rejection_reason = reason
        self.decided_at = decided_at

    def _require_in_force(self, at: datetime) -> None:
        in_force = (
            self.status is RequestStatus.APPROVED
            and self.expires_at is not None
            and at < self.expires_at
        )
        require(in_force, ErrorCode.GRANT_NOT_IN_FORCE, f"request is {self.status.value}")

    def revoke(self, actor: Actor, reason: str, revoked_at: datetime) -> None:
        """End a grant early; accesses from ``revoked_at`` on are unauthorized (S2)."""
        self._require_in_force(revoked_at)
        assert self.decided_at is not None  # set with APPROVED
        require_not_before(revoked_at, self.decided_at, "revoked_at")
        self._revoke(actor=actor, reason=reason, revoked_at=revoked_at)

    @event(Revoked)
    def _revoke(self, actor: Actor, reason: str, revoked_at: datetime) -> None:
        self.status = RequestStatus.REVOKED
        self.revoked_at = revoked_at

    def expire(self, actor: Actor, at: datetime) -> None:
        """Record that an approved grant has run out (housekeeping: evaluation uses times)."""
        require(
            self.status is RequestStatus.APPROVED,
            ErrorCode.GRANT_NOT_IN_FORCE,
            f"request is {self.status.value}",
        )
        assert self.expires_at is not None  # set with APPROVED
        require(at >= self.expires_at, ErrorCode.GRANT_NOT_EXPIRED, "expiry is in the future")
        self._expire(actor=actor, expired_at=at)

    @event(Expired)
    def _expire(self, actor: Actor, expired_at: datetime) -> None:
        self.status = RequestStatus.EXPIRED
