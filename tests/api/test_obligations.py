"""The issue-14 facts over HTTP (api/routers/obligations.py; docs/facts.md §7)."""

from __future__ import annotations

from typing import Any

from ledger.domain.actor import Role
from tests.api.conftest import PROVIDER, USER, Api, population_resource, setup_departments

WHEN = "2026-03-01T23:00:00+08:00"


def _refresh(event_id: str, **change: Any) -> dict[str, Any]:
    return {
        "platform_event_id": event_id,
        "resource_code": "RK-0001",
        "refreshed_at": WHEN,
        **change,
    }


def _catalogue(api: Api) -> None:
    setup_departments(api)
    reply = api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource())
    assert reply.status_code == 201, reply.text


def test_the_platform_reports_a_refresh_once_and_it_reads_back(api: Api) -> None:
    _catalogue(api)
    first = api.call("POST", "/resource-refreshes", Role.EXCHANGE_PLATFORM, json=_refresh("x-1"))
    again = api.call("POST", "/resource-refreshes", Role.EXCHANGE_PLATFORM, json=_refresh("x-1"))
    assert first.status_code == 201 and first.json()["recorded"] is True
    assert first.json()["flags"] == []
    assert again.json()["recorded"] is False and again.json()["id"] == first.json()["id"]
    state = api.call("GET", "/resource-refreshes/x-1", Role.AUDITOR).json()
    assert (state["resource_code"], state["refreshed_at"]) == (
        "RK-0001",
        "2026-03-01T23:00:00+08:00",
    )


def test_a_batch_records_everything_and_lists_the_flagged(api: Api) -> None:
    _catalogue(api)
    head = api.head()
    body = {"refreshes": [_refresh("x-1"), _refresh("x-2", resource_code="NOPE")]}
    reply = api.call("POST", "/resource-refreshes/batch", Role.EXCHANGE_PLATFORM, json=body)
    assert reply.status_code == 201, reply.text
    answer = reply.json()
    assert (answer["recorded"], answer["already_recorded"]) == (2, 0)
    assert [(f["platform_event_id"], f["flags"]) for f in answer["flagged"]] == [
        ("x-2", ["unknown_resource"])
    ]
    assert api.head() == head + 2


def test_a_bad_refresh_is_a_422_naming_the_field_and_writes_nothing(api: Api) -> None:
    _catalogue(api)
    head = api.head()
    for body, field in (
        (_refresh("x-1", refreshed_at="2026-03-01T23:00:00"), "refreshed_at"),
        (_refresh("x-1", rows=3), "unknown field"),
        ({"refreshes": [_refresh("x-1"), _refresh("x-2", row_count=-1)]}, "row_count"),
    ):
        path = "/resource-refreshes/batch" if "refreshes" in body else "/resource-refreshes"
        reply = api.call("POST", path, Role.EXCHANGE_PLATFORM, json=body)
        assert reply.status_code == 422, reply.text
        assert set(reply.json()) == {"error", "detail"} and field in reply.json()["detail"]
    assert api.head() == head


def test_a_department_cannot_report_its_own_refresh(api: Api) -> None:
    _catalogue(api)
    reply = api.call(
        "POST", "/resource-refreshes", Role.DATA_PROVIDER, PROVIDER, json=_refresh("x")
    )
    assert reply.status_code == 403


def test_records_of_people_over_http_with_their_owners(api: Api) -> None:
    _catalogue(api)
    head = api.head()
    pia = {
        "department": PROVIDER,
        "reference": "PIA-1",
        "resource_code": "RK-0001",
        "conclusion": "acceptable",
        "summary": "评估",
        "assessed_at": WHEN,
    }
    made = api.call("POST", "/impact-assessments", Role.DATA_PROVIDER, PROVIDER, json=pia)
    assert made.status_code == 201, made.text
    again = api.call("POST", "/impact-assessments", Role.DATA_PROVIDER, PROVIDER, json=pia)
    assert again.json() == made.json()
    other = api.call(
        "POST", "/impact-assessments", Role.DATA_PROVIDER, PROVIDER, json={**pia, "summary": "改"}
    )
    assert other.status_code == 409 and other.json()["error"] == "record_exists"
    mismatch = api.call("POST", "/impact-assessments", Role.DATA_PROVIDER, USER, json=pia)
    assert mismatch.status_code == 403
    record = api.call("GET", f"/impact-assessments/{made.json()['id']}", Role.AUDITOR).json()
    assert (record["reference"], record["assessed_at"]) == ("PIA-1", "2026-03-01T23:00:00+08:00")
    core = {"reference": "核-1", "resource_code": "RK-0001", "approving_authority": "区委网信委"}
    assert (
        api.call("POST", "/core-data-approvals", Role.SECURITY_OFFICER, json=core).status_code
        == 201
    )
    report = {"department": USER, "year": 2025, "reference": "年报", "summary": "s"}
    assert api.call("POST", "/annual-reports", Role.CIO, USER, json=report).status_code == 201
    zone = {"year": 2025, "reference": "区年报", "summary": "s"}
    assert api.call("POST", "/annual-reports/zone", Role.NDRC, json=zone).status_code == 201
    approval = {"approving_body": "领导小组", "reference": "纪要"}
    ok = api.call("POST", "/annual-reports/zone/2025/approve", Role.NDRC, json=approval)
    assert ok.status_code == 200, ok.text
    assert api.head() == head + 5
    bad = api.call("POST", "/annual-reports/zone", Role.NDRC, json={**zone, "year": "2025"})
    assert bad.status_code == 422 and "year" in bad.json()["detail"]
    missing = api.call(
        "POST",
        "/filings/" + "0" * 32 + "/evaluation",
        Role.NDRC,
        json={"rating": "good", "summary": "s"},
    )
    assert missing.status_code == 404
    assert api.head() == head + 5


def test_the_views_read_a_ledger_holding_the_new_facts(api: Api) -> None:
    """The new kinds are recorded before the rules judge them: every view still answers."""
    _catalogue(api)
    api.call("POST", "/resource-refreshes", Role.EXCHANGE_PLATFORM, json=_refresh("x-1"))
    pia = {
        "department": PROVIDER,
        "reference": "PIA-1",
        "resource_code": "RK-0001",
        "conclusion": "acceptable",
        "summary": "评估",
    }
    assert api.call("POST", "/impact-assessments", Role.CIO, PROVIDER, json=pia).status_code == 201
    for path in ("/views/findings", "/views/audit-trail", "/views/zone", "/views/inventory"):
        reply = api.call("GET", path, Role.AUDITOR)
        assert reply.status_code == 200, f"{path}: {reply.text[:200]}"
