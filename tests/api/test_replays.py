"""Every state-changing POST, re-sent as a client retry would (issue #7; docs/security.md).

A retry is the same request again: the same path, body and credential, and the same
``Idempotency-Key`` where the endpoint takes one. Each endpoint is listed once below
with what a retry does; the list must name every POST the API documents, so a new
endpoint has to say how its retries behave:

* ``ONCE`` — the API promises the retry records nothing: the ledger head stays put,
  and the answer is the first one's (a keyed create, an access, a risk assessment, a
  setter whose value is already so: owner, CIO, connected, MLPS, …) or a 409 that
  names why (a registration by code, a decision already taken).
* ``AGAIN`` — no promise: the retry is recorded as a second event of the same
  command (an anomaly review step: each is an entry of the review). docs/security.md
  lists these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.domain.security_facts import MEASURES
from ledger.store.connect import init_ledger
from ledger.subjects import prepare_subject_keys
from projections.zone import stable_id
from security.apikeys import open_api_keys
from tests.api.conftest import (
    PROVIDER,
    USER,
    Api,
    access,
    population_resource,
    setup_departments,
    sharing_request,
)
from tests.projections.scenario import build_scenario

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
SUBJECT = "320102198001010011"
ONCE, AGAIN = "once", "again"
Ids = dict[str, str]


@dataclass(frozen=True)
class Retry:
    """One POST endpoint: who sends it, a valid request, and what its retry does."""

    template: str
    role: Role
    department: str | None
    promise: str
    path: Callable[[Ids], str]
    body: Callable[[Ids], dict[str, Any]] | dict[str, Any] | None = None
    key: str | None = None  # the Idempotency-Key a retrying client sends
    remember: str | None = None  # the name later rows know the created id by

    def send(self, api: Api, ids: Ids) -> Any:
        headers = api.headers(self.role, self.department)
        if self.key is not None:
            headers["Idempotency-Key"] = self.key
        body = self.body(ids) if callable(self.body) else self.body
        return api.client.post(f"/api/v1{self.path(ids)}", json=body, headers=headers)


def system_body(name: str) -> dict[str, Any]:
    return {
        "department": USER, "name": name, "function": "低保审核", "scope_of_use": "全区",
        "usage_frequency": "每日", "approving_body": "区发改局", "funding_source": "区财政",
    }  # fmt: skip


def refresh(event_id: str, **change: Any) -> dict[str, Any]:
    """A refresh the exchange platform reports, of the catalogue's resource unless changed."""
    return {"platform_event_id": event_id, "resource_code": "RK-0001",
            "refreshed_at": "2026-03-01T23:00:00+08:00", **change}  # fmt: skip


FILING = {
    "name": "社会救助信息系统升级", "builder": USER, "investment_fen": 120_000_000,
    "om_cost_fen": 9_000_000, "funding_channel": "区级财政资金", "mlps_filed": True,
    "catalogue_preregistered": False,
}  # fmt: skip
FUNDS = {
    "kind": "construction_funds", "year": 2026, "department": USER, "amount_fen": 50_000_000,
    "outcome": "granted", "rationale": "年度预算", "project_name": "社会救助信息系统升级",
}  # fmt: skip
EXPIRES = "2026-12-31T00:00:00+08:00"
PIA = {
    "department": PROVIDER, "reference": "PIA-1", "resource_code": "RK-0001",
    "conclusion": "acceptable", "summary": "评估",
}  # fmt: skip
PROCESSOR = {
    "department": USER, "contract_reference": "运维合同〔2026〕3号", "processor_name": "某科技公司",
    "processor_credit_code": "91110000MA01ABCD2X", "tasks": ["operate"],
    "period_start": "2026-01-01", "period_end": "2026-12-31",
}  # fmt: skip
CLERK, PROVIDING = Role.DEPARTMENT_CLERK, Role.DATA_PROVIDER

