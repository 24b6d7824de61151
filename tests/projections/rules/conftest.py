"""The hand-worked ledger the recorded-late tests share (test_recorded_late.py,
test_findings_bitemporal.py): three departments and RK-0007 (personal, important and core
items), everything recorded on 11-20 and dated earlier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import ResourceItem, Sensitivity, SharingType
from ledger.store.connect import application_env, init_ledger
from tests.projections.scenario import ADMIN, GONGAN, Clock, Recorder, Scenario, _entry, cst


@pytest.fixture
def rec(settings: Settings) -> Iterator[Recorder]:
    init_ledger(settings)
    clock = Clock(cst(11, 20))  # everything is recorded on 11-20, dated earlier
    app = GovLedger(env=application_env(settings), clock=clock)
    for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局"), ("jiaoyu", "区教育局")):
        app.register_department(ADMIN, code, name, occurred_at=cst(3, 1))
    items = [
        ResourceItem("姓名", Sensitivity.PERSONAL),
        ResourceItem("纳税额", Sensitivity.IMPORTANT),
        ResourceItem("户籍", Sensitivity.CORE),
    ]
    entry = _entry("RK-0007", "人口与税收", items, SharingType.CONDITIONAL)
    app.register_resource(GONGAN, entry, occurred_at=cst(4, 1))
    try:
        yield Recorder(app, clock, Scenario(settings))
    finally:
        app.close()
