"""Data accesses reported by the exchange platform: facts, recorded and flagged, never refused."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from fastapi.responses import JSONResponse

from api.deps import Caller, Services, ServicesDep, require
from api.routers.registry import state_of
from api.schemas import AccessBatchIn, AccessBatchOut, AccessIn, AccessOut
from ledger.domain.access import AccessReport, AccessVerdict
from security.access import evaluate_access
from security.policy import Permission

router = APIRouter(tags=["accesses"])
Platform = Annotated[Caller, Depends(require(Permission.INGEST_ACCESS))]
PersonalReader = Annotated[Caller, Depends(require(Permission.READ_PERSONAL_DATA_VIEWS))]


def _record(
    s: Services, caller: Caller, bodies: list[AccessIn], *, everyone: bool
) -> tuple[list[AccessOut], int, int]:
    """Record the accesses; the outcome of each (``everyone``) or of the flagged only."""
    model = s.sharing_terms.current()
    entries: list[tuple[AccessReport, AccessVerdict]] = []
    for body in bodies:
        report = body.report()
        entries.append((report, evaluate_access(report, model)))
    result = s.ledger.record_accesses(caller.actor, entries)
    new = set(result.recorded)
    outcomes = [
        AccessOut.of(access_id, report, verdict, access_id in new)
        for access_id, (report, verdict) in zip(result.ids, entries, strict=True)
        if everyone or not verdict.authorized
    ]
    return outcomes, len(result.recorded), len(result.already_recorded)


@router.post(
    "/accesses",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": AccessOut, "description": "already recorded (a retry)"}},
)
def report_access(body: AccessIn, caller: Platform, s: ServicesDep) -> Any:
    """Record one access with its verdict: unauthorized accesses are recorded *and flagged*."""
    (outcome,), _, _ = _record(s, caller, [body], everyone=True)
    code = status.HTTP_201_CREATED if outcome.newly_recorded else status.HTTP_200_OK
    return JSONResponse(outcome.model_dump(mode="json"), status_code=code)


@router.post("/accesses/batch")
def report_accesses(body: AccessBatchIn, caller: Platform, s: ServicesDep) -> AccessBatchOut:
    """Up to ``GOVLEDGER_MAX_BATCH_SIZE`` accesses in ONE transaction, idempotent by
    ``platform_event_id``: a retried batch records nothing twice."""
    if len(body.accesses) > s.settings.max_batch_size:
        raise BatchTooLargeError(len(body.accesses), s.settings.max_batch_size)
    flagged, recorded, already = _record(s, caller, body.accesses, everyone=False)
    return AccessBatchOut(
        recorded=recorded, already_recorded=already, unauthorized=len(flagged), flagged=flagged
    )


@router.get("/accesses/{platform_event_id}")
def get_access(platform_event_id: str, caller: PersonalReader, s: ServicesDep) -> dict[str, Any]:
    """An access record names who read what: reading it is itself recorded (the watchers
    are watched)."""
    access = s.ledger.access(platform_event_id)
    s.ledger.record_personal_data_view(caller.actor, "access", platform_event_id)
    return state_of(access)


class BatchTooLargeError(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} accesses in one batch; the limit is {limit}")
