"""The ended console sessions (security/ended_sessions.py) on both backends: hashed ids, pruning
of what has expired only, a guard against reviving a session, and the service role's grant."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from ledger.store.connect import init_ledger, postgres_conninfo
from security.apikeys import ApiKeys, open_api_keys
from security.ended_sessions import (
    PRUNE_GRACE_SECONDS,
    TABLE,
    EndedSessions,
    ended_sessions,
    prepare_postgres,
    session_digest,
)
from tests.conftest import PostgresURLs

APP_ROLE = "govledger_app"


@pytest.fixture
def keys(settings: Settings) -> Iterator[ApiKeys]:
    init_ledger(settings)
    with open_api_keys(settings) as opened:
        yield opened


def _ended(keys: ApiKeys) -> EndedSessions:
    return ended_sessions(keys.store)


def _sql(settings: Settings, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    """One statement as the owner, on the table of ``settings``'s backend (committed)."""
    if settings.database.backend == "sqlite":
        with sqlite3.connect(settings.database.path) as conn:
            return conn.execute(statement.format(table=TABLE), args).fetchall()
    table = f'"{settings.postgres_schema}".{TABLE}'
    with psycopg.connect(**postgres_conninfo(settings.database), autocommit=True) as conn:
        cursor = conn.execute(statement.replace("?", "%s").format(table=table), args)
        return cursor.fetchall() if cursor.description else []


def test_an_ended_session_is_stored_as_a_hash_only(settings: Settings, keys: ApiKeys) -> None:
    ended = _ended(keys)
    assert not ended.is_ended("never-signed-in")  # no table yet: nothing has ended
    ended.end("session-a", int(time.time()) + 600)
    ended.end("session-a", int(time.time()) + 600)  # a second logout (another worker): no error
    assert ended.is_ended("session-a") and not ended.is_ended("session-b")
    rows = _sql(settings, "SELECT session_hash FROM {table}")
    assert rows == [(session_digest("session-a"),)]
    assert "session-a" not in session_digest("session-a")


def test_logout_prunes_what_expired_and_keeps_the_rest(settings: Settings, keys: ApiKeys) -> None:
    ended, now = _ended(keys), int(time.time())
    ended.end("long-gone", now - PRUNE_GRACE_SECONDS - 10, now=now - 10**6)
    ended.end("just-expired", now - 1, now=now - 10**6)
    ended.end("live", now + 600, now=now)
    assert not ended.is_ended("long-gone")
    assert ended.is_ended("just-expired") and ended.is_ended("live")  # within the grace


def test_a_live_row_cannot_be_deleted_or_changed(settings: Settings, keys: ApiKeys) -> None:
    """The DELETE the service holds to prune cannot revive a session that has not expired."""
    ended, now = _ended(keys), int(time.time())
    ended.end("live", now + 600)
    ended.end("expired", now - 10, now=now - 10**6)
    _sql(settings, "DELETE FROM {table}")
    assert ended.is_ended("live") and not ended.is_ended("expired")
    with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="stays ended"):
        _sql(settings, "UPDATE {table} SET expires_at = 0")
    assert ended.is_ended("live")


def test_the_service_role_ends_sessions_once_init_made_the_table(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    init_ledger(postgres_settings)
    service = postgres_settings.with_overrides(database_url=postgres_urls.app)
    with psycopg.connect(**postgres_conninfo(postgres_settings.database)) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA {postgres_settings.postgres_schema} TO {APP_ROLE}")
    with open_api_keys(service) as keys:
        ended = ended_sessions(keys.store)
        assert not ended.is_ended("s")  # reading before init made it: no error, no table
        with pytest.raises(StoreUnavailableError, match="refused"):
            ended.end("s", int(time.time()) + 600)  # the service may not create it
        prepare_postgres(postgres_settings, APP_ROLE)
        ended.end("s", int(time.time()) + 600)
        ended.end("old", int(time.time()) - 10**6)  # already expired: pruned at once
        ended.end("t", int(time.time()) + 600)
        assert ended.is_ended("s") and ended.is_ended("t") and not ended.is_ended("old")
        with (
            psycopg.connect(**postgres_conninfo(service.database)) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(f"TRUNCATE {postgres_settings.postgres_schema}.{TABLE}")
