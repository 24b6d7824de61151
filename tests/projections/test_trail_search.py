"""The audit trail's text search (projections/registers.py ``audit_trail(text=…)``, issue
#16): Chinese event names find their kinds; other text is the beginning of an id, on
both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.config import Settings
from projections.query import Views, open_views
from tests.projections.scenario import Scenario, build_scenario, scenario_settings


@pytest.fixture
def views(settings: Settings) -> Iterator[Views]:
    scenario: Scenario = build_scenario(scenario_settings(settings))
    with open_views(scenario.settings, catch_up=True) as opened:
        yield opened


def test_text_finds_kinds_by_chinese_name_and_ids_by_their_beginning(views: Views) -> None:
    m = views.moment()
    everything = views.audit_trail(m, limit=10_000)
    submitted = views.audit_trail(m, text="提交共享申请")
    assert submitted and {line.topic for line in submitted} == {"SharingRequest.Submitted"}
    assert len(submitted) == sum(line.topic == "SharingRequest.Submitted" for line in everything)
    actor = everything[-1].actor_id
    prefix = actor[: max(2, len(actor) // 2)]
    found = views.audit_trail(m, text=prefix, limit=10_000)
    expected = [
        line.position
        for line in everything
        if any(
            (value or "").startswith(prefix)
            for value in (line.actor_id, line.entity, line.department)
        )
    ]
    # Every line whose actor, entity or department begins so is found (a resource code may
    # add more); none is found twice.
    positions = [line.position for line in found]
    assert expected and set(expected) <= set(positions) and len(set(positions)) == len(positions)
    assert views.audit_trail(m, text="没有这种东西%_") == []
