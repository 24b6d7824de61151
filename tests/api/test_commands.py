"""Commands through HTTP: happy paths, refusals that write nothing, facts that are always kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain.actor import Role
from tests.api.conftest import (
    PROVIDER,
    USER,
    Api,
    access,
    population_resource,
    setup_departments,
    sharing_request,
)

FAR_FUTURE = (datetime.now(UTC) + timedelta(days=365)).isoformat()


def granted(api: Api) -> str:
    """Departments, a conditional population resource and an approved request: the grant id."""
    setup_departments(api)
    reply = api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource())
    assert reply.status_code == 201, reply.text
    reply = api.call(
        "POST",
        "/sharing-requests",
        Role.DEPARTMENT_CLERK,
        USER,
        json=sharing_request(),
    )
    assert reply.status_code == 201, reply.text
    request_id = str(reply.json()["id"])
    reply = api.call(
        "POST",
        f"/sharing-requests/{request_id}/approve",
        Role.DATA_PROVIDER,
        PROVIDER,
        json={"items": ["姓名", "住址"], "expires_at": FAR_FUTURE},
    )
    assert reply.status_code == 200, reply.text
    return request_id


def test_grant_then_authorized_and_unauthorized_accesses(api: Api) -> None:
    grant = granted(api)
    now = datetime.now(UTC)
    batch = [
        access("ok-1", grant_id=grant, accessed_at=now.isoformat()),
        access("beyond-1", grant_id=grant, items=["姓名", "身份证号"], accessed_at=now.isoformat()),
        access("purpose-1", grant_id=grant, purpose="招商引资", accessed_at=now.isoformat()),
        access("unknown-1", resource_code="RK-9999", accessed_at=now.isoformat()),
        access("nogrant-1", department="zhujian", accessed_at=now.isoformat()),
    ]
    reply = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["recorded"], body["already_recorded"], body["unauthorized"]) == (5, 0, 4)
    reasons = {r["platform_event_id"]: r["reasons"] for r in body["flagged"]}
    assert reasons == {
        "beyond-1": ["items_beyond_grant"],
        "purpose-1": ["purpose_mismatch"],
        "unknown-1": ["unknown_resource"],
        "nogrant-1": ["no_grant"],
    }
    # The record itself carries the verdict, and reading it is recorded too.
    head = api.head()
    stored = api.call("GET", "/accesses/unknown-1", Role.AUDITOR).json()
    assert stored["verdict"]["reasons"] == ["unknown_resource"]
    assert api.head() == head + 1


def test_access_after_revocation_is_recorded_and_flagged(api: Api) -> None:
    grant = granted(api)
    reply = api.call(
        "POST", f"/sharing-requests/{grant}/revoke", Role.DATA_PROVIDER, PROVIDER,
        json={"reason": "用途已完成"},
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    later = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    body = access("late-1", grant_id=grant, accessed_at=later)
    reply = api.call("POST", "/accesses", Role.EXCHANGE_PLATFORM, json=body)
    assert reply.status_code == 201, reply.text
    assert reply.json()["reasons"] == ["grant_revoked"] and not reply.json()["authorized"]


def test_batch_retry_records_nothing_twice(api: Api) -> None:
    granted(api)
    batch = {"accesses": [access(f"evt-{i}") for i in range(30)]}
    first = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json=batch).json()
    head = api.head()
    again = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json=batch).json()
    assert (first["recorded"], again["recorded"], again["already_recorded"]) == (30, 0, 30)
    assert api.head() == head
    single = api.call("POST", "/accesses", Role.EXCHANGE_PLATFORM, json=access("evt-3"))
    assert single.status_code == 200 and single.json()["newly_recorded"] is False
    assert api.head() == head


def test_partly_known_batch_flags_each_improper_access_with_its_newness(api: Api) -> None:
    """Flagged outcomes say which accesses this request recorded, on a partly known batch."""
    setup_departments(api)
    reply = api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource())
    assert reply.status_code == 201, reply.text
    known = [access("nogrant-old"), access("ok-old", department=PROVIDER)]
    assert api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": known})
    head = api.head()
    batch = [
        *known,
        access("nogrant-new"),
        access("nogrant-new"),
        access("ok-new", department=PROVIDER),
    ]
    reply = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["recorded"], body["already_recorded"], body["unauthorized"]) == (2, 3, 3)
    flagged = [(f["platform_event_id"], f["newly_recorded"]) for f in body["flagged"]]
    assert flagged == [("nogrant-old", False), ("nogrant-new", True), ("nogrant-new", True)]
    assert api.head() == head + 2


def test_one_malformed_access_refuses_the_whole_batch_over_http(api: Api) -> None:
    setup_departments(api)
    head = api.head()
    batch = [access("fine-1"), access("fine-2", accessor_id="  "), access("fine-3")]
    reply = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch})
    assert reply.status_code == 422 and reply.json()["error"], reply.text
    assert api.head() == head
    ok = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch[::2]})
    assert ok.json()["recorded"] == 2 and api.head() == head + 2


def test_filing_review_and_funds(api: Api) -> None:
    setup_departments(api)
    reply = api.call(
        "POST", "/filings", Role.DEPARTMENT_CLERK, USER,
        json={
            "name": "社会救助信息系统升级", "builder": USER, "investment_fen": 120_000_000,
            "om_cost_fen": 9_000_000, "funding_channel": "区级财政资金", "mlps_filed": True,
            "catalogue_preregistered": False,
        },
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    filing = reply.json()["id"]
    reply = api.call(
        "POST", f"/filings/{filing}/review", Role.NDRC,
        json={"approved": False, "architecture_review": "未接入共享交换平台，不符合共建共享要求"},
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    # Funds despite the rejection are recorded (F4 is a finding, not a refusal).
    reply = api.call(
        "POST", "/fund-decisions", Role.FINANCE,
        json={
            "kind": "construction_funds", "year": 2026, "department": USER,
            "amount_fen": 50_000_000, "outcome": "granted", "rationale": "年度预算",
            "filing_id": filing,
        },
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    stored = api.call("GET", f"/filings/{filing}", Role.AUDITOR).json()
    assert stored["status"] == "rejected"


# ------------------------------------------------------- refusals write nothing


def refused(api: Api, expected: int, error: str, *call: object, **kw: object) -> None:
    head = api.head()
    reply = api.call(*call, **kw)  # type: ignore[arg-type]
    assert reply.status_code == expected, reply.text
    assert reply.json()["error"] == error and reply.json()["detail"]
    assert api.head() == head, "a refused command wrote to the ledger"


def test_invariant_breaches_are_4xx_and_write_nothing(api: Api) -> None:
    grant = granted(api)
    refused(
        api, 409, "request_already_decided",
        "POST", f"/sharing-requests/{grant}/approve", Role.DATA_PROVIDER, PROVIDER,
        json={"items": ["姓名"], "expires_at": FAR_FUTURE},
    )  # fmt: skip
    refused(
        api, 403, "department_mismatch",
        "POST", "/resources", Role.DATA_PROVIDER, USER,
        json=population_resource(code="RK-0002"),
    )  # fmt: skip
    refused(
        api, 422, "legal_basis_required",
        "POST", "/resources", Role.DATA_PROVIDER, PROVIDER,
        json=population_resource("not_shareable", code="RK-0003"),
    )  # fmt: skip
    refused(
        api, 409, "resource_exists",
        "POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource(),
    )  # fmt: skip
    refused(
        api, 404, "unknown_request",
        "POST", "/sharing-requests/00000000-0000-0000-0000-000000000000/reject",
        Role.DATA_PROVIDER, PROVIDER, json={"reason": "x"},
    )  # fmt: skip
    refused(api, 422, "invalid_request", "POST", "/accesses", Role.EXCHANGE_PLATFORM, json={})
    refused(
        api, 422, "invalid_request", "POST", "/accesses", Role.EXCHANGE_PLATFORM,
        json=access("naive", accessed_at="2026-06-30T09:15:00"),
    )  # fmt: skip


def test_not_shareable_request_cannot_be_approved(api: Api) -> None:
    setup_departments(api)
    body = population_resource("not_shareable", legal_basis="《居民身份证法》第十三条")
    assert (
        api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=body).status_code == 201
    )
    reply = api.call(
        "POST", "/sharing-requests", Role.DEPARTMENT_CLERK, USER,
        json={
            "requester_department": USER, "resource_code": "RK-0001", "items": ["姓名"],
            "purpose": "核查", "legal_basis": "x", "period_start": "2026-01-01",
            "period_end": "2026-12-31",
        },
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    refused(
        api, 422, "not_shareable",
        "POST", f"/sharing-requests/{reply.json()['id']}/approve", Role.DATA_PROVIDER, PROVIDER,
        json={"items": ["姓名"], "expires_at": FAR_FUTURE},
    )  # fmt: skip


def test_oversized_batch_is_413_and_writes_nothing(api: Api) -> None:
    granted(api)
    limit = api.client.app.state.services.settings.max_batch_size  # type: ignore[attr-defined]
    batch = {"accesses": [access(f"big-{i}") for i in range(limit + 1)]}
    refused(
        api, 413, "batch_too_large", "POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json=batch
    )


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer glk_nope", "Basic dXNlcjpwYXNz"])
def test_missing_or_bad_credentials_are_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    reply = api.client.post("/api/v1/accesses", headers=headers, json=access("x"))
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    assert set(reply.json()) == {"error", "detail"}


def test_revoked_key_is_refused_at_the_next_request(api: Api) -> None:
    api.headers(Role.AUDITOR)
    assert api.call("GET", "/ledger/events", Role.AUDITOR).status_code == 200
    key_id = api.tokens[Role.AUDITOR, None].split("_")[1]
    api.keys.revoke(key_id)
    assert api.call("GET", "/ledger/events", Role.AUDITOR).status_code == 401


def test_raw_feed_pages_through_the_chain(api: Api) -> None:
    granted(api)
    head = api.head()
    seen, after = [], 0
    while True:
        page = api.call("GET", f"/ledger/events?after={after}&limit=2", Role.AUDITOR).json()
        if not page["events"]:
            break
        seen += [e["position"] for e in page["events"]]
        after = page["next_after"]
    assert seen == list(range(1, head + 1))
    first = api.call("GET", "/ledger/events?after=0&limit=1", Role.AUDITOR).json()["events"][0]
    assert len(first["hash"]) == 64 and first["topic"].startswith("ledger.domain.")
