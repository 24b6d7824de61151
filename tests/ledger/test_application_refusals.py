"""GovLedger commands refused: each raises its error code and saves nothing
(ledger/domain/errors.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from ledger.domain import (
    Actor,
    DomainError,
    ErrorCode,
    FundKind,
    FundOutcome,
    RiskLevel,
    Role,
    SharingType,
)
from tests.ledger._world import OK, World, access_report
from tests.ledger.domain.builders import (
    FINANCE,
    INVENTORY,
    NDRC,
    PLATFORM,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    population_entry,
)

Breach = Callable[[World], Callable[[], object]]


def _approve_twice(w: World) -> Callable[[], object]:
    w.approve()
    return w.approve


def _reject_after_approval(w: World) -> Callable[[], object]:
    w.approve()
    return lambda: w.app.reject_request(PROVIDER, w.request_id, "changed mind")


def _approve_after_reclassification(w: World) -> Callable[[], object]:
    w.app.reclassify_resource(
        PROVIDER,
        "R-POP",
        sharing_type=SharingType.NOT_SHAREABLE,
        legal_basis="居民身份证法 §19",
        share_condition="",
        reason="statute",
    )
    return w.approve


def _approve_not_shareable(w: World) -> Callable[[], object]:
    entry = population_entry("R-SECRET", SharingType.NOT_SHAREABLE, legal_basis="保守国家秘密法")
    w.app.register_resource(PROVIDER, entry)
    w.request_id = w.submit("R-SECRET")
    return w.approve


def _expire_too_early(w: World) -> Callable[[], object]:
    w.approve(days=3)
    return lambda: w.app.expire_grant(NDRC, w.request_id)


def _revoke_after_expiry(w: World) -> Callable[[], object]:
    w.approve(days=1)
    w.clock.advance(days=1)
    return lambda: w.app.revoke_grant(PROVIDER, w.request_id, "late")


def _change_decommissioned_system(w: World) -> Callable[[], object]:
    w.app.decommission_system(PROVIDER, w.system_id, "off")
    return lambda: w.app.connect_system(PLATFORM, w.system_id)


def _review_twice(w: World) -> Callable[[], object]:
    filing_id = w.filing()
    w.app.review_project(NDRC, filing_id, approved=False, architecture_review="no")
    return lambda: w.app.review_project(NDRC, filing_id, True, "yes after all")


def _accept_twice(w: World) -> Callable[[], object]:
    filing_id = w.filing()
    w.app.review_project(NDRC, filing_id, approved=True, architecture_review="fine")
    w.app.accept_project(NDRC, filing_id)
    return lambda: w.app.accept_project(NDRC, filing_id)


def _on_new_filing(command: Callable[[World, UUID], object]) -> Breach:
    def breach(w: World) -> Callable[[], object]:
        filing_id = w.filing()
        return lambda: command(w, filing_id)

    return breach


def _funds(**changes: object) -> Breach:
    def breach(w: World) -> Callable[[], object]:
        arguments: dict[str, object] = {
            "kind": FundKind.OM_FUNDS,
            "year": 2026,
            "department": PROVIDER_DEPT,
            "amount_fen": 100,
            "outcome": FundOutcome.GRANTED,
            "rationale": "",
            "system_id": w.system_id,
        }
        arguments.update(changes)
        actor = arguments.pop("actor", FINANCE)
        return lambda: w.app.decide_funds(actor, **arguments)  # type: ignore[arg-type]

    return breach


UNKNOWN_SHARING_TYPE = replace(population_entry("R-Z"), sharing_type="sometimes")  # type: ignore[arg-type]
OTHER_CLERK = Actor("hrb-2", Role.DATA_PROVIDER, USER_DEPT)

BREACHES: list[tuple[str, Breach, ErrorCode]] = [
    (
        "department registered twice",
        lambda w: lambda: w.app.register_department(NDRC, PROVIDER_DEPT, "again"),
        ErrorCode.DEPARTMENT_EXISTS,
    ),
    (
        "clerk registers a system for another department",
        lambda w: lambda: w.app.register_system(USER, PROVIDER_DEPT, INVENTORY),
        ErrorCode.DEPARTMENT_MISMATCH,
    ),
    (
        "system of an unknown department",
        lambda w: lambda: w.app.register_system(NDRC, "NOPE", INVENTORY),
        ErrorCode.UNKNOWN_DEPARTMENT,
    ),
    (
        "not_shareable without legal basis",
        lambda w: (
            lambda: w.app.register_resource(
                PROVIDER, population_entry("R-X", SharingType.NOT_SHAREABLE, legal_basis=" ")
            )
        ),
        ErrorCode.LEGAL_BASIS_REQUIRED,
    ),
    (
        "reclassified not_shareable without legal basis",
        lambda w: (
            lambda: w.app.reclassify_resource(
                PROVIDER,
                "R-POP",
                sharing_type=SharingType.NOT_SHAREABLE,
                legal_basis=None,
                share_condition="",
                reason="",
            )
        ),
        ErrorCode.LEGAL_BASIS_REQUIRED,
    ),
    (
        "resource code registered twice",
        lambda w: lambda: w.app.register_resource(PROVIDER, population_entry()),
        ErrorCode.RESOURCE_EXISTS,
    ),
    (
        "resource with duplicate items",
        lambda w: (
            lambda: w.app.register_resource(
                PROVIDER,
                replace(population_entry("R-Y"), items=tuple(population_entry().items) * 2),
            )
        ),
        ErrorCode.INVALID_ITEMS,
    ),
    (
        "resource with an unknown sharing type",
        lambda w: lambda: w.app.register_resource(PROVIDER, UNKNOWN_SHARING_TYPE),
        ErrorCode.INVALID_VALUE,
    ),
    (
        "owner other than the provider",
        lambda w: lambda: w.app.assign_resource_owner(NDRC, "R-POP", USER_DEPT),
        ErrorCode.OWNER_MUST_BE_PROVIDER,
    ),
    (
        "risk assessment by a clerk",
        lambda w: lambda: w.app.record_risk_assessment(PROVIDER, "R-POP", "ref", RiskLevel.LOW, ""),
        ErrorCode.ROLE_NOT_PERMITTED,
    ),
    (
        "request for items not in the resource",
        lambda w: lambda: w.submit(items=("name", "salary")),
        ErrorCode.UNKNOWN_ITEMS,
    ),
    (
        "request for an unknown resource",
        lambda w: lambda: w.submit(resource_code="R-NONE"),
        ErrorCode.UNKNOWN_RESOURCE,
    ),
    ("approve twice", _approve_twice, ErrorCode.REQUEST_ALREADY_DECIDED),
    ("reject after approval", _reject_after_approval, ErrorCode.REQUEST_ALREADY_DECIDED),
    ("approve a not_shareable resource", _approve_not_shareable, ErrorCode.NOT_SHAREABLE),
    (
        "approve after reclassification to not_shareable",
        _approve_after_reclassification,
        ErrorCode.NOT_SHAREABLE,
    ),
    (
        "approve items beyond the request",
        lambda w: lambda: w.approve(items=("name", "id_no")),
        ErrorCode.SCOPE_BEYOND_REQUEST,
    ),
    (
        "approve with an expiry in the past",
        lambda w: lambda: w.approve(days=-1),
        ErrorCode.INVALID_EXPIRY,
    ),
    (
        "provider of another department approves",
        lambda w: (
            lambda: w.app.approve_request(
                OTHER_CLERK, w.request_id, ["name"], w.clock.now + timedelta(days=1)
            )
        ),
        ErrorCode.DEPARTMENT_MISMATCH,
    ),
    (
        "ndrc approves on the provider's behalf",
        lambda w: (
            lambda: w.app.approve_request(
                NDRC, w.request_id, ["name"], w.clock.now + timedelta(days=1)
            )
        ),
        ErrorCode.ROLE_NOT_PERMITTED,
    ),
    (
        "revoke a pending request",
        lambda w: lambda: w.app.revoke_grant(PROVIDER, w.request_id, "x"),
        ErrorCode.GRANT_NOT_IN_FORCE,
    ),
    ("revoke an expired grant", _revoke_after_expiry, ErrorCode.GRANT_NOT_IN_FORCE),
    ("expire a grant before its expiry", _expire_too_early, ErrorCode.GRANT_NOT_EXPIRED),
    ("change a decommissioned system", _change_decommissioned_system, ErrorCode.SYSTEM_RETIRED),
    (
        "MLPS level 5",
        lambda w: lambda: w.app.record_mlps(PROVIDER, w.system_id, 5, True),
        ErrorCode.INVALID_MLPS_LEVEL,
    ),
    (
        "merge a system into itself",
        lambda w: lambda: w.app.merge_system(PROVIDER, w.system_id, w.system_id),
        ErrorCode.INTEGRATED_SYSTEM_MISMATCH,
    ),
    (
        "zombie with no reason",
        lambda w: lambda: w.app.mark_system_zombie(NDRC, w.system_id, []),
        ErrorCode.INVALID_VALUE,
    ),
    ("review twice", _review_twice, ErrorCode.FILING_ALREADY_REVIEWED),
    ("accept twice", _accept_twice, ErrorCode.FILING_ALREADY_ACCEPTED),
    (
        "review without text",
        _on_new_filing(lambda w, f: w.app.review_project(NDRC, f, False, "  ")),
        ErrorCode.ARCHITECTURE_REVIEW_REQUIRED,
    ),
    (
        "accept an unreviewed project",
        _on_new_filing(lambda w, f: w.app.accept_project(NDRC, f)),
        ErrorCode.FILING_NOT_APPROVED,
    ),
    (
        "project review by a department",
        _on_new_filing(lambda w, f: w.app.review_project(PROVIDER, f, True, "ok")),
        ErrorCode.ROLE_NOT_PERMITTED,
    ),
    ("funds decided by ndrc", _funds(actor=NDRC), ErrorCode.ROLE_NOT_PERMITTED),
    ("funds for nothing", _funds(system_id=None), ErrorCode.FUND_TARGET_REQUIRED),
    ("negative funds", _funds(amount_fen=-1), ErrorCode.INVALID_AMOUNT),
    ("funds as a float", _funds(amount_fen=10.5), ErrorCode.INVALID_AMOUNT),
    ("funds for an unknown system", _funds(system_id=uuid4()), ErrorCode.UNKNOWN_SYSTEM),
    ("funds for an unknown filing", _funds(filing_id=uuid4()), ErrorCode.UNKNOWN_FILING),
    (
        "access recorded by a clerk",
        lambda w: lambda: w.app.record_access(USER, access_report("ev-1"), OK),
        ErrorCode.ROLE_NOT_PERMITTED,
    ),
    (
        "access with a naive time",
        lambda w: (
            lambda: w.app.record_access(
                PLATFORM, access_report("ev-1", accessed_at=datetime(2026, 3, 3, 9)), OK
            )
        ),
        ErrorCode.MALFORMED_ACCESS,
    ),
    (
        "batch with one malformed access",
        lambda w: (
            lambda: w.app.record_accesses(
                PLATFORM, [(access_report("ev-1"), OK), (access_report("ev-2", row_count=-1), OK)]
            )
        ),
        ErrorCode.MALFORMED_ACCESS,
    ),
    (
        "access with no items",
        lambda w: lambda: w.app.record_access(PLATFORM, access_report("ev-1", items=()), OK),
        ErrorCode.MALFORMED_ACCESS,
    ),
]


@pytest.mark.parametrize(
    ("breach", "code"),
    [pytest.param(breach, code, id=name) for name, breach, code in BREACHES],
)
def test_refused_command_raises_its_code_and_saves_nothing(
    world: World, breach: Breach, code: ErrorCode
):
    command = breach(world)
    before = world.notifications()
    with pytest.raises(DomainError) as caught:
        command()
    assert caught.value.code is code
    assert world.notifications() == before
