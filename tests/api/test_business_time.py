"""Every API body may say when the thing happened (docs/facts.md §1, §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.domain.actor import Role
from tests.api.conftest import (
    PROVIDER,
    USER,
    Api,
    population_resource,
    setup_departments,
    sharing_request,
)

WHEN = "2025-03-04T09:30:00+08:00"


def test_a_registration_keeps_the_business_time_it_was_given(api: Api) -> None:
    reply = api.call(
        "POST",
        "/departments",
        Role.ADMIN,
        json={"code": "jiaoyu", "name": "区教育局", "occurred_at": WHEN},
    )
    assert reply.status_code == 201, reply.text
    department = api.call("GET", "/departments/jiaoyu", Role.AUDITOR).json()
    assert datetime.fromisoformat(department["registered_at"]) == datetime.fromisoformat(WHEN)


def test_commands_without_a_body_take_an_optional_one(api: Api) -> None:
    setup_departments(api)
    system = {
        "department": USER,
        "name": "低保系统",
        "function": "低保审核",
        "scope_of_use": "全区",
        "usage_frequency": "每日",
        "approving_body": "区发改局",
        "funding_source": "区财政",
        "occurred_at": WHEN,
    }
    created = api.call("POST", "/systems", Role.DEPARTMENT_CLERK, json=system)
    assert created.status_code == 201, created.text
    path = f"/systems/{created.json()['id']}"
    before = api.call("POST", f"{path}/connect", Role.EXCHANGE_PLATFORM, json={"occurred_at": WHEN})
    assert before.status_code == 200, before.text
    assert api.call("POST", f"{path}/on-cloud", Role.DEPARTMENT_CLERK).status_code == 200
    early = api.call(
        "POST", f"{path}/mlps", Role.DEPARTMENT_CLERK,
        json={"mlps_level": 3, "mlps_filed": True, "occurred_at": "2025-03-01T09:00:00+08:00"},
    )  # fmt: skip
    assert early.status_code == 422 and early.json()["error"] == "time_before_creation"


def test_a_person_s_future_or_malformed_business_time_is_a_422(api: Api) -> None:
    setup_departments(api)
    assert (
        api.call(
            "POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource()
        ).status_code
        == 201
    )
    ahead = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    head = api.head()
    for when, error in (
        (ahead, "time_in_future"),
        ("2017-12-31T00:00:00+08:00", "time_out_of_range"),
        ("2026-03-02T09:15:00", "invalid_request"),
        ("0001-01-01T00:00:00+14:00", "invalid_request"),
    ):
        reply = api.call(
            "POST",
            "/sharing-requests",
            Role.DEPARTMENT_CLERK,
            json=sharing_request(submitted_at=when),
        )
        assert reply.status_code == 422, reply.text
        assert reply.json()["error"] == error and set(reply.json()) == {"error", "detail"}
    assert api.head() == head


def test_a_back_filled_request_gets_the_deadline_of_its_own_day(api: Api) -> None:
    setup_departments(api)
    api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource())
    # Thursday 12 February 2026, before the Spring Festival (15-23 February, 调休 on the 14th
    # and the 28th): ten working days end on 4 March, not on 26 February.
    reply = api.call(
        "POST", "/sharing-requests", Role.DEPARTMENT_CLERK,
        json=sharing_request(submitted_at="2026-02-12T10:00:00+08:00"),
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    request = api.call("GET", f"/sharing-requests/{reply.json()['id']}", Role.AUDITOR).json()
    assert request["response_due"] == "2026-03-04"
    decided = api.call(
        "POST", f"/sharing-requests/{reply.json()['id']}/reject", Role.DATA_PROVIDER, PROVIDER,
        json={"reason": "不符合条件", "decided_at": "2026-02-13T10:00:00+08:00"},
    )  # fmt: skip
    assert decided.status_code == 200, decided.text
    request = api.call("GET", f"/sharing-requests/{reply.json()['id']}", Role.AUDITOR).json()
    assert request["decided_at"] == "2026-02-13T10:00:00+08:00"
