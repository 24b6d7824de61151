"""退出 ends the session on the server, for every worker (security/ended_sessions.py), on both
backends: a cookie copied before logout is refused afterwards by another app instance sharing
the database and the session key, as another ``uvicorn`` worker process would be."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.session import SESSION_COOKIE, SessionCodec
from ledger.config import DatabaseURL, Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from ops.cli import main
from security.apikeys import open_api_keys
from security.ended_sessions import TABLE
from tests.api.console.conftest import Console
from tests.conftest import PostgresURLs, pg_connect

LEDGER = "/console/ledger"


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[tuple[Console, Console]]:
    """Two app instances over one ledger and one session key file: two workers of a service."""
    key = tmp_path / "console-session.key"
    key.write_text(secrets.token_urlsafe(48), encoding="ascii")
    shared = settings.with_overrides(console_session_key_file=str(key))
    init_ledger(shared)
    with (
        TestClient(create_app(shared), base_url="http://127.0.0.1") as first,
        TestClient(create_app(shared), base_url="http://127.0.0.1") as second,
    ):
        yield Console(first, shared), Console(second, shared)


def _status(console: Console, cookie: str) -> tuple[int, str]:
    """A console page asked with exactly this cookie (as an attacker replaying a copy would)."""
    console.client.cookies.clear()
    console.client.cookies.set(SESSION_COOKIE, cookie, path="/console")
    reply = console.client.get(LEDGER, follow_redirects=False)
    return reply.status_code, reply.headers.get("location", "")


def _clears_the_cookie(set_cookie: list[str]) -> bool:
    return any(h.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in h for h in set_cookie)


def test_a_cookie_copied_before_logout_is_refused_by_every_worker(
    workers: tuple[Console, Console],
) -> None:
    _logout_refuses_the_copy(*workers)


def _logout_refuses_the_copy(first: Console, second: Console) -> None:
    first.login(Role.AUDITOR)
    copied = first.client.cookies[SESSION_COOKIE]
    assert _status(second, copied) == (200, "")  # the other worker honours the session
    out = first.client.post("/console/logout", data={"csrf": first.csrf()}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/console/login")
    assert _clears_the_cookie(out.headers.get_list("set-cookie"))
    assert _status(second, copied) == (303, "/console/login")
    assert _status(first, copied) == (303, "/console/login")
    # Signing in again is a new session, which the other worker honours.
    second.client.cookies.clear()
    second.login(Role.AUDITOR)
    assert _status(first, second.client.cookies[SESSION_COOKIE]) == (200, "")


def test_the_least_privileged_service_role_ends_sessions_after_init(
    postgres_settings: Settings,
    postgres_urls: PostgresURLs,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """As deployed on PostgreSQL: ``govledger init --app-role`` as the owner, the workers as
    the application role, which may not create the table itself."""
    monkeypatch.setenv("GOVLEDGER_POSTGRES_SCHEMA", postgres_settings.postgres_schema)
    monkeypatch.setenv("GOVLEDGER_STATE_DIR", postgres_settings.state_dir)
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", postgres_urls.owner)
    assert main(["init", "--app-role", "govledger_app"]) == 0
    key = tmp_path / "console-session.key"
    key.write_text(secrets.token_urlsafe(48), encoding="ascii")
    owner = postgres_settings.with_overrides(console_session_key_file=str(key))
    service = owner.with_overrides(database_url=postgres_urls.app, create_schema=False)
    with (
        TestClient(create_app(service), base_url="http://127.0.0.1") as first,
        TestClient(create_app(service), base_url="http://127.0.0.1") as second,
    ):
        # The owner mints the keys (the service role only reads them).
        _logout_refuses_the_copy(Console(first, owner), Console(second, owner))
    # init made the table, owned by the owner: the service cannot change a row or drop the guard.
    table = f"{postgres_settings.postgres_schema}.{TABLE}"
    with pg_connect(postgres_urls.owner) as conn:
        found = conn.execute(
            "SELECT pg_get_userbyid(relowner), has_table_privilege(%s, oid, 'UPDATE') "
            "FROM pg_class WHERE oid = to_regclass(%s)",
            ("govledger_app", table),
        ).fetchone()
    assert found == (DatabaseURL.parse(postgres_urls.owner).user, False)


def test_logout_with_a_cookie_that_is_no_session_is_harmless(
    workers: tuple[Console, Console],
) -> None:
    first, second = workers
    with open_api_keys(first.settings) as keys:
        principal = keys.authenticate(first.token(Role.AUDITOR))
    key = Path(first.settings.console_session_key_file).read_bytes().strip()
    expired, _ = SessionCodec(key, -60).issue(principal)  # ours, past its expiry
    foreign, _ = SessionCodec(b"k" * 32, 600).issue(principal)  # signed by another key
    first.login(Role.AUDITOR)
    good = first.client.cookies[SESSION_COOKIE]
    for garbage in ("garbage", "x" * 4000, good[:-2] + "xx", expired, foreign, "a.b.c", "%00"):
        first.client.cookies.clear()
        first.client.cookies.set(SESSION_COOKIE, garbage, path="/console")
        out = first.client.post("/console/logout", data={"csrf": "x"}, follow_redirects=False)
        assert (out.status_code, out.headers["location"]) == (303, "/console/login"), garbage
        assert _clears_the_cookie(out.headers.get_list("set-cookie")), garbage
    # Nothing was ended: the real session still works on both workers.
    assert _status(second, good) == (200, "")
    assert _status(first, good) == (200, "")


def test_logout_is_refused_without_the_session_csrf_token(
    workers: tuple[Console, Console],
) -> None:
    """Another site cannot end a user's session (nor, so, record anything)."""
    first, second = workers
    first.login(Role.AUDITOR)
    cookie = first.client.cookies[SESSION_COOKIE]
    assert first.client.post("/console/logout", data={"csrf": "x"}).status_code == 403
    assert _status(second, cookie) == (200, "")


def test_a_cookie_of_before_this_version_signs_nobody_in(
    workers: tuple[Console, Console],
) -> None:
    """A cookie without a session id could not be ended: it is no session."""
    first, _ = workers
    key = Path(first.settings.console_session_key_file).read_bytes().strip()
    codec = SessionCodec(key, 600)
    first.login(Role.AUDITOR)
    payload = codec._session.loads(first.client.cookies[SESSION_COOKIE])
    for field in ("sid", "exp"):
        old = codec._session.dumps({k: v for k, v in payload.items() if k != field})
        assert _status(first, old) == (303, "/console/login"), field


def test_reading_pages_writes_nothing(sqlite_settings: Settings, tmp_path: Path) -> None:
    """The check reads: no table appears until someone logs out."""
    init_ledger(sqlite_settings)
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        console = Console(client, sqlite_settings)
        console.login(Role.AUDITOR)
        assert client.get(LEDGER).status_code == 200
        with sqlite3.connect(sqlite_settings.database.path) as conn:
            query = "SELECT count(*) FROM sqlite_master WHERE name = ?"
            assert conn.execute(query, (TABLE,)).fetchone() == (0,)
