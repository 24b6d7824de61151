"""A setter whose value the aggregate already has records nothing (docs/security.md,
"Retried commands without a promise"); a changed value is an event as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from ledger.domain import Department, InformationSystem, Resource, SharingType, ZombieReason
from ledger.domain.calendar import CHINA_STANDARD_TIME
from tests.ledger.domain.builders import (
    INVENTORY,
    NDRC,
    PLATFORM,
    PROVIDER,
    PROVIDER_DEPT,
    population_entry,
)

AT = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA_STANDARD_TIME)

Setter = Callable[[Any], None]
SETTERS: list[tuple[str, Callable[[], Any], Setter, Setter | None]] = [
    (
        "cio",
        lambda: Department.register(NDRC, PROVIDER_DEPT, "区公安局", AT),
        lambda d: d.name_cio(NDRC, "王明", None, AT),
        lambda d: d.name_cio(NDRC, "李华", None, AT),
    ),
    (
        "connect",
        lambda: InformationSystem.register(PROVIDER, PROVIDER_DEPT, INVENTORY, occurred_at=AT),
        lambda s: s.connect(PLATFORM, AT),
        None,
    ),
    (
        "on_cloud",
        lambda: InformationSystem.register(PROVIDER, PROVIDER_DEPT, INVENTORY, occurred_at=AT),
        lambda s: s.move_on_cloud(PROVIDER, AT),
        None,
    ),
    (
        "requirement",
        lambda: InformationSystem.register(PROVIDER, PROVIDER_DEPT, INVENTORY, occurred_at=AT),
        lambda s: s.set_connection_requirement(NDRC, True, AT),
        lambda s: s.set_connection_requirement(NDRC, False, AT),
    ),
    (
        "mlps",
        lambda: InformationSystem.register(PROVIDER, PROVIDER_DEPT, INVENTORY, occurred_at=AT),
        lambda s: s.record_mlps(PROVIDER, 3, True, AT),
        lambda s: s.record_mlps(PROVIDER, 3, False, AT),
    ),
    (
        "zombie",
        lambda: InformationSystem.register(PROVIDER, PROVIDER_DEPT, INVENTORY, occurred_at=AT),
        lambda s: s.mark_zombie(NDRC, [ZombieReason.LOW_USAGE], AT),
        lambda s: s.mark_zombie(NDRC, [ZombieReason.LOW_USAGE, ZombieReason.UNMAINTAINED], AT),
    ),
    (
        "owner",
        lambda: Resource.register(PROVIDER, population_entry(), AT),
        lambda r: r.assign_owner(PROVIDER, PROVIDER_DEPT, AT),
        None,
    ),
    (
        "controller",
        lambda: Resource.register(PROVIDER, population_entry(), AT),
        lambda r: r.assign_controller(PROVIDER, PROVIDER_DEPT, AT),
        lambda r: r.assign_controller(PROVIDER, "数据中心", AT),
    ),
    (
        "reclassify",
        lambda: Resource.register(PROVIDER, population_entry(), AT),
        lambda r: r.reclassify(PROVIDER, SharingType.UNCONDITIONAL, None, "", "复核", AT),
        lambda r: r.reclassify(PROVIDER, SharingType.CONDITIONAL, None, "依法履职", "复核", AT),
    ),
]


@pytest.mark.parametrize(
    ("name", "create", "set_once", "change"), SETTERS, ids=[s[0] for s in SETTERS]
)
def test_the_same_value_again_records_nothing(
    name: str,
    create: Callable[[], Any],
    set_once: Callable[[Any], None],
    change: Callable[[Any], None] | None,
) -> None:
    aggregate = create()
    set_once(aggregate)
    recorded = len(aggregate.collect_events())
    assert recorded == 2  # created, then the setter's event
    set_once(aggregate)
    assert aggregate.collect_events() == []
    if change is not None:
        change(aggregate)
        assert len(aggregate.collect_events()) == 1
