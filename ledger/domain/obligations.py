"""Records the plan and the laws ask for, beyond sharing and funds (issue 14; docs/facts.md §7).

- 个人信息保护影响评估 (PIA): PIPL §55–56 — a department assesses before it
  provides personal information to another (rule P2).
- Special approval for sharing core data: 数据安全法 §21 (rule D1).
- Annual sharing reports: seed 四(二) — each department's by the end of
  December, the zone's compiled by 区发改局 by the end of January and approved
  by the leading group (rule I3).
- 受托方 (contracted processors): 数据安全法 §40 — a department entrusting
  others to build, run or store government data does so after approval and
  supervises them.
- Project tracking and evaluation after filing: seed §三(五)17 申报、跟踪、验收、评价.

Each is its own aggregate, created by one event that carries its business
time; a record with a natural key (a document reference) has a uuid5 id, so
recording it twice is one record. Whether a fact was due and is missing is a
finding (projections/), never a refusal here.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.errors import DomainError, ErrorCode, require
from ledger.domain.ids import LEDGER_NAMESPACE
from ledger.domain.values import parse_enum, require_not_before

ZONE = "zone"  # the scope of the zone's compiled annual report


def natural_id(kind: str, *parts: object) -> UUID:
    """One aggregate per natural key (a document reference within its issuer)."""
    return uuid5(LEDGER_NAMESPACE, ":".join((kind, *(str(part) for part in parts))))


# ---------------------------------------------------------------- PIPL §55: PIA


class PiaConclusion(StrEnum):
    ACCEPTABLE = "acceptable"  # 风险可控
    ACCEPTABLE_WITH_MEASURES = "acceptable_with_measures"  # 采取措施后可控
    NOT_ACCEPTABLE = "not_acceptable"  # 不应提供


class ImpactAssessment(Aggregate):
    """个人信息保护影响评估 by the providing department (PIPL §55(3): providing to others)."""

    class Recorded(Aggregate.Created):
        actor: Actor
        department: str
        reference: str
        resource_code: str
        recipient_department: str | None
        request_id: UUID | None
        conclusion: str
        summary: str
        assessed_at: datetime

    @staticmethod
    def create_id(department: str, reference: str) -> UUID:
        return natural_id("impact_assessment", department, reference)

    @classmethod
    def record(cls, actor: Actor, **fields: Any) -> ImpactAssessment:
        conclusion = parse_enum(PiaConclusion, fields.pop("conclusion"), "conclusion").value
        return cls._create(
            cls.Recorded,
            id=cls.create_id(fields["department"], fields["reference"]),
            actor=actor,
            conclusion=conclusion,
            **fields,
        )

    @event(Recorded)
    def __init__(
        self,
        *,
        actor: Actor,
        department: str,
        reference: str,
        resource_code: str,
        recipient_department: str | None,
        request_id: UUID | None,
        conclusion: str,
        summary: str,
        assessed_at: datetime,
    ) -> None:
        self.department = department
        self.reference = reference
        self.resource_code = resource_code
        self.recipient_department = recipient_department
        self.request_id = request_id
        self.conclusion = conclusion
        self.summary = summary
        self.assessed_at = assessed_at


# ------------------------------------------------------- 数据安全法 §21: core data


class CoreDataApproval(Aggregate):
    """A special approval to share a resource holding core data (核心数据)."""

    class Granted(Aggregate.Created):
        actor: Actor
        reference: str
        resource_code: str
        recipient_department: str | None
        request_id: UUID | None
        approving_authority: str
        valid_until: datetime | None
        approved_at: datetime

    class Withdrawn(Aggregate.Event):
        actor: Actor
        reason: str
        withdrawn_at: datetime

    @staticmethod
    def create_id(reference: str) -> UUID:
        return natural_id("core_data_approval", reference)

    @classmethod
    def grant(cls, actor: Actor, **fields: Any) -> CoreDataApproval:
        until = fields.get("valid_until")
        if until is not None and until <= fields["approved_at"]:
            raise DomainError(ErrorCode.INVALID_EXPIRY, "valid_until is not after approved_at")
        return cls._create(
            cls.Granted, id=cls.create_id(fields["reference"]), actor=actor, **fields
        )

    @event(Granted)
    def __init__(
        self,
        *,
        actor: Actor,
        reference: str,
        resource_code: str,
        recipient_department: str | None,
        request_id: UUID | None,
        approving_authority: str,
        valid_until: datetime | None,
        approved_at: datetime,
    ) -> None:
        self.reference = reference
        self.resource_code = resource_code
        self.recipient_department = recipient_department
        self.request_id = request_id
        self.approving_authority = approving_authority
        self.valid_until = valid_until
        self.approved_at = approved_at
        self.withdrawn_at: datetime | None = None

    def withdraw(self, actor: Actor, reason: str, at: datetime) -> None:
        require(self.withdrawn_at is None, ErrorCode.RECORD_EXISTS, "approval already withdrawn")
        require_not_before(at, self.approved_at, "withdrawn_at")
        self._withdraw(actor=actor, reason=reason, withdrawn_at=at)

    @event(Withdrawn)
    def _withdraw(self, actor: Actor, reason: str, withdrawn_at: datetime) -> None:
        self.withdrawn_at = withdrawn_at
        self.withdrawal_reason = reason


# ------------------------------------------------------ seed 四(二): annual reports


class AnnualSharingReport(Aggregate):
    """One year's sharing report of a department, or the zone's compiled one (scope ``zone``)."""

    class Submitted(Aggregate.Created):
        actor: Actor
        scope: str
        year: int
        reference: str
        summary: str
        submitted_at: datetime

    class Approved(Aggregate.Event):
        actor: Actor
        approving_body: str
        reference: str
        approved_at: datetime

    @staticmethod
    def create_id(scope: str, year: int) -> UUID:
        return natural_id("annual_sharing_report", scope, year)

    @classmethod
    def submit(cls, actor: Actor, **fields: Any) -> AnnualSharingReport:
        return cls._create(
            cls.Submitted,
            id=cls.create_id(fields["scope"], fields["year"]),
            actor=actor,
            **fields,
        )

    @event(Submitted)
    def __init__(
        self,
        *,
        actor: Actor,
        scope: str,
        year: int,
        reference: str,
        summary: str,
        submitted_at: datetime,
    ) -> None:
        self.scope = scope
        self.year = year
        self.reference = reference
        self.summary = summary
        self.submitted_at = submitted_at
        self.approved_at: datetime | None = None

    def approve(self, actor: Actor, approving_body: str, reference: str, at: datetime) -> None:
        """The leading group approves the zone's report (only that one, once)."""
        require(self.scope == ZONE, ErrorCode.INVALID_VALUE, "only the zone's report is approved")
        require(self.approved_at is None, ErrorCode.RECORD_EXISTS, "report already approved")
        require_not_before(at, self.submitted_at, "approved_at")
        self._approve(
            actor=actor, approving_body=approving_body, reference=reference, approved_at=at
        )

    @event(Approved)
    def _approve(
        self, actor: Actor, approving_body: str, reference: str, approved_at: datetime
    ) -> None:
        self.approved_at = approved_at
        self.approving_body = approving_body
        self.approval_reference = reference


