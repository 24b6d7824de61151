"""Separation of duties (issue 14): the inputs of F1 and F2 are not the funded department's.

A system's connection requirement and zombie mark are ndrc's (seed §三(三)12, §三(一)3),
its connection the exchange platform's; the department whose funds depend on them
(its clerk, its CIO) is refused with 403 and a JSON error, and the ledger is unchanged.
The owners record them, and the ledger keeps who did (security/policy.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain import Role
from tests.api.conftest import Api

SYSTEM = {
    "department": "minzheng",
    "name": "低保系统",
    "function": "低保审核",
    "scope_of_use": "全区",
    "usage_frequency": "每日",
    "approving_body": "区发改局",
    "funding_source": "区财政",
}
CHANGES: list[tuple[str, dict[str, Any] | None, Role]] = [
    ("connection-requirement", {"required_to_connect": True}, Role.NDRC),
    ("connect", None, Role.EXCHANGE_PLATFORM),
    ("zombie", {"reasons": ["low_usage"]}, Role.NDRC),
]


@pytest.fixture
def system(api: Api) -> str:
    api.call("POST", "/departments", Role.ADMIN, json={"code": "minzheng", "name": "区民政局"})
    created = api.call("POST", "/systems", Role.DEPARTMENT_CLERK, "minzheng", json=SYSTEM)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize(("change", "body", "owner"), CHANGES, ids=[c[0] for c in CHANGES])
def test_the_funded_department_cannot_set_what_its_funds_depend_on(
    api: Api, system: str, change: str, body: dict[str, Any] | None, owner: Role
) -> None:
    head = api.head()
    for role in (Role.DEPARTMENT_CLERK, Role.CIO, Role.DATA_PROVIDER):
        refused = api.call("POST", f"/systems/{system}/{change}", role, "minzheng", json=body)
        assert refused.status_code == 403, (role, refused.text)
        assert set(refused.json()) >= {"error", "detail"}
    assert api.head() == head  # nothing recorded
    done = api.call("POST", f"/systems/{system}/{change}", owner, json=body)
    assert done.status_code == 200, done.text
    assert api.head() == head + 1


def test_the_python_api_refuses_alike() -> None:
    from ledger.application import GovLedger  # noqa: PLC0415
    from ledger.domain import Actor, DomainError, SystemInventory  # noqa: PLC0415
    from ledger.domain.errors import ErrorCode  # noqa: PLC0415

    app = GovLedger()
    admin = Actor("admin", Role.ADMIN, None)
    clerk = Actor("mz-clerk", Role.DEPARTMENT_CLERK, "minzheng")
    cio = Actor("mz-cio", Role.CIO, "minzheng")
    app.register_department(admin, "minzheng", "区民政局")
    inventory = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")
    sid = app.register_system(clerk, "minzheng", inventory)
    for who in (clerk, cio):
        for call, args in (
            (app.set_connection_requirement, (who, sid, True)),
            (app.connect_system, (who, sid)),
            (app.mark_system_zombie, (who, sid, ["low_usage"])),
        ):
            with pytest.raises(DomainError) as refused:
                call(*args)  # type: ignore[operator]
            assert refused.value.code is ErrorCode.ROLE_NOT_PERMITTED
    system = app.system(sid)
    assert not system.required_to_connect and not system.connected
    assert system.status.value == "active"
    ndrc = Actor("ndrc-1", Role.NDRC, None)
    platform = Actor("exchange", Role.EXCHANGE_PLATFORM, None)
    app.set_connection_requirement(ndrc, sid, True)
    app.connect_system(platform, sid)
    app.mark_system_zombie(ndrc, sid, ["low_usage"])
    recorded = list(app.repository.event_store.get(sid))[1:]
    # who recorded each (and the zombie's reasons) are kept on the facts
    assert [e.actor.actor_id for e in recorded] == ["ndrc-1", "exchange", "ndrc-1"]
    assert [str(r) for r in recorded[-1].reasons] == ["low_usage"]


def test_registering_cannot_claim_the_connection_requirement(api: Api) -> None:
    """Registration is the department's; the requirement in it is ndrc's alone (issue 14)."""
    api.call("POST", "/departments", Role.ADMIN, json={"code": "minzheng", "name": "区民政局"})
    head = api.head()
    for role in (Role.DEPARTMENT_CLERK, Role.CIO):
        refused = api.call(
            "POST", "/systems", role, "minzheng", json={**SYSTEM, "required_to_connect": True}
        )
        assert refused.status_code == 403, (role, refused.text)
        assert refused.json()["error"] == "role_not_permitted"
    assert api.head() == head  # nothing recorded
    # an explicit false is the default (not listed yet): it claims nothing
    done = api.call(
        "POST", "/systems", Role.CIO, "minzheng", json={**SYSTEM, "required_to_connect": False}
    )
    assert done.status_code == 201, done.text
    assert api.head() == head + 1


def test_the_python_api_registers_a_requirement_only_for_ndrc() -> None:
    from ledger.application import GovLedger  # noqa: PLC0415
    from ledger.domain import Actor, DomainError, SystemInventory  # noqa: PLC0415
    from ledger.domain.errors import ErrorCode  # noqa: PLC0415

    app = GovLedger()
    app.register_department(Actor("admin", Role.ADMIN, None), "minzheng", "区民政局")
    inventory = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")
    for who in (
        Actor("mz-clerk", Role.DEPARTMENT_CLERK, "minzheng"),
        Actor("mz-cio", Role.CIO, "minzheng"),
        Actor("admin", Role.ADMIN, None),
    ):
        with pytest.raises(DomainError) as refused:
            app.register_system(who, "minzheng", inventory, required_to_connect=True)
        assert refused.value.code is ErrorCode.ROLE_NOT_PERMITTED
    ndrc = Actor("ndrc-1", Role.NDRC, None)
    sid = app.register_system(ndrc, "minzheng", inventory, required_to_connect=True)
    assert app.system(sid).required_to_connect


@pytest.mark.parametrize(("change", "body", "owner"), CHANGES, ids=[c[0] for c in CHANGES])
def test_the_owner_records_on_what_evidence(
    api: Api, system: str, change: str, body: dict[str, Any] | None, owner: Role
) -> None:
    import base64  # noqa: PLC0415
    import json  # noqa: PLC0415

    head = api.head()
    too_long = {**(body or {}), "evidence": "x" * 2001}
    refused = api.call("POST", f"/systems/{system}/{change}", owner, json=too_long)
    assert refused.status_code == 422 and set(refused.json()) >= {"error", "detail"}
    assert api.head() == head
    given = {**(body or {}), "evidence": "苏高新发改〔2026〕12号"}
    assert api.call("POST", f"/systems/{system}/{change}", owner, json=given).status_code == 200
    (row,) = api.call("GET", f"/ledger/events?after={head}", Role.AUDITOR).json()["events"]
    state = json.loads(base64.b64decode(row["state"]))
    assert state["evidence"] == "苏高新发改〔2026〕12号"
    assert state["actor"]["_data_"]["role"] == owner.value
