"""An API over a fresh ledger on each backend, and bearer tokens for every role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Role
from ledger.store.connect import init_ledger
from projections.runner import run_projections
from security.apikeys import ApiKeys, open_api_keys

PROVIDER = "gongan"  # 区公安分局: provides population data
USER = "minzheng"  # 区民政局: uses it


@dataclass
class Api:
    """A client plus a token per (role, department), minted on first use."""

    client: TestClient
    keys: ApiKeys
    tokens: dict[tuple[Role, str | None], str] = field(default_factory=dict)
    # Reading never writes: the service's view reads answer what the projection worker
    # wrote. With settings, a read of the views first runs the worker once (as a deployment's
    # worker would have by then); without, the views are left as they are.
    worker: Settings | None = None

    def headers(self, role: Role, department: str | None = None) -> dict[str, str]:
        if role in DEPARTMENT_BOUND_ROLES and department is None:
            department = USER
        if (role, department) not in self.tokens:
            self.tokens[role, department] = self.keys.create(role, department).token
        return {"Authorization": f"Bearer {self.tokens[role, department]}"}

    def call(
        self, method: str, path: str, role: Role | None, department: str | None = None, **kw: Any
    ) -> Any:
        headers = self.headers(role, department) if role else {}
        if self.worker is not None and path.startswith(("/views", "/anomalies")):
            run_projections(self.worker)
        return self.client.request(method, f"/api/v1{path}", headers=headers, **kw)

    def head(self) -> int:
        return int(self.client.get("/api/v1/ledger").json()["head_position"])


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    init_ledger(settings)
    keys = open_api_keys(settings)
    with TestClient(create_app(settings)) as client:
        yield Api(client, keys, worker=settings)
    keys.close()


def population_resource(sharing_type: str = "conditional", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "RK-0001",
        "name": "人口基础信息",
        "provider_department": PROVIDER,
        "items": [
            {"name": "姓名", "sensitivity": "personal", "base_item": True},
            {"name": "住址", "sensitivity": "personal"},
            {"name": "身份证号", "sensitivity": "sensitive_personal"},
        ],
        "sharing_type": sharing_type,
        "open_type": "not_open",
        "update_cycle": "daily",
        "summary": "户籍人口基础信息",
        "format": "table",
        "share_condition": "依法履职需要" if sharing_type != "unconditional" else "",
        "share_method": "api",
    }
    body.update(overrides)
    return body


def sharing_request(**overrides: Any) -> dict[str, Any]:
    """The user department's request for the population resource (51号 conditional sharing)."""
    body: dict[str, Any] = {
        "requester_department": USER,
        "resource_code": "RK-0001",
        "items": ["姓名", "住址"],
        "purpose": "最低生活保障资格核查",
        "legal_basis": "《社会救助暂行办法》第十一条",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
    }
    body.update(overrides)
    return body


def setup_departments(api: Api) -> None:
    for code, name in ((PROVIDER, "区公安分局"), (USER, "区民政局")):
        reply = api.call("POST", "/departments", Role.ADMIN, json={"code": code, "name": name})
        assert reply.status_code == 201, reply.text


def access(event_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "platform_event_id": event_id,
        "accessor_id": "minzheng-clerk-07",
        "department": USER,
        "resource_code": "RK-0001",
        "items": ["姓名"],
        "row_count": 12,
        "purpose": "最低生活保障资格核查",
        "client_address": "10.12.0.31",
        "accessed_at": "2026-06-30T09:15:00+08:00",
    }
    body.update(overrides)
    return body
