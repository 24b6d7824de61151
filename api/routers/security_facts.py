"""The facts of 《网络数据安全管理条例》 第三十三条 over HTTP (docs/facts.md §10).

网络数据安全负责人 (``POST /security-leads``), a resource's storage
(``POST /resource-storage``), a system's technical measures
(``POST /systems/{id}/measures``); each has a ``GET`` by id for
``read_audit_views``. Bodies are read by ledger/domain/fact_intake.py, as an
import line is; malformed 422, another department's 403, same reference with
other content 409 — each ``{"error", "detail"}``, the ledger unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, status

from api.deps import Caller, ServicesDep, require
from api.routers.registry import state_of
from api.schemas import Created
from ledger.domain.fact_intake import record_fields
from ledger.domain.security_facts import ResourceStorage, SecurityLead, SystemMeasures
from security.policy import Permission

router = APIRouter(tags=["security facts"])
Declarer = Annotated[Caller, Depends(require(Permission.DECLARE_SECURITY_FACTS))]
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]
JsonObject = Annotated[dict[str, Any], Body()]


@router.post("/security-leads", status_code=status.HTTP_201_CREATED)
def appoint_lead(body: JsonObject, caller: Declarer, s: ServicesDep) -> Created:
    """网络数据安全负责人 and contact of a department or of the zone (scope ``zone``)."""
    fields = record_fields("security_lead", body)
    return Created(id=s.ledger.appoint_security_lead(caller.actor, **fields))


@router.get("/security-leads/{record_id}")
def get_lead(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(SecurityLead, record_id))


@router.post("/resource-storage", status_code=status.HTTP_201_CREATED)
def declare_storage(body: JsonObject, caller: Declarer, s: ServicesDep) -> Created:
    """A catalogue resource's storage period and location, by its provider."""
    fields = record_fields("resource_storage", body)
    return Created(id=s.ledger.declare_resource_storage(caller.actor, **fields))


@router.get("/resource-storage/{record_id}")
def get_storage(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(ResourceStorage, record_id))


@router.post("/systems/{system_id}/measures", status_code=status.HTTP_201_CREATED)
def declare_measures(
    system_id: UUID, body: JsonObject, caller: Declarer, s: ServicesDep
) -> Created:
    """A system's technical measures (encryption, backup, labelling, access control,
    authentication), each in place or not with a description, by its department."""
    fields = record_fields("system_measures", body)
    return Created(id=s.ledger.declare_system_measures(caller.actor, system_id, **fields))


@router.get("/system-measures/{record_id}")
def get_measures(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(SystemMeasures, record_id))
