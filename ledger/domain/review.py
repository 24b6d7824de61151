"""Security officers' review of access anomalies (domain.md: anomalies are for review), as a
written state machine (docs/console.md "Review rules").

An anomaly is found by a projection; its review is a fact, so it is a ledger event, always
with a comment. One aggregate per anomaly id (uuid5 of it), so all reviews of one anomaly
form one history. The rules are enforced here, in the command, so the console, the API and
the CLI cannot differ:

=============  ===========================  ===============================================
from           action -> to                 who may
=============  ===========================  ===============================================
open           acknowledge -> acknowledged  any security officer
open           escalate -> escalated        any security officer
open, ack.     dismiss -> dismissed         any officer, but four eyes (below)
acknowledged   escalate -> escalated        any security officer
escalated      dismiss -> dismissed         an officer other than every escalator
any but        assign, note (no change)     any security officer; ``assign``'s comment
dismissed                                   names the officer the case is assigned to
=============  ===========================  ===============================================

Four eyes (GB/T 22239-2019 8.1.4.2 separation of duties): a high or critical anomaly is
dismissed only after another officer has reviewed it (acknowledged, escalated or noted
it); an escalated anomaly is never dismissed by the officer who escalated it. A dismissed
anomaly is closed: a later review (even a note) is refused. Anything else — the same
status again, acknowledging an escalation — is refused as not a step of the machine.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.errors import ErrorCode, require
from ledger.domain.ids import anomaly_review_id
from ledger.domain.values import parse_enum, require_aware, require_text


class ReviewAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DISMISS = "dismiss"
    ESCALATE = "escalate"
    ASSIGN = "assign"
    NOTE = "note"


class ReviewStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"


# The actions that move the status, and where to; ``assign`` and ``note`` keep it.
STATUS_AFTER: Final[dict[ReviewAction, ReviewStatus]] = {
    ReviewAction.ACKNOWLEDGE: ReviewStatus.ACKNOWLEDGED,
    ReviewAction.DISMISS: ReviewStatus.DISMISSED,
    ReviewAction.ESCALATE: ReviewStatus.ESCALATED,
}
# Status -> the status-moving actions allowed from it.
TRANSITIONS: Final[dict[ReviewStatus, frozenset[ReviewAction]]] = {
    ReviewStatus.OPEN: frozenset(STATUS_AFTER),
    ReviewStatus.ACKNOWLEDGED: frozenset({ReviewAction.ESCALATE, ReviewAction.DISMISS}),
    ReviewStatus.ESCALATED: frozenset({ReviewAction.DISMISS}),
    ReviewStatus.DISMISSED: frozenset(),
}
KEEPING: Final = frozenset({ReviewAction.ASSIGN, ReviewAction.NOTE})
FOUR_EYES_SEVERITIES: Final = frozenset({"high", "critical"})


def check_step(
    status: ReviewStatus,
    action: ReviewAction,
    actor_id: str,
    severity: str,
    reviewers: frozenset[str],
    escalators: frozenset[str],
) -> None:
    """Refuse ``action`` by ``actor_id`` on an anomaly in ``status`` unless the machine
    allows it; ``reviewers``/``escalators``: the officers who reviewed/escalated it so far."""
    require(status is not ReviewStatus.DISMISSED, ErrorCode.ANOMALY_CLOSED, "it was dismissed")
    if action in KEEPING:
        return
    require(
        action in TRANSITIONS[status],
        ErrorCode.REVIEW_NOT_ALLOWED,
        f"{action.value} is not a step from {status.value}",
    )
    if action is not ReviewAction.DISMISS:
        return
    require(
        actor_id not in escalators,
        ErrorCode.REVIEW_NOT_ALLOWED,
        "four eyes: the officer who escalated an anomaly cannot dismiss it",
    )
    require(
        severity not in FOUR_EYES_SEVERITIES or bool(reviewers - {actor_id}),
        ErrorCode.REVIEW_NOT_ALLOWED,
        f"four eyes: a {severity} anomaly is dismissed only after another officer reviewed it",
    )


class AnomalyReview(Aggregate):
    """The review history of one anomaly."""

    class Started(Aggregate.Created):
        actor: Actor
        anomaly_id: str
        action: ReviewAction
        comment: str
        reviewed_at: datetime
        severity: str = ""

    class Reviewed(Aggregate.Event):
        actor: Actor
        anomaly_id: str
        action: ReviewAction
        comment: str
        reviewed_at: datetime
        severity: str = ""

    @staticmethod
    def create_id(anomaly_id: str) -> UUID:
        return anomaly_review_id(anomaly_id)

    @classmethod
    def start(
        cls,
        actor: Actor,
        anomaly_id: str,
        action: ReviewAction,
        comment: str,
        at: datetime,
        severity: str = "",
    ) -> AnomalyReview:
        action = parse_enum(ReviewAction, action, "action")
        check_step(ReviewStatus.OPEN, action, actor.actor_id, severity, frozenset(), frozenset())
        return cls(
            actor=actor,
            anomaly_id=require_text(anomaly_id, "anomaly_id"),
            action=action,
            comment=require_text(comment, "comment"),
            reviewed_at=require_aware(at, "reviewed_at"),
            severity=severity,
        )

    @event(Started)
    def __init__(
        self,
        *,
        actor: Actor,
        anomaly_id: str,
        action: ReviewAction,
        comment: str,
        reviewed_at: datetime,
        severity: str = "",
    ) -> None:
        self.anomaly_id = anomaly_id
        self.status = ReviewStatus.OPEN
        self.reviewers: frozenset[str] = frozenset()
        self.escalators: frozenset[str] = frozenset()
        self._apply(actor, ReviewAction(action))

    def _apply(self, actor: Actor | dict[str, str], action: ReviewAction) -> None:
        actor_id = actor.actor_id if isinstance(actor, Actor) else str(actor["actor_id"])
        self.status = STATUS_AFTER.get(action, self.status)
        self.reviewers = self.reviewers | {actor_id}
        if action is ReviewAction.ESCALATE:
            self.escalators = self.escalators | {actor_id}

    def review(
        self,
        actor: Actor,
        action: ReviewAction,
        comment: str,
        at: datetime,
        severity: str = "",
    ) -> None:
        action = parse_enum(ReviewAction, action, "action")
        check_step(self.status, action, actor.actor_id, severity, self.reviewers, self.escalators)
        self._review(
            actor=actor,
            anomaly_id=self.anomaly_id,
            action=action,
            comment=require_text(comment, "comment"),
            reviewed_at=require_aware(at, "reviewed_at"),
            severity=severity,
        )

    @event(Reviewed)
    def _review(
        self,
        actor: Actor,
        anomaly_id: str,
        action: ReviewAction,
        comment: str,
        reviewed_at: datetime,
        severity: str = "",
    ) -> None:
        self._apply(actor, ReviewAction(action))
