"""Rectification of an audit finding: notice, report, verification (docs/facts.md §8).

《审计法》 §45 and 《国家审计准则》 §§160–164: the auditor tells the audited
department what to rectify and by when (整改通知), the department reports
what it did (整改报告), and the auditor checks it (检查整改情况): accepted, or
not accepted with a reason, after which the department reports again. Each step
is a fact; "overdue" (the deadline passed without an accepted verification) is
judged by the rules engine (rule R1), never refused here.

One aggregate per finding (id uuid5(ns, ``rectification:<finding_id>``)), so a
notice recorded twice is one notice. The invariants held here: a report only
after the notice and while no report awaits verification; a verification only
of a report; nothing after acceptance; business time never before the notice.
Who may act (the auditor notifies and verifies; only the notified department
reports) is checked by the commands (ledger/commands/rectification.py).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.calendar import CHINA_STANDARD_TIME
from ledger.domain.errors import ErrorCode, require
from ledger.domain.obligations import natural_id
from ledger.domain.values import require_not_before


def deadline_end(deadline: date) -> datetime:
    """The deadline's last moment: the end of that day in China Standard Time."""
    return datetime.combine(deadline + timedelta(days=1), time(), CHINA_STANDARD_TIME)


class RectificationStatus(StrEnum):
    NOTIFIED = "notified"  # 已下达整改通知, awaiting the department's report
    REPORTED = "reported"  # 已报送整改报告, awaiting verification
    NOT_ACCEPTED = "not_accepted"  # 整改未通过, the department reports again
    ACCEPTED = "accepted"  # 整改已通过 (closed)


def rectification_id(finding_id: str) -> UUID:
    """One rectification per finding (the finding id the views name it by)."""
    return natural_id("rectification", finding_id)


class Rectification(Aggregate):
    """The rectification history of one finding."""

    class Notified(Aggregate.Created):
        actor: Actor
        finding_id: str
        rule: str | None
        department: str
        reference: str
        finding: str
        requirement: str
        deadline: date
        notified_at: datetime

    class Reported(Aggregate.Event):
        actor: Actor
        reference: str
        summary: str
        reported_at: datetime

    class Verified(Aggregate.Event):
        actor: Actor
        accepted: bool
        reason: str
        verified_at: datetime

    @classmethod
    def notify(
        cls,
        actor: Actor,
        *,
        finding_id: str,
        department: str,
        reference: str,
        finding: str,
        requirement: str,
        deadline: date,
        notified_at: datetime,
        rule: str | None = None,
    ) -> Rectification:
        require(
            deadline >= notified_at.astimezone(CHINA_STANDARD_TIME).date(),
            ErrorCode.INVALID_VALUE,
            f"deadline {deadline.isoformat()} is before the notice",
        )
        return cls._create(
            cls.Notified,
            id=rectification_id(finding_id),
            actor=actor,
            finding_id=finding_id,
            rule=rule,
            department=department,
            reference=reference,
            finding=finding,
            requirement=requirement,
            deadline=deadline,
            notified_at=notified_at,
        )

    @event(Notified)
    def __init__(
        self,
        *,
        actor: Actor,
        finding_id: str,
        rule: str | None,
        department: str,
        reference: str,
        finding: str,
        requirement: str,
        deadline: date,
        notified_at: datetime,
    ) -> None:
        self.finding_id = finding_id
        self.rule = rule
        self.department = department
        self.reference = reference
        self.deadline = deadline
        self.notified_at = notified_at
        self.status = RectificationStatus.NOTIFIED
        self.report_references: tuple[str, ...] = ()
        self.last_verification: tuple[bool, str] | None = None
        self.last_at = notified_at  # business time does not run backwards (docs/facts.md §6)

    # -- the department's report ---------------------------------------------------

    def is_reported(self, reference: str) -> bool:
        """A report under this reference is on record (a retry records nothing)."""
        return reference in self.report_references

    def report(self, actor: Actor, reference: str, summary: str, at: datetime) -> None:
        require(
            self.status is not RectificationStatus.ACCEPTED,
            ErrorCode.RECTIFICATION_CLOSED,
            f"rectification of {self.finding_id} is accepted already",
        )
        require(
            self.status is not RectificationStatus.REPORTED,
            ErrorCode.RECTIFICATION_REPORT_PENDING,
            "the last report awaits the auditor's verification",
        )
        require_not_before(at, self.last_at, "reported_at")
        self._report(actor=actor, reference=reference, summary=summary, reported_at=at)

    @event(Reported)
    def _report(self, actor: Actor, reference: str, summary: str, reported_at: datetime) -> None:
        self.status = RectificationStatus.REPORTED
        self.report_references = (*self.report_references, reference)
        self.last_verification = None
        self.last_at = reported_at

    # -- the auditor's verification --------------------------------------------------

    def is_verified_as(self, accepted: bool, reason: str) -> bool:
        """The last report was verified with this outcome already (a retry records nothing)."""
        return self.last_verification == (accepted, reason)

    def verify(self, actor: Actor, accepted: bool, reason: str, at: datetime) -> None:
        require(
            self.status is RectificationStatus.REPORTED,
            ErrorCode.RECTIFICATION_NOT_REPORTED,
            f"rectification of {self.finding_id} is {self.status.value}: nothing to verify",
        )
        require_not_before(at, self.last_at, "verified_at")
        self._verify(actor=actor, accepted=accepted, reason=reason, verified_at=at)

    @event(Verified)
    def _verify(self, actor: Actor, accepted: bool, reason: str, verified_at: datetime) -> None:
        self.status = RectificationStatus.ACCEPTED if accepted else RectificationStatus.NOT_ACCEPTED
        self.last_verification = (accepted, reason)
        self.last_at = verified_at
