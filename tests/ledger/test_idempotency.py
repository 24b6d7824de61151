"""Creates keyed by an Idempotency-Key apply once (ledger/idempotency.py, docs/security.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.domain import Actor, DomainError, ErrorCode, FundKind, FundOutcome
from ledger.domain.ids import idempotent_create_id
from tests.ledger.domain.builders import (
    FINANCE,
    INVENTORY,
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> GovLedger:
    app = GovLedger(clock=clock)
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    app.register_department(NDRC, USER_DEPT, "区人社局")
    app.register_resource(PROVIDER, population_entry())
    return app


def head(app: GovLedger) -> int:
    return app.recorder.max_notification_id() or 0


def register(app: GovLedger, key: str | None, name: str = INVENTORY.name) -> UUID:
    inventory = replace(INVENTORY, name=name)
    return app.register_system(PROVIDER, PROVIDER_DEPT, inventory, idempotency_key=key)


def submit(
    app: GovLedger, key: str | None, purpose: str = "eligibility", actor: Actor = USER
) -> UUID:
    return app.submit_request(
        actor,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name"],
        purpose=purpose,
        legal_basis="社会保险法 §4",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 12, 31),
        idempotency_key=key,
    )


def test_a_retry_returns_the_first_record_and_writes_nothing(app: GovLedger) -> None:
    first = register(app, "k-1")
    before = head(app)
    assert register(app, "k-1") == first
    assert head(app) == before
    assert first == idempotent_create_id("system", PROVIDER.actor_id, "k-1")


def test_a_retry_keeps_the_first_submission_time_and_deadline(
    app: GovLedger, clock: FakeClock
) -> None:
    first = submit(app, "req-1")
    submitted = app.request(first)
    clock.advance(days=3)
    retry_actor = replace(USER, request_id="another-request", client_address="10.9.9.9")
    again = submit(app, "req-1", actor=retry_actor)
    assert again == first
    stored = app.request(first)
    assert (stored.submitted_at, stored.response_due, stored.version) == (
        submitted.submitted_at,
        submitted.response_due,
        1,
    )


def test_the_same_key_with_another_request_is_refused(app: GovLedger) -> None:
    register(app, "k-2")
    before = head(app)
    with pytest.raises(DomainError) as refused:
        register(app, "k-2", name="另一个系统")
    assert refused.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert head(app) == before


def test_a_lost_race_is_answered_from_the_stored_record(
    app: GovLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies both found no record; the second save hits the store's unique id."""
    first = register(app, "k-3")
    before = head(app)
    exists = app._exists
    monkeypatch.setattr(app, "_exists", lambda i: i != first and exists(i))
    assert register(app, "k-3") == first
    with pytest.raises(DomainError) as refused:
        register(app, "k-3", name="另一个系统")
    assert refused.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert head(app) == before


def test_keys_belong_to_a_subject_and_a_kind_of_record(app: GovLedger) -> None:
    system = register(app, "shared-key")
    request = submit(app, "shared-key")
    assert system != request
    other_clerk = replace(PROVIDER, actor_id="psb-clerk-2")
    other = app.register_system(other_clerk, PROVIDER_DEPT, INVENTORY, idempotency_key="shared-key")
    assert other != system
    # A subject containing the separator cannot collide with another (subject, key).
    assert idempotent_create_id("system", "a:b", "c") != idempotent_create_id("system", "a", "b:c")


def decide(app: GovLedger, key: str | None) -> UUID:
    return app.decide_funds(
        FINANCE,
        kind=FundKind.CONSTRUCTION_FUNDS,
        year=2026,
        department=USER_DEPT,
        amount_fen=100,
        outcome=FundOutcome.GRANTED,
        rationale="年度预算",
        project_name="社保系统",
        idempotency_key=key,
    )


def test_without_a_key_each_create_is_a_new_record(app: GovLedger) -> None:
    assert register(app, None) != register(app, None)
    assert decide(app, None) != decide(app, None)
    assert decide(app, "f-1") == decide(app, "f-1")


@pytest.mark.parametrize("key", ["", "x" * 256, "line\nbreak", "键"])
def test_malformed_keys_are_refused(app: GovLedger, key: str) -> None:
    before = head(app)
    with pytest.raises(DomainError) as refused:
        register(app, key)
    assert refused.value.code is ErrorCode.INVALID_VALUE
    assert head(app) == before
