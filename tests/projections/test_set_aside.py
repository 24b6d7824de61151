"""One stored fact never stops the read models: a fact the fold cannot use is set aside.

The entrances refuse every value below (the input contract), but a ledger written
before the contract, or by someone with write access to the database, can hold
them. Each is written here as stored bytes, between good facts; ``projections
run`` must finish on both backends, project every other fact, and list the bad
one as set aside at its position with its reason, counted as an ``L3`` finding
(docs/projections.md "Facts set aside"; docs/security.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import uuid4

import psycopg.errors
import pytest
from eventsourcing.persistence import StoredEvent
from prometheus_client import generate_latest

from api.metrics import build_metrics
from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import bounds
from ledger.domain.access_state import RECORDED_TOPIC, AccessStateWriter
from ledger.domain.errors import DomainError
from ledger.domain.ids import data_access_id
from ledger.store.connect import application_env, open_reader
from projections.query import open_views
from projections.runner import run_projections
from projections.set_aside import MAX_INDEXED_BYTES, RULE
from projections.sharing_terms import SharingTerms
from projections.store import ViewStore
from projections.summaries import findings_summary
from security.access import evaluate_access
from tests.projections.scenario import PLATFORM, build_scenario, report
from tests.promtext import value

BIG = 20 * 1024 * 1024  # 20 MB of text: more than any index row holds (PostgreSQL ~2.7 kB)

State = dict[str, Any]


def _access(field: str, value: Any) -> Callable[[State], State | bytes]:
    def change(state: State) -> State:
        if field.startswith("accessed_at"):
            state["accessed_at"]["_data_"] = value
        elif field == "reasons":
            state["verdict"]["_data_"]["reasons"] = value
        else:
            state[field] = value
        return state

    return change


def _without(field: str) -> Callable[[State], State]:
    def change(state: State) -> State:
        del state[field]
        return state

    return change


def _actor_id(value: Any) -> Callable[[State], State]:
    def change(state: State) -> State:
        state["actor"]["_data_"]["actor_id"] = value
        return state

    return change


def _decided_at(value: str) -> Callable[[State], State]:
    def change(state: State) -> State:
        state["decided_at"]["_data_"] = value
        return state

    return change


# name -> (topic template: "access" or a short topic of the scenario, change, words of the reason)
HOSTILE: dict[str, tuple[str, Callable[[State], State | bytes], str]] = {
    "year 1 at +14:00": (
        "access",
        _access("accessed_at", "0001-01-01T00:00:00+14:00"),
        "year 0 is out of range",
    ),
    "year 9999 at -05:00": (
        "access",
        _access("accessed_at", "9999-12-31T23:00:00-05:00"),
        "date value out of range",
    ),
    "year 9999 at -12:00, same CST day": (
        "access",
        _access("accessed_at", "9999-12-31T00:00:00-12:00"),
        "years 2..9998",
    ),
    "time not a time": ("access", _access("accessed_at", "yesterday"), "ValueError"),
    "time a number": ("access", _access("accessed_at", 1754000000), "Expected `str`"),
    "row count 2**63": ("access", _access("row_count", 2**63), "row_count"),
    "row count 2**70": ("access", _access("row_count", 2**70), "row_count"),
    "row count negative": ("access", _access("row_count", -1), "row_count"),
    "row count above the contract": ("access", _access("row_count", 10**12 + 1), "row_count"),
    "row count text": ("access", _access("row_count", "10"), "row_count"),
    "accessor id 20 MB": ("access", _access("accessor_id", "a" * BIG), "accessor_id is"),
    "accessor id 1,000 CJK characters": (
        "access",
        _access("accessor_id", "访" * 1000),
        "more than an index holds",
    ),
    "accessor id a number": ("access", _access("accessor_id", 42), "accessor_id"),
    "department an object": ("access", _access("department", {"a": 1}), "department"),
    "purpose a list": ("access", _access("purpose", ["x"]), "purpose"),
    "no accessed_at": ("access", _without("accessed_at"), "accessed_at"),
    "no verdict": ("access", _without("verdict"), "verdict"),
    "unknown refusal reason": ("access", _access("reasons", ["made_up"]), "made_up"),
    "state not JSON": ("access", lambda _: b"{not json", "DecodeError"),
    "state not UTF-8": (
        "access",
        lambda s: json.dumps(s).encode().replace(b'"mz-01"', b'"\xff\xfe"'),
        "UTF-8",
    ),
    "state a list": ("access", lambda _: b"[]", "Expected `object`"),
    "request decision not JSON": ("SharingRequest.Approved", lambda _: b"\x00\x01", "Decode"),
    "request decided at year 1 +14:00": (
        "SharingRequest.Approved",
        _decided_at("0001-01-01T00:00:00+14:00"),
        "years 2..9998",
    ),
    "request decided at year 9999 -12:00": (
        "SharingRequest.Approved",
        _decided_at("9999-12-31T23:00:00-12:00"),
        "out of range",
    ),
    "department without actor": ("Department.Registered", _without("actor"), "actor"),
    "department actor id a list": ("Department.Registered", _actor_id(["x"]), "actor_id"),
    "department actor id 20 MB": ("Department.Registered", _actor_id("b" * BIG), "actor_id is"),
}


def _templates(settings: Settings) -> dict[str, tuple[str, State]]:
    """Short topic -> (stored topic, decoded state) of the scenario's first such row."""
    found: dict[str, tuple[str, State]] = {}
    reader = open_reader(settings)
    try:
        for rows in reader.iter_batches(0, 1000):
            for row in rows:
                short = str(row[3]).rpartition(":")[2]
                found.setdefault(short, (str(row[3]), json.loads(bytes(row[4]))))
    finally:
        reader.close()
    return found


