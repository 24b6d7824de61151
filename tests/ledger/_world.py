"""The world the application tests of tests/ledger share: a GovLedger with two departments,
a system, a conditional resource and a request (``World``; the ``world`` fixture,
tests/ledger/conftest.py), and a reported access to change field by field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import msgspec

from ledger.application import GovLedger
from ledger.domain import AccessReport, AccessVerdict
from tests.ledger.domain.builders import (
    INVENTORY,
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)


@dataclass
class World:
    """An application with two departments, a system, a conditional resource and a request."""

    app: GovLedger
    clock: FakeClock
    system_id: UUID
    request_id: UUID

    def approve(self, items: tuple[str, ...] = ("name",), days: int = 30) -> None:
        expires = self.clock.now + timedelta(days=days)
        self.app.approve_request(PROVIDER, self.request_id, list(items), expires)

    def submit(self, resource_code: str = "R-POP", items: tuple[str, ...] = ("name",)) -> UUID:
        return self.app.submit_request(
            USER,
            requester_department=USER_DEPT,
            resource_code=resource_code,
            items=list(items),
            purpose="social insurance eligibility",
            legal_basis="社会保险法 §4",
            period_start=date(2026, 3, 1),
            period_end=date(2026, 12, 31),
        )

    def filing(self) -> UUID:
        return self.app.file_project(
            PROVIDER,
            name="人口库升级",
            builder=PROVIDER_DEPT,
            investment_fen=120_000_00,
            om_cost_fen=8_000_00,
            funding_channel="district budget",
            resource_codes=["R-POP"],
            system_ids=[self.system_id],
            mlps_filed=True,
            catalogue_preregistered=True,
        )

    def notifications(self) -> int:
        return self.app.recorder.max_notification_id() or 0


def make_world() -> World:
    """A fresh ``World`` (the ``world`` fixture)."""
    clock = FakeClock()
    app = GovLedger(clock=clock)
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    app.register_department(NDRC, USER_DEPT, "区人社局")
    system_id = app.register_system(PROVIDER, PROVIDER_DEPT, INVENTORY, holds_personal_data=True)
    app.register_resource(PROVIDER, population_entry())
    w = World(app, clock, system_id, request_id=UUID(int=0))
    w.request_id = w.submit()
    return w


def access_report(
    event_id: str, accessed_at: datetime | None = None, **changes: object
) -> AccessReport:
    report = AccessReport(
        platform_event_id=event_id,
        accessor_id="hrb-officer-7",
        department=USER_DEPT,
        system="社保核定系统",
        resource_code="R-POP",
        items=("name",),
        row_count=12,
        purpose="social insurance eligibility",
        grant_id=None,
        client_address="10.2.3.4",
        accessed_at=accessed_at or datetime(2026, 3, 3, 1, 0, tzinfo=UTC),
    )
    return msgspec.structs.replace(report, **changes)


OK = AccessVerdict.authorize()
