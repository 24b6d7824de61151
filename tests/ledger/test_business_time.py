"""Business time on every fact (issue 12 item 3; docs/facts.md §1, §4, §6).

Every command may say when the thing happened; both times are kept; a ledger
written before business time is read with its record time; and a year of
history recorded late gives the same facts as recording it live.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.application import GovLedger
from ledger.domain import (
    AccessReport,
    AccessVerdict,
    Department,
    DomainError,
    FundKind,
    FundOutcome,
    InformationSystem,
    ReviewAction,
    SharingType,
)
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.domain.district_calendar import CalendarSpec
from ledger.domain.errors import ErrorCode
from ledger.domain.ids import department_id
from tests.ledger.domain.builders import (
    CAC,
    FINANCE,
    INVENTORY,
    NDRC,
    PLATFORM,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)

START = datetime(2025, 1, 6, 9, 0, tzinfo=CST)  # a Monday
ACK = ReviewAction.ACKNOWLEDGE


def at(days: float, hour: int = 9) -> datetime:
    return (START + timedelta(days=days)).replace(hour=hour)


# One year of the zone, as commands: (day, command given the ledger and its business time).
Step = tuple[float, Callable[[GovLedger, datetime | None], Any]]


def _request(app: GovLedger, when: datetime | None, key: str) -> UUID:
    return app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name", "address"],
        purpose="最低生活保障",
        legal_basis="《社会救助暂行办法》",
        period_start=date(2025, 1, 1),
        period_end=date(2025, 12, 31),
        idempotency_key=key,
        submitted_at=when,
    )


def _system(app: GovLedger) -> UUID:
    return app.register_system(PROVIDER, PROVIDER_DEPT, INVENTORY, idempotency_key="sys-1")


YEAR: list[Step] = [
    (0, lambda a, w: a.register_department(NDRC, PROVIDER_DEPT, "区公安局", occurred_at=w)),
    (0.1, lambda a, w: a.register_department(NDRC, USER_DEPT, "区人社局", occurred_at=w)),
    (1, lambda a, w: a.name_cio(NDRC, PROVIDER_DEPT, "王明", occurred_at=w)),
    (
        2,
        lambda a, w: a.register_system(
            PROVIDER, PROVIDER_DEPT, INVENTORY, idempotency_key="sys-1", occurred_at=w
        ),
    ),
    (3, lambda a, w: a.set_connection_requirement(NDRC, _system(a), True, occurred_at=w)),
    (4, lambda a, w: a.register_resource(PROVIDER, population_entry(), occurred_at=w)),
    (5, lambda a, w: a.assign_resource_owner(PROVIDER, "R-POP", PROVIDER_DEPT, occurred_at=w)),
    (5.5, lambda a, w: a.assign_resource_controller(PROVIDER, "R-POP", "数据中心", occurred_at=w)),
    (6, lambda a, w: a.record_risk_assessment(CAC, "R-POP", "风评1号", "low", "ok", occurred_at=w)),
    (20, lambda a, w: _request(a, w, "req-1")),
    (
        27,
        lambda a, w: a.approve_request(
            PROVIDER, _request(a, None, "req-1"), ["name"], at(200), decided_at=w
        ),
    ),
    (30, lambda a, w: _request(a, w, "req-2")),
    (31, lambda a, w: a.reject_request(PROVIDER, _request(a, None, "req-2"), "", decided_at=w)),
    (40, lambda a, w: a.connect_system(PLATFORM, _system(a), occurred_at=w)),
    (41, lambda a, w: a.move_system_on_cloud(PROVIDER, _system(a), occurred_at=w)),
    (42, lambda a, w: a.record_mlps(PROVIDER, _system(a), 3, True, occurred_at=w)),
    (43, lambda a, w: a.declare_data_holdings(PROVIDER, _system(a), True, False, occurred_at=w)),
    (
        50,
        lambda a, w: a.file_project(
            PROVIDER,
            name="平台二期",
            builder=PROVIDER_DEPT,
            investment_fen=100,
            om_cost_fen=10,
            funding_channel="区级",
            resource_codes=["R-POP"],
            system_ids=[_system(a)],
            mlps_filed=True,
            catalogue_preregistered=True,
            idempotency_key="filing-1",
            occurred_at=w,
        ),
    ),
    (
        60,
        lambda a, w: a.decide_funds(
            FINANCE,
            kind=FundKind.OM_FUNDS,
            year=2025,
            department=PROVIDER_DEPT,
            amount_fen=500,
            outcome=FundOutcome.GRANTED,
            rationale="运维",
            system_id=_system(a),
            idempotency_key="fund-1",
            decided_at=w,
        ),
    ),
    (
        100,
        lambda a, w: a.reclassify_resource(
            PROVIDER,
            "R-POP",
            sharing_type=SharingType.CONDITIONAL,
            legal_basis=None,
            share_condition="依法履职",
            reason="复核",
            occurred_at=w,
        ),
    ),
    (120, lambda a, w: a.revoke_grant(PROVIDER, _request(a, None, "req-1"), "停用", revoked_at=w)),
    (150, lambda a, w: a.review_anomaly(CAC, "anomaly-1", ACK, "ok", reviewed_at=w)),
    (200, lambda a, w: a.mark_system_zombie(NDRC, _system(a), ["low_usage"], occurred_at=w)),
    (300, lambda a, w: a.decommission_system(PROVIDER, _system(a), "停用", occurred_at=w)),
]  # fmt: skip


def _states(app: GovLedger) -> list[tuple[str, dict[str, Any]]]:
    """Every fact, less the two things that say when it was recorded."""
    facts = []
    for n in app.recorder.select_notifications(start=1, limit=10_000):
        state = json.loads(n.state)
        state.pop("timestamp")
        facts.append((n.topic, state))
    return facts


def _ledger(clock: FakeClock) -> GovLedger:
    return GovLedger(clock=clock, calendar=CalendarSpec.shipped())


def test_a_year_recorded_late_gives_the_same_facts_as_recorded_live() -> None:
    live_clock = FakeClock(START)
    live = _ledger(live_clock)
    for day, step in YEAR:
        live_clock.now = at(day)
        step(live, None)
    late = _ledger(FakeClock(datetime(2026, 3, 1, tzinfo=UTC)))
    for day, step in YEAR:
        step(late, at(day))
    assert _states(late) == _states(live)
    # Both times are kept: the late ledger's record times are all after its business times.
    first = late.department(PROVIDER_DEPT)
    assert first.registered_at == at(0)


def test_every_kind_carries_its_business_time_as_given() -> None:
    app = _ledger(FakeClock(datetime(2026, 3, 1, tzinfo=UTC)))
    for day, step in YEAR:
        step(app, at(day))
    given = {at(day).isoformat() for day, _ in YEAR}
    seen = set()
    for topic, state in _states(app):
        field = next(f for f in BUSINESS_TIME if f in state) if "Calendar" not in topic else None
        if field:
            seen.add(state[field]["_data_"])
    assert given <= seen


BUSINESS_TIME = (
    "occurred_at",
    "submitted_at",
    "decided_at",
    "revoked_at",
    "expired_at",
    "accepted_at",
    "reviewed_at",
    "accessed_at",
    "viewed_at",
)


def test_a_person_s_business_time_in_the_future_or_before_the_era_is_refused() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    app = GovLedger(clock=clock)
    with pytest.raises(DomainError) as ahead:
        app.register_department(NDRC, "X", "x", occurred_at=clock.now + timedelta(hours=8))
    assert ahead.value.code is ErrorCode.TIME_IN_FUTURE
    with pytest.raises(DomainError) as early:
        app.register_department(NDRC, "X", "x", occurred_at=datetime(2017, 6, 1, tzinfo=UTC))
    assert early.value.code is ErrorCode.TIME_OUT_OF_RANGE
    with pytest.raises(DomainError) as naive:
        app.register_department(NDRC, "X", "x", occurred_at=datetime(2025, 6, 1))
    assert naive.value.code is ErrorCode.NAIVE_DATETIME
    assert app.recorder.max_notification_id() in (0, None)


def test_business_time_does_not_run_backwards_within_a_record() -> None:
    app = GovLedger(clock=FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC)))
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局", occurred_at=at(10))
    app.register_department(NDRC, USER_DEPT, "区人社局", occurred_at=at(10))
    app.register_resource(PROVIDER, population_entry(), occurred_at=at(10))
    with pytest.raises(DomainError) as cio:
        app.name_cio(NDRC, PROVIDER_DEPT, "王明", occurred_at=at(9))
    assert cio.value.code is ErrorCode.TIME_BEFORE_CREATION
    request = _request(app, at(20), "r")
    with pytest.raises(DomainError) as decided:
        app.approve_request(PROVIDER, request, ["name"], at(200), decided_at=at(19))
    assert decided.value.code is ErrorCode.TIME_BEFORE_CREATION
    app.approve_request(PROVIDER, request, ["name"], at(200), decided_at=at(21))
    with pytest.raises(DomainError):
        app.revoke_grant(PROVIDER, request, "x", revoked_at=at(20.5))


def test_a_ledger_written_before_business_time_reads_its_record_time() -> None:
    """A version 1 state (no ``occurred_at``, no ``class_version``) as the old code stored it."""
    app = GovLedger()
    recorded = "2025-03-04T05:06:07.000008+00:00"
    actor = {"actor_id": "ndrc-1", "role": "ndrc", "department_code": None}
    actor |= {"client_address": None, "request_id": None}
    v1 = {
        "timestamp": {"_type_": "datetime_iso", "_data_": recorded},
        "originator_topic": get_topic(Department),
        "actor": {"_type_": "actor", "_data_": actor},
        "code": "OLD",
        "name": "旧部门",
    }
    state = json.dumps(v1, separators=(",", ":"), ensure_ascii=False).encode()
    topic = get_topic(Department.Registered)
    app.recorder.insert_events([StoredEvent(department_id("OLD"), 1, topic, state)])
    (stored,) = app.recorder.select_events(department_id("OLD"))
    assert stored.state == state  # nothing rewrites it
    event = app.mapper.to_domain_event(stored)
    assert event.occurred_at == datetime.fromisoformat(recorded)  # type: ignore[attr-defined]
    assert app.department("OLD").registered_at == datetime.fromisoformat(recorded)
    app.name_cio(NDRC, "OLD", "王明")  # and the old record takes new facts


def test_a_version_2_state_is_the_version_1_state_with_occurred_at_appended() -> None:
    app = GovLedger(clock=FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC)))
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局", occurred_at=at(0))
    system = app.register_system(PROVIDER, PROVIDER_DEPT, INVENTORY, occurred_at=at(1))
    app.connect_system(PLATFORM, system, occurred_at=at(2))
    for n in app.recorder.select_notifications(start=1, limit=10):
        state = json.loads(n.state)
        assert list(state)[-2:] == ["occurred_at", "class_version"] and state["class_version"] == 2
    events = app.recorder.select_events(system)
    assert [app.mapper.to_domain_event(e).__class__ for e in events] == [
        InformationSystem.Registered,
        InformationSystem.Connected,
    ]


def test_an_access_ahead_of_the_clock_is_recorded_and_reported_as_such() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    app = GovLedger(clock=clock)
    reports = [
        AccessReport("a-now", "x", USER_DEPT, None, "R", ("n",), 1, None, None, None, clock.now),
        AccessReport(
            "a-ahead", "x", USER_DEPT, None, "R", ("n",), 1, None, None, None,
            clock.now + timedelta(hours=8),
        ),
    ]  # fmt: skip
    result = app.record_accesses(PLATFORM, [(r, AccessVerdict()) for r in reports])
    assert len(result.recorded) == 2 and result.in_future == (result.ids[1],)
    with pytest.raises(DomainError) as early:
        old = AccessReport(
            "a-old", "x", USER_DEPT, None, "R", ("n",), 1, None, None, None,
            datetime(2017, 12, 31, 15, 59, tzinfo=UTC),
        )  # fmt: skip
        app.record_accesses(PLATFORM, [(old, AccessVerdict())])
    assert early.value.code is ErrorCode.TIME_OUT_OF_RANGE
