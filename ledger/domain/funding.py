"""Project filings with ndrc and finance's fund decisions (seed §三(五)17).

Money is integer 分 (fen): exact, JSON-native, and one spelling per amount, so
the hash-chained record of an amount never depends on how a Decimal was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.errors import DomainError, ErrorCode, require
from ledger.domain.values import DatedSinceV2, parse_enum, require_not_before, require_text

# Fund years outside this range are typing mistakes, not plans.
FUND_YEARS = range(2000, 2101)


def require_fen(amount_fen: int, field: str) -> int:
    """A non-negative whole number of fen (bool is an int in Python: refuse it too)."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, f"{field} must be whole fen >= 0")
    return amount_fen


class FilingStatus(StrEnum):
    FILED = "filed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACCEPTED = "accepted"


class ProjectFiling(Aggregate):
    """全口径备案 of an IT project with ndrc, its architecture review and acceptance."""

    class Filed(DatedSinceV2, Aggregate.Created):
        actor: Actor
        name: str
        builder: str
        investment_fen: int
        om_cost_fen: int
        funding_channel: str
        resource_codes: tuple[str, ...]
        system_ids: tuple[UUID, ...]
        mlps_filed: bool
        catalogue_preregistered: bool
        occurred_at: datetime

    class ArchitectureApproved(DatedSinceV2, Aggregate.Event):
        actor: Actor
        architecture_review: str
        occurred_at: datetime

    class ArchitectureRejected(DatedSinceV2, Aggregate.Event):
        actor: Actor
        architecture_review: str
        occurred_at: datetime

    class Accepted(Aggregate.Event):
        actor: Actor
        accepted_at: datetime

    @classmethod
    def file(
        cls,
        *,
        actor: Actor,
        name: str,
        builder: str,
        investment_fen: int,
        om_cost_fen: int,
        funding_channel: str,
        resource_codes: Sequence[str],
        system_ids: Sequence[UUID],
        mlps_filed: bool,
        catalogue_preregistered: bool,
        occurred_at: datetime,
        aggregate_id: UUID | None = None,
    ) -> ProjectFiling:
        """A filing without catalogue pre-registration is accepted: F5 finds it."""
        # _create, unlike cls(...), takes an explicit id; it checks nothing else.
        return cls._create(
            cls.Filed,
            id=aggregate_id,  # given for an idempotent create (ids.idempotent_create_id)
            actor=actor,
            name=require_text(name, "name"),
            builder=require_text(builder, "builder"),
            investment_fen=require_fen(investment_fen, "investment_fen"),
            om_cost_fen=require_fen(om_cost_fen, "om_cost_fen"),
            funding_channel=funding_channel,
            resource_codes=tuple(resource_codes),
            system_ids=tuple(system_ids),
            mlps_filed=mlps_filed,
            catalogue_preregistered=catalogue_preregistered,
            occurred_at=occurred_at,
        )

    @event(Filed)
    def __init__(
        self,
        *,
        actor: Actor,
        name: str,
        builder: str,
        investment_fen: int,
        om_cost_fen: int,
        funding_channel: str,
        resource_codes: tuple[str, ...],
        system_ids: tuple[UUID, ...],
        mlps_filed: bool,
        catalogue_preregistered: bool,
        occurred_at: datetime,
    ) -> None:
        self.name = name
        self.filed_at = occurred_at
        self.builder = builder
        self.investment_fen = investment_fen
        self.om_cost_fen = om_cost_fen
        self.funding_channel = funding_channel
        self.resource_codes: tuple[str, ...] = tuple(resource_codes)
        self.system_ids: tuple[UUID, ...] = tuple(system_ids)
        self.mlps_filed = mlps_filed
        self.catalogue_preregistered = catalogue_preregistered
        self.status = FilingStatus.FILED
        self.architecture_review: str | None = None

    def review(self, actor: Actor, approved: bool, architecture_review: str, at: datetime) -> None:
        """ndrc's 架构治理 decision; it must say why (seed §三(五)17: 不予审批 is reasoned)."""
        require(
            self.status is FilingStatus.FILED,
            ErrorCode.FILING_ALREADY_REVIEWED,
            f"filing is already {self.status.value}",
        )
        review = (architecture_review or "").strip()
        require(bool(review), ErrorCode.ARCHITECTURE_REVIEW_REQUIRED, "review text is empty")
        require_not_before(at, self.filed_at, "occurred_at")
        if approved:
            self._approve(actor=actor, architecture_review=review, occurred_at=at)
        else:
            self._reject(actor=actor, architecture_review=review, occurred_at=at)

    @event(ArchitectureApproved)
    def _approve(self, actor: Actor, architecture_review: str, occurred_at: datetime) -> None:
        self.status = FilingStatus.APPROVED
        self.architecture_review = architecture_review

    @event(ArchitectureRejected)
    def _reject(self, actor: Actor, architecture_review: str, occurred_at: datetime) -> None:
        self.status = FilingStatus.REJECTED
        self.architecture_review = architecture_review

    def accept(self, actor: Actor, accepted_at: datetime) -> None:
        """验收: only an approved project can be accepted, once."""
        require(
            self.status is not FilingStatus.ACCEPTED,
            ErrorCode.FILING_ALREADY_ACCEPTED,
            "filing is already accepted",
        )
        require(
            self.status is FilingStatus.APPROVED,
            ErrorCode.FILING_NOT_APPROVED,
            f"filing is {self.status.value}",
        )
        require_not_before(accepted_at, self.filed_at, "accepted_at")
        self._accept(actor=actor, accepted_at=accepted_at)

    @event(Accepted)
    def _accept(self, actor: Actor, accepted_at: datetime) -> None:
        self.status = FilingStatus.ACCEPTED


