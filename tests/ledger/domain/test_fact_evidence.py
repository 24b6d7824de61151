"""Who and on what evidence (issue 14): the owners' facts that F1 and F2 read.

A connection requirement and a zombie mark are ndrc's, a connection the exchange
platform's (organisation.py); each keeps its actor and an optional ``evidence``
text (a 文号, the platform's connection record id) within bounds.MAX_TEXT, shown in
the audit trail. The field came without a version bump: a state stored before it
decodes with ``evidence == ""`` and its bytes are never rewritten.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.application import GovLedger
from ledger.domain import Actor, DomainError, InformationSystem, Role, SystemInventory
from ledger.domain.bounds import MAX_TEXT
from projections import labels

ADMIN = Actor("admin", Role.ADMIN, None)
CLERK = Actor("mz-clerk", Role.DEPARTMENT_CLERK, "minzheng")
NDRC = Actor("ndrc-1", Role.NDRC, None)
PLATFORM = Actor("exchange", Role.EXCHANGE_PLATFORM, None)
INVENTORY = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")


def _ledger() -> tuple[GovLedger, Any]:
    app = GovLedger()
    app.register_department(ADMIN, "minzheng", "区民政局")
    return app, app.register_system(CLERK, "minzheng", INVENTORY)


def test_each_owner_fact_keeps_who_and_its_evidence() -> None:
    app, sid = _ledger()
    app.set_connection_requirement(NDRC, sid, True, evidence=" 苏高新发改〔2026〕12号 ")
    app.connect_system(PLATFORM, sid, evidence="JR-2026-0412")
    app.mark_system_zombie(NDRC, sid, ["low_usage"], evidence="苏高新发改〔2026〕31号")
    stored = list(app.recorder.select_events(sid))[1:]
    events = [app.mapper.to_domain_event(e) for e in stored]
    assert [(e.actor.actor_id, e.evidence) for e in events] == [  # type: ignore[attr-defined]
        ("ndrc-1", "苏高新发改〔2026〕12号"),  # stripped, as the API strips it
        ("exchange", "JR-2026-0412"),
        ("ndrc-1", "苏高新发改〔2026〕31号"),
    ]
    summary = labels.event_summary(stored[1].topic, stored[1].state)
    assert "依据 JR-2026-0412" in summary


def test_evidence_is_optional_and_bounded() -> None:
    app, sid = _ledger()
    head = app.recorder.max_notification_id()
    with pytest.raises(DomainError) as long:
        app.connect_system(PLATFORM, sid, evidence="x" * (MAX_TEXT + 1))
    assert "evidence" in str(long.value)
    assert app.recorder.max_notification_id() == head  # nothing recorded
    app.connect_system(PLATFORM, sid)  # none given: recorded, with evidence ""
    (connected,) = list(app.recorder.select_events(sid))[1:]
    assert json.loads(connected.state)["evidence"] == ""
    assert "依据" not in labels.event_summary(connected.topic, connected.state)


def test_a_state_stored_before_evidence_decodes_and_replays() -> None:
    app, sid = _ledger()
    actor = {"actor_id": "exchange", "role": "exchange_platform", "department_code": None}
    actor |= {"client_address": None, "request_id": None}
    when = {"_type_": "datetime_iso", "_data_": "2026-03-02T02:00:00+00:00"}
    old = {"timestamp": when, "actor": {"_type_": "actor", "_data_": actor}}
    old |= {"occurred_at": when, "class_version": 2}
    state = json.dumps(old, separators=(",", ":"), ensure_ascii=False).encode()
    topic = get_topic(InformationSystem.Connected)
    app.recorder.insert_events([StoredEvent(sid, 2, topic, state)])
    stored = list(app.recorder.select_events(sid))[1]
    assert stored.state == state  # nothing rewrites it
    assert app.mapper.to_domain_event(stored).evidence == ""  # type: ignore[attr-defined]
    assert app.system(sid).connected
