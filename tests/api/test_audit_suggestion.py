"""Audit suggestions over HTTP (api/routers/rectification.py; docs/facts.md §8)."""

from __future__ import annotations

from typing import Any

from ledger.domain.actor import Role
from tests.api.conftest import PROVIDER, USER, Api, setup_departments


def suggestion(**change: Any) -> dict[str, Any]:
    return {
        "reference": "审〔2026〕9号",
        "number": 1,
        "department": USER,
        "year": 2026,
        "suggestion": "核对系统接入情况后再安排运维经费",
        **change,
    }


def test_suggestion_response_and_confirmation_with_their_roles(api: Api) -> None:
    setup_departments(api)
    created = api.call("POST", "/audit-suggestions", Role.AUDITOR, json=suggestion())
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    again = api.call("POST", "/audit-suggestions", Role.AUDITOR, json=suggestion())
    assert again.json()["id"] == sid
    answer = {"reference": "函-1", "adoption": "partially", "explanation": "部分系统仍在使用"}
    reply = api.call("POST", f"/audit-suggestions/{sid}/response", Role.CIO, USER, json=answer)
    assert reply.is_success, reply.text
    check = {"confirmed": True, "reason": "核实"}
    reply = api.call("POST", f"/audit-suggestions/{sid}/confirmation", Role.AUDITOR, json=check)
    assert reply.is_success, reply.text
    state = api.call("GET", f"/audit-suggestions/{sid}", Role.AUDITOR).json()
    assert (state["status"], state["adoption"], state["department"]) == (
        "confirmed",
        "partially",
        USER,
    )


def test_bad_requests_are_json_4xx_and_write_nothing(api: Api) -> None:
    setup_departments(api)
    sid = api.call("POST", "/audit-suggestions", Role.AUDITOR, json=suggestion()).json()["id"]
    head = api.head()
    answer = {"reference": "R", "adoption": "adopted", "explanation": "已采纳"}
    cases: list[tuple[str, Role, str | None, dict[str, Any], int, str]] = [
        ("/audit-suggestions", Role.DEPARTMENT_CLERK, USER, suggestion(number=2), 403, ""),
        ("/audit-suggestions", Role.AUDITOR, None, suggestion(number="one"), 422, "number"),
        ("/audit-suggestions", Role.AUDITOR, None, suggestion(extra=1), 422, "unknown field"),
        ("/audit-suggestions", Role.AUDITOR, None, suggestion(suggestion="另"), 409,
         "record_exists"),
        (f"/audit-suggestions/{sid}/response", Role.CIO, PROVIDER, answer, 403,
         "department_mismatch"),
        (f"/audit-suggestions/{sid}/response", Role.AUDITOR, None, answer, 403, ""),
        (f"/audit-suggestions/{sid}/response", Role.CIO, USER, {**answer, "adoption": "maybe"},
         422, "adoption"),
        (f"/audit-suggestions/{sid}/confirmation", Role.AUDITOR, None,
         {"confirmed": True, "reason": "r"}, 409, "suggestion_not_responded"),
        (f"/audit-suggestions/{sid}/confirmation", Role.DEPARTMENT_CLERK, USER,
         {"confirmed": True, "reason": "r"}, 403, ""),
    ]  # fmt: skip
    for path, role, department, body, code, words in cases:
        reply = api.call("POST", path, role, department, json=body)
        assert reply.status_code == code, (path, reply.text)
        assert set(reply.json()) == {"error", "detail"}
        assert words in reply.text
    missing = api.call(
        "GET", "/audit-suggestions/00000000-0000-4000-8000-000000000000", Role.AUDITOR
    )
    assert missing.status_code == 404
    assert api.head() == head
