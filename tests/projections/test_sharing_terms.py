"""The sharing-terms follower: resources and grants as of the ledger's head."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import AccessReport
from ledger.domain.catalogue import SharingType
from ledger.store.connect import application_env, init_ledger
from projections.sharing_terms import SharingTerms
from security.access import evaluate_access
from tests.ledger.domain.builders import (
    PLATFORM,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)


def _report(clock: FakeClock, grant_id: object, n: int) -> AccessReport:
    return AccessReport(
        platform_event_id=f"evt-{n}",
        accessor_id="hrb-clerk",
        department=USER_DEPT,
        system=None,
        resource_code="R-POP",
        items=("name",),
        row_count=3,
        purpose="pension eligibility",
        grant_id=grant_id,  # type: ignore[arg-type]
        client_address=None,
        accessed_at=clock.now,
    )


def test_follows_grants_and_revocations_incrementally(sqlite_settings: Settings) -> None:
    init_ledger(sqlite_settings)
    clock = FakeClock()
    app = GovLedger(env=application_env(sqlite_settings), clock=clock)
    app.register_department(PROVIDER, PROVIDER_DEPT, "区公安局")
    app.register_department(USER, USER_DEPT, "区人社局")
    app.register_resource(PROVIDER, population_entry(sharing_type=SharingType.CONDITIONAL))
    terms = SharingTerms(app)
    assert terms.current().grants == {}
    assert terms.current().resources["R-POP"].provider_department == PROVIDER_DEPT

    request_id = app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name"],
        purpose="pension eligibility",
        legal_basis="社会保险法",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 12, 31),
    )
    app.approve_request(PROVIDER, request_id, ["name"], clock.now + timedelta(days=30))
    clock.advance(hours=1)
    model = terms.current()
    assert model.grants[request_id].revoked_at is None
    assert evaluate_access(_report(clock, request_id, 1), model).authorized

    # Accesses are not sharing events: the follower moves past them without reloading.
    app.record_access(
        PLATFORM,
        _report(clock, request_id, 1),
        evaluate_access(_report(clock, request_id, 1), model),
    )
    before = terms.position
    terms.current()
    assert terms.position == before + 1

    app.revoke_grant(PROVIDER, request_id, "purpose fulfilled")
    clock.advance(hours=1)
    verdict = evaluate_access(_report(clock, request_id, 2), terms.current())
    assert [str(r) for r in verdict.reasons] == ["grant_revoked"]
    # A fresh follower built from position 0 agrees with the incremental one.
    assert SharingTerms(app).current() == terms.current()
    app.close()


def test_the_evaluator_forgets_its_verdicts_when_the_terms_change(
    sqlite_settings: Settings,
) -> None:
    """A remembered 'no grant' must not outlive the grant's approval, nor 'authorized'
    its revocation: the evaluator is renewed with every new model."""
    init_ledger(sqlite_settings)
    clock = FakeClock()
    app = GovLedger(env=application_env(sqlite_settings), clock=clock)
    app.register_department(PROVIDER, PROVIDER_DEPT, "区公安局")
    app.register_department(USER, USER_DEPT, "区人社局")
    app.register_resource(PROVIDER, population_entry(sharing_type=SharingType.CONDITIONAL))
    terms = SharingTerms(app)
    clock.advance(hours=1)
    unquoted = msgspec.structs.replace(_report(clock, None, 1), accessed_at=clock.now)
    assert not terms.evaluator()(unquoted).authorized  # no grant yet: remembered
    same = terms.evaluator()
    assert terms.evaluator() is same  # nothing changed: what it remembers still holds
    request_id = app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name"],
        purpose="pension eligibility",
        legal_basis="社会保险法",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 12, 31),
    )
    app.approve_request(PROVIDER, request_id, ["name"], clock.now + timedelta(days=30))
    clock.advance(hours=1)
    later = msgspec.structs.replace(unquoted, accessed_at=clock.now)
    approved = terms.evaluator()
    assert approved is not same and approved(later).authorized
    app.revoke_grant(PROVIDER, request_id, "purpose fulfilled")
    clock.advance(hours=1)
    after = msgspec.structs.replace(unquoted, accessed_at=clock.now)
    assert not terms.evaluator()(after).authorized
    app.close()