# In the order they are sent: later rows use the ids earlier rows created.
RETRIES = [
    Retry("/departments", Role.ADMIN, None, ONCE, lambda _: "/departments",
          {"code": "jiaoyu", "name": "区教育局"}),
    Retry("/departments/{code}/cio", Role.ADMIN, None, ONCE, lambda _: "/departments/jiaoyu/cio",
          {"cio_name": "王明"}),
    Retry("/systems", CLERK, USER, ONCE, lambda _: "/systems", system_body("低保系统"), "sys-1",
          "system"),
    Retry("/systems/{system_id}/connect", Role.EXCHANGE_PLATFORM, None, ONCE,
          lambda ids: f"/systems/{ids['system']}/connect"),
    Retry("/systems/{system_id}/connection-requirement", Role.NDRC, None, ONCE,
          lambda ids: f"/systems/{ids['system']}/connection-requirement",
          {"required_to_connect": True}),
    Retry("/systems/{system_id}/on-cloud", CLERK, USER, ONCE,
          lambda ids: f"/systems/{ids['system']}/on-cloud"),
    Retry("/systems/{system_id}/mlps", CLERK, USER, ONCE,
          lambda ids: f"/systems/{ids['system']}/mlps", {"mlps_level": 3, "mlps_filed": True}),
    Retry("/systems/{system_id}/zombie", Role.NDRC, None, ONCE,
          lambda ids: f"/systems/{ids['system']}/zombie", {"reasons": ["low_usage"]}),
    Retry("/systems/{system_id}/merge", CLERK, USER, ONCE,
          lambda ids: f"/systems/{ids['merged']}/merge",
          lambda ids: {"integrated_system_id": ids["integrated"]}),
    Retry("/systems/{system_id}/decommission", CLERK, USER, ONCE,
          lambda ids: f"/systems/{ids['system']}/decommission", {"reason": "并入大系统"}),
    Retry("/resources", PROVIDING, PROVIDER, ONCE, lambda _: "/resources", population_resource()),
    Retry("/resources/{code}/owner", PROVIDING, PROVIDER, ONCE,
          lambda _: "/resources/RK-0001/owner", {"owner_department": PROVIDER}),
    Retry("/resources/{code}/controller", PROVIDING, PROVIDER, ONCE,
          lambda _: "/resources/RK-0001/controller", {"controller": PROVIDER}),
    Retry("/resources/{code}/reclassify", PROVIDING, PROVIDER, ONCE,
          lambda _: "/resources/RK-0001/reclassify",
          {"sharing_type": "conditional", "share_condition": "依法履职", "reason": "复核"}),
    Retry("/resources/{code}/risk-assessments", Role.SECURITY_OFFICER, None, ONCE,
          lambda _: "/resources/RK-0001/risk-assessments",
          {"reference": "网信办风评〔2026〕12号", "risk_level": "high", "summary": "含身份证号"}),
    Retry("/sharing-requests", CLERK, USER, ONCE, lambda _: "/sharing-requests",
          sharing_request(), "req-1", "request"),
    Retry("/sharing-requests", CLERK, USER, ONCE, lambda _: "/sharing-requests",
          sharing_request(items=["住址"]), "req-2", "other_request"),
    Retry("/sharing-requests/{request_id}/approve", PROVIDING, PROVIDER, ONCE,
          lambda ids: f"/sharing-requests/{ids['request']}/approve",
          {"items": ["姓名"], "expires_at": EXPIRES}),
    Retry("/sharing-requests/{request_id}/revoke", PROVIDING, PROVIDER, ONCE,
          lambda ids: f"/sharing-requests/{ids['request']}/revoke", {"reason": "期满"}),
    Retry("/sharing-requests/{request_id}/reject", PROVIDING, PROVIDER, ONCE,
          lambda ids: f"/sharing-requests/{ids['other_request']}/reject", {"reason": "无依据"}),
    Retry("/accesses", Role.EXCHANGE_PLATFORM, None, ONCE, lambda _: "/accesses",
          access("retry-1", subjects=[SUBJECT])),
    Retry("/accesses/batch", Role.EXCHANGE_PLATFORM, None, ONCE, lambda _: "/accesses/batch",
          {"accesses": [access("retry-2"), access("retry-3")]}),
    # A person's request (docs/privacy.md): every lookup is itself recorded, so a retried
    # one is a second record; a retried erasure is 409 subject_already_erased.
    Retry("/subjects/accesses", Role.SECURITY_OFFICER, None, AGAIN, lambda _: "/subjects/accesses",
          {"subject": SUBJECT, "from": "2026-06-01", "to": "2026-06-30"}),
    Retry("/subjects/accesses/letter", Role.SECURITY_OFFICER, None, AGAIN,
          lambda _: "/subjects/accesses/letter",
          {"subject": SUBJECT, "from": "2026-06-01", "to": "2026-06-30"}),
    Retry("/subjects/erase", Role.SECURITY_OFFICER, None, ONCE, lambda _: "/subjects/erase",
          {"subject": SUBJECT, "reason": "处理目的已实现", "legal_basis": "个人信息保护法第47条"}),
    Retry("/filings", CLERK, USER, ONCE, lambda _: "/filings", FILING, "filing-1", "filing"),
    Retry("/filings/{filing_id}/review", Role.NDRC, None, ONCE,
          lambda ids: f"/filings/{ids['filing']}/review",
          {"approved": True, "architecture_review": "符合共建共享要求"}),
    Retry("/filings/{filing_id}/accept", Role.NDRC, None, ONCE,
          lambda ids: f"/filings/{ids['filing']}/accept"),
    Retry("/fund-decisions", Role.FINANCE, None, ONCE, lambda _: "/fund-decisions", FUNDS, "f-1"),
    # The issue-14 facts (docs/facts.md §7): a refresh is keyed by its platform event id,
    # a record of people by its natural key or an Idempotency-Key; a later step of a
    # record (withdraw, approve, end, resolve) is taken once.
    Retry("/resource-refreshes", Role.EXCHANGE_PLATFORM, None, ONCE,
          lambda _: "/resource-refreshes", refresh("refresh-1")),
    Retry("/resource-refreshes/batch", Role.EXCHANGE_PLATFORM, None, ONCE,
          lambda _: "/resource-refreshes/batch",
          {"refreshes": [refresh("refresh-2"), refresh("refresh-3", resource_code="NOPE")]}),
    Retry("/impact-assessments", PROVIDING, PROVIDER, ONCE, lambda _: "/impact-assessments",
          PIA),
    Retry("/core-data-approvals", Role.SECURITY_OFFICER, None, ONCE,
          lambda _: "/core-data-approvals",
          {"reference": "核-1", "resource_code": "RK-0001", "approving_authority": "区委网信委"},
          remember="core_data_approval"),
    Retry("/core-data-approvals/{record_id}/withdraw", Role.SECURITY_OFFICER, None, ONCE,
          lambda ids: f"/core-data-approvals/{ids['core_data_approval']}/withdraw",
          {"reason": "用途已变更"}),
    Retry("/annual-reports", Role.CIO, USER, ONCE, lambda _: "/annual-reports",
          {"department": USER, "year": 2025, "reference": "年报", "summary": "共享情况"}),
    Retry("/annual-reports/zone", Role.NDRC, None, ONCE, lambda _: "/annual-reports/zone",
          {"year": 2025, "reference": "区年报", "summary": "全区共享情况"}),
    Retry("/annual-reports/zone/{year}/approve", Role.NDRC, None, ONCE,
          lambda _: "/annual-reports/zone/2025/approve",
          {"approving_body": "领导小组", "reference": "会议纪要"}),
    Retry("/processors", CLERK, USER, ONCE, lambda _: "/processors",
          lambda ids: {**PROCESSOR, "system_ids": [ids["integrated"]]}, remember="processor"),
    Retry("/processors/{record_id}/end", CLERK, USER, ONCE,
          lambda ids: f"/processors/{ids['processor']}/end", {"reason": "合同期满"}),
    Retry("/filings/{filing_id}/progress", CLERK, USER, ONCE,
          lambda ids: f"/filings/{ids['filing']}/progress",
          {"stage": "construction", "progress_percent": 40, "spent_fen": 20_000_000,
           "summary": "完成主体开发"}, "progress-1"),
    Retry("/filings/{filing_id}/evaluation", Role.NDRC, None, ONCE,
          lambda ids: f"/filings/{ids['filing']}/evaluation",
          {"rating": "good", "summary": "达到建设目标"}),
    Retry("/filings/{filing_id}/amounts", Role.NDRC, None, ONCE,
          lambda ids: f"/filings/{ids['filing']}/amounts",
          {"reference": "调概〔2026〕1号", "investment_fen": 130_000_000,
           "om_cost_fen": 9_500_000, "reason": "需求变更"}),
    Retry("/quality-objections", CLERK, USER, ONCE, lambda _: "/quality-objections",
          {"department": USER, "resource_code": "RK-0001", "items": ["姓名"],
           "description": "姓名与户籍不符"}, "objection-1", "objection"),
    Retry("/quality-objections/{record_id}/resolve", PROVIDING, PROVIDER, ONCE,
          lambda ids: f"/quality-objections/{ids['objection']}/resolve",
          {"resolution": "已校核更正"}),
    Retry("/rectifications", Role.AUDITOR, None, ONCE, lambda _: "/rectifications",
          {"finding_id": "F1:sys-1", "rule": "F1", "department": USER,
           "reference": "审整〔2026〕1号", "finding": "系统未接入共享交换平台",
           "requirement": "接入共享交换平台", "deadline": "2026-12-31"}, remember="notice"),
    Retry("/rectifications/{rectification_id}/report", CLERK, USER, ONCE,
          lambda ids: f"/rectifications/{ids['notice']}/report",
          {"reference": "R-1", "summary": "已接入"}),
    Retry("/rectifications/{rectification_id}/verification", Role.AUDITOR, None, ONCE,
          lambda ids: f"/rectifications/{ids['notice']}/verification",
          {"accepted": True, "reason": "核实"}),
    Retry("/audit-suggestions", Role.AUDITOR, None, ONCE, lambda _: "/audit-suggestions",
          {"reference": "审〔2026〕9号", "number": 1, "department": USER, "year": 2026,
           "suggestion": "核对系统接入情况"}, remember="suggestion"),
    Retry("/audit-suggestions/{suggestion_id}/response", CLERK, USER, ONCE,
          lambda ids: f"/audit-suggestions/{ids['suggestion']}/response",
          {"reference": "函-1", "adoption": "adopted", "explanation": "已采纳"}),
    Retry("/audit-suggestions/{suggestion_id}/confirmation", Role.AUDITOR, None, ONCE,
          lambda ids: f"/audit-suggestions/{ids['suggestion']}/confirmation",
          {"confirmed": True, "reason": "核实"}),
    Retry("/security-leads", Role.CIO, USER, ONCE, lambda _: "/security-leads",
          {"scope": USER, "reference": "民任〔2026〕3号", "name": "李娜", "contact": "0512-1"}),
    Retry("/resource-storage", PROVIDING, PROVIDER, ONCE, lambda _: "/resource-storage",
          {"resource_code": "RK-0001", "reference": "GA-CC-1", "storage_period": "长期",
           "storage_location": "区政务云"}),
    Retry("/systems/{system_id}/measures", CLERK, USER, ONCE,
          lambda ids: f"/systems/{ids['integrated']}/measures",
          {"reference": "MZ-SEC-2026-1",
           "measures": {m: {"in_place": True, "description": "已实施"} for m in MEASURES}}),
    # docs/facts.md §11: one record per (kind, subject, reference).
    Retry("/declarations/{kind}", Role.CIO, USER, ONCE, lambda _: "/declarations/service_cloud",
          {"department": USER, "reference": "清单-1", "services": 5, "on_cloud": 2}),
    # As of a fixed position the rendered bytes are the same: one issuance.
    Retry("/reports/{kind}/issue", Role.AUDITOR, None, ONCE,
          lambda _: "/reports/audit/issue?year=2026&at=1"),
    Retry("/reports/verify", Role.AUDITOR, None, ONCE, lambda _: "/reports/verify",
          {"not": "an issued report"}),
]  # fmt: skip


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[Api]:
    """The API with a blind-index secret, so accesses may name data subjects."""
    configured = settings.with_overrides(subject_index_key_file=str(tmp_path / "index.key"))
    init_ledger(configured)
    prepare_subject_keys(configured)
    keys = open_api_keys(configured)
    with TestClient(create_app(configured)) as client:
        yield Api(client, keys, worker=configured)
    keys.close()


