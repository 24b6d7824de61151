"""The ledger bench/ingest.py records into, and the access bodies it sends: shared with the
failover test's agent (tests/ops/patroni_agent.py), which loads the same zone.

Two departments, one conditional population resource, one grant approved "now"; every
access body quotes the grant and reads two of its items, as a platform's batch does.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    AccessReport,
    Actor,
    CatalogueEntry,
    OpenType,
    ResourceItem,
    Role,
    Sensitivity,
    SharingType,
    UpdateCycle,
)
from ledger.store.connect import application_env, init_ledger

PLATFORM = Actor("exchange", Role.EXCHANGE_PLATFORM, None, "127.0.0.1", None)
PROVIDER_DEPT, USER_DEPT = "gongan", "renshe"
PROVIDER = Actor("psb-clerk", Role.DATA_PROVIDER, PROVIDER_DEPT, "10.1.0.1", None)
USER = Actor("hrb-clerk", Role.DEPARTMENT_CLERK, USER_DEPT, "10.2.0.1", None)


def population_entry() -> CatalogueEntry:
    return CatalogueEntry(
        code="R-POP",
        name="户籍人口",
        provider_department=PROVIDER_DEPT,
        items=(
            ResourceItem("name", Sensitivity.PERSONAL, base_item=True),
            ResourceItem("address", Sensitivity.PERSONAL),
            ResourceItem("id_no", Sensitivity.SENSITIVE_PERSONAL, base_item=True),
        ),
        sharing_type=SharingType.CONDITIONAL,
        legal_basis=None,
        open_type=OpenType.NOT_OPEN,
        update_cycle=UpdateCycle.DAILY,
        share_condition="依法履职需要",
        base_resource=True,
    )


# The grant is approved "now" (the application clock); accesses follow it, as in service.
START = datetime.now(UTC) + timedelta(minutes=1)


def prepare(settings: Settings) -> tuple[GovLedger, Any]:
    """A ledger with two departments, a conditional resource and one grant."""
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    app.register_department(PROVIDER, PROVIDER_DEPT, "区公安局")
    app.register_department(USER, USER_DEPT, "区人社局")
    app.register_resource(PROVIDER, population_entry())
    grant = app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name", "address"],
        purpose="pension eligibility",
        legal_basis="社会保险法",
        period_start=START.date(),
        period_end=(START + timedelta(days=365)).date(),
    )
    app.approve_request(PROVIDER, grant, ["name", "address"], START + timedelta(days=3650))
    return app, grant


def access_json(i: int, grant: Any, run: str) -> dict[str, Any]:
    return {
        "platform_event_id": f"{run}-{i}",
        "accessor_id": f"hrb-clerk-{i % 40}",
        "department": USER_DEPT,
        "system": "社保业务系统",
        "resource_code": "R-POP",
        "items": ["name"] if i % 50 else ["name", "id_no"],  # 2% beyond the grant
        "row_count": 1 + i % 20,
        "purpose": "pension eligibility",
        "grant_id": str(grant),
        "client_address": "10.2.0.1",
        "accessed_at": (START + timedelta(milliseconds=i)).isoformat(),
    }


def report_of(body: dict[str, Any]) -> AccessReport:
    return AccessReport(
        platform_event_id=body["platform_event_id"],
        accessor_id=body["accessor_id"],
        department=body["department"],
        system=body["system"],
        resource_code=body["resource_code"],
        items=tuple(body["items"]),
        row_count=body["row_count"],
        purpose=body["purpose"],
        grant_id=uuid.UUID(body["grant_id"]),
        client_address=body["client_address"],
        accessed_at=datetime.fromisoformat(body["accessed_at"]),
        subjects=body.get("subjects", ()),
    )


def subjects_of(i: int, cohort: int = 0) -> tuple[str, ...]:
    """1-10 citizen id numbers per access (issue 19), mostly distinct across a batch; each
    ``cohort`` (0-99) is its own set of people."""
    return tuple(
        f"1101{cohort:02d}19{(i * 7919 + k * 104729) % 10**10:010d}" for k in range(1 + i % 10)
    )