# ---------------------------------------------------- 数据安全法 §40: processors


class ProcessorTask(StrEnum):
    BUILD = "build"  # 建设
    OPERATE = "operate"  # 运维
    STORE = "store"  # 存储
    PROCESS = "process"  # 加工


class ContractedProcessor(Aggregate):
    """受托方: a contractor a department entrusts with systems or resources (数据安全法 §40)."""

    class Entrusted(Aggregate.Created):
        actor: Actor
        department: str
        contract_reference: str
        processor_name: str
        processor_credit_code: str
        tasks: tuple[str, ...]
        system_ids: tuple[UUID, ...]
        resource_codes: tuple[str, ...]
        approval_reference: str | None
        period_start: date
        period_end: date
        occurred_at: datetime

    class Ended(Aggregate.Event):
        actor: Actor
        reason: str
        occurred_at: datetime

    @staticmethod
    def create_id(department: str, contract_reference: str) -> UUID:
        return natural_id("contracted_processor", department, contract_reference)

    @classmethod
    def entrust(cls, actor: Actor, **fields: Any) -> ContractedProcessor:
        tasks = tuple(parse_enum(ProcessorTask, t, "tasks").value for t in fields.pop("tasks"))
        require(
            bool(fields["system_ids"]) or bool(fields["resource_codes"]),
            ErrorCode.INVALID_VALUE,
            "name the systems or resources entrusted",
        )
        require(
            fields["period_start"] <= fields["period_end"],
            ErrorCode.INVALID_PERIOD,
            "period_end is before period_start",
        )
        return cls._create(
            cls.Entrusted,
            id=cls.create_id(fields["department"], fields["contract_reference"]),
            actor=actor,
            tasks=tasks,
            **fields,
        )

    @event(Entrusted)
    def __init__(
        self,
        *,
        actor: Actor,
        department: str,
        contract_reference: str,
        processor_name: str,
        processor_credit_code: str,
        tasks: tuple[str, ...],
        system_ids: tuple[UUID, ...],
        resource_codes: tuple[str, ...],
        approval_reference: str | None,
        period_start: date,
        period_end: date,
        occurred_at: datetime,
    ) -> None:
        self.department = department
        self.contract_reference = contract_reference
        self.processor_name = processor_name
        self.processor_credit_code = processor_credit_code
        self.tasks = tuple(tasks)
        self.system_ids = tuple(UUID(str(i)) for i in system_ids)
        self.resource_codes = tuple(resource_codes)
        self.approval_reference = approval_reference
        self.period_start = period_start
        self.period_end = period_end
        self.occurred_at = occurred_at
        self.entrusted_at = occurred_at
        self.ended_at: datetime | None = None

    def end(self, actor: Actor, reason: str, at: datetime) -> None:
        require(self.ended_at is None, ErrorCode.RECORD_EXISTS, "entrustment already ended")
        require_not_before(at, self.entrusted_at, "occurred_at")
        self._end(actor=actor, reason=reason, occurred_at=at)

    @event(Ended)
    def _end(self, actor: Actor, reason: str, occurred_at: datetime) -> None:
        self.ended_at = occurred_at
        self.end_reason = reason


