"""Sharing requests and grants (51号 conditional sharing)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, status

from api.deps import Caller, IdempotencyKey, ServicesDep, require
from api.routers.registry import state_of
from api.schemas import ApproveIn, Created, Done, RejectIn, RevokeIn, SharingRequestIn
from security.policy import Permission

router = APIRouter(tags=["sharing"])
Requester = Annotated[Caller, Depends(require(Permission.SUBMIT_REQUEST))]
Provider = Annotated[Caller, Depends(require(Permission.DECIDE_REQUEST))]
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]


@router.post("/sharing-requests", status_code=status.HTTP_201_CREATED)
def submit_request(
    body: SharingRequestIn, caller: Requester, s: ServicesDep, key: IdempotencyKey
) -> Created:
    """A using department applies for a conditional resource; the response deadline is fixed.

    Once per Idempotency-Key: a retry keeps the first submission and its deadline."""
    request_id = s.ledger.submit_request(caller.actor, **body.model_dump(), idempotency_key=key)
    return Created(id=request_id)


@router.get("/sharing-requests/{request_id}")
def get_request(request_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.request(request_id))


@router.post("/sharing-requests/{request_id}/approve")
def approve(request_id: UUID, body: ApproveIn, caller: Provider, s: ServicesDep) -> Done:
    """The provider grants use rights (使用权) for these items until ``expires_at``."""
    s.ledger.approve_request(
        caller.actor, request_id, body.items, body.expires_at, decided_at=body.decided_at
    )
    return Done()


@router.post("/sharing-requests/{request_id}/reject")
def reject(request_id: UUID, body: RejectIn, caller: Provider, s: ServicesDep) -> Done:
    """A refusal should state its reason (51号); an empty one is recorded and flagged (S7)."""
    s.ledger.reject_request(caller.actor, request_id, body.reason, decided_at=body.decided_at)
    return Done()


@router.post("/sharing-requests/{request_id}/revoke")
def revoke(request_id: UUID, body: RevokeIn, caller: Provider, s: ServicesDep) -> Done:
    s.ledger.revoke_grant(caller.actor, request_id, body.reason, revoked_at=body.revoked_at)
    return Done()
