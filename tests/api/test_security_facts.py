"""条例 §33 declarations over HTTP, on both backends (api/routers/security_facts.py;
docs/facts.md §10): who declares, the natural id, bad bodies refused with the ledger unchanged.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.actor import Role
from ledger.domain.security_facts import MEASURES
from tests.api.conftest import PROVIDER, USER, Api, population_resource, setup_departments

SYSTEM = {
    "department": USER,
    "name": "低保系统",
    "function": "低保审核",
    "scope_of_use": "全区",
    "usage_frequency": "每日",
    "approving_body": "区发改局",
    "funding_source": "区财政",
}


def measures(**change: Any) -> dict[str, Any]:
    taken = {m: {"in_place": True, "description": f"{m} 已实施"} for m in MEASURES}
    taken.update(change)
    return {"reference": "MZ-SEC-2026-1", "measures": taken}


def lead(**change: Any) -> dict[str, Any]:
    return {
        "scope": USER,
        "reference": "民任〔2026〕3号",
        "name": "李娜",
        "contact": "0512-1",
        **change,
    }


def storage(**change: Any) -> dict[str, Any]:
    body = {
        "resource_code": "RK-0001",
        "reference": "GA-CC-1",
        "storage_period": "长期",
        "storage_location": "区政务云",
    }
    return {**body, **change}


def _setup(api: Api) -> str:
    setup_departments(api)
    made = api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource())
    assert made.status_code == 201, made.text
    system = api.call("POST", "/systems", Role.DEPARTMENT_CLERK, USER, json=SYSTEM)
    assert system.status_code == 201, system.text
    return str(system.json()["id"])


def test_declared_and_read_back_by_id(api: Api) -> None:
    system_id = _setup(api)
    zone = {"scope": "zone", "reference": "网信〔2026〕1号", "name": "王强", "contact": "0512-9"}
    cases = [
        ("/security-leads", Role.CIO, USER, lead(), "/security-leads", "name", "李娜"),
        ("/security-leads", Role.SECURITY_OFFICER, None, zone, "/security-leads", "name", "王强"),
        ("/resource-storage", Role.DATA_PROVIDER, PROVIDER, storage(), "/resource-storage",
         "storage_location", "区政务云"),
        (f"/systems/{system_id}/measures", Role.DEPARTMENT_CLERK, USER, measures(),
         "/system-measures", "reference", "MZ-SEC-2026-1"),
    ]  # fmt: skip
    for path, role, department, body, read, field, value in cases:
        created = api.call("POST", path, role, department, json=body)
        assert created.status_code == 201, created.text
        again = api.call("POST", path, role, department, json=body)
        assert again.json()["id"] == created.json()["id"]  # one record, not two
        state = api.call("GET", f"{read}/{created.json()['id']}", Role.AUDITOR)
        assert state.status_code == 200, state.text
        assert state.json()[field] == value


def test_bad_declarations_are_json_4xx_and_write_nothing(api: Api) -> None:
    system_id = _setup(api)
    assert api.call("POST", "/security-leads", Role.CIO, USER, json=lead()).status_code == 201
    head = api.head()
    no_backup = measures()
    del no_backup["measures"]["backup"]
    path = f"/systems/{system_id}/measures"
    cases: list[tuple[str, Role, str | None, dict[str, Any], int, str]] = [
        ("/security-leads", Role.CIO, PROVIDER, lead(), 403, "department_mismatch"),
        ("/security-leads", Role.CIO, USER, lead(scope="zone"), 403, ""),
        ("/security-leads", Role.AUDITOR, None, lead(), 403, ""),
        ("/security-leads", Role.CIO, USER, lead(name="张三"), 409, "record_exists"),
        ("/security-leads", Role.CIO, USER, lead(contact=""), 422, "contact"),
        ("/resource-storage", Role.DATA_PROVIDER, USER, storage(), 403, "department_mismatch"),
        ("/resource-storage", Role.DATA_PROVIDER, PROVIDER, storage(resource_code="X-9"), 404, ""),
        (path, Role.DEPARTMENT_CLERK, PROVIDER, measures(), 403, "department_mismatch"),
        (path, Role.DEPARTMENT_CLERK, USER, no_backup, 422, "measures"),
        (path, Role.DEPARTMENT_CLERK, USER,
         measures(backup={"in_place": "yes", "description": "d"}), 422, "in_place"),
    ]  # fmt: skip
    for url, role, department, body, code, detail in cases:
        reply = api.call("POST", url, role, department, json=body)
        assert reply.status_code == code, (url, body, reply.text)
        assert set(reply.json()) >= {"error", "detail"}
        assert detail in reply.text
    assert api.head() == head
