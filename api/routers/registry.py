"""Departments, information systems and the resource catalogue (seed §三(一), §三(二))."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from fastapi import APIRouter, Depends, status
from fastapi.encoders import jsonable_encoder

from api.deps import Caller, IdempotencyKey, ServicesDep, require
from api.schemas import (
    CioIn,
    ConnectionIn,
    ConnectionRequirementIn,
    ControllerIn,
    Created,
    DepartmentIn,
    Done,
    MergeIn,
    MlpsIn,
    OwnerIn,
    ReasonIn,
    ReclassifyIn,
    ResourceIn,
    RiskAssessmentIn,
    SystemIn,
    WhenIn,
    ZombieIn,
)
from security.policy import Permission

router = APIRouter()
Admin = Annotated[Caller, Depends(require(Permission.MANAGE_DEPARTMENTS))]
SystemClerk = Annotated[Caller, Depends(require(Permission.REGISTER_SYSTEM))]
# Separation of duties (issue 14): F1/F2's inputs are ndrc's and the platform's.
RequirementSetter = Annotated[Caller, Depends(require(Permission.SET_CONNECTION_REQUIREMENT))]
ConnectionRecorder = Annotated[Caller, Depends(require(Permission.RECORD_CONNECTION))]
ZombieMarker = Annotated[Caller, Depends(require(Permission.MARK_ZOMBIE))]
CatalogueClerk = Annotated[Caller, Depends(require(Permission.REGISTER_CATALOGUE))]
RiskOfficer = Annotated[Caller, Depends(require(Permission.RECORD_RISK_ASSESSMENT))]
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]


def _when(body: WhenIn | None) -> datetime | None:
    return None if body is None else body.occurred_at


def state_of(aggregate: Any) -> dict[str, Any]:
    """An aggregate's public state, as JSON."""
    fields = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    fields.update(id=aggregate.id, version=aggregate.version)
    encoded: dict[str, Any] = jsonable_encoder(fields, custom_encoder=_STRUCTS)
    return encoded


def _struct_json(value: msgspec.Struct) -> Any:
    return jsonable_encoder(msgspec.structs.asdict(value), custom_encoder=_STRUCTS)


# Value objects that are msgspec structs (an access's report), as a dataclass would be.
_STRUCTS: dict[Any, Callable[[Any], Any]] = {msgspec.Struct: _struct_json}


# ------------------------------------------------------------------ departments


@router.post("/departments", status_code=status.HTTP_201_CREATED, tags=["departments"])
def register_department(body: DepartmentIn, caller: Admin, s: ServicesDep) -> Created:
    """Register a department (部门) of the zone."""
    department_id = s.ledger.register_department(
        caller.actor, body.code, body.name, occurred_at=body.occurred_at
    )
    return Created(id=department_id)


@router.post("/departments/{code}/cio", tags=["departments"])
def name_cio(code: str, body: CioIn, caller: Admin, s: ServicesDep) -> Done:
    """Name the department's 信息主管 (CIO)."""
    s.ledger.name_cio(
        caller.actor, code, body.cio_name, body.cio_actor_id, occurred_at=body.occurred_at
    )
    return Done()


@router.get("/departments/{code}", tags=["departments"])
def get_department(code: str, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.department(code))


# ---------------------------------------------------------------------- systems


@router.post("/systems", status_code=status.HTTP_201_CREATED, tags=["systems"])
def register_system(
    body: SystemIn, caller: SystemClerk, s: ServicesDep, key: IdempotencyKey
) -> Created:
    """Inventory a 政务信息系统 (seed §三(一)1 self-inspection items); once per Idempotency-Key."""
    system_id = s.ledger.register_system(
        caller.actor,
        body.department,
        body.inventory(),
        required_to_connect=body.required_to_connect,
        holds_personal_data=body.holds_personal_data,
        holds_important_data=body.holds_important_data,
        idempotency_key=key,
        occurred_at=body.occurred_at,
    )
    return Created(id=system_id)


@router.get("/systems/{system_id}", tags=["systems"])
def get_system(system_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.system(system_id))


@router.post("/systems/{system_id}/connect", tags=["systems"])
def connect_system(
    system_id: UUID, caller: ConnectionRecorder, s: ServicesDep, body: ConnectionIn | None = None
) -> Done:
    """The system is now connected to the exchange platform (接入共享交换平台)."""
    body = body or ConnectionIn()
    s.ledger.connect_system(
        caller.actor, system_id, evidence=body.evidence, occurred_at=body.occurred_at
    )
    return Done()