def prepare(api: Api) -> Ids:
    """What the rows need besides each other: departments, two more systems to merge."""
    setup_departments(api)
    ids: Ids = {}
    for name, label in (("merged", "旧低保系统"), ("integrated", "大系统")):
        reply = api.call("POST", "/systems", CLERK, USER, json=system_body(label))
        assert reply.status_code == 201, reply.text
        ids[name] = reply.json()["id"]
    return ids


def test_every_post_retried_keeps_its_promise(api: Api) -> None:
    ids = prepare(api)
    broken = []
    for retry in RETRIES:
        first = retry.send(api, ids)
        assert first.status_code in (200, 201), f"{retry.template}: {first.text}"
        if retry.remember:
            ids[retry.remember] = first.json()["id"]
        head = api.head()
        again = retry.send(api, ids)
        recorded = api.head() - head
        if retry.promise == ONCE:
            # A success that names the first record (an access's first answer is 201, its
            # retry's 200 with newly_recorded false).
            same = again.status_code in (200, 201) and (
                "id" not in first.json() or again.json()["id"] == first.json()["id"]
            )
            # A refusal names why; never "another request under this key": it is the same.
            refused = 400 <= again.status_code < 500 and set(again.json()) == {"error", "detail"}
            refused = refused and again.json()["error"] != "idempotency_key_reused"
            kept = recorded == 0 and (same or refused)
        else:
            kept = recorded == 1 and again.status_code == first.status_code
        if not kept:
            broken.append(f"{retry.template} ({retry.promise}): {recorded} more, {again.text}")
    assert not broken, "\n".join(broken)


