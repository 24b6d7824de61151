"""Every kind of database fault is a 503 with Retry-After, never a 500 (api/faults.py).

The end-to-end outage is tests/ops/test_database_faults.py; here each exception
the drivers and the pool raise is injected where the ledger would raise it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

from api.app import create_app
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from security.apikeys import open_api_keys
from tests.api.conftest import access

FAULTS = [
    OperationalError("server closed the connection unexpectedly"),
    InterfaceError("connection already closed"),
    PoolTimeout("couldn't get a connection after 5.00 sec"),
    psycopg.OperationalError("connection refused"),
    sqlite3.OperationalError("database is locked"),
]


@pytest.fixture
def client(sqlite_settings: Settings) -> Iterator[tuple[TestClient, str]]:
    init_ledger(sqlite_settings)
    with open_api_keys(sqlite_settings) as keys:
        token = keys.create(Role.EXCHANGE_PLATFORM).token
    with TestClient(create_app(sqlite_settings)) as c:
        yield c, token


@pytest.mark.parametrize("fault", FAULTS, ids=lambda e: type(e).__name__)
def test_store_fault_is_503_with_retry_after(
    client: tuple[TestClient, str], fault: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, token = client
    ledger = c.app.state.services.ledger  # type: ignore[attr-defined]

    def fail(*_: object, **__: object) -> None:
        raise fault

    monkeypatch.setattr(ledger, "record_accesses", fail)
    reply = c.post(
        "/api/v1/accesses", json=access("f-1"), headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 503
    assert reply.headers["Retry-After"].isdigit()
    assert reply.json() == {
        "error": "store_unavailable",
        "detail": "the ledger database is unavailable; retry later",
    }
