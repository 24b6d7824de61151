"""GovLedger commands: happy paths and idempotent access batches (refusals that save
nothing: test_application_refusals.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest

from ledger.application import GovLedger
from ledger.domain import (
    AccessReason,
    AccessVerdict,
    Actor,
    DataAccess,
    DomainError,
    ErrorCode,
    FilingStatus,
    FundKind,
    FundOutcome,
    RequestStatus,
    ResponseDeadlinePolicy,
    RiskLevel,
    SharingType,
    SystemStatus,
    ZombieReason,
)
from tests.ledger._world import OK, World, access_report
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

# -- happy paths -------------------------------------------------------------


def test_department_is_registered_and_names_its_cio(world: World):
    world.app.name_cio(PROVIDER, PROVIDER_DEPT, "张主任", cio_actor_id="psb-cio")
    department = world.app.department(PROVIDER_DEPT)
    assert (department.code, department.name) == (PROVIDER_DEPT, "区公安局")
    assert (department.cio_name, department.cio_actor_id) == ("张主任", "psb-cio")


def test_system_goes_through_its_lifecycle(world: World):
    app, sid = world.app, world.system_id
    app.set_connection_requirement(NDRC, sid, required_to_connect=True)
    app.connect_system(PLATFORM, sid)
    app.move_system_on_cloud(PROVIDER, sid)
    app.record_mlps(PROVIDER, sid, mlps_level=3, mlps_filed=True)
    app.declare_data_holdings(PROVIDER, sid, holds_personal_data=True, holds_important_data=True)
    system = app.system(sid)
    assert system.inventory == INVENTORY
    assert (system.required_to_connect, system.connected, system.on_cloud) == (True, True, True)
    assert (system.mlps_level, system.mlps_filed, system.holds_important_data) == (3, True, True)

    app.mark_system_zombie(NDRC, sid, [ZombieReason.LOW_USAGE, ZombieReason.UNMAINTAINED])
    assert app.system(sid).status is SystemStatus.ZOMBIE
    big = app.register_system(PROVIDER, PROVIDER_DEPT, replace(INVENTORY, name="公安大系统"))
    app.merge_system(PROVIDER, sid, big)
    assert (app.system(sid).status, app.system(sid).integrated_system_id) == (
        SystemStatus.MERGED,
        big,
    )
    app.decommission_system(PROVIDER, sid, "merged into 大系统")
    assert app.system(sid).status is SystemStatus.DECOMMISSIONED


def test_resource_gets_owner_controller_risk_assessment_and_reclassification(world: World):
    app = world.app
    app.assign_resource_owner(PROVIDER, "R-POP", PROVIDER_DEPT)
    app.assign_resource_controller(NDRC, "R-POP", "data-centre")
    app.record_risk_assessment(CAC, "R-POP", "网信评〔2026〕3号", RiskLevel.MEDIUM, "ok")
    app.reclassify_resource(
        PROVIDER,
        "R-POP",
        sharing_type=SharingType.NOT_SHAREABLE,
        legal_basis="居民身份证法 §19",
        share_condition="",
        reason="statute forbids",
    )
    resource = app.resource("R-POP")
    assert (resource.owner_department, resource.controller) == (PROVIDER_DEPT, "data-centre")
    assert resource.risk_assessments == ("网信评〔2026〕3号",)
    assert resource.risk_level is RiskLevel.MEDIUM
    assert resource.sharing_type is SharingType.NOT_SHAREABLE


def test_a_risk_assessment_is_recorded_once_per_reference(world: World):
    app, reference = world.app, "网信评〔2026〕3号"
    assert app.record_risk_assessment(CAC, "R-POP", reference, RiskLevel.MEDIUM, "ok") is True
    before = world.notifications()
    assert app.record_risk_assessment(CAC, "R-POP", reference, RiskLevel.MEDIUM, "ok") is False
    for level, summary in ((RiskLevel.HIGH, "ok"), (RiskLevel.MEDIUM, "revised")):
        with pytest.raises(DomainError) as caught:
            app.record_risk_assessment(CAC, "R-POP", reference, level, summary)
        assert caught.value.code is ErrorCode.RISK_ASSESSMENT_EXISTS
    assert world.notifications() == before
    assert app.resource("R-POP").risk_assessments == (reference,)
    assert app.record_risk_assessment(CAC, "R-POP", "网信评〔2026〕4号", RiskLevel.LOW, "ok")
    assert app.resource("R-POP").risk_level is RiskLevel.LOW


def test_submitted_request_records_its_response_deadline(world: World):
    request = world.app.request(world.request_id)
    assert request.status is RequestStatus.PENDING
    assert request.submitted_at == world.clock.now
    assert request.response_due == date(2026, 3, 16)  # 10 working days after Mon 2 Mar


def test_response_deadline_comes_from_the_configured_policy():
    clock = FakeClock()
    app = GovLedger(clock=clock, deadline=ResponseDeadlinePolicy(working_days=5))
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    app.register_department(NDRC, USER_DEPT, "区人社局")
    app.register_resource(PROVIDER, population_entry())
    w = World(app, clock, system_id=UUID(int=0), request_id=UUID(int=0))
    assert app.request(w.submit()).response_due == date(2026, 3, 9)


def test_request_is_approved_then_revoked(world: World):
    world.clock.advance(days=2)
    world.approve(items=("name",), days=30)
    request = world.app.request(world.request_id)
    assert request.status is RequestStatus.APPROVED
    assert request.granted_items == ("name",)
    assert request.decided_at == world.clock.now
    assert request.expires_at == world.clock.now + timedelta(days=30)
    world.clock.advance(days=1)
    world.app.revoke_grant(PROVIDER, world.request_id, "purpose exceeded")
    request = world.app.request(world.request_id)
    assert (request.status, request.revoked_at) == (RequestStatus.REVOKED, world.clock.now)


def test_grant_is_marked_expired_once_its_time_has_passed(world: World):
    world.approve(days=1)
    world.clock.advance(days=1)
    world.app.expire_grant(NDRC, world.request_id)
    assert world.app.request(world.request_id).status is RequestStatus.EXPIRED


def test_rejection_without_reason_is_recorded_not_refused(world: World):
    """S7 is a finding (51号: refusals state reasons), judged later: the ledger keeps the fact."""
    before = world.notifications()
    world.app.reject_request(PROVIDER, world.request_id, "")
    request = world.app.request(world.request_id)
    assert (request.status, request.rejection_reason) == (RequestStatus.REJECTED, "")
    assert world.notifications() == before + 1


def test_unauthorized_access_is_recorded_with_its_verdict(world: World):
    verdict = AccessVerdict.refuse(AccessReason.UNKNOWN_RESOURCE)
    report = access_report("ev-1", resource_code="R-NOT-IN-CATALOGUE")
    access_id = world.app.record_access(PLATFORM, report, verdict)
    stored = world.app.access("ev-1")
    assert stored.id == access_id
    assert stored.report == report
    assert stored.verdict == verdict and not stored.verdict.authorized


def test_project_is_filed_approved_and_accepted(world: World):
    filing_id = world.filing()
    world.app.review_project(NDRC, filing_id, approved=True, architecture_review="shares R-POP")
    world.app.accept_project(NDRC, filing_id)
    filing = world.app.filing(filing_id)
    assert filing.status is FilingStatus.ACCEPTED
    assert (filing.investment_fen, filing.system_ids) == (120_000_00, (world.system_id,))


def test_rejected_project_keeps_its_architecture_review(world: World):
    filing_id = world.filing()
    world.app.review_project(NDRC, filing_id, approved=False, architecture_review="duplicates")
    filing = world.app.filing(filing_id)
    assert (filing.status, filing.architecture_review) == (FilingStatus.REJECTED, "duplicates")


def test_funds_for_a_zombie_system_are_recorded_not_refused(world: World):
    """F2 is a finding for the audit report, not a refusal of finance's decision."""
    world.app.mark_system_zombie(NDRC, world.system_id, [ZombieReason.IDLE_RESOURCES])
    decision_id = world.app.decide_funds(
        FINANCE,
        kind=FundKind.OM_FUNDS,
        year=2026,
        department=PROVIDER_DEPT,
        amount_fen=35_000_00,
        outcome=FundOutcome.GRANTED,
        rationale="annual O&M",
        system_id=world.system_id,
    )
    decision = world.app.fund_decision(decision_id)
    assert (decision.amount_fen, decision.outcome, decision.system_id) == (
        35_000_00,
        FundOutcome.GRANTED,
        world.system_id,
    )