def _good_access(app: GovLedger, number: int) -> StoredEvent:
    when = datetime(2026, 8, 3, 1 + number // 60, number % 60, tzinfo=UTC)
    access = report(f"good-{number}", when, "mz-01", "minzheng", "RK-0001", ("姓名",), "核查")
    verdict = evaluate_access(access, _terms(app).current())
    return AccessStateWriter(app.mapper, PLATFORM).stored_event(
        data_access_id(access.platform_event_id), access, verdict
    )


_TERMS: dict[int, SharingTerms] = {}


def _terms(app: GovLedger) -> SharingTerms:
    return _TERMS.setdefault(id(app), SharingTerms(app))


def _append(app: GovLedger, event: StoredEvent) -> int:
    app.recorder.insert_events([event])
    return app.recorder.max_notification_id() or 0


def test_one_fact_never_stops_the_views(settings: Settings) -> None:
    build_scenario(settings)
    templates = _templates(settings)
    app = GovLedger(env=application_env(settings))
    bad: dict[int, tuple[str, str, str]] = {}  # position -> (case, short topic, reason words)
    good: list[int] = []
    try:
        template = json.loads(_good_access(app, 0).state)
        for number, (case, (kind, change, words)) in enumerate(HOSTILE.items(), start=1):
            good.append(_append(app, _good_access(app, number)))
            if kind == "access":
                topic, state = RECORDED_TOPIC, json.loads(json.dumps(template))
            else:
                topic, state = templates[kind][0], json.loads(json.dumps(templates[kind][1]))
            changed = change(state)
            raw = changed if isinstance(changed, bytes) else json.dumps(changed).encode()
            position = _append(app, StoredEvent(uuid4(), 1, topic, raw))
            bad[position] = (case, topic.rpartition(":")[2], words)
        good.append(_append(app, _good_access(app, 99)))
        head = app.recorder.max_notification_id() or 0
    finally:
        app.close()

    run_projections(settings)  # finishes: no fact stops it

    with open_views(settings, catch_up=True) as views:
        assert views.position == head
        listed = {s.position: s for s in views.set_aside()}
        m = views.moment()
        trail = {line.position for line in views.audit_trail(m, after=0, limit=head + 10)}
        findings = views.findings(m, rule=RULE)
    wrong = {
        case: listed[p].reason if p in listed else "not set aside"
        for p, (case, short, words) in bad.items()
        if p not in listed or listed[p].topic != short or words not in listed[p].reason
    }
    assert not wrong
    assert set(listed) == set(bad), "only the bad facts are set aside"
    assert trail == set(range(1, head + 1)) - set(bad), "every other fact is projected"
    assert set(good) <= trail
    assert sorted(f.positions for f in findings) == [(p,) for p in sorted(bad)]
    assert {f.subject_kind for f in findings} == {"fact"}


@pytest.mark.parametrize("case", ["year 1 at +14:00", "row count 2**63", "state not JSON"])
def test_a_fact_set_aside_stays_aside_across_runs(settings: Settings, case: str) -> None:
    """Run by run (a worker following the ledger, restarts from snapshots): the fact is
    listed once, the ones after it are projected, and the findings count it once."""
    build_scenario(settings)
    app = GovLedger(env=application_env(settings))
    try:
        run_projections(settings)
        _, change, _ = HOSTILE[case]
        changed = change(json.loads(_good_access(app, 0).state))
        raw = changed if isinstance(changed, bytes) else json.dumps(changed).encode()
        position = _append(app, StoredEvent(uuid4(), 1, RECORDED_TOPIC, raw))
        run_projections(settings)
        after = _append(app, _good_access(app, 1))
    finally:
        app.close()
    run_projections(settings)
    with open_views(settings, catch_up=True) as views:
        assert [s.position for s in views.set_aside()] == [position]
        assert views.position == after
        m = views.moment()
        assert [f.positions for f in views.findings(m, rule=RULE)] == [(position,)]
        assert [line.position for line in views.audit_trail(m, after=position - 1)] == [after]


def test_the_metric_counts_the_facts_set_aside(settings: Settings) -> None:
    """``govledger_projection_facts_set_aside`` (alert ProjectionFactSetAside) is 0 on a
    clean ledger and counts each fact set aside, as the L3 findings do."""
    build_scenario(settings)
    run_projections(settings)
    app = GovLedger(env=application_env(settings))
    try:
        metrics = build_metrics(settings, app, findings_summary=partial(findings_summary, settings))
        before = generate_latest(metrics.registry).decode()
        for case in ("row count 2**63", "state not JSON"):
            _, change, _ = HOSTILE[case]
            changed = change(json.loads(_good_access(app, 0).state))
            raw = changed if isinstance(changed, bytes) else json.dumps(changed).encode()
            _append(app, StoredEvent(uuid4(), 1, RECORDED_TOPIC, raw))
        run_projections(settings)
        after = generate_latest(metrics.registry).decode()
    finally:
        app.close()
    assert value(before, "govledger_projection_facts_set_aside") == 0
    assert value(after, "govledger_projection_facts_set_aside") == 2
    assert value(after, "govledger_compliance_findings_open", rule=RULE, severity="high") == 2


def test_long_text_no_index_holds_is_projected_as_is(settings: Settings) -> None:
    """Only what the views cannot hold is set aside: a 20 MB purpose (no index on it) is
    projected whole on both backends."""
    build_scenario(settings)
    app = GovLedger(env=application_env(settings))
    try:
        state = json.loads(_good_access(app, 0).state)
        state["purpose"] = "用途" * (BIG // 2)
        position = _append(app, StoredEvent(uuid4(), 1, RECORDED_TOPIC, json.dumps(state).encode()))
    finally:
        app.close()
    run_projections(settings)
    with open_views(settings, catch_up=True) as views:
        assert views.set_aside() == []
        assert views.position == position
        [line] = views.audit_trail(views.moment(), after=position - 1)
    assert line.position == position


def test_a_row_the_views_database_refuses_is_found_and_set_aside(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storage limit no check foresaw: the batch is rolled back, committed again one row
    at a time, and the one row the database refuses is set aside; the rest goes on."""
    build_scenario(settings)
    app = GovLedger(env=application_env(settings))
    try:
        before = _append(app, _good_access(app, 1))
        state = json.loads(_good_access(app, 2).state)
        state["accessor_id"] = "storage-refuses"
        refused = _append(app, StoredEvent(uuid4(), 1, RECORDED_TOPIC, json.dumps(state).encode()))
        after = _append(app, _good_access(app, 3))
    finally:
        app.close()
    refusal = (
        sqlite3.DataError("string or blob too big")
        if settings.database.backend == "sqlite"
        else psycopg.errors.ProgramLimitExceeded("index row size exceeds btree maximum")
    )
    insert_many = ViewStore.insert_many

    def refusing(store: ViewStore, name: str, columns: Any, rows: Any) -> None:
        if name == "events" and any("storage-refuses" in row for row in rows):
            raise refusal
        insert_many(store, name, columns, rows)

    monkeypatch.setattr(ViewStore, "insert_many", refusing)
    run_projections(settings.with_overrides(projection_batch_size=50))
    with open_views(settings, catch_up=True) as views:
        [aside] = views.set_aside()
        assert views.position == after
        trail = [line.position for line in views.audit_trail(views.moment(), after=before - 1)]
    assert (aside.position, aside.topic) == (refused, "DataAccess.Recorded")
    assert type(refusal).__name__ in aside.reason
    assert trail == [before, after]


def test_every_access_the_contract_accepts_is_projected_none_set_aside(settings: Settings) -> None:
    """The input contract bounds an access's identifiers so that the views index every
    access it accepts (512 characters of 4 UTF-8 bytes fit MAX_INDEXED_BYTES): the longest
    accessor id the entrances take is judged, never set aside; one character more is refused."""
    build_scenario(settings)
    widest = "\U00020000" * bounds.MAX_ID  # 4 UTF-8 bytes each
    assert len(widest.encode("utf-8")) <= MAX_INDEXED_BYTES
    when = datetime(2026, 8, 3, 10, 0, tzinfo=UTC)
    app = GovLedger(env=application_env(settings))
    try:
        terms = SharingTerms(app).current()
        longest = report("id-" + "e" * (bounds.MAX_ID - 3), when, widest, "minzheng", "RK-0001",
                         ("姓名",), "核查")  # fmt: skip
        app.record_accesses(PLATFORM, [(longest, evaluate_access(longest, terms))])
        position = app.recorder.max_notification_id()
        too_long = report(
            "e-too-long", when, widest + "x", "minzheng", "RK-0001", ("姓名",), "核查"
        )
        with pytest.raises(DomainError):
            app.record_accesses(PLATFORM, [(too_long, evaluate_access(too_long, terms))])
        assert app.recorder.max_notification_id() == position
    finally:
        app.close()
    run_projections(settings)
    with open_views(settings, catch_up=True) as views:
        assert views.set_aside() == []
        [line] = views.audit_trail(views.moment(), after=position - 1)
    assert line.position == position