# -------------------------------------------- seed §三(五)17: tracking and evaluation


class ProjectStage(StrEnum):
    PREPARATION = "preparation"  # 前期
    CONSTRUCTION = "construction"  # 建设中
    TRIAL_OPERATION = "trial_operation"  # 试运行
    COMPLETED = "completed"  # 建成
    SUSPENDED = "suspended"  # 停建


class EvaluationRating(StrEnum):
    EXCELLENT = "excellent"  # 优秀
    GOOD = "good"  # 良好
    QUALIFIED = "qualified"  # 合格
    UNQUALIFIED = "unqualified"  # 不合格


class ProjectProgress(Aggregate):
    """跟踪: the builder's progress report on a filed project (one per report)."""

    class Reported(Aggregate.Created):
        actor: Actor
        filing_id: UUID
        stage: str
        progress_percent: int
        spent_fen: int
        summary: str
        reported_at: datetime

    @classmethod
    def report(cls, actor: Actor, aggregate_id: UUID | None, **fields: Any) -> ProjectProgress:
        require(
            0 <= fields["progress_percent"] <= 100,
            ErrorCode.INVALID_VALUE,
            "progress_percent is not within 0..100",
        )
        stage = parse_enum(ProjectStage, fields.pop("stage"), "stage").value
        return cls._create(cls.Reported, id=aggregate_id, actor=actor, stage=stage, **fields)

    @event(Reported)
    def __init__(
        self,
        *,
        actor: Actor,
        filing_id: UUID,
        stage: str,
        progress_percent: int,
        spent_fen: int,
        summary: str,
        reported_at: datetime,
    ) -> None:
        self.filing_id = filing_id
        self.stage = stage
        self.progress_percent = progress_percent
        self.spent_fen = spent_fen
        self.summary = summary
        self.reported_at = reported_at


