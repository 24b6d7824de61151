"""The facts of issue 14 over HTTP: refreshes, and the records the plan and the laws ask for.

Each body is read by the kind's one decoder (ledger/domain/fact_intake.py),
the same that reads an ``import`` line, so the API and ``govledger import``
accept and refuse the same objects; a refusal is 422 ``{"error", "detail"}``
naming the field. Who may record what is security/policy.py (docs/facts.md §7).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, status
from pydantic import BaseModel

from api.deps import Caller, IdempotencyKey, ServicesDep, require
from api.routers.registry import state_of
from api.schemas import Created, Done
from ledger.domain import bounds
from ledger.domain.bounds import BoundsError
from ledger.domain.fact_intake import record_fields, refresh_report
from ledger.domain.obligations import (
    AnnualSharingReport,
    ContractedProcessor,
    CoreDataApproval,
    FiledAmountsRevision,
    ImpactAssessment,
    ProjectEvaluation,
    ProjectProgress,
    QualityObjection,
)
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


# ------------------------------------------------ records of people (docs/facts.md §7)

Assessor = Annotated[Caller, Depends(require(Permission.RECORD_PIA))]
CoreApprover = Annotated[Caller, Depends(require(Permission.APPROVE_CORE_DATA))]
Reporter = Annotated[Caller, Depends(require(Permission.SUBMIT_ANNUAL_REPORT))]
Compiler = Annotated[Caller, Depends(require(Permission.COMPILE_ZONE_REPORT))]
Entruster = Annotated[Caller, Depends(require(Permission.RECORD_PROCESSOR))]
Builder = Annotated[Caller, Depends(require(Permission.REPORT_PROJECT_PROGRESS))]
Evaluator = Annotated[Caller, Depends(require(Permission.EVALUATE_PROJECT))]
Reviser = Annotated[Caller, Depends(require(Permission.REVISE_FILED_AMOUNTS))]
Objector = Annotated[Caller, Depends(require(Permission.RAISE_QUALITY_OBJECTION))]
Checker = Annotated[Caller, Depends(require(Permission.RESOLVE_QUALITY_OBJECTION))]


@router.post("/impact-assessments", status_code=status.HTTP_201_CREATED)
def record_impact_assessment(body: JsonObject, caller: Assessor, s: ServicesDep) -> Created:
    """个人信息保护影响评估 (PIPL §55) by the providing department, for a resource (and a
    recipient or request, if it was made for one); P2 looks for it."""
    fields = record_fields("impact_assessment", body)
    return Created(id=s.ledger.record_impact_assessment(caller.actor, **fields))


@router.get("/impact-assessments/{record_id}")
def get_impact_assessment(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(ImpactAssessment, record_id))


@router.post("/core-data-approvals", status_code=status.HTTP_201_CREATED)
def approve_core_data(body: JsonObject, caller: CoreApprover, s: ServicesDep) -> Created:
    """The special approval to share core data (数据安全法 §21), recorded by 网信办; D1 looks
    for it."""
    fields = record_fields("core_data_approval", body)
    return Created(id=s.ledger.approve_core_data_sharing(caller.actor, **fields))


@router.post("/core-data-approvals/{record_id}/withdraw")
def withdraw_core_data(
    record_id: UUID, body: JsonObject, caller: CoreApprover, s: ServicesDep
) -> Done:
    fields = record_fields("core_data_withdrawal", body)
    s.ledger.withdraw_core_data_approval(caller.actor, record_id, **fields)
    return Done()


@router.get("/core-data-approvals/{record_id}")
def get_core_data_approval(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(CoreDataApproval, record_id))


@router.post("/annual-reports", status_code=status.HTTP_201_CREATED)
def submit_department_report(body: JsonObject, caller: Reporter, s: ServicesDep) -> Created:
    """A department's annual sharing report (seed 四(二): by 31 December)."""
    fields = record_fields("department_annual_report", body)
    return Created(id=s.ledger.submit_department_report(caller.actor, **fields))


@router.post("/annual-reports/zone", status_code=status.HTTP_201_CREATED)
def submit_zone_report(body: JsonObject, caller: Compiler, s: ServicesDep) -> Created:
    """区发改局's compiled report of the zone (seed 四(二): by 31 January)."""
    fields = record_fields("zone_annual_report", body)
    return Created(id=s.ledger.submit_zone_report(caller.actor, **fields))


