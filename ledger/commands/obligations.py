"""Commands recording the issue-14 records (ledger/domain/obligations.py; docs/facts.md §7).

Each checks who may act (the role that owns the fact: security/policy.py is
the API's gate, these checks are the Python API's), that what it names exists
(department, resource, filing, system), bounds its business time, and saves
once. A record with a natural key is one record: recording it again with the
same content answers its id (keeping the first business time); with other
content it is refused (``record_exists``, HTTP 409). Each takes keyword fields
as ``ledger.domain.fact_intake.KINDS`` decodes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.commands.funding import FundingCommands
from ledger.domain.actor import Actor, Role
from ledger.domain.errors import DomainError, ErrorCode, require
from ledger.domain.funding import FilingStatus
from ledger.domain.obligations import (
    ZONE,
    AnnualSharingReport,
    ContractedProcessor,
    CoreDataApproval,
    FiledAmountsRevision,
    ImpactAssessment,
    ProjectEvaluation,
    ProjectProgress,
    QualityObjection,
)
from ledger.idempotency import create_id_for

DEPARTMENT_STAFF = frozenset({Role.DEPARTMENT_CLERK, Role.CIO})
PROVIDER_STAFF = frozenset({Role.DATA_PROVIDER, Role.CIO})
_NOT_CONTENT = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp"})


class ObligationCommands(FundingCommands):
    """PIAs, core-data approvals, annual reports, processors, project tracking/evaluation."""

    _deferred: list[Any] | None = None

    @contextmanager
    def deferred_saves(self) -> Iterator[list[Any]]:
        """Collect what the commands would save instead of saving it (ops/import_records.py
        checks a whole file's records this way, then saves them in one transaction)."""
        pending: list[Any] = []
        self._deferred = pending
        try:
            yield pending
        finally:
            self._deferred = None

    def save(self, *objects: Any, **kwargs: Any) -> Any:
        if self._deferred is not None:
            self._deferred.extend(objects)
            return []
        return super().save(*objects, **kwargs)

    # -- reading back --------------------------------------------------------

    def record_of(self, cls: type[Aggregate], record_id: UUID) -> Any:
        return self._load(cls, record_id, ErrorCode.UNKNOWN_RECORD)

    # -- PIPL §55 ------------------------------------------------------------

    def record_impact_assessment(self, actor: Actor, **fields: Any) -> UUID:
        """The providing department's PIA (P2 reads it)."""
        self._require_role(actor, PROVIDER_STAFF, "record a PIA")
        self._check_acts_for(actor, fields["department"])
        self._require_department(fields["department"])
        provider = self.resource(fields["resource_code"]).provider_department
        # PIPL §55: the department providing the personal information assesses it; a PIA
        # another department records for this resource is none (P2 would not read it).
        require(
            fields["department"] == provider,
            ErrorCode.DEPARTMENT_MISMATCH,
            f"a PIA of {fields['resource_code']} is its provider's ({provider}), "
            f"not {fields['department']}'s",
        )
        self._known_optional(fields)
        fields["assessed_at"] = self.business_time(fields.get("assessed_at"), "assessed_at")
        fields.setdefault("recipient_department", None)
        fields.setdefault("request_id", None)
        return self._save_once(ImpactAssessment.record(actor, **fields), "assessed_at")

    # -- 数据安全法 §21 ---------------------------------------------------------

    def approve_core_data_sharing(self, actor: Actor, **fields: Any) -> UUID:
        """网信办 records the special approval to share core data (D1 reads it)."""
        self._require_role(actor, {Role.SECURITY_OFFICER}, "approve sharing core data")
        self.resource(fields["resource_code"])
        self._known_optional(fields)
        fields["approved_at"] = self.business_time(fields.get("approved_at"), "approved_at")
        fields.setdefault("recipient_department", None)
        fields.setdefault("request_id", None)
        fields.setdefault("valid_until", None)
        if fields["valid_until"] is not None:
            self.time_bounds.check_past(fields["valid_until"], "valid_until")
        return self._save_once(CoreDataApproval.grant(actor, **fields), "approved_at")

    def withdraw_core_data_approval(
        self, actor: Actor, approval_id: UUID, *, reason: str, withdrawn_at: datetime | None = None
    ) -> None:
        self._require_role(actor, {Role.SECURITY_OFFICER}, "withdraw a core-data approval")
        at = self.business_time(withdrawn_at, "withdrawn_at")
        approval: CoreDataApproval = self.record_of(CoreDataApproval, approval_id)
        approval.withdraw(actor, reason, at)
        self.save(approval)

    # -- seed 四(二) ----------------------------------------------------------

    def submit_department_report(self, actor: Actor, **fields: Any) -> UUID:
        """A department's annual sharing report (due by 31 Dec of its year; I3)."""
        self._require_role(actor, DEPARTMENT_STAFF, "submit a department's annual report")
        department = fields.pop("department")
        self._check_acts_for(actor, department)
        self._require_department(department)
        return self._submit_report(actor, department, fields)

    def submit_zone_report(self, actor: Actor, **fields: Any) -> UUID:
        """区发改局 compiles the zone's report (due by 31 Jan of the next year; I3)."""
        self._require_role(actor, {Role.NDRC}, "compile the zone's annual report")
        return self._submit_report(actor, ZONE, fields)

    def _submit_report(self, actor: Actor, scope: str, fields: dict[str, Any]) -> UUID:
        fields["submitted_at"] = self.business_time(fields.get("submitted_at"), "submitted_at")
        report = AnnualSharingReport.submit(actor, scope=scope, **fields)
        return self._save_once(report, "submitted_at")

    def approve_zone_report(
        self,
        actor: Actor,
        year: int,
        *,
        approving_body: str,
        reference: str,
        approved_at: datetime | None = None,
    ) -> None:
        """区发改局, as the leading group's office, records the group's approval."""
        self._require_role(actor, {Role.NDRC}, "record the zone report's approval")
        at = self.business_time(approved_at, "approved_at")
        report: AnnualSharingReport = self.record_of(
            AnnualSharingReport, AnnualSharingReport.create_id(ZONE, year)
        )
        report.approve(actor, approving_body, reference, at)
        self.save(report)

    # -- 数据安全法 §40 ---------------------------------------------------------

    def entrust_processor(self, actor: Actor, **fields: Any) -> UUID:
        """The entrusting department records its 受托方 and what it was entrusted with."""
        self._require_role(actor, DEPARTMENT_STAFF, "record a contracted processor")
        self._check_acts_for(actor, fields["department"])
        self._require_department(fields["department"])
        fields.setdefault("system_ids", ())
        fields.setdefault("resource_codes", ())
        fields.setdefault("approval_reference", None)
        for system_id in fields["system_ids"]:
            self.system(system_id)
        for code in fields["resource_codes"]:
            self.resource(code)
        fields["occurred_at"] = self.business_time(fields.get("occurred_at"), "occurred_at")
        return self._save_once(ContractedProcessor.entrust(actor, **fields), "occurred_at")

    def end_processor(
        self, actor: Actor, processor_id: UUID, *, reason: str, occurred_at: datetime | None = None
    ) -> None:
        self._require_role(actor, DEPARTMENT_STAFF, "end a contracted processor")
        processor: ContractedProcessor = self.record_of(ContractedProcessor, processor_id)
        self._check_acts_for(actor, processor.department)
        at = self.business_time(occurred_at, "occurred_at")
        processor.end(actor, reason, at)
        self.save(processor)

    # -- seed §三(五)17 ---------------------------------------------------------

    def report_project_progress(
        self, actor: Actor, filing_id: UUID, *, idempotency_key: str | None = None, **fields: Any
    ) -> UUID:
        """跟踪: the builder reports progress and spending (once per Idempotency-Key)."""
        self._require_role(actor, DEPARTMENT_STAFF, "report a project's progress")
        filing = self.filing(filing_id)
        self._check_acts_for(actor, filing.builder)
        at = self.business_time(fields.pop("reported_at", None), "reported_at")
        if at < filing.filed_at:
            raise DomainError(ErrorCode.TIME_BEFORE_CREATION, "reported_at is before the filing")
        progress = ProjectProgress.report(
            actor,
            create_id_for("project_progress", actor, idempotency_key),
            filing_id=filing_id,
            reported_at=at,
            **fields,
        )
        return self._save_created(progress, idempotency_key)

    def evaluate_project(self, actor: Actor, filing_id: UUID, **fields: Any) -> UUID:
        """评价: 区发改局 evaluates an accepted (验收) project, once."""
        self._require_role(actor, {Role.NDRC}, "evaluate a project")
        filing = self.filing(filing_id)
        if filing.status is not FilingStatus.ACCEPTED:
            raise DomainError(
                ErrorCode.FILING_NOT_ACCEPTED, f"filing is {filing.status.value}, not accepted"
            )
        fields["evaluated_at"] = self.business_time(fields.get("evaluated_at"), "evaluated_at")
        evaluation = ProjectEvaluation.record(actor, filing_id=filing_id, **fields)
        return self._save_once(evaluation, "evaluated_at")

    def revise_filed_amounts(self, actor: Actor, filing_id: UUID, **fields: Any) -> UUID:
        """调整概算 by 区发改局: the amounts in force from ``revised_at`` (not of a rejected
        filing, not before it was filed)."""
        self._require_role(actor, {Role.NDRC}, "revise a filing's amounts")
        filing = self.filing(filing_id)
        if filing.status is FilingStatus.REJECTED:
            raise DomainError(ErrorCode.FILING_NOT_APPROVED, "the filing was rejected")
        at = self.business_time(fields.pop("revised_at", None), "revised_at")
        if at < filing.filed_at:
            raise DomainError(ErrorCode.TIME_BEFORE_CREATION, "revised_at is before the filing")
        revision = FiledAmountsRevision.record(actor, filing_id=filing_id, revised_at=at, **fields)
        return self._save_once(revision, "revised_at")

    # -- 51号 data quality -------------------------------------------------------

    def raise_quality_objection(
        self, actor: Actor, *, idempotency_key: str | None = None, **fields: Any
    ) -> UUID:
        """A using department disputes a resource's data (once per Idempotency-Key)."""
        self._require_role(actor, DEPARTMENT_STAFF | PROVIDER_STAFF, "raise an objection")
        self._check_acts_for(actor, fields["department"])
        self._require_department(fields["department"])
        resource = self.resource(fields["resource_code"])
        fields.setdefault("items", ())
        unknown = set(fields["items"]) - set(resource.item_names)
        if unknown:
            raise DomainError(
                ErrorCode.UNKNOWN_ITEMS, f"not items of the resource: {sorted(unknown)}"
            )
        fields["raised_at"] = self.business_time(fields.get("raised_at"), "raised_at")
        objection = QualityObjection.raise_on(
            actor, create_id_for("quality_objection", actor, idempotency_key), **fields
        )
        return self._save_created(objection, idempotency_key)

    def resolve_quality_objection(
        self,
        actor: Actor,
        objection_id: UUID,
        *,
        resolution: str,
        resolved_at: datetime | None = None,
    ) -> None:
        """The provider department answers the objection (校核)."""
        self._require_role(actor, PROVIDER_STAFF, "resolve an objection")
        objection: QualityObjection = self.record_of(QualityObjection, objection_id)
        self._check_acts_for(actor, self.resource(objection.resource_code).provider_department)
        at = self.business_time(resolved_at, "resolved_at")
        objection.resolve(actor, resolution, at)
        self.save(objection)

    # -- shared ----------------------------------------------------------------

    def _known_optional(self, fields: dict[str, Any]) -> None:
        if fields.get("recipient_department") is not None:
            self._require_department(fields["recipient_department"])
        if fields.get("request_id") is not None:
            self.request(fields["request_id"])

    def _save_once(self, aggregate: Aggregate, business_time: str) -> UUID:
        """Save a record with a natural key once; the same content again is its id."""
        if not self._exists(aggregate.id):
            self.save(aggregate)
            return aggregate.id
        first = next(self.events.get(aggregate.id, lte=1))
        encode = self.mapper.transcoder.encode
        skip = {*_NOT_CONTENT, "actor", business_time}
        if encode(_content(first, skip)) != encode(_content(aggregate.pending_events[0], skip)):
            raise DomainError(
                ErrorCode.RECORD_EXISTS,
                f"{type(aggregate).__name__} {aggregate.id} is recorded with other content",
            )
        return aggregate.id


def _content(created: object, skip: set[str]) -> dict[str, Any]:
    state = vars(created)
    return {name: state[name] for name in sorted(state) if name not in skip}
