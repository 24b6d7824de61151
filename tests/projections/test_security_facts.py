"""The fold of 条例 §33 declarations (projections/security_facts.py; docs/facts.md §10):
the latest at or before the moment, by business time, per subject."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.facts import CST, Fact
from projections.security_facts import as_of, fold


def _lead(position: int, name: str, at: str, reference: str) -> Fact:
    appointed = {"_type_": "datetime_iso", "_data_": at}
    data: dict[str, Any] = {"scope": "gongan", "reference": reference, "name": name,
                            "contact": "1", "appointed_at": appointed}  # fmt: skip
    return Fact(position, "e", "SecurityLead.Appointed", data, b"", b"")


def test_the_latest_dated_declaration_by_the_moment_is_in_force() -> None:
    state: dict[str, Any] = {}
    # Recorded out of business-time order: the later-dated one is recorded first.
    fold(state, _lead(5, "钱二", "2026-05-01T10:00:00+08:00", "2"))
    fold(state, _lead(6, "赵一", "2026-03-01T10:00:00+08:00", "1"))
    may = as_of(state, datetime(2026, 6, 1, tzinfo=CST)).leads["gongan"]
    assert (may.fields["name"], may.reference, may.position) == ("钱二", "2", 5)
    april = as_of(state, datetime(2026, 4, 1, tzinfo=CST)).leads["gongan"]
    assert april.fields["name"] == "赵一"
    assert "gongan" not in as_of(state, datetime(2026, 2, 1, tzinfo=CST)).leads
    assert as_of({}, datetime(2026, 6, 1, tzinfo=CST)).storage == {}