def test_every_stored_event_carries_its_actor_and_reloads_unchanged(world: World):
    world.approve()
    world.app.record_access(PLATFORM, access_report("ev-1"), OK)
    events = [
        world.app.mapper.to_domain_event(n)
        for n in world.app.recorder.select_notifications(start=1, limit=100)
    ]
    actors = {event.actor for event in events}  # type: ignore[attr-defined]
    assert all(isinstance(actor, Actor) for actor in actors)
    assert actors == {NDRC, PROVIDER, USER, PLATFORM}
    # Replaying from stored JSON gives back the same typed state (tuples, enums, dates).
    assert world.app.request(world.request_id).granted_items == ("name",)
    assert world.app.resource("R-POP").items == population_entry().items


def test_application_ignores_os_environ(monkeypatch: pytest.MonkeyPatch):
    """Architecture rule: configuration is passed in; the library would read os.environ."""
    monkeypatch.setenv("PERSISTENCE_MODULE", "no.such.module")
    app = GovLedger()
    assert "PERSISTENCE_MODULE" not in app.env


def test_queries_refuse_unknown_ids_and_ids_of_another_kind(world: World):
    with pytest.raises(DomainError) as caught:
        world.app.request(uuid4())
    assert caught.value.code is ErrorCode.UNKNOWN_REQUEST
    with pytest.raises(DomainError) as caught:
        world.app.request(world.system_id)
    assert caught.value.code is ErrorCode.UNKNOWN_REQUEST


