"""Declared records of the seed plan over HTTP (docs/facts.md §11).

``POST /declarations/{kind}`` for each kind of ledger/domain/declarations.py
(``system_unit``, ``self_inspection``, ``classified_protection``,
``resource_cloud``, ``service_cloud``), its body read by the kind's one decoder
(ledger/domain/fact_intake.py) as an ``import`` line of that kind is;
``GET /declarations/{id}`` for ``read_audit_views``. The HTTP gate is
``declare_plan_facts``; the command narrows it to the role owning each kind.
Malformed 422, another department's 403, same reference with other content 409 —
each ``{"error", "detail"}``, the ledger unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, status

from api.deps import Caller, ServicesDep, require
from api.routers.registry import state_of
from api.schemas import Created
from ledger.domain.declarations import Declaration, DeclarationKind
from ledger.domain.fact_intake import record_fields
from security.policy import Permission

router = APIRouter(tags=["declarations"])
Declarer = Annotated[Caller, Depends(require(Permission.DECLARE_PLAN_FACTS))]
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]
JsonObject = Annotated[dict[str, Any], Body()]


@router.post("/declarations/{kind}", status_code=status.HTTP_201_CREATED)
def declare(kind: DeclarationKind, body: JsonObject, caller: Declarer, s: ServicesDep) -> Created:
    """Declare ``kind`` about its subject under a reference, in force from ``declared_at``:
    a later declaration supersedes it (rules I7–I10 read the one in force)."""
    fields = record_fields(kind.value, body)
    return Created(id=s.ledger.declare(caller.actor, kind, **fields))


@router.get("/declarations/{record_id}")
def get_declaration(record_id: UUID, _: Reader, s: ServicesDep) -> dict[str, Any]:
    return state_of(s.ledger.record_of(Declaration, record_id))
