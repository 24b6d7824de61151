"""The read models' routes during an upgrade: 503 with Retry-After, never a 500 nor an answer
from views of another schema version (docs/operations.md §Upgrading)."""

from __future__ import annotations

import pytest

from ledger.config import Settings
from ledger.domain.actor import Role
from projections import runner, schema
from projections.store import ViewStore, ViewsVersionError
from tests.api.conftest import Api


def set_version(settings: Settings, version: int) -> None:
    store = ViewStore(settings)
    try:
        with store.transaction():
            store.set_meta("schema_version", str(version))
    finally:
        store.close()


def test_views_of_another_version_answer_503_until_they_are_current(
    api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "VERSION_CHECK_SECONDS", 0.0)  # where the check reads it
    assert api.call("GET", "/views/findings", Role.AUDITOR).status_code == 200
    api.worker = None  # the upgrade: no worker has rebuilt the views yet
    for version, relation in (
        (runner.SCHEMA_VERSION + 1, "newer"),
        (runner.SCHEMA_VERSION - 1, "older"),
    ):
        set_version(settings, version)
        with pytest.raises(ViewsVersionError, match=relation):
            runner.check_views_version(settings)
        # Reading never writes: even a service that may create tables does not rebuild
        # older views on a read; the worker does (docs/operations.md §Upgrading).
        reply = api.call("GET", "/views/findings", Role.AUDITOR)
        assert reply.status_code == 503, reply.text
        assert reply.headers["Retry-After"]
        body = reply.json()
        assert body["error"] == "store_unavailable" and relation in body["detail"]
        assert api.call("GET", "/views/findings", None).status_code == 401
    set_version(settings, runner.SCHEMA_VERSION)
    assert api.call("GET", "/views/findings", Role.AUDITOR).status_code == 200
