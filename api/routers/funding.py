"""Project filings (备案), architecture reviews and fund decisions (经费)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, status

from api.deps import Caller, IdempotencyKey, ServicesDep, require
from api.routers.registry import state_of
from api.schemas import AcceptIn, Created, Done, FilingIn, FundDecisionIn, ReviewIn
from security.policy import Permission

router = APIRouter(tags=["filings and funds"])
Filer = Annotated[Caller, Depends(require(Permission.FILE_PROJECT))]
Reviewer = Annotated[Caller, Depends(require(Permission.REVIEW_PROJECT))]
Finance = Annotated[Caller, Depends(require(Permission.DECIDE_FUNDS))]
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]


@router.post("/filings", status_code=status.HTTP_201_CREATED)
def file_project(body: FilingIn, caller: Filer, s: ServicesDep, key: IdempotencyKey) -> Created:
    """全口径备案 of an informatisation project with 区发改局 (seed §三(五)17);
    once per Idempotency-Key."""
    filing_id = s.ledger.file_project(caller.actor, **body.model_dump(), idempotency_key=key)
    return Created(id=filing_id)


@router.get("/filings/{filing_id}")
def get_filing(filing_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.filing(filing_id))


@router.post("/filings/{filing_id}/review")
def review_project(filing_id: UUID, body: ReviewIn, caller: Reviewer, s: ServicesDep) -> Done:
    """架构治理: ndrc approves or rejects against co-construction and sharing requirements."""
    s.ledger.review_project(
        caller.actor,
        filing_id,
        body.approved,
        body.architecture_review,
        occurred_at=body.occurred_at,
    )
    return Done()


@router.post("/filings/{filing_id}/accept")
def accept_project(
    filing_id: UUID, caller: Reviewer, s: ServicesDep, body: AcceptIn | None = None
) -> Done:
    """验收 of an approved project (once)."""
    s.ledger.accept_project(
        caller.actor, filing_id, accepted_at=None if body is None else body.accepted_at
    )
    return Done()


@router.post("/fund-decisions", status_code=status.HTTP_201_CREATED)
def decide_funds(
    body: FundDecisionIn, caller: Finance, s: ServicesDep, key: IdempotencyKey
) -> Created:
    """区财政局 grants or withholds construction or O&M funds; compliance (F1–F5) is judged
    on the ledger afterwards, never by refusing the decision. Once per Idempotency-Key."""
    decision_id = s.ledger.decide_funds(caller.actor, **body.model_dump(), idempotency_key=key)
    return Created(id=decision_id)


@router.get("/fund-decisions/{decision_id}")
def get_fund_decision(decision_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.fund_decision(decision_id))
