"""/docs and /redoc served by the service itself, the bearer scheme, and demo tokens that
work on the demo (issue #16 "Newcomer")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import GovLedger
from ledger.config import Settings
from ledger.store.connect import application_env, init_ledger
from ops.demo import load_demo
from ops.demo.cli import write_demo_tokens
from projections.query import open_views

OUTSIDE = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    directory = tmp_path_factory.mktemp("demo-docs")
    settings = Settings(
        database_url=f"sqlite:///{directory / 'ledger.db'}", state_dir=str(directory / "state")
    )
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        load_demo(app, accesses=200, seed=7, requests=60)
    finally:
        app.close()
    with open_views(settings, catch_up=True):  # what the projection worker does
        pass
    write_demo_tokens(settings, directory / "tokens.txt")
    tokens = {}
    for line in (directory / "tokens.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            role, _, token = line.split("\t")
            tokens[role] = token
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def test_docs_and_redoc_load_nothing_from_outside(demo: Any) -> None:
    client, _ = demo
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert not OUTSIDE.search(page.text), OUTSIDE.search(page.text)
        assets = re.findall(r"""(?:src|href)=["']?(/docs-static/[^"' >]+)""", page.text)
        assert assets
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200 and len(served.content) > 1000, asset


def test_the_openapi_declares_the_bearer_scheme_on_api_operations(demo: Any) -> None:
    client, _ = demo
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operation = schema["paths"]["/api/v1/sharing-requests"]["post"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def _example(schema: dict[str, Any], name: str) -> dict[str, Any]:
    fields = schema["components"]["schemas"][name]["properties"]
    return {k: v["examples"][0] for k, v in fields.items() if "examples" in v}


def test_every_demo_token_does_what_its_role_allows_with_the_documented_examples(
    demo: Any,
) -> None:
    client, tokens = demo
    schema = client.get("/openapi.json").json()

    def call(role: str, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {tokens[role]}", **kw.pop("headers", {})}
        return client.request(method, f"/api/v1{path}", headers=headers, **kw)

    request = {
        **_example(schema, "SharingRequestIn"),
        "items": ["姓名"],
        "period_start": "2025-06-01",
        "period_end": "2025-12-31",
    }
    submitted = call(
        "department_clerk", "POST", "/sharing-requests", json=request,
        headers={"Idempotency-Key": "docs-demo-1"},
    )  # fmt: skip
    assert submitted.status_code == 201, submitted.text
    access = {
        **_example(schema, "AccessIn"),
        "accessed_at": "2025-06-02T10:00:00+08:00",
        "row_count": 1,
    }
    recorded = call("exchange_platform", "POST", "/accesses", json=access)
    assert recorded.status_code == 201, recorded.text
    for role, path in (
        ("auditor", "/views/audit-trail?limit=5"),
        ("security_officer", "/views/anomalies"),
        ("ndrc", "/ledger"),
        ("finance", "/ledger"),
    ):
        reply = call(role, "GET", path)
        assert reply.status_code == 200, (role, reply.text)
    approve = {"items": ["姓名"], "expires_at": "2099-12-31T00:00:00+08:00"}
    approved = call(
        "data_provider", "POST", f"/sharing-requests/{submitted.json()['id']}/approve",
        json=approve,
    )  # fmt: skip
    assert approved.status_code == 200, approved.text
    assert call("admin", "GET", "/views/anomalies").status_code == 403
