"""Data accesses reported by the exchange platform: facts, recorded and flagged, never refused."""

from __future__ import annotations

import email.message
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.access_wire import decode_reports
from api.deps import Caller, Services, ServicesDep, require
from api.routers.registry import state_of
from api.schemas import AccessBatchIn, AccessBatchOut, AccessIn, AccessOut
from ledger.domain.access import AccessReport, AccessVerdict
from ledger.gc_pause import collector_paused
from security.policy import Permission

router = APIRouter(tags=["accesses"])
logger = logging.getLogger("govledger.api")
Platform = Annotated[Caller, Depends(require(Permission.INGEST_ACCESS))]
PersonalReader = Annotated[Caller, Depends(require(Permission.READ_PERSONAL_DATA_VIEWS))]


@dataclass(frozen=True)
class _Recorded:
    outcomes: list[AccessOut]
    recorded: int
    already_recorded: int
    dated_in_future: int


def _record(
    s: Services, caller: Caller, reports: list[AccessReport], *, everyone: bool
) -> _Recorded:
    """Record the accesses; the outcome of each (``everyone``) or of the flagged only:
    unauthorized, or dated in the future (recorded all the same, docs/facts.md §6)."""
    evaluate = s.sharing_terms.evaluator()
    verdicts: list[AccessVerdict] = []

    def judged() -> Iterator[tuple[AccessReport, AccessVerdict]]:
        # Judged as the ledger takes them, a chunk at a time: on PostgreSQL, while the
        # database inserts the chunk before (ledger/commands/accesses.py).
        keep = verdicts.append
        for report in reports:
            verdict = evaluate(report)
            keep(verdict)
            yield report, verdict

    result = s.ledger.record_accesses(caller.actor, judged())
    entries = zip(reports, verdicts, strict=True)
    # Sets only when needed: a UUID hashes in Python, and a usual batch is all new, none ahead.
    new = set(result.recorded) if result.already_recorded else None
    future = set(result.in_future)
    outcomes = [
        AccessOut.of(
            access_id,
            report,
            verdict,
            new is None or access_id in new,
            bool(future) and access_id in future,
        )
        for access_id, (report, verdict) in zip(result.ids, entries, strict=True)
        if everyone or verdict.reasons or (future and access_id in future)
    ]
    if future:
        logger.warning(
            "recorded %d access(es) dated in the future (beyond the clock skew)", len(future)
        )
    return _Recorded(
        outcomes, len(result.recorded), len(result.already_recorded), len(result.in_future)
    )


@router.post(
    "/accesses",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": AccessOut, "description": "already recorded (a retry)"}},
)
def report_access(body: AccessIn, caller: Platform, s: ServicesDep) -> Any:
    """Record one access with its verdict: unauthorized accesses are recorded *and flagged*."""
    (outcome,) = _record(s, caller, [body.report()], everyone=True).outcomes
    code = status.HTTP_201_CREATED if outcome.newly_recorded else status.HTTP_200_OK
    return JSONResponse(outcome.model_dump(mode="json"), status_code=code)


def _batch_body_schema() -> dict[str, Any]:
    """OpenAPI for the batch body: ``AccessBatchIn``, referring to the ``AccessIn`` component."""
    schema = AccessBatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


@router.post("/accesses/batch", openapi_extra=_batch_body_schema())
async def report_accesses(request: Request, caller: Platform, s: ServicesDep) -> AccessBatchOut:
    """Up to ``GOVLEDGER_MAX_BATCH_SIZE`` accesses (body: ``AccessBatchIn``) in ONE
    transaction, idempotent by ``platform_event_id``: a retried batch records nothing twice."""
    body = await request.body()
    json_body = _is_json(request.headers.get("content-type"))
    return await run_in_threadpool(_record_batch, s, caller, body, json_body)


def _record_batch(s: Services, caller: Caller, body: bytes, json_body: bool) -> AccessBatchOut:
    with collector_paused():  # the batch's objects are freed with it (ledger/gc_pause.py)
        return _recorded_batch(s, caller, body, json_body)


def _recorded_batch(s: Services, caller: Caller, body: bytes, json_body: bool) -> AccessBatchOut:
    reports = decode_reports(body) if json_body else None
    if reports is None:
        reports = [access.report() for access in _validated_batch(body, json_body).accesses]
    if len(reports) > s.settings.max_batch_size:
        raise BatchTooLargeError(len(reports), s.settings.max_batch_size)
    done = _record(s, caller, reports, everyone=False)
    return AccessBatchOut(
        recorded=done.recorded,
        already_recorded=done.already_recorded,
        unauthorized=sum(not outcome.authorized for outcome in done.outcomes),
        flagged=done.outcomes,
        dated_in_future=done.dated_in_future,
    )


def _validated_batch(body: bytes, json_body: bool) -> AccessBatchIn:
    """What FastAPI does with a declared body: ``json.loads``, then the pydantic model."""
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    payload: Any = body
    if json_body:
        try:
            payload = json.loads(body)
        except json.JSONDecodeError as e:
            raise _json_invalid(e.pos, e.msg) from e
        except (ValueError, RecursionError) as e:
            # Not UTF-8 (UnicodeDecodeError), a number of more digits than Python converts
            # (ValueError: sys.get_int_max_str_digits), nested past the stack.
            raise _json_invalid(0, type(e).__name__) from e
    try:
        return AccessBatchIn.model_validate(payload)
    except ValidationError as e:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in e.errors()]
        ) from e


def _json_invalid(position: int, reason: str) -> RequestValidationError:
    error = {"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error"}
    return RequestValidationError([{**error, "input": {}, "ctx": {"error": reason}}])


def _is_json(content_type: str | None) -> bool:
    """FastAPI's (strict) rule: application/json or application/*+json, and said so."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
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
