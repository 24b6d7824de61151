"""Security officers' review of access anomalies (domain.md: anomalies are for review).

An anomaly is found by a projection; its review is a fact, so it is a ledger
event: acknowledge, dismiss or escalate, always with a comment. One aggregate
per anomaly id (uuid5 of it), so all reviews of one anomaly form one history.
A dismissed anomaly is closed: a later review is refused.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
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


class ReviewStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"


STATUS_AFTER: dict[ReviewAction, ReviewStatus] = {
    ReviewAction.ACKNOWLEDGE: ReviewStatus.ACKNOWLEDGED,
    ReviewAction.DISMISS: ReviewStatus.DISMISSED,
    ReviewAction.ESCALATE: ReviewStatus.ESCALATED,
}


class AnomalyReview(Aggregate):
    """The review history of one anomaly."""

    class Started(Aggregate.Created):
        actor: Actor
        anomaly_id: str
        action: ReviewAction
        comment: str
        reviewed_at: datetime

    class Reviewed(Aggregate.Event):
        actor: Actor
        anomaly_id: str
        action: ReviewAction
        comment: str
        reviewed_at: datetime

    @staticmethod
    def create_id(anomaly_id: str) -> UUID:
        return anomaly_review_id(anomaly_id)

    @classmethod
    def start(
        cls, actor: Actor, anomaly_id: str, action: ReviewAction, comment: str, at: datetime
    ) -> AnomalyReview:
        return cls(
            actor=actor,
            anomaly_id=require_text(anomaly_id, "anomaly_id"),
            action=parse_enum(ReviewAction, action, "action"),
            comment=require_text(comment, "comment"),
            reviewed_at=require_aware(at, "reviewed_at"),
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
    ) -> None:
        self.anomaly_id = anomaly_id
        self.status = STATUS_AFTER[ReviewAction(action)]

    def review(self, actor: Actor, action: ReviewAction, comment: str, at: datetime) -> None:
        require(
            self.status is not ReviewStatus.DISMISSED,
            ErrorCode.ANOMALY_CLOSED,
            f"anomaly {self.anomaly_id} was dismissed",
        )
        self._review(
            actor=actor,
            anomaly_id=self.anomaly_id,
            action=parse_enum(ReviewAction, action, "action"),
            comment=require_text(comment, "comment"),
            reviewed_at=require_aware(at, "reviewed_at"),
        )

    @event(Reviewed)
    def _review(
        self,
        actor: Actor,
        anomaly_id: str,
        action: ReviewAction,
        comment: str,
        reviewed_at: datetime,
    ) -> None:
        self.status = STATUS_AFTER[ReviewAction(action)]