class FundKind(StrEnum):
    CONSTRUCTION_FUNDS = "construction_funds"  # 建设经费
    OM_FUNDS = "om_funds"  # 运维经费


class FundOutcome(StrEnum):
    GRANTED = "granted"
    WITHHELD = "withheld"


class FundDecision(Aggregate):
    """One decision by finance (区财政局). Never refused for F1–F5: those are findings."""

    class Decided(Aggregate.Created):
        actor: Actor
        kind: FundKind
        year: int
        department: str
        system_id: UUID | None
        project_name: str | None
        filing_id: UUID | None
        amount_fen: int
        outcome: FundOutcome
        rationale: str
        decided_at: datetime

    @classmethod
    def decide(
        cls,
        *,
        actor: Actor,
        kind: FundKind,
        year: int,
        department: str,
        amount_fen: int,
        outcome: FundOutcome,
        rationale: str,
        decided_at: datetime,
        system_id: UUID | None = None,
        project_name: str | None = None,
        filing_id: UUID | None = None,
        aggregate_id: UUID | None = None,
    ) -> FundDecision:
        """Funds go to a system or a project; a project may be named without a filing (F3)."""
        require(
            system_id is not None or bool(project_name) or filing_id is not None,
            ErrorCode.FUND_TARGET_REQUIRED,
            "name a system, a project or a filing",
        )
        require(year in FUND_YEARS, ErrorCode.INVALID_VALUE, f"year {year} out of range")
        # _create, unlike cls(...), takes an explicit id; it checks nothing else.
        return cls._create(
            cls.Decided,
            id=aggregate_id,  # given for an idempotent create (ids.idempotent_create_id)
            actor=actor,
            kind=parse_enum(FundKind, kind, "kind"),
            year=year,
            department=require_text(department, "department"),
            system_id=system_id,
            project_name=project_name,
            filing_id=filing_id,
            amount_fen=require_fen(amount_fen, "amount_fen"),
            outcome=parse_enum(FundOutcome, outcome, "outcome"),
            rationale=rationale,
            decided_at=decided_at,
        )

    @event(Decided)
    def __init__(
        self,
        *,
        actor: Actor,
        kind: FundKind,
        year: int,
        department: str,
        system_id: UUID | None,
        project_name: str | None,
        filing_id: UUID | None,
        amount_fen: int,
        outcome: FundOutcome,
        rationale: str,
        decided_at: datetime,
    ) -> None:
        self.kind = FundKind(kind)
        self.year = year
        self.department = department
        self.system_id = system_id
        self.project_name = project_name
        self.filing_id = filing_id
        self.amount_fen = amount_fen
        self.outcome = FundOutcome(outcome)
        self.rationale = rationale
        self.decided_at = decided_at
