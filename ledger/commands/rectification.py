"""Commands of rectification (notice, report, verification) and of audit suggestions
(suggestion, adoption response, confirmation) (docs/facts.md §8).

Who may act is checked here for the Python API and ``govledger import`` (the
HTTP gate is security/policy.py): the auditor (区审计局) issues the notice and
verifies; only a clerk or CIO of the notified department reports. Each takes
its business time (``notified_at``, ``reported_at``, ``verified_at``). Retries
record nothing: the notice has a natural id (one per finding; the same notice
again answers its id, another is ``record_exists``); a report under a
reference already on record, or the same verification of the last report, is
answered without a new event. Audit suggestions follow the same pattern: the
auditor suggests and confirms, the addressed department responds; one suggestion
per audit report 文号 and item number; a response under a reference on record, or
the same confirmation of the last response, records nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.commands.obligations import DEPARTMENT_STAFF, ObligationCommands
from ledger.domain.actor import Actor, Role
from ledger.domain.audit_suggestion import Adoption, AuditSuggestion
from ledger.domain.rectification import Rectification
from ledger.domain.values import parse_enum


class RectificationCommands(ObligationCommands):
    """``notify_rectification``, ``report_rectification``, ``verify_rectification``;
    ``issue_audit_suggestion``, ``respond_audit_suggestion``, ``confirm_audit_suggestion``."""

    def rectification(self, rectification_id: UUID) -> Rectification:
        found: Rectification = self.record_of(Rectification, rectification_id)
        return found

    def notify_rectification(self, actor: Actor, **fields: Any) -> UUID:
        """整改通知: the auditor names the finding, the department, what and by when."""
        self._require_role(actor, {Role.AUDITOR}, "issue a rectification notice")
        self._require_department(fields["department"])
        fields["notified_at"] = self.business_time(fields.get("notified_at"), "notified_at")
        fields.setdefault("rule", None)
        return self._save_once(Rectification.notify(actor, **fields), "notified_at")

    def report_rectification(
        self,
        actor: Actor,
        rectification_id: UUID,
        *,
        reference: str,
        summary: str,
        reported_at: datetime | None = None,
    ) -> None:
        """整改报告 by the notified department; the same reference again records nothing."""
        self._require_role(actor, DEPARTMENT_STAFF, "report a rectification")
        rectification = self.rectification(rectification_id)
        self._check_acts_for(actor, rectification.department)
        if rectification.is_reported(reference):
            return
        at = self.business_time(reported_at, "reported_at")
        rectification.report(actor, reference, summary, at)
        self.save(rectification)

    def verify_rectification(
        self,
        actor: Actor,
        rectification_id: UUID,
        *,
        accepted: bool,
        reason: str,
        verified_at: datetime | None = None,
    ) -> None:
        """The auditor's 整改检查 of the last report: accepted, or not with a reason."""
        self._require_role(actor, {Role.AUDITOR}, "verify a rectification")
        rectification = self.rectification(rectification_id)
        if rectification.is_verified_as(accepted, reason):
            return
        at = self.business_time(verified_at, "verified_at")
        rectification.verify(actor, accepted, reason, at)
        self.save(rectification)

    # -- 审计建议 and their adoption -------------------------------------------------

    def audit_suggestion(self, suggestion_id: UUID) -> AuditSuggestion:
        found: AuditSuggestion = self.record_of(AuditSuggestion, suggestion_id)
        return found

    def issue_audit_suggestion(self, actor: Actor, **fields: Any) -> UUID:
        """审计建议: the auditor addresses an item of an audit report to a department."""
        self._require_role(actor, {Role.AUDITOR}, "issue an audit suggestion")
        self._require_department(fields["department"])
        fields["issued_at"] = self.business_time(fields.get("issued_at"), "issued_at")
        fields.setdefault("finding_id", None)
        return self._save_once(AuditSuggestion.issue(actor, **fields), "issued_at")

    def respond_audit_suggestion(
        self,
        actor: Actor,
        suggestion_id: UUID,
        *,
        reference: str,
        adoption: str,
        explanation: str,
        responded_at: datetime | None = None,
    ) -> None:
        """采纳情况反馈 by the addressed department; the same reference again records nothing."""
        self._require_role(actor, DEPARTMENT_STAFF, "respond to an audit suggestion")
        answer = parse_enum(Adoption, adoption, "adoption")
        suggestion = self.audit_suggestion(suggestion_id)
        self._check_acts_for(actor, suggestion.department)
        if suggestion.is_responded(reference):
            return
        at = self.business_time(responded_at, "responded_at")
        suggestion.respond(actor, reference, answer, explanation, at)
        self.save(suggestion)

    def confirm_audit_suggestion(
        self,
        actor: Actor,
        suggestion_id: UUID,
        *,
        confirmed: bool,
        reason: str,
        confirmed_at: datetime | None = None,
    ) -> None:
        """The auditor's 核实 of the last response: confirmed, or not with a reason."""
        self._require_role(actor, {Role.AUDITOR}, "confirm an audit suggestion's adoption")
        suggestion = self.audit_suggestion(suggestion_id)
        if suggestion.is_confirmed_as(confirmed, reason):
            return
        at = self.business_time(confirmed_at, "confirmed_at")
        suggestion.confirm(actor, confirmed, reason, at)
        self.save(suggestion)
