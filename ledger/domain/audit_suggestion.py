"""Audit suggestions and their adoption: suggestion, response, confirmation (docs/facts.md §8).

《国家审计准则》第一百二十二条 asks an audit report for the execution of earlier
audit decisions (the rectifications, ledger/domain/rectification.py) and the
adoption of earlier audit suggestions (审计建议采纳情况); §§160–164 have the
auditor follow both up. A suggestion is not a decision: the department may
adopt it, adopt it in part or not adopt it, and must explain itself when it does
not adopt it fully. Each step is a fact:

- the auditor's **审计建议** (the audit report's 文号 and item number, the
  department it is addressed to, the audited year, the text);
- the department's **采纳情况反馈** (已采纳 / 部分采纳 / 未采纳, the explanation,
  its own 文号);
- the auditor's **核实** of the last response: confirmed (closed), or not
  confirmed with a reason, after which the department responds again.

One aggregate per suggestion (id uuid5(ns, ``audit_suggestion:<reference>:<number>``)),
so a suggestion recorded twice is one suggestion. The invariants held here: a
response only after the suggestion and while no response awaits confirmation; a
confirmation only of a response; nothing after confirmation; business time never
before the previous step. Who may act (the auditor suggests and confirms; only
the addressed department responds) is checked by the commands
(ledger/commands/audit_suggestion.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.errors import ErrorCode, require
from ledger.domain.obligations import natural_id
from ledger.domain.values import require_not_before

AUDIT_YEARS = range(2000, 2101)


class Adoption(StrEnum):
    """The department's answer to a suggestion (labels: projections/labels.py ADOPTION)."""

    ADOPTED = "adopted"  # 已采纳
    PARTIALLY = "partially"  # 部分采纳
    NOT_ADOPTED = "not_adopted"  # 未采纳


class SuggestionStatus(StrEnum):
    ISSUED = "issued"  # 已提出, awaiting the department's response
    RESPONDED = "responded"  # 已反馈, awaiting the auditor's confirmation
    RETURNED = "returned"  # 反馈未获确认, the department responds again
    CONFIRMED = "confirmed"  # 采纳情况已核实 (closed)


def audit_suggestion_id(reference: str, number: int) -> UUID:
    """One suggestion per item of an audit report (its 文号 and item number)."""
    return natural_id("audit_suggestion", reference, number)


class AuditSuggestion(Aggregate):
    """One audit suggestion and the department's adoption of it."""

    class Issued(Aggregate.Created):
        actor: Actor
        reference: str
        number: int
        department: str
        year: int
        suggestion: str
        finding_id: str | None
        issued_at: datetime

    class Responded(Aggregate.Event):
        actor: Actor
        reference: str
        adoption: str
        explanation: str
        responded_at: datetime

    class Confirmed(Aggregate.Event):
        actor: Actor
        confirmed: bool
        reason: str
        confirmed_at: datetime

    @classmethod
    def issue(
        cls,
        actor: Actor,
        *,
        reference: str,
        number: int,
        department: str,
        year: int,
        suggestion: str,
        issued_at: datetime,
        finding_id: str | None = None,
    ) -> AuditSuggestion:
        require(number >= 1, ErrorCode.INVALID_VALUE, "number must be 1 or more")
        require(
            year in AUDIT_YEARS and year <= issued_at.year,
            ErrorCode.INVALID_VALUE,
            f"audited year {year} is not within 2000-{issued_at.year}",
        )
        return cls._create(
            cls.Issued,
            id=audit_suggestion_id(reference, number),
            actor=actor,
            reference=reference,
            number=number,
            department=department,
            year=year,
            suggestion=suggestion,
            finding_id=finding_id,
            issued_at=issued_at,
        )

    @event(Issued)
    def __init__(
        self,
        *,
        actor: Actor,
        reference: str,
        number: int,
        department: str,
        year: int,
        suggestion: str,
        finding_id: str | None,
        issued_at: datetime,
    ) -> None:
        self.reference = reference
        self.number = number
        self.department = department
        self.year = year
        self.status = SuggestionStatus.ISSUED
        self.response_references: tuple[str, ...] = ()
        self.adoption: Adoption | None = None
        self.last_confirmation: tuple[bool, str] | None = None
        self.last_at = issued_at  # business time does not run backwards (docs/facts.md §6)

    # -- the department's response ---------------------------------------------------

    def is_responded(self, reference: str) -> bool:
        """A response under this reference is on record (a retry records nothing)."""
        return reference in self.response_references

    def respond(
        self, actor: Actor, reference: str, adoption: Adoption, explanation: str, at: datetime
    ) -> None:
        require(
            self.status is not SuggestionStatus.CONFIRMED,
            ErrorCode.SUGGESTION_CLOSED,
            f"suggestion {self.reference} #{self.number} is confirmed already",
        )
        require(
            self.status is not SuggestionStatus.RESPONDED,
            ErrorCode.SUGGESTION_RESPONSE_PENDING,
            "the last response awaits the auditor's confirmation",
        )
        require_not_before(at, self.last_at, "responded_at")
        self._respond(
            actor=actor,
            reference=reference,
            adoption=adoption.value,
            explanation=explanation,
            responded_at=at,
        )

    @event(Responded)
    def _respond(
        self, actor: Actor, reference: str, adoption: str, explanation: str, responded_at: datetime
    ) -> None:
        self.status = SuggestionStatus.RESPONDED
        self.response_references = (*self.response_references, reference)
        self.adoption = Adoption(adoption)
        self.last_confirmation = None
        self.last_at = responded_at

    # -- the auditor's confirmation ----------------------------------------------------

    def is_confirmed_as(self, confirmed: bool, reason: str) -> bool:
        """The last response was checked with this outcome already (a retry records nothing)."""
        return self.last_confirmation == (confirmed, reason)

    def confirm(self, actor: Actor, confirmed: bool, reason: str, at: datetime) -> None:
        require(
            self.status is SuggestionStatus.RESPONDED,
            ErrorCode.SUGGESTION_NOT_RESPONDED,
            f"suggestion {self.reference} #{self.number} is {self.status.value}: "
            "nothing to confirm",
        )
        require_not_before(at, self.last_at, "confirmed_at")
        self._confirm(actor=actor, confirmed=confirmed, reason=reason, confirmed_at=at)

    @event(Confirmed)
    def _confirm(self, actor: Actor, confirmed: bool, reason: str, confirmed_at: datetime) -> None:
        self.status = SuggestionStatus.CONFIRMED if confirmed else SuggestionStatus.RETURNED
        self.last_confirmation = (confirmed, reason)
        self.last_at = confirmed_at
