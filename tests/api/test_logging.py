"""Structured JSON logs (api/logging.py): one line per request with its id and actor, and
never a secret, whatever the request carried (issue 6 §7)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.logging import configure_logging, scrub
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from security.apikeys import open_api_keys
from tests.api.conftest import Api, access, setup_departments

FAKE_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ6aGFuZ3NhbiJ9.c2lnbmF0dXJlLXNlY3JldA"


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_request_lines_carry_id_and_actor_and_no_credential(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", state_dir=str(tmp_path / "state")
    )
    init_ledger(settings)
    keys = open_api_keys(settings)
    buffer = io.StringIO()
    with TestClient(create_app(settings)) as client:
        configure_logging(settings, stream=buffer)
        api = Api(client, keys)
        setup_departments(api)
        platform = api.headers(Role.EXCHANGE_PLATFORM)
        token = platform["Authorization"].removeprefix("Bearer ")
        body = access("log-1", accessed_at=datetime.now(UTC).isoformat())
        ok = client.post(
            "/api/v1/accesses", headers={**platform, "X-Request-ID": "req-42"}, json=body
        )
        assert ok.status_code == 201, ok.text
        # A failing login: the right key id with a wrong secret, a forged JWT, a token in the URL.
        wrong = token[: -len("wrong-secret-wrong")] + "wrong-secret-wrong"
        for bad in (wrong, FAKE_JWT):
            denied = client.get("/api/v1/ledger/events", headers={"Authorization": f"Bearer {bad}"})
            assert denied.status_code == 401
        client.get(f"/api/v1/ledger?token={token}&api_key={token}")
    keys.close()

    records = lines(buffer)
    text = buffer.getvalue()
    secret = token.rsplit("_", 1)[1]
    for leaked in (token, secret, wrong.rsplit("_", 1)[1], FAKE_JWT, "c2lnbmF0dXJlLXNlY3JldA"):
        assert leaked not in text
    requests = [r for r in records if r["message"] == "request"]
    assert all(r["request_id"] for r in requests)
    (ingest,) = [r for r in requests if r["route"] == "/api/v1/accesses"]
    assert ingest["request_id"] == "req-42"
    assert ingest["status"] == 201
    assert ingest["role"] == "exchange_platform"
    assert ingest["actor_id"] and ingest["actor_id"].startswith("apikey:")
    refused = [r for r in requests if r["status"] == 401]
    assert len(refused) == 2 and all(r["actor_id"] is None for r in refused)


def test_scrub_removes_every_kind_of_credential() -> None:
    text = (
        "Authorization: Bearer abc.def-ghi glk_0123456789abcdef_SeCrEt-Value_123 "
        f"{FAKE_JWT} postgresql://owner:hunter2@db:5432/ledger password=hunter3&x=1 "
        "PRIVATE+KEY+govledger.local+1a2b3c4d+AXYZ"
    )
    cleaned = scrub(text)
    for secret in ("abc.def-ghi", "SeCrEt-Value_123", FAKE_JWT, "hunter2", "hunter3", "AXYZ"):
        assert secret not in cleaned
    assert "postgresql://owner:***@db:5432/ledger" in cleaned
