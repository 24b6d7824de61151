"""Role x endpoint matrix: every role gets 403 exactly where the policy says it may not act."""

from __future__ import annotations

import re

import pytest

from ledger.domain.actor import Role
from security.policy import POLICY, Permission
from tests.api.conftest import Api

ZERO = "00000000-0000-0000-0000-000000000000"
# Each endpoint and the permission it must demand (written here independently of the routers).
ENDPOINTS: list[tuple[str, str, Permission]] = [
    ("POST", "/departments", Permission.MANAGE_DEPARTMENTS),
    ("POST", "/departments/gongan/cio", Permission.MANAGE_DEPARTMENTS),
    ("GET", "/departments/gongan", Permission.READ_AUDIT_VIEWS),
    ("POST", "/systems", Permission.REGISTER_SYSTEM),
    ("GET", f"/systems/{ZERO}", Permission.READ_AUDIT_VIEWS),
    # Separation of duties (issue 14): not the funded department's clerk or CIO.
    ("POST", f"/systems/{ZERO}/connect", Permission.RECORD_CONNECTION),
    ("POST", f"/systems/{ZERO}/zombie", Permission.MARK_ZOMBIE),
    ("POST", f"/systems/{ZERO}/connection-requirement", Permission.SET_CONNECTION_REQUIREMENT),
    ("POST", f"/systems/{ZERO}/mlps", Permission.REGISTER_SYSTEM),
    ("POST", "/resources", Permission.REGISTER_CATALOGUE),
    ("GET", "/resources/RK-0001", Permission.READ_AUDIT_VIEWS),
    ("POST", "/resources/RK-0001/owner", Permission.REGISTER_CATALOGUE),
    ("POST", "/resources/RK-0001/risk-assessments", Permission.RECORD_RISK_ASSESSMENT),
    ("POST", "/sharing-requests", Permission.SUBMIT_REQUEST),
    ("GET", f"/sharing-requests/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", f"/sharing-requests/{ZERO}/approve", Permission.DECIDE_REQUEST),
    ("POST", f"/sharing-requests/{ZERO}/reject", Permission.DECIDE_REQUEST),
    ("POST", f"/sharing-requests/{ZERO}/revoke", Permission.DECIDE_REQUEST),
    ("POST", "/accesses", Permission.INGEST_ACCESS),
    ("POST", "/accesses/batch", Permission.INGEST_ACCESS),
    ("GET", "/accesses/evt-1", Permission.READ_PERSONAL_DATA_VIEWS),
    # Issue 19: a person's requests (api/routers/subjects.py).
    ("POST", "/subjects/accesses", Permission.ANSWER_SUBJECT_REQUEST),
    ("POST", "/subjects/accesses/letter", Permission.ANSWER_SUBJECT_REQUEST),
    ("POST", "/subjects/erase", Permission.ERASE_SUBJECT),
    ("POST", "/filings", Permission.FILE_PROJECT),
    ("GET", f"/filings/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", f"/filings/{ZERO}/review", Permission.REVIEW_PROJECT),
    ("POST", "/fund-decisions", Permission.DECIDE_FUNDS),
    ("GET", f"/fund-decisions/{ZERO}", Permission.READ_AUDIT_VIEWS),
    # Issue 14 facts (api/routers/obligations.py).
    ("POST", "/resource-refreshes", Permission.REPORT_REFRESH),
    ("POST", "/resource-refreshes/batch", Permission.REPORT_REFRESH),
    ("GET", "/resource-refreshes/x-1", Permission.READ_AUDIT_VIEWS),
    ("POST", "/impact-assessments", Permission.RECORD_PIA),
    ("GET", f"/impact-assessments/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/core-data-approvals", Permission.APPROVE_CORE_DATA),
    ("POST", f"/core-data-approvals/{ZERO}/withdraw", Permission.APPROVE_CORE_DATA),
    ("GET", f"/core-data-approvals/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/annual-reports", Permission.SUBMIT_ANNUAL_REPORT),
    ("POST", "/annual-reports/zone", Permission.COMPILE_ZONE_REPORT),
    ("POST", "/annual-reports/zone/2025/approve", Permission.COMPILE_ZONE_REPORT),
    ("GET", f"/annual-reports/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/processors", Permission.RECORD_PROCESSOR),
    ("POST", f"/processors/{ZERO}/end", Permission.RECORD_PROCESSOR),
    ("GET", f"/processors/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", f"/filings/{ZERO}/progress", Permission.REPORT_PROJECT_PROGRESS),
    ("GET", f"/project-progress/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", f"/filings/{ZERO}/evaluation", Permission.EVALUATE_PROJECT),
    ("GET", f"/filings/{ZERO}/evaluation", Permission.READ_AUDIT_VIEWS),
    ("POST", f"/filings/{ZERO}/amounts", Permission.REVISE_FILED_AMOUNTS),
    ("GET", f"/filed-amounts-revisions/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/quality-objections", Permission.RAISE_QUALITY_OBJECTION),
    ("POST", f"/quality-objections/{ZERO}/resolve", Permission.RESOLVE_QUALITY_OBJECTION),
    ("GET", f"/quality-objections/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/rectifications", Permission.ISSUE_RECTIFICATION),
    ("POST", f"/rectifications/{ZERO}/report", Permission.REPORT_RECTIFICATION),
    ("POST", f"/rectifications/{ZERO}/verification", Permission.VERIFY_RECTIFICATION),
    ("GET", f"/rectifications/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/audit-suggestions", Permission.ISSUE_AUDIT_SUGGESTION),
    ("POST", f"/audit-suggestions/{ZERO}/response", Permission.RESPOND_AUDIT_SUGGESTION),
    ("POST", f"/audit-suggestions/{ZERO}/confirmation", Permission.CONFIRM_AUDIT_SUGGESTION),
    ("GET", f"/audit-suggestions/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/security-leads", Permission.DECLARE_SECURITY_FACTS),
    ("GET", f"/security-leads/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/resource-storage", Permission.DECLARE_SECURITY_FACTS),
    ("GET", f"/resource-storage/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", f"/systems/{ZERO}/measures", Permission.DECLARE_SECURITY_FACTS),
    ("GET", f"/system-measures/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("POST", "/declarations/system_unit", Permission.DECLARE_PLAN_FACTS),
    ("POST", "/declarations/service_cloud", Permission.DECLARE_PLAN_FACTS),
    ("GET", f"/declarations/{ZERO}", Permission.READ_AUDIT_VIEWS),
    ("GET", "/ledger/events", Permission.READ_LEDGER_FEED),
    ("GET", "/proofs/inclusion?position=1", Permission.VERIFY),
    ("GET", "/proofs/consistency?from=1", Permission.VERIFY),
    # Read models (api/routers/views.py).
    ("GET", "/views/audit-trail", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/rights-register", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/rectifications", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/audit-suggestions", Permission.READ_AUDIT_VIEWS),
    ("POST", "/reports/audit/issue?year=2026&at=999999", Permission.ISSUE_REPORT),
    ("POST", "/reports/verify", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/findings", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/inventory", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/declared/self_inspection", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/zone", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/projections", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/access-counts?start=2026-01-01&end=2026-12-31", Permission.READ_AUDIT_VIEWS),
    ("GET", "/views/anomalies", Permission.READ_ANOMALIES),
    ("POST", "/anomalies/x/review", Permission.REVIEW_ANOMALY),
    ("GET", "/reports/audit?year=2026", Permission.READ_AUDIT_VIEWS),
]


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_matrix(api: Api, role: Role) -> None:
    head = api.head()
    wrong: list[str] = []
    for method, path, permission in ENDPOINTS:
        reply = api.call(method, path, role, json={} if method == "POST" else None)
        allowed = role in POLICY[permission]
        if allowed == (reply.status_code == 403) or reply.status_code == 401:
            wrong.append(f"{method} {path}: {reply.status_code} {reply.text[:80]}")
    assert not wrong, "\n".join(wrong)
    assert api.head() == head, "a probe with an empty body wrote something"


def test_the_matrix_says_what_the_issue_asks(api: Api) -> None:
    assert POLICY[Permission.INGEST_ACCESS] == {Role.EXCHANGE_PLATFORM}
    assert POLICY[Permission.DECIDE_FUNDS] == {Role.FINANCE}
    assert POLICY[Permission.REVIEW_PROJECT] == {Role.NDRC}
    assert Role.AUDITOR in POLICY[Permission.READ_LEDGER_FEED]
    assert POLICY[Permission.MANAGE_DEPARTMENTS] == {Role.ADMIN}
    assert POLICY[Permission.REPORT_REFRESH] == {Role.EXCHANGE_PLATFORM}
    # Issue 14: evaluation and the zone report are ndrc's, core-data approval 网信办's;
    # a department never evaluates its own project.
    assert POLICY[Permission.EVALUATE_PROJECT] == {Role.NDRC}
    assert POLICY[Permission.COMPILE_ZONE_REPORT] == {Role.NDRC}
    assert POLICY[Permission.APPROVE_CORE_DATA] == {Role.SECURITY_OFFICER}


def test_every_documented_route_is_in_the_matrix(api: Api) -> None:
    """/docs lists every endpoint, and each one is probed above (or is a tested sibling's twin)."""
    assert api.client.get("/docs").status_code == 200
    schema = api.client.get("/openapi.json").json()
    documented = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, item in schema["paths"].items()
        for method in item
        if path.startswith("/api/v1/")
    }
    probed = {
        (method, template)
        for method, template in documented
        for m, concrete, _ in ENDPOINTS
        if m == method
        and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), concrete.split("?")[0])
    }
    siblings = {
        ("POST", "/systems/{system_id}/on-cloud"),
        ("POST", "/systems/{system_id}/merge"),
        ("POST", "/systems/{system_id}/decommission"),
        ("POST", "/resources/{code}/controller"),
        ("POST", "/resources/{code}/reclassify"),
        ("POST", "/filings/{filing_id}/accept"),
    }
    public = {("GET", "/ledger"), ("GET", "/checkpoints/latest")}
    assert documented - probed - public == siblings