@router.post("/systems/{system_id}/connection-requirement", tags=["systems"])
def set_connection_requirement(
    system_id: UUID, body: ConnectionRequirementIn, caller: RequirementSetter, s: ServicesDep
) -> Done:
    s.ledger.set_connection_requirement(
        caller.actor,
        system_id,
        body.required_to_connect,
        evidence=body.evidence,
        occurred_at=body.occurred_at,
    )
    return Done()


@router.post("/systems/{system_id}/on-cloud", tags=["systems"])
def move_on_cloud(
    system_id: UUID, caller: SystemClerk, s: ServicesDep, body: WhenIn | None = None
) -> Done:
    """The system moved to the government cloud (上云)."""
    s.ledger.move_system_on_cloud(caller.actor, system_id, occurred_at=_when(body))
    return Done()


@router.post("/systems/{system_id}/zombie", tags=["systems"])
def mark_zombie(system_id: UUID, body: ZombieIn, caller: ZombieMarker, s: ServicesDep) -> Done:
    """Mark a 僵尸信息系统 (seed §三(一)3)."""
    s.ledger.mark_system_zombie(
        caller.actor, system_id, body.reasons, evidence=body.evidence, occurred_at=body.occurred_at
    )
    return Done()


@router.post("/systems/{system_id}/merge", tags=["systems"])
def merge_system(system_id: UUID, body: MergeIn, caller: SystemClerk, s: ServicesDep) -> Done:
    """Merge into the department's 大系统."""
    s.ledger.merge_system(
        caller.actor, system_id, body.integrated_system_id, occurred_at=body.occurred_at
    )
    return Done()


@router.post("/systems/{system_id}/decommission", tags=["systems"])
def decommission(system_id: UUID, body: ReasonIn, caller: SystemClerk, s: ServicesDep) -> Done:
    s.ledger.decommission_system(caller.actor, system_id, body.reason, occurred_at=body.occurred_at)
    return Done()


@router.post("/systems/{system_id}/mlps", tags=["systems"])
def record_mlps(system_id: UUID, body: MlpsIn, caller: SystemClerk, s: ServicesDep) -> Done:
    """等级保护 level and filing."""
    s.ledger.record_mlps(
        caller.actor, system_id, body.mlps_level, body.mlps_filed, occurred_at=body.occurred_at
    )
    return Done()


# -------------------------------------------------------------------- catalogue


@router.post("/resources", status_code=status.HTTP_201_CREATED, tags=["catalogue"])
def register_resource(body: ResourceIn, caller: CatalogueClerk, s: ServicesDep) -> Created:
    """List a 政务信息资源 in the catalogue; not_shareable needs a legal basis (51号)."""
    resource_id = s.ledger.register_resource(
        caller.actor, body.entry(), occurred_at=body.occurred_at
    )
    return Created(id=resource_id)


@router.get("/resources/{code}", tags=["catalogue"])
def get_resource(code: str, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.resource(code))


@router.post("/resources/{code}/owner", tags=["catalogue"])
def assign_owner(code: str, body: OwnerIn, caller: CatalogueClerk, s: ServicesDep) -> Done:
    """所有权 stays with the provider department."""
    s.ledger.assign_resource_owner(
        caller.actor, code, body.owner_department, occurred_at=body.occurred_at
    )
    return Done()


@router.post("/resources/{code}/controller", tags=["catalogue"])
def assign_controller(
    code: str, body: ControllerIn, caller: CatalogueClerk, s: ServicesDep
) -> Done:
    """控制权: the custodian department or system."""
    s.ledger.assign_resource_controller(
        caller.actor, code, body.controller, occurred_at=body.occurred_at
    )
    return Done()


@router.post("/resources/{code}/reclassify", tags=["catalogue"])
def reclassify(code: str, body: ReclassifyIn, caller: CatalogueClerk, s: ServicesDep) -> Done:
    s.ledger.reclassify_resource(
        caller.actor,
        code,
        sharing_type=body.sharing_type,
        legal_basis=body.legal_basis,
        share_condition=body.share_condition,
        reason=body.reason,
        occurred_at=body.occurred_at,
    )
    return Done()


@router.post("/resources/{code}/risk-assessments", tags=["catalogue"])
def record_risk_assessment(
    code: str, body: RiskAssessmentIn, caller: RiskOfficer, s: ServicesDep
) -> Done:
    """网信办 sharing risk assessment (seed §三(五)16); once per `reference` on a resource.

    A retry (same reference, level and summary) records nothing and answers
    `{"status": "already_recorded"}`; the reference with another level or summary
    is 409 `risk_assessment_exists` (a revised assessment has its own reference)."""
    recorded = s.ledger.record_risk_assessment(
        caller.actor,
        code,
        body.reference,
        body.risk_level,
        body.summary,
        occurred_at=body.occurred_at,
    )
    return Done() if recorded else Done(status="already_recorded")
