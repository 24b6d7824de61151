"""Commands on project filings (备案) and fund decisions (seed §三(五)17).

Funds are never refused for F1–F5: those are findings, judged on the ledger
afterwards. Each command takes an optional business time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from ledger.commands.accesses import AccessCommands
from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Actor, Role
from ledger.domain.errors import ErrorCode
from ledger.domain.funding import FundDecision, FundKind, FundOutcome, ProjectFiling
from ledger.idempotency import create_id_for


class FundingCommands(AccessCommands):
    """Filings, architecture reviews, acceptance, and finance's decisions."""

    def filing(self, filing_id: UUID) -> ProjectFiling:
        return self._load(ProjectFiling, filing_id, ErrorCode.UNKNOWN_FILING)

    def fund_decision(self, decision_id: UUID) -> FundDecision:
        return self._load(FundDecision, decision_id, ErrorCode.UNKNOWN_FUND_DECISION)

    def file_project(
        self,
        actor: Actor,
        *,
        name: str,
        builder: str,
        investment_fen: int,
        om_cost_fen: int,
        funding_channel: str,
        resource_codes: Sequence[str],
        system_ids: Sequence[UUID],
        mlps_filed: bool,
        catalogue_preregistered: bool,
        idempotency_key: str | None = None,
        occurred_at: datetime | None = None,
    ) -> UUID:
        """Seed §三(五)17: 全口径备案 with ndrc before funds are requested (once per key).

        The building department files, for itself (the API narrows it to its clerk or
        CIO: security/policy.py)."""
        self._require_role(actor, DEPARTMENT_BOUND_ROLES, "file a project")
        self._check_acts_for(actor, builder)
        at = self.business_time(occurred_at, "occurred_at")
        self._require_department(builder)
        for system_id in system_ids:
            self.system(system_id)
        filing = ProjectFiling.file(
            actor=actor,
            name=name,
            builder=builder,
            investment_fen=investment_fen,
            om_cost_fen=om_cost_fen,
            funding_channel=funding_channel,
            resource_codes=resource_codes,
            system_ids=system_ids,
            mlps_filed=mlps_filed,
            catalogue_preregistered=catalogue_preregistered,
            occurred_at=at,
            aggregate_id=create_id_for("filing", actor, idempotency_key),
        )
        return self._save_created(filing, idempotency_key)

    def review_project(
        self,
        actor: Actor,
        filing_id: UUID,
        approved: bool,
        architecture_review: str,
        *,
        occurred_at: datetime | None = None,
    ) -> None:
        self._require_role(actor, {Role.NDRC}, "review a project")
        at = self.business_time(occurred_at, "occurred_at")
        filing = self.filing(filing_id)
        filing.review(actor, approved, architecture_review, at)
        self.save(filing)

    def accept_project(
        self, actor: Actor, filing_id: UUID, *, accepted_at: datetime | None = None
    ) -> None:
        self._require_role(actor, {Role.NDRC}, "accept a project")
        at = self.business_time(accepted_at, "accepted_at")
        filing = self.filing(filing_id)
        filing.accept(actor, accepted_at=at)
        self.save(filing)

    def decide_funds(
        self,
        actor: Actor,
        *,
        kind: FundKind,
        year: int,
        department: str,
        amount_fen: int,
        outcome: FundOutcome,
        rationale: str,
        system_id: UUID | None = None,
        project_name: str | None = None,
        filing_id: UUID | None = None,
        idempotency_key: str | None = None,
        decided_at: datetime | None = None,
    ) -> UUID:
        """区财政局 decides; F1–F5 are judged later against the ledger, never refused here.

        Once per Idempotency-Key (a retry keeps the first decision time).
        """
        self._require_role(actor, {Role.FINANCE}, "decide funds")
        at = self.business_time(decided_at, "decided_at")
        self._require_department(department)
        if system_id is not None:
            self.system(system_id)
        if filing_id is not None:
            self.filing(filing_id)
        decision = FundDecision.decide(
            actor=actor,
            kind=kind,
            year=year,
            department=department,
            amount_fen=amount_fen,
            outcome=outcome,
            rationale=rationale,
            decided_at=at,
            system_id=system_id,
            project_name=project_name,
            filing_id=filing_id,
            aggregate_id=create_id_for("fund_decision", actor, idempotency_key),
        )
        return self._save_created(decision, idempotency_key)
