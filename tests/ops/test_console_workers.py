"""The web console as shipped (issue 21 item 5): ``govledger serve --workers 4``, as the API
unit runs it, with no session key file configured. Every worker signs and opens the console's
cookies with one key, so a login form served by one worker is accepted by any other; the key
made for the run is private and gone when the service stops. 退出 on one worker ends the
session for all of them (security/ended_sessions.py)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from tests.ops.conftest import bearer, govledger_serve

pytestmark = pytest.mark.slow
ATTEMPTS = 12


def sign_in(url: str, token: str) -> httpx.Response:
    """The login form, then its submission, each on a new connection (any worker may answer)."""
    with httpx.Client(base_url=url, timeout=10) as first:
        form = first.get("/console/login")
        assert form.status_code == 200, form.text
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
        assert nonce is not None
        cookies = dict(form.cookies)
    with httpx.Client(base_url=url, timeout=10, cookies=cookies) as second:
        return second.post(
            "/console/login", data={"credential": token, "nonce": nonce[1]}, follow_redirects=False
        )


def test_sign_in_works_whichever_of_four_workers_answers(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    settings = sqlite_settings.with_overrides(metrics_dir=str(tmp_path / "metrics"))
    init_ledger(settings)
    token = bearer(settings, Role.AUDITOR)["Authorization"].removeprefix("Bearer ")
    # A temporary directory of the service's own: other services on this machine make theirs.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    serve_env = {"TMPDIR": str(temporary)}
    with govledger_serve(settings, tmp_path, workers=4, extra_env=serve_env) as url:
        made = set(temporary.glob("govledger-console-*"))
        assert len(made) == 1
        (key_dir,) = made
        assert key_dir.stat().st_mode & 0o777 == 0o700
        assert (key_dir / "session.key").stat().st_mode & 0o777 == 0o600
        answers = [sign_in(url, token) for _ in range(ATTEMPTS)]
        assert [a.status_code for a in answers] == [303] * ATTEMPTS, [
            a.text[:200] for a in answers if a.status_code != 303
        ]
        assert all("govledger_console" in a.cookies for a in answers)
    assert not key_dir.exists()


def test_logout_on_one_worker_refuses_the_copied_cookie_on_all(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    settings = sqlite_settings.with_overrides(metrics_dir=str(tmp_path / "metrics"))
    init_ledger(settings)
    token = bearer(settings, Role.AUDITOR)["Authorization"].removeprefix("Bearer ")

    def ledger_page(cookie: str) -> list[int]:
        """The ledger page asked with ``cookie``, each time on a new connection."""
        answers = []
        for _ in range(ATTEMPTS):
            with httpx.Client(base_url=url, timeout=10) as client:
                client.cookies.set("govledger_console", cookie)
                answers.append(client.get("/console/ledger").status_code)
        return answers

    with govledger_serve(settings, tmp_path, workers=4) as url:
        signed_in = sign_in(url, token)
        assert signed_in.status_code == 303, signed_in.text
        copied = signed_in.cookies["govledger_console"]
        with httpx.Client(base_url=url, timeout=10) as user:
            user.cookies.set("govledger_console", copied)
            page = user.get("/console/ledger")
            assert ledger_page(copied) == [200] * ATTEMPTS
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            out = user.post("/console/logout", data={"csrf": csrf[1]})
            assert out.status_code == 303 and out.headers["location"] == "/console/login"
        assert ledger_page(copied) == [303] * ATTEMPTS
