"""Statistical anomalies of the fold on synthetic facts whose answers are worked out below."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from projections.facts import Fact
from projections.zone import HISTORY, Rules, ZoneFold, local_day_number, positions_text

DAY_1 = datetime(2026, 3, 2, 10, 0, tzinfo=CST)
ACTOR = {"_type_": "actor", "_data_": {"actor_id": "x", "role": "exchange_platform",
                                        "department_code": None}}  # fmt: skip


def resource(position: int, code: str, sensitivity: str) -> Fact:
    items = [{"_data_": {"name": "f", "sensitivity": sensitivity, "base_item": False}}]
    data: dict[str, Any] = {
        "actor": ACTOR, "code": code, "name": code, "provider_department": "p", "items": items,
        "sharing_type": "unconditional", "legal_basis": None, "open_type": "not_open",
        "update_cycle": "daily", "summary": "s", "format": "f", "publish_date": None,
        "share_condition": "", "share_method": "api", "base_resource": False,
    }  # fmt: skip
    return Fact(position, f"r{position}", "Resource.Registered", data, b"", b"")


def access(position: int, accessor: str, code: str, when: datetime) -> Fact:
    data: dict[str, Any] = {
        "actor": ACTOR, "platform_event_id": f"e{position}", "accessor_id": accessor,
        "department": "u", "system": None, "resource_code": code, "items": ["f"],
        "row_count": 1, "purpose": "p", "grant_id": None,
        "accessed_at": {"_data_": when.isoformat()},
        "verdict": {"_data_": {"authorized": True, "reasons": []}},
        # recorded when it happened: no access here is dated ahead of its recording (L4)
        "timestamp": {"_data_": when.isoformat()},
    }  # fmt: skip
    return Fact(position, f"a{position}", "DataAccess.Recorded", data, b"", b"")


@pytest.fixture
def fold() -> ZoneFold:
    rules = Rules(volume_min=5, volume_factor=3, baseline_min_days=7, first_access_warmup_days=14)
    return ZoneFold(rules)


def test_volume_against_the_rolling_baseline(fold: ZoneFold) -> None:
    position = 1
    fold.apply(resource(position, "R", "general"))
    # Days 1..10: 2 accesses a day by "a" to R. Day 11: 6.
    for day in range(10):
        for hour in (0, 1):
            position += 1
            fold.apply(access(position, "a", "R", DAY_1 + timedelta(days=day, hours=hour)))
    assert fold.take_outputs()[1] == []
    day_11 = DAY_1 + timedelta(days=10)
    for n in range(6):
        position += 1
        fold.apply(access(position, "a", "R", day_11 + timedelta(minutes=n)))
    anomalies = {row[1]: row for row in fold.take_outputs()[1]}
    # Baseline: 20 accesses over the 10 known days = 2/day; threshold max(5, 3 x 2) = 6,
    # reached by the 6th access of day 11; score 1 - 2/6.
    assert set(anomalies) == {"actor_volume", "resource_volume"}
    for row in anomalies.values():
        assert row[2] == pytest.approx(0.667)
        assert row[7] == position
        assert len(json.loads(row[6])) == 6  # the day's positions
    # A 7th access the same day raises nothing more.
    fold.apply(access(position + 1, "a", "R", day_11 + timedelta(minutes=9)))
    assert fold.take_outputs()[1] == []


def test_late_reports_count_in_their_days_baseline(fold: ZoneFold) -> None:
    fold.apply(resource(1, "R", "general"))
    fold.apply(access(2, "a", "R", DAY_1))
    fold.apply(access(3, "a", "R", DAY_1 + timedelta(days=9)))  # day 10
    position = 3
    for day in range(1, 9):  # days 2..9, reported after day 10: two a day
        for minute in (0, 1):
            position += 1
            fold.apply(access(position, "a", "R", DAY_1 + timedelta(days=day, minutes=minute)))
    # One [day, count] pair per late day, not per report.
    first = local_day_number(DAY_1.timestamp())
    assert fold.state["detector"]["actors"]["a"][HISTORY] == [
        [first, 1],
        *([first + day, 2] for day in range(1, 9)),
    ]
    for n in range(6):  # day 11
        position += 1
        fold.apply(access(position, "a", "R", DAY_1 + timedelta(days=10, minutes=n)))
    anomalies = [row for row in fold.take_outputs()[1] if row[1] == "actor_volume"]
    # Baseline: 1 + 16 late + 1 = 18 accesses over 10 known days = 1.8/day; threshold
    # max(5, ceil(3 x 1.8)) = 6, the 6th access of day 11 (ignoring late ones: the 5th).
    assert [(row[7], row[2]) for row in anomalies] == [(position, pytest.approx(0.7))]


def test_evidence_positions_read_as_json() -> None:
    assert positions_text([9, 3, 9, 12]) == json.dumps([3, 9, 12]) == "[3, 9, 12]"
    assert json.loads(positions_text([])) == []


def test_first_access_to_a_sensitive_resource_after_warm_up(fold: ZoneFold) -> None:
    fold.apply(resource(1, "R", "general"))
    fold.apply(resource(2, "S", "sensitive_personal"))
    fold.apply(access(3, "a", "R", DAY_1))
    fold.apply(access(4, "a", "S", DAY_1 + timedelta(days=19)))  # known 19 >= 14 days
    fold.apply(access(5, "a", "S", DAY_1 + timedelta(days=20)))  # not the first any more
    fold.apply(access(6, "b", "S", DAY_1 + timedelta(days=20, hours=1)))  # b is new: warm-up
    kinds = [(row[1], row[4], row[7]) for row in fold.take_outputs()[1]]
    assert kinds == [("first_sensitive_access", "a", 4)]