def test_anomaly_review_retried(api: Api, settings: Settings) -> None:
    """A status step retried is 409 (the same status again is not a step of the review
    machine, ledger/domain/review.py); a note retried is another entry (AGAIN); a closing
    dismissal, once."""
    build_scenario(settings)
    path = f"/anomalies/{stable_id('items_beyond_grant', 'evt-2')}/review"
    second_officer = {"Authorization": f"Bearer {api.keys.create(Role.SECURITY_OFFICER).token}"}
    steps = (
        ("acknowledge", ONCE, "review_not_allowed", None),
        ("note", AGAIN, "", None),
        ("dismiss", ONCE, "anomaly_closed", second_officer),
    )

    def send(body: dict[str, str], headers: dict[str, str] | None) -> Any:
        if headers is None:
            return api.call("POST", path, Role.SECURITY_OFFICER, json=body)
        return api.client.post(f"/api/v1{path}", headers=headers, json=body)

    for action, promise, refusal, headers in steps:
        body = {"action": action, "comment": "已核查"}
        first = send(body, headers)
        assert first.status_code == 201, first.text
        head = api.head()
        again = send(body, headers)
        if promise == AGAIN:
            assert again.status_code == 201 and api.head() == head + 1
        else:
            assert again.status_code == 409 and again.json()["error"] == refusal, again.text
            assert api.head() == head


def test_every_documented_post_is_listed(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    documented = {path.removeprefix("/api/v1") for path, item in paths.items() if "post" in item}
    listed = {r.template for r in RETRIES} | {"/anomalies/{anomaly_id}/review"}
    assert documented == listed


def test_the_doc_lists_the_endpoints_without_a_promise() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Retried commands without a promise") :]
    named = set(re.findall(r"`POST (/[^`]+)`", section.split("\n## ")[0]))
    again = {r.template for r in RETRIES if r.promise == AGAIN}
    assert named == again | {"/anomalies/{anomaly_id}/review"}