class ProjectEvaluation(Aggregate):
    """评价: 区发改局's evaluation of an accepted project (once per filing)."""

    class Recorded(Aggregate.Created):
        actor: Actor
        filing_id: UUID
        rating: str
        summary: str
        evaluated_at: datetime

    @staticmethod
    def create_id(filing_id: UUID) -> UUID:
        return natural_id("project_evaluation", filing_id)

    @classmethod
    def record(cls, actor: Actor, **fields: Any) -> ProjectEvaluation:
        rating = parse_enum(EvaluationRating, fields.pop("rating"), "rating").value
        return cls._create(
            cls.Recorded,
            id=cls.create_id(fields["filing_id"]),
            actor=actor,
            rating=rating,
            **fields,
        )

    @event(Recorded)
    def __init__(
        self,
        *,
        actor: Actor,
        filing_id: UUID,
        rating: str,
        summary: str,
        evaluated_at: datetime,
    ) -> None:
        self.filing_id = filing_id
        self.rating = rating
        self.summary = summary
        self.evaluated_at = evaluated_at


class FiledAmountsRevision(Aggregate):
    """调整概算: 区发改局 revises a filing's amounts; "granted above filed" reads the latest."""

    class Recorded(Aggregate.Created):
        actor: Actor
        filing_id: UUID
        reference: str
        investment_fen: int
        om_cost_fen: int
        reason: str
        revised_at: datetime

    @staticmethod
    def create_id(filing_id: UUID, reference: str) -> UUID:
        return natural_id("filed_amounts_revision", filing_id, reference)

    @classmethod
    def record(cls, actor: Actor, **fields: Any) -> FiledAmountsRevision:
        return cls._create(
            cls.Recorded,
            id=cls.create_id(fields["filing_id"], fields["reference"]),
            actor=actor,
            **fields,
        )

    @event(Recorded)
    def __init__(
        self,
        *,
        actor: Actor,
        filing_id: UUID,
        reference: str,
        investment_fen: int,
        om_cost_fen: int,
        reason: str,
        revised_at: datetime,
    ) -> None:
        self.filing_id = filing_id
        self.reference = reference
        self.investment_fen = investment_fen
        self.om_cost_fen = om_cost_fen
        self.reason = reason
        self.revised_at = revised_at


# ------------------------------------------------ 51号: data-quality objections


class QualityObjection(Aggregate):
    """数据质量异议: a using department disputes a resource's data; the provider resolves it."""

    class Raised(Aggregate.Created):
        actor: Actor
        department: str
        resource_code: str
        items: tuple[str, ...]
        description: str
        raised_at: datetime

    class Resolved(Aggregate.Event):
        actor: Actor
        resolution: str
        resolved_at: datetime

    @classmethod
    def raise_on(cls, actor: Actor, aggregate_id: UUID | None, **fields: Any) -> QualityObjection:
        return cls._create(cls.Raised, id=aggregate_id, actor=actor, **fields)

    @event(Raised)
    def __init__(
        self,
        *,
        actor: Actor,
        department: str,
        resource_code: str,
        items: tuple[str, ...],
        description: str,
        raised_at: datetime,
    ) -> None:
        self.department = department
        self.resource_code = resource_code
        self.items = tuple(items)
        self.description = description
        self.raised_at = raised_at
        self.resolved_at: datetime | None = None

    def resolve(self, actor: Actor, resolution: str, at: datetime) -> None:
        require(self.resolved_at is None, ErrorCode.RECORD_EXISTS, "objection already resolved")
        require_not_before(at, self.raised_at, "resolved_at")
        self._resolve(actor=actor, resolution=resolution, resolved_at=at)

    @event(Resolved)
    def _resolve(self, actor: Actor, resolution: str, resolved_at: datetime) -> None:
        self.resolved_at = resolved_at
        self.resolution = resolution