@router.post("/annual-reports/zone/{year}/approve")
def approve_zone_report(
    year: Annotated[int, Path(ge=2000, le=2100, description="the year reported on")],
    body: JsonObject,
    caller: Compiler,
    s: ServicesDep,
) -> Done:
    """The leading group's approval of the zone's report, recorded by its office (ndrc)."""
    fields = record_fields("zone_report_approval", body)
    s.ledger.approve_zone_report(caller.actor, year, **fields)
    return Done()


@router.get("/annual-reports/{record_id}")
def get_annual_report(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(AnnualSharingReport, record_id))


@router.post("/processors", status_code=status.HTTP_201_CREATED)
def entrust_processor(body: JsonObject, caller: Entruster, s: ServicesDep) -> Created:
    """A 受托方 the department entrusts with systems or resources (数据安全法 §40)."""
    fields = record_fields("contracted_processor", body)
    return Created(id=s.ledger.entrust_processor(caller.actor, **fields))


@router.post("/processors/{record_id}/end")
def end_processor(record_id: UUID, body: JsonObject, caller: Entruster, s: ServicesDep) -> Done:
    fields = record_fields("processor_end", body)
    s.ledger.end_processor(caller.actor, record_id, **fields)
    return Done()


@router.get("/processors/{record_id}")
def get_processor(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(ContractedProcessor, record_id))


@router.post("/filings/{filing_id}/progress", status_code=status.HTTP_201_CREATED)
def report_progress(
    filing_id: UUID, body: JsonObject, caller: Builder, s: ServicesDep, key: IdempotencyKey
) -> Created:
    """跟踪: the builder's progress report (seed §三(五)17); once per Idempotency-Key."""
    fields = record_fields("project_progress", body)
    progress_id = s.ledger.report_project_progress(
        caller.actor, filing_id, idempotency_key=key, **fields
    )
    return Created(id=progress_id)


@router.get("/project-progress/{record_id}")
def get_progress(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(ProjectProgress, record_id))


@router.post("/filings/{filing_id}/evaluation", status_code=status.HTTP_201_CREATED)
def evaluate_project(
    filing_id: UUID, body: JsonObject, caller: Evaluator, s: ServicesDep
) -> Created:
    """评价 of an accepted project by 区发改局 (seed §三(五)17), once."""
    fields = record_fields("project_evaluation", body)
    return Created(id=s.ledger.evaluate_project(caller.actor, filing_id, **fields))


@router.get("/filings/{filing_id}/evaluation")
def get_evaluation(filing_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    record_id = ProjectEvaluation.create_id(filing_id)
    return state_of(s.ledger.record_of(ProjectEvaluation, record_id))


@router.post("/filings/{filing_id}/amounts", status_code=status.HTTP_201_CREATED)
def revise_filed_amounts(
    filing_id: UUID, body: JsonObject, caller: Reviser, s: ServicesDep
) -> Created:
    """调整概算: 区发改局 revises the filed investment and O&M cost (fen); "granted above
    filed" is judged against the amounts in force at each fund decision."""
    fields = record_fields("filed_amounts_revision", body)
    return Created(id=s.ledger.revise_filed_amounts(caller.actor, filing_id, **fields))


@router.get("/filed-amounts-revisions/{record_id}")
def get_filed_amounts_revision(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(FiledAmountsRevision, record_id))


@router.post("/quality-objections", status_code=status.HTTP_201_CREATED)
def raise_quality_objection(
    body: JsonObject, caller: Objector, s: ServicesDep, key: IdempotencyKey
) -> Created:
    """数据质量异议 on a catalogue resource (51号); once per Idempotency-Key."""
    fields = record_fields("quality_objection", body)
    objection_id = s.ledger.raise_quality_objection(caller.actor, idempotency_key=key, **fields)
    return Created(id=objection_id)


@router.post("/quality-objections/{record_id}/resolve")
def resolve_quality_objection(
    record_id: UUID, body: JsonObject, caller: Checker, s: ServicesDep
) -> Done:
    """The providing department's answer (校核) to an objection."""
    fields = record_fields("quality_objection_resolution", body)
    s.ledger.resolve_quality_objection(caller.actor, record_id, **fields)
    return Done()


@router.get("/quality-objections/{record_id}")
def get_quality_objection(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(QualityObjection, record_id))
