"""The anomaly review machine (ledger/domain/review.py, docs/console.md "Review rules"):
every step it allows, every step it refuses, four eyes, replay of the history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.application import GovLedger
from ledger.domain import DomainError
from ledger.domain.actor import Actor, Role
from ledger.domain.errors import ErrorCode
from ledger.domain.ids import anomaly_review_id
from ledger.domain.review import (
    STATUS_AFTER,
    TRANSITIONS,
    AnomalyReview,
    ReviewAction,
    ReviewStatus,
)
from tests.ledger.domain.builders import FakeClock

A = Actor("officer-wang", Role.SECURITY_OFFICER, None)
B = Actor("officer-li", Role.SECURITY_OFFICER, None)
AUDITOR = Actor("auditor-zhao", Role.AUDITOR, None)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ACK, DISMISS, ESC = ReviewAction.ACKNOWLEDGE, ReviewAction.DISMISS, ReviewAction.ESCALATE


def _app() -> GovLedger:
    return GovLedger(clock=FakeClock(NOW))


def _status(app: GovLedger, anomaly_id: str) -> ReviewStatus:
    review: AnomalyReview = app.repository.get(anomaly_review_id(anomaly_id))
    return review.status


def _refused(code: ErrorCode, app: GovLedger, *args: object, **kw: object) -> None:
    with pytest.raises(DomainError) as caught:
        app.review_anomaly(*args, **kw)  # type: ignore[arg-type]
    assert caught.value.code is code


def test_the_written_table_is_the_machine() -> None:
    assert TRANSITIONS[ReviewStatus.DISMISSED] == frozenset()
    assert TRANSITIONS[ReviewStatus.ESCALATED] == {DISMISS}
    assert set(STATUS_AFTER) == {ACK, DISMISS, ESC}


@pytest.mark.parametrize(
    ("steps", "status"),
    [
        ([(A, ACK)], ReviewStatus.ACKNOWLEDGED),
        ([(A, ESC)], ReviewStatus.ESCALATED),
        ([(A, ACK), (A, ESC)], ReviewStatus.ESCALATED),
        ([(A, ACK), (A, DISMISS)], ReviewStatus.DISMISSED),
        ([(A, ESC), (B, DISMISS)], ReviewStatus.DISMISSED),
        ([(A, ReviewAction.NOTE), (A, ReviewAction.ASSIGN)], ReviewStatus.OPEN),
        ([(A, ESC), (B, ReviewAction.NOTE)], ReviewStatus.ESCALATED),
    ],
)
def test_allowed_steps(steps: list[tuple[Actor, ReviewAction]], status: ReviewStatus) -> None:
    app = _app()
    for actor, action in steps:
        app.review_anomaly(actor, "a1", action, "意见", severity="medium")
    assert _status(app, "a1") is status


def test_the_same_status_again_or_back_is_not_a_step() -> None:
    app = _app()
    app.review_anomaly(A, "a1", ACK, "已确认")
    _refused(ErrorCode.REVIEW_NOT_ALLOWED, app, B, "a1", ACK, "再确认")
    app.review_anomaly(A, "a1", ESC, "升级")
    _refused(ErrorCode.REVIEW_NOT_ALLOWED, app, B, "a1", ACK, "降回确认")
    _refused(ErrorCode.REVIEW_NOT_ALLOWED, app, B, "a1", ESC, "再升级")


def test_a_dismissed_anomaly_is_closed_even_to_notes() -> None:
    app = _app()
    app.review_anomaly(A, "a1", DISMISS, "误报", severity="low")
    for action in ReviewAction:
        _refused(ErrorCode.ANOMALY_CLOSED, app, B, "a1", action, "再处理")


def test_the_escalating_officer_cannot_dismiss_alone() -> None:
    app = _app()
    app.review_anomaly(A, "a1", ESC, "升级", severity="low")
    _refused(ErrorCode.REVIEW_NOT_ALLOWED, app, A, "a1", DISMISS, "误报", severity="low")
    assert _status(app, "a1") is ReviewStatus.ESCALATED
    app.review_anomaly(B, "a1", DISMISS, "复核后确认误报", severity="low")
    assert _status(app, "a1") is ReviewStatus.DISMISSED


@pytest.mark.parametrize("severity", ["high", "critical"])
def test_four_eyes_for_dismissing_a_high_anomaly(severity: str) -> None:
    app = _app()
    _refused(ErrorCode.REVIEW_NOT_ALLOWED, app, A, "a1", DISMISS, "误报", severity=severity)
    app.review_anomaly(A, "a1", ACK, "初步判断误报，请复核", severity=severity)
    _refused(ErrorCode.REVIEW_NOT_ALLOWED, app, A, "a1", DISMISS, "误报", severity=severity)
    app.review_anomaly(B, "a1", DISMISS, "复核同意排除", severity=severity)
    assert _status(app, "a1") is ReviewStatus.DISMISSED


def test_a_low_anomaly_is_dismissed_by_one_officer() -> None:
    app = _app()
    app.review_anomaly(A, "a1", DISMISS, "误报", severity="medium")
    assert _status(app, "a1") is ReviewStatus.DISMISSED


def test_only_security_officers_review_and_a_comment_is_required() -> None:
    app = _app()
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app, AUDITOR, "a1", ACK, "确认")
    with pytest.raises(DomainError):
        app.review_anomaly(A, "a1", ReviewAction.ASSIGN, "  ")


def test_the_history_replays_to_the_same_machine_state() -> None:
    app = _app()
    app.review_anomaly(A, "a1", ESC, "升级", severity="high")
    app.review_anomaly(B, "a1", ReviewAction.ASSIGN, "officer-li", severity="high")
    review: AnomalyReview = app.repository.get(anomaly_review_id("a1"))
    assert review.escalators == {"officer-wang"}
    assert review.reviewers == {"officer-wang", "officer-li"}
    assert review.version == 2
