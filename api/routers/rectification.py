"""Rectification over HTTP: 整改通知, 整改报告, 整改检查; and audit suggestions: 审计建议,
采纳情况反馈, 核实 (docs/facts.md §8).

Bodies are read by the kinds' one decoder (ledger/domain/fact_intake.py), the
same that reads a ``govledger import`` line; a malformed body is 422, a step
out of order 409 (``rectification_not_reported``, ``…_report_pending``,
``…_closed``; ``suggestion_not_responded``, ``…_response_pending``, ``…_closed``),
another department's report or response 403: each ``{"error", "detail"}``
with the ledger unchanged. Who may act: security/policy.py.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, status

from api.deps import Caller, ServicesDep, require
from api.routers.registry import state_of
from api.schemas import Created, Done
from ledger.domain.fact_intake import record_fields
from security.policy import Permission

router = APIRouter(tags=["rectification"])
Auditor = Annotated[Caller, Depends(require(Permission.ISSUE_RECTIFICATION))]
Department = Annotated[Caller, Depends(require(Permission.REPORT_RECTIFICATION))]
Verifier = Annotated[Caller, Depends(require(Permission.VERIFY_RECTIFICATION))]
Suggester = Annotated[Caller, Depends(require(Permission.ISSUE_AUDIT_SUGGESTION))]
Responder = Annotated[Caller, Depends(require(Permission.RESPOND_AUDIT_SUGGESTION))]
Confirmer = Annotated[Caller, Depends(require(Permission.CONFIRM_AUDIT_SUGGESTION))]
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]
JsonObject = Annotated[dict[str, Any], Body()]


@router.post("/rectifications", status_code=status.HTTP_201_CREATED)
def notify(body: JsonObject, caller: Auditor, s: ServicesDep) -> Created:
    """整改通知 of a finding to the responsible department, with a deadline (审计法 §45);
    one per finding: the same notice again answers its id."""
    fields = record_fields("rectification_notice", body)
    return Created(id=s.ledger.notify_rectification(caller.actor, **fields))


@router.post("/rectifications/{rectification_id}/report")
def report(rectification_id: UUID, body: JsonObject, caller: Department, s: ServicesDep) -> Done:
    """整改报告 by the notified department (again after a verification not accepted)."""
    fields = record_fields("rectification_report", body)
    s.ledger.report_rectification(caller.actor, rectification_id, **fields)
    return Done()


@router.post("/rectifications/{rectification_id}/verification")
def verify(rectification_id: UUID, body: JsonObject, caller: Verifier, s: ServicesDep) -> Done:
    """The auditor's verification of the last report: accepted, or not with a reason."""
    fields = record_fields("rectification_verification", body)
    s.ledger.verify_rectification(caller.actor, rectification_id, **fields)
    return Done()


@router.get("/rectifications/{rectification_id}")
def get_rectification(rectification_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.rectification(rectification_id))


@router.post("/audit-suggestions", status_code=status.HTTP_201_CREATED)
def suggest(body: JsonObject, caller: Suggester, s: ServicesDep) -> Created:
    """审计建议 to a department, one per audit report 文号 and item number: the same
    suggestion again answers its id (国家审计准则 §122)."""
    fields = record_fields("audit_suggestion", body)
    return Created(id=s.ledger.issue_audit_suggestion(caller.actor, **fields))


@router.post("/audit-suggestions/{suggestion_id}/response")
def respond(suggestion_id: UUID, body: JsonObject, caller: Responder, s: ServicesDep) -> Done:
    """采纳情况: adopted, partially or not adopted, with the department's explanation."""
    fields = record_fields("audit_suggestion_response", body)
    s.ledger.respond_audit_suggestion(caller.actor, suggestion_id, **fields)
    return Done()


@router.post("/audit-suggestions/{suggestion_id}/confirmation")
def confirm(suggestion_id: UUID, body: JsonObject, caller: Confirmer, s: ServicesDep) -> Done:
    """The auditor's check of the last response: confirmed, or not with a reason."""
    fields = record_fields("audit_suggestion_confirmation", body)
    s.ledger.confirm_audit_suggestion(caller.actor, suggestion_id, **fields)
    return Done()


@router.get("/audit-suggestions/{suggestion_id}")
def get_suggestion(suggestion_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.audit_suggestion(suggestion_id))
