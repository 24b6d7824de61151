"""The facts of issue 14 over HTTP: refreshes, and the records the plan and the laws ask for.

Each body is read by the kind's one decoder (ledger/domain/fact_intake.py),
the same that reads an ``import`` line, so the API and ``govledger import``
accept and refuse the same objects; a refusal is 422 ``{"error", "detail"}``
naming the field. Who may record what is security/policy.py (docs/facts.md §7).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, status
from pydantic import BaseModel

from api.deps import Caller, ServicesDep, require
from api.routers.registry import state_of
from ledger.domain import bounds
from ledger.domain.bounds import BoundsError
from ledger.domain.fact_intake import refresh_report
from security.policy import Permission

router = APIRouter(tags=["obligations"])
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]
Platform = Annotated[Caller, Depends(require(Permission.REPORT_REFRESH))]
JsonObject = Annotated[dict[str, Any], Body()]
# A batch of refreshes: the platform's daily sweep of a catalogue fits in a few.
MAX_REFRESH_BATCH = 10_000


class RefreshOut(BaseModel):
    id: str
    platform_event_id: str
    recorded: bool
    flags: list[str]


class RefreshBatchOut(BaseModel):
    recorded: int
    already_recorded: int
    flagged: list[RefreshOut]


def _refreshes(s: Any, caller: Caller, objects: list[object]) -> tuple[Any, list[RefreshOut]]:
    reports = [refresh_report(obj) for obj in objects]
    result = s.ledger.record_refreshes(caller.actor, reports)
    new = set(result.recorded)
    outs = [
        RefreshOut(
            id=str(refresh_id),
            platform_event_id=report.platform_event_id,
            recorded=refresh_id in new,
            flags=list(result.flags.get(refresh_id, ())),
        )
        for refresh_id, report in zip(result.ids, reports, strict=True)
    ]
    return result, outs


@router.post("/resource-refreshes", status_code=status.HTTP_201_CREATED)
def report_refresh(body: JsonObject, caller: Platform, s: ServicesDep) -> RefreshOut:
    """The exchange platform reports that a catalogue resource was refreshed (S11).

    Recorded whatever it says, flagged ``unknown_resource`` or
    ``refreshed_at_in_future``; a retry of the same ``platform_event_id`` is
    answered ``recorded: false``."""
    _, outs = _refreshes(s, caller, [body])
    return outs[0]


@router.post("/resource-refreshes/batch", status_code=status.HTTP_201_CREATED)
def report_refreshes(body: JsonObject, caller: Platform, s: ServicesDep) -> RefreshBatchOut:
    """Up to 10,000 refreshes ``{"refreshes": [...]}`` in one transaction; the flagged ones
    are listed."""
    objects = body.get("refreshes")
    if set(body) != {"refreshes"} or not isinstance(objects, list):
        raise BoundsError("refreshes", 'expected {"refreshes": [...]} and nothing else')
    if not objects or len(objects) > MAX_REFRESH_BATCH:
        raise BoundsError("refreshes", f"expected 1 … {MAX_REFRESH_BATCH} refreshes")
    result, outs = _refreshes(s, caller, objects)
    return RefreshBatchOut(
        recorded=len(result.recorded),
        already_recorded=len(result.already_recorded),
        flagged=[out for out in outs if out.flags],
    )


@router.get("/resource-refreshes/{platform_event_id}")
def get_refresh(platform_event_id: str, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.refresh(bounds.text(platform_event_id, "platform_event_id")))
