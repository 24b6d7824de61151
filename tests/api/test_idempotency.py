"""Idempotency-Key on the create endpoints, on each backend (docs/security.md, "Replayed creates").

A retry with the key answers what the first request answered and writes
nothing; the key with another body is 409; identical requests at the same
moment make one record.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.domain.actor import Role
from tests.api.conftest import (
    PROVIDER,
    USER,
    Api,
    population_resource,
    setup_departments,
    sharing_request,
)


@dataclass(frozen=True)
class Create:
    """One create endpoint, who may call it, a body and a different body."""

    path: str
    role: Role
    department: str | None
    body: dict[str, Any]
    other_body: dict[str, Any]


def system(name: str = "社会救助信息系统") -> dict[str, Any]:
    return {
        "department": USER, "name": name, "function": "低保审核", "scope_of_use": "全区",
        "usage_frequency": "每日", "approving_body": "区发改局", "funding_source": "区财政",
    }  # fmt: skip


def filing(investment_fen: int = 120_000_000) -> dict[str, Any]:
    return {
        "name": "社会救助信息系统升级", "builder": USER, "investment_fen": investment_fen,
        "om_cost_fen": 9_000_000, "funding_channel": "区级财政资金", "mlps_filed": True,
        "catalogue_preregistered": False,
    }  # fmt: skip


def fund_decision(outcome: str = "granted") -> dict[str, Any]:
    return {
        "kind": "construction_funds", "year": 2026, "department": USER,
        "amount_fen": 50_000_000, "outcome": outcome, "rationale": "年度预算",
        "project_name": "社会救助信息系统升级",
    }  # fmt: skip


CREATES = [
    Create("/systems", Role.DEPARTMENT_CLERK, USER, system(), system("另一个系统")),
    Create(
        "/sharing-requests",
        Role.DEPARTMENT_CLERK,
        USER,
        sharing_request(),
        sharing_request(purpose="另一用途"),
    ),
    Create("/filings", Role.DEPARTMENT_CLERK, USER, filing(), filing(investment_fen=1)),
    Create("/fund-decisions", Role.FINANCE, None, fund_decision(), fund_decision("withheld")),
]


@pytest.fixture
def world(api: Api) -> Api:
    setup_departments(api)
    reply = api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource())
    assert reply.status_code == 201, reply.text
    return api


def post(api: Api, create: Create, key: str | None, body: dict[str, Any] | None = None) -> Any:
    headers = api.headers(create.role, create.department)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post(f"/api/v1{create.path}", json=body or create.body, headers=headers)


def test_a_replay_with_the_same_key_returns_the_first_record(world: Api) -> None:
    for create in CREATES:
        first = post(world, create, "retry-1")
        assert first.status_code == 201, (create.path, first.text)
        head = world.head()
        replay = post(world, create, "retry-1")
        assert (replay.status_code, replay.json()) == (201, first.json()), create.path
        assert world.head() == head, f"{create.path}: the replay wrote"
        stored = world.call("GET", f"{create.path}/{first.json()['id']}", Role.AUDITOR)
        assert stored.status_code == 200 and stored.json()["version"] == 1


def test_the_same_key_with_a_different_body_is_409(world: Api) -> None:
    for create in CREATES:
        first = post(world, create, "retry-2")
        assert first.status_code == 201, (create.path, first.text)
        head = world.head()
        other = post(world, create, "retry-2", create.other_body)
        assert other.status_code == 409, (create.path, other.text)
        assert set(other.json()) == {"error", "detail"}
        assert other.json()["error"] == "idempotency_key_reused"
        assert world.head() == head, f"{create.path}: the refused request wrote"


def test_without_a_key_or_with_another_key_a_new_record_is_made(world: Api) -> None:
    for create in CREATES:
        ids = {post(world, create, key).json()["id"] for key in (None, None, "a", "b")}
        assert len(ids) == 4, create.path


def test_a_key_quoted_as_a_structured_field_string_is_the_same_key(world: Api) -> None:
    create = CREATES[0]
    first = post(world, create, "8e03978e-40d5-43e8-bc93-6894a57f9324")
    quoted = post(world, create, '"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    assert quoted.json() == first.json()


@pytest.mark.parametrize("key", ["x" * 300, "键", '""'])
def test_a_malformed_key_is_4xx_and_writes_nothing(world: Api, key: str) -> None:
    head = world.head()
    create = CREATES[0]
    headers = world.headers(create.role, create.department)
    headers["Idempotency-Key"] = key
    encoded = {k: v.encode() for k, v in headers.items()}  # a non-ASCII header, as sent raw
    reply = world.client.post(f"/api/v1{create.path}", json=create.body, headers=encoded)
    assert 400 <= reply.status_code < 500 and set(reply.json()) == {"error", "detail"}
    assert world.head() == head


def test_concurrent_identical_requests_make_one_record(world: Api) -> None:
    copies = 6
    # The first request records the configured calendar (docs/facts.md §3): not this race's.
    assert world.call("POST", "/sharing-requests", Role.DEPARTMENT_CLERK, json=sharing_request())
    for create in CREATES:
        world.headers(create.role, create.department)  # one credential, minted before the race
        head = world.head()
        start = threading.Barrier(copies)

        def send(_: int, create: Create = create, start: threading.Barrier = start) -> Any:
            start.wait()
            return post(world, create, "at-once")

        with ThreadPoolExecutor(copies) as pool:
            replies = list(pool.map(send, range(copies)))
        assert {r.status_code for r in replies} == {201}, [r.text for r in replies]
        assert len({r.json()["id"] for r in replies}) == 1, create.path
        assert world.head() == head + 1, f"{create.path}: {world.head() - head} records"


def test_the_openapi_schema_documents_the_header(world: Api) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for create in CREATES:
        parameters = paths[f"/api/v1{create.path}"]["post"]["parameters"]
        (header,) = [p for p in parameters if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and header["required"] is False
        assert "409" in header["description"] and "retry" in header["description"]
