"""The plan's declared records over HTTP, on both backends (api/routers/declarations.py;
docs/facts.md §11): each kind by the role that owns it, one record per reference, bad
bodies and wrong roles refused with the ledger unchanged.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.actor import Role
from tests.api.conftest import PROVIDER, USER, Api
from tests.api.test_security_facts import _setup


def bodies(system_id: str) -> list[tuple[str, Role, str | None, dict[str, Any]]]:
    return [
        ("system_unit", Role.NDRC, None,
         {"system_id": system_id, "reference": "调查-1", "internal_unit": "救助科",
          "evidence": "专项调查记录"}),
        ("self_inspection", Role.DEPARTMENT_CLERK, USER,
         {"department": USER, "reference": "自查-1", "summary": "自查", "systems_inventoried": 1,
          "to_integrate": [system_id]}),
        ("classified_protection", Role.SECURITY_OFFICER, None,
         {"system_id": system_id, "reference": "定密-1", "classified": True, "level": "mimi"}),
        ("resource_cloud", Role.DATA_PROVIDER, PROVIDER,
         {"resource_code": "RK-0001", "reference": "上云-1", "on_cloud": True}),
        ("service_cloud", Role.CIO, USER,
         {"department": USER, "reference": "清单-1", "services": 12, "on_cloud": 9,
          "declared_at": "2026-03-01T10:00:00+08:00"}),
    ]  # fmt: skip


def test_each_kind_declared_once_and_read_back(api: Api) -> None:
    system_id = _setup(api)
    for kind, role, department, body in bodies(system_id):
        created = api.call("POST", f"/declarations/{kind}", role, department, json=body)
        assert created.status_code == 201, (kind, created.text)
        again = api.call("POST", f"/declarations/{kind}", role, department, json=body)
        assert again.json()["id"] == created.json()["id"]  # one record, not two
        state = api.call("GET", f"/declarations/{created.json()['id']}", Role.AUDITOR)
        assert state.status_code == 200, state.text
        assert state.json()["kind"] == kind and state.json()["reference"] == body["reference"]
    content = state.json()["content"]
    assert content == {"services": 12, "on_cloud": 9}


def test_wrong_roles_and_bad_bodies_are_json_4xx_and_write_nothing(api: Api) -> None:
    system_id = _setup(api)
    (unit, inspection, classified, cloud, services) = bodies(system_id)
    assert api.call("POST", "/declarations/system_unit", Role.NDRC, json=unit[3]).status_code == 201
    head = api.head()
    cases: list[tuple[str, Role, str | None, dict[str, Any], int, str]] = [
        # separation of duties: the department does not clear ndrc's finding about itself
        ("system_unit", Role.CIO, USER, {**unit[3], "reference": "自报"}, 403,
         "role_not_permitted"),
        ("system_unit", Role.NDRC, None, {**unit[3], "internal_unit": "其他科"}, 409,
         "record_exists"),
        ("self_inspection", Role.DEPARTMENT_CLERK, PROVIDER, inspection[3], 403,
         "department_mismatch"),
        ("self_inspection", Role.NDRC, None, inspection[3], 403, "role_not_permitted"),
        ("classified_protection", Role.SECURITY_OFFICER, None,
         {**classified[3], "level": None}, 422, "level"),
        ("classified_protection", Role.SECURITY_OFFICER, None,
         {**classified[3], "level": "secret"}, 422, "level"),
        ("resource_cloud", Role.DATA_PROVIDER, USER, cloud[3], 403, "department_mismatch"),
        ("resource_cloud", Role.DATA_PROVIDER, PROVIDER, {**cloud[3], "resource_code": "X-9"},
         404, ""),
        ("service_cloud", Role.CIO, USER, {**services[3], "on_cloud": 13}, 422, "on_cloud"),
        ("service_cloud", Role.CIO, USER, {**services[3], "colour": "red"}, 422, "colour"),
        ("unknown_kind", Role.NDRC, None, {}, 422, ""),
        ("service_cloud", Role.AUDITOR, None, services[3], 403, ""),
    ]  # fmt: skip
    for kind, role, department, body, code, detail in cases:
        reply = api.call("POST", f"/declarations/{kind}", role, department, json=body)
        assert reply.status_code == code, (kind, body, reply.text)
        assert set(reply.json()) >= {"error", "detail"}
        assert detail in reply.text
    assert api.head() == head


def test_declared_records_read_back_as_of_a_date_or_position(api: Api) -> None:
    """GET /views/declared/{kind}: the record in force at the moment asked, by subject;
    before its business time (or its position) it is not there yet."""
    system_id = _setup(api)
    positions = {}
    for kind, role, department, body in bodies(system_id):
        created = api.call("POST", f"/declarations/{kind}", role, department, json=body)
        assert created.status_code == 201, (kind, created.text)
        positions[kind] = api.head()
    for kind, _role, _department, body in bodies(system_id):
        reply = api.call("GET", f"/views/declared/{kind}", Role.AUDITOR)
        assert reply.status_code == 200, reply.text
        subject = body.get("system_id") or body.get("department") or body["resource_code"]
        found = reply.json()["result"]
        assert list(found) == [subject.replace("-", "") if kind in _BY_SYSTEM else subject]
        record = next(iter(found.values()))
        assert record["reference"] == body["reference"] and record["position"] == positions[kind]
        before = api.call("GET", f"/views/declared/{kind}", Role.NDRC, params={
            "at": positions[kind] - 1})  # fmt: skip
        assert before.status_code == 200 and before.json()["result"] == {}
    services = api.call("GET", "/views/declared/service_cloud", Role.SECURITY_OFFICER,
                        params={"as_of": "2026-02-28"})  # fmt: skip
    assert services.json()["result"] == {}  # declared_at 2026-03-01: not yet in force
    later = api.call("GET", "/views/declared/service_cloud", Role.AUDITOR,
                     params={"as_of": "2026-03-01"})  # fmt: skip
    (record,) = later.json()["result"].values()
    assert record["content"] == {"services": 12, "on_cloud": 9}
    assert record["declared_at"] == "2026-03-01T10:00:00+08:00"


def test_declared_view_refuses_unknown_kinds_and_department_roles(api: Api) -> None:
    _setup(api)
    head = api.head()
    for path, role, params, code in (
        ("/views/declared/cloud", Role.AUDITOR, {}, 422),
        ("/views/declared/self_inspection", Role.AUDITOR, {"at": 10**9}, 422),  # past the views
        ("/views/declared/self_inspection", Role.AUDITOR, {"as_of": "yesterday"}, 422),
        ("/views/declared/self_inspection", Role.CIO, {}, 403),
        ("/views/declared/self_inspection", None, {}, 401),
    ):
        reply = api.call("GET", path, role, params=params)
        assert reply.status_code == code, (path, params, reply.text)
        assert set(reply.json()) == {"error", "detail"}
    assert api.head() == head  # reading never writes, refused or not
    assert api.call("GET", "/views/declared/system_unit", Role.AUDITOR).json()["result"] == {}


_BY_SYSTEM = ("system_unit", "classified_protection")
