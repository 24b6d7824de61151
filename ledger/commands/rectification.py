"""Commands of rectification: notice, report, verification (docs/facts.md §8).

Who may act is checked here for the Python API and ``govledger import`` (the
HTTP gate is security/policy.py): the auditor (区审计局) issues the notice and
verifies; only a clerk or CIO of the notified department reports. Each takes
its business time (``notified_at``, ``reported_at``, ``verified_at``). Retries
record nothing: the notice has a natural id (one per finding; the same notice
again answers its id, another is ``record_exists``); a report under a
reference already on record, or the same verification of the last report, is
answered without a new event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.commands.obligations import DEPARTMENT_STAFF, ObligationCommands
from ledger.domain.actor import Actor, Role
from ledger.domain.rectification import Rectification


class RectificationCommands(ObligationCommands):
    """``notify_rectification``, ``report_rectification``, ``verify_rectification``."""

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