# -- idempotent access batches -----------------------------------------------


def test_retried_batch_records_nothing_twice(world: World):
    batch = [(access_report(f"ev-{n}"), OK) for n in range(3)]
    first = world.app.record_accesses(PLATFORM, batch)
    after_first = world.notifications()
    retry = world.app.record_accesses(PLATFORM, batch)
    assert len(first.recorded) == 3 and first.already_recorded == ()
    assert retry.recorded == () and set(retry.already_recorded) == set(first.recorded)
    assert world.notifications() == after_first


def test_partly_known_batch_records_only_the_new_accesses_in_one_transaction(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    world.app.record_accesses(PLATFORM, [(access_report(f"ev-{n}"), OK) for n in range(2)])
    inserts: list[int] = []
    insert_events = world.app.recorder.insert_events

    def counting_insert(stored_events, **kwargs):
        inserts.append(len(stored_events))
        return insert_events(stored_events, **kwargs)

    monkeypatch.setattr(world.app.recorder, "insert_events", counting_insert)
    before = world.notifications()
    result = world.app.record_accesses(PLATFORM, [(access_report(f"ev-{n}"), OK) for n in range(5)])
    assert inserts == [3]  # one insert (one transaction) with only the new accesses
    assert world.notifications() == before + 3
    assert [world.app.access(f"ev-{n}").id for n in (2, 3, 4)] == list(result.recorded)
    assert len(result.already_recorded) == 2


def test_repeated_id_inside_one_batch_is_recorded_once(world: World):
    report = access_report("ev-dup")
    before = world.notifications()
    result = world.app.record_accesses(PLATFORM, [(report, OK), (report, OK)])
    assert world.notifications() == before + 1
    assert result.recorded == result.already_recorded == (world.app.access("ev-dup").id,)


def test_single_access_retry_returns_the_same_id_and_records_once(world: World):
    first = world.app.record_access(PLATFORM, access_report("ev-1"), OK)
    before = world.notifications()
    again = world.app.record_access(PLATFORM, access_report("ev-1"), OK)
    assert first == again and world.notifications() == before


def test_concurrent_duplicate_is_skipped_on_retry(world: World, monkeypatch: pytest.MonkeyPatch):
    """Another writer stores ev-1 between our existence check and our save.

    The recorder refuses the whole transaction (IntegrityError on ev-1's
    version 1); the application re-checks and saves the other two.
    """
    app = world.app
    batch = [(access_report(f"ev-{n}"), OK) for n in range(3)]
    insert_events = app.recorder.insert_events
    raced: list[bool] = []

    def insert_after_a_competitor(stored_events, **kwargs):
        if not raced:
            raced.append(True)
            app.save(DataAccess.record(PLATFORM, batch[1][0], OK))  # the competitor wins ev-1
        return insert_events(stored_events, **kwargs)

    monkeypatch.setattr(app.recorder, "insert_events", insert_after_a_competitor)
    before = world.notifications()
    result = app.record_accesses(PLATFORM, batch)
    assert world.notifications() == before + 3
    assert result.recorded == (app.access("ev-0").id, app.access("ev-2").id)
    assert result.already_recorded == (app.access("ev-1").id,)
