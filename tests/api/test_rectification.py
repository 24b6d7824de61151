"""Rectification over HTTP (api/routers/rectification.py; docs/facts.md §8)."""

from __future__ import annotations

from typing import Any

from ledger.domain.actor import Role
from tests.api.conftest import PROVIDER, USER, Api, setup_departments


def notice(**change: Any) -> dict[str, Any]:
    return {
        "finding_id": "F1:sys-1",
        "rule": "F1",
        "department": USER,
        "reference": "审整〔2026〕1号",
        "finding": "系统未接入共享交换平台",
        "requirement": "接入共享交换平台",
        "deadline": "2026-12-31",
        **change,
    }


def test_notice_report_and_verification_with_their_roles(api: Api) -> None:
    setup_departments(api)
    created = api.call("POST", "/rectifications", Role.AUDITOR, json=notice())
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    again = api.call("POST", "/rectifications", Role.AUDITOR, json=notice())
    assert again.json()["id"] == rid
    report = {"reference": "R-1", "summary": "已接入"}
    assert api.call("POST", f"/rectifications/{rid}/report", Role.CIO, USER, json=report).is_success
    verdict = {"accepted": True, "reason": "核实"}
    reply = api.call("POST", f"/rectifications/{rid}/verification", Role.AUDITOR, json=verdict)
    assert reply.is_success, reply.text
    state = api.call("GET", f"/rectifications/{rid}", Role.AUDITOR).json()
    assert (state["status"], state["department"], state["deadline"]) == (
        "accepted",
        USER,
        "2026-12-31",
    )


def test_bad_requests_are_json_4xx_and_write_nothing(api: Api) -> None:
    setup_departments(api)
    rid = api.call("POST", "/rectifications", Role.AUDITOR, json=notice()).json()["id"]
    head = api.head()
    cases: list[tuple[str, Role, str | None, dict[str, Any], int, str]] = [
        ("/rectifications", Role.DEPARTMENT_CLERK, USER, notice(finding_id="x"), 403, ""),
        ("/rectifications", Role.AUDITOR, None, notice(deadline="31/12/2026"), 422, "deadline"),
        ("/rectifications", Role.AUDITOR, None, notice(extra=1), 422, "unknown field"),
        ("/rectifications", Role.AUDITOR, None, notice(reference="other"), 409, "record_exists"),
        (
            f"/rectifications/{rid}/report",
            Role.CIO,
            PROVIDER,
            {"reference": "R", "summary": "s"},
            403,
            "department_mismatch",
        ),
        (
            f"/rectifications/{rid}/report",
            Role.AUDITOR,
            None,
            {"reference": "R", "summary": "s"},
            403,
            "",
        ),
        (
            f"/rectifications/{rid}/verification",
            Role.AUDITOR,
            None,
            {"accepted": True, "reason": "r"},
            409,
            "rectification_not_reported",
        ),
        (
            f"/rectifications/{rid}/verification",
            Role.AUDITOR,
            None,
            {"accepted": "yes", "reason": "r"},
            422,
            "accepted",
        ),
        (
            f"/rectifications/{rid}/verification",
            Role.DEPARTMENT_CLERK,
            USER,
            {"accepted": True, "reason": "r"},
            403,
            "",
        ),
    ]
    for path, role, department, body, code, words in cases:
        reply = api.call("POST", path, role, department, json=body)
        assert reply.status_code == code, (path, reply.text)
        assert set(reply.json()) == {"error", "detail"}
        assert words in reply.text
    missing = api.call("GET", "/rectifications/00000000-0000-4000-8000-000000000000", Role.AUDITOR)
    assert missing.status_code == 404
    assert api.head() == head


def test_the_register_view_shows_open_and_overdue_as_of_a_date(api: Api) -> None:
    setup_departments(api)
    body = notice(deadline="2026-03-31", notified_at="2026-03-01T10:00:00+08:00")
    rid = api.call("POST", "/rectifications", Role.AUDITOR, json=body).json()["id"]

    def register(as_of: str) -> list[tuple[str, str, str]]:
        reply = api.call("GET", "/views/rectifications", Role.AUDITOR, params={"as_of": as_of})
        assert reply.status_code == 200, reply.text
        return [(e["rectification_id"], e["status"], e["step"]) for e in reply.json()["result"]]

    assert register("2026-02-28") == []
    assert register("2026-03-31") == [(rid.replace("-", ""), "open", "notified")]
    assert register("2026-04-01") == [(rid.replace("-", ""), "overdue", "notified")]
    findings = api.call(
        "GET", "/views/findings", Role.AUDITOR, params={"as_of": "2026-04-01", "rule": "R1"}
    ).json()["result"]
    assert [f["subject"] for f in findings] == [rid.replace("-", "")]
    refused = api.call("GET", "/views/rectifications", Role.CIO, USER)
    assert refused.status_code == 403
