"""Small builders shared by the ledger and security tests (actors, catalogue entries, clock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledger.domain import (
    Actor,
    CatalogueEntry,
    OpenType,
    ResourceItem,
    Role,
    Sensitivity,
    SharingType,
    SystemInventory,
    UpdateCycle,
)

PROVIDER_DEPT = "PSB"  # 区公安局: provides the population resource
USER_DEPT = "HRB"  # 区人社局: uses it

NDRC = Actor("ndrc-1", Role.NDRC, None, "10.0.0.1", "req-ndrc")
FINANCE = Actor("fin-1", Role.FINANCE, None, "10.0.0.2", "req-fin")
CAC = Actor("cac-1", Role.SECURITY_OFFICER, None, "10.0.0.3", "req-cac")
PLATFORM = Actor("exchange", Role.EXCHANGE_PLATFORM, None, "10.0.0.9", None)
PROVIDER = Actor("psb-clerk", Role.DATA_PROVIDER, PROVIDER_DEPT, "10.1.0.1", "req-psb")
USER = Actor("hrb-clerk", Role.DEPARTMENT_CLERK, USER_DEPT, "10.2.0.1", "req-hrb")


# An information system of the provider department (seed §三(一)1 inventory).
INVENTORY = SystemInventory(
    name="人口信息管理系统",
    function="population register",
    scope_of_use="district",
    usage_frequency="daily",
    approving_body="ndrc",
    approval_date=date(2017, 6, 1),
    funding_source="district budget",
)


def population_entry(
    code: str = "R-POP",
    sharing_type: SharingType = SharingType.CONDITIONAL,
    legal_basis: str | None = None,
) -> CatalogueEntry:
    return CatalogueEntry(
        code=code,
        name="户籍人口",
        provider_department=PROVIDER_DEPT,
        items=(
            ResourceItem("name", Sensitivity.PERSONAL, base_item=True),
            ResourceItem("address", Sensitivity.PERSONAL),
            ResourceItem("id_no", Sensitivity.SENSITIVE_PERSONAL, base_item=True),
        ),
        sharing_type=sharing_type,
        legal_basis=legal_basis,
        open_type=OpenType.NOT_OPEN,
        update_cycle=UpdateCycle.DAILY,
        summary="registered population",
        format="table",
        share_condition="for statutory duties" if sharing_type != "unconditional" else "",
        share_method="api",
        base_resource=True,
    )


@dataclass
class FakeClock:
    """A settable clock: the application takes its time from here."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def record_below_the_contract(app: Any, actor: Actor, entries: list[tuple[Any, Any]]) -> None:
    """Write access events as stored bytes, past ``GovLedger``'s input contract.

    For tests of readers that must survive any fact a ledger may hold (one written
    before the contract, or by someone with write access to the database): the
    API, ``import`` and ``GovLedger.record_accesses`` refuse such values.
    """
    from ledger.domain.access_state import AccessStateWriter  # noqa: PLC0415
    from ledger.domain.ids import data_access_id  # noqa: PLC0415

    writer = AccessStateWriter(app.mapper, actor)
    app.recorder.insert_events(
        writer.stored_events({data_access_id(r.platform_event_id): (r, v) for r, v in entries})
    )
