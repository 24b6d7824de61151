"""Console sessions, CSRF and role gating over HTTP, on both backends (api/console)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.session import SESSION_COOKIE, SessionCodec
from ledger.domain.actor import Role
from security.apikeys import open_api_keys
from security.principal import Principal
from tests.api.console.conftest import ROWS, Console

PAGES = [
    "/console/ledger",
    "/console/ledger/proof?position=1",
    "/console/ledger/evidence?position=1",
]


def test_pages_send_a_stranger_to_the_login_form(console: Console) -> None:
    for path in [*PAGES, "/console/"]:
        reply = console.client.get(path, follow_redirects=False)
        assert (reply.status_code, reply.headers["location"]) == (303, "/console/login"), path
    form = console.client.get("/console/login")
    assert form.status_code == 200 and "登录控制台" in form.text
    assert "default-src 'self'" in form.headers["content-security-policy"]


def test_session_cookie_is_httponly_strict_and_holds_no_credential(console: Console) -> None:
    console.login(Role.AUDITOR)
    header = next(h for h in console.client.cookies.jar if h.name == SESSION_COOKIE)
    assert header.has_nonstandard_attr("HttpOnly") and not header.secure
    assert console.token(Role.AUDITOR).split("_", 2)[2] not in (header.value or "")
    page = console.client.get("/console/ledger")
    assert page.status_code == 200 and "账本状态" in page.text and "区审计局" in page.text


def test_over_https_the_cookie_is_secure(console: Console) -> None:
    with TestClient(create_app(console.settings), base_url="https://127.0.0.1") as client:
        secure = Console(client, console.settings)
        secure.login(Role.AUDITOR)
        assert next(h for h in client.cookies.jar if h.name == SESSION_COOKIE).secure


def test_a_bad_key_or_a_stale_form_signs_nobody_in(console: Console) -> None:
    form = console.client.get("/console/login")
    nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
    wrong = console.client.post(
        "/console/login", data={"credential": "glk_0123456789abcdef_nope", "nonce": nonce}
    )
    assert wrong.status_code == 401 and "密钥或令牌无效" in wrong.text
    console.client.cookies.clear()  # the nonce cookie goes: the form no longer counts
    stale = console.client.post(
        "/console/login", data={"credential": console.token(Role.AUDITOR), "nonce": nonce}
    )
    assert stale.status_code == 403 and "登录表单已过期" in stale.text
    assert SESSION_COOKIE not in console.client.cookies


@pytest.mark.parametrize("role", [Role.DEPARTMENT_CLERK, Role.EXCHANGE_PLATFORM, Role.NDRC])
def test_roles_outside_the_console_get_a_chinese_403(console: Console, role: Role) -> None:
    form = console.client.get("/console/login")
    nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
    reply = console.client.post(
        "/console/login", data={"credential": console.token(role), "nonce": nonce}
    )
    assert reply.status_code == 403 and "无权使用本控制台" in reply.text
    assert reply.headers["content-type"].startswith("text/html")
    assert SESSION_COOKIE not in console.client.cookies


def test_a_forged_or_foreign_cookie_is_no_session(console: Console) -> None:
    console.login(Role.AUDITOR)
    good = console.client.cookies[SESSION_COOKIE]
    foreign, _ = SessionCodec(b"k" * 32, 600).issue(_principal_of(console, Role.AUDITOR))
    for value in (good[:-2] + "xx", foreign):
        console.client.cookies.set(SESSION_COOKIE, value, path="/console")
        reply = console.client.get("/console/ledger", follow_redirects=False)
        assert reply.status_code == 303, value


def _principal_of(console: Console, role: Role) -> Principal:
    with open_api_keys(console.settings) as keys:
        return keys.authenticate(console.token(role))


def test_revoking_the_key_ends_its_sessions(any_console: Console) -> None:
    console = any_console
    console.login(Role.AUDITOR)
    assert console.client.get("/console/ledger").status_code == 200
    key_id = console.token(Role.AUDITOR).split("_")[1]
    with open_api_keys(console.settings) as keys:
        keys.revoke(key_id)
    reply = console.client.get("/console/ledger", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/console/login"


def test_posts_need_the_session_csrf_token(any_console: Console) -> None:
    console = any_console
    console.login(Role.AUDITOR)
    refused = console.client.post("/console/ledger/verify", headers={"Accept": "application/json"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert console.client.post("/console/logout", data={"csrf": "x"}).status_code == 403
    csrf = console.csrf()
    started = console.client.post(
        "/console/ledger/verify",
        headers={"Accept": "application/json", "X-CSRF-Token": csrf},
    )
    assert started.status_code == 200
    run = console.client.app.state.console.verify_jobs.wait(30)  # type: ignore[attr-defined]
    assert run.finished and run.result["ok"] and run.result["head_position"] == ROWS
    status = console.client.get("/console/ledger/verify").json()
    assert status["done"] == ROWS and status["result"]["ok"]
    # The run is recorded where `govledger verify` records it: the alert reads that record.
    last = json.loads((Path(console.settings.state_dir) / "verify-last-run.json").read_text())
    assert last["ok"] and last["head_position"] == ROWS
    page = console.client.get("/console/ledger").text
    assert f"校验通过：第 1 至 {ROWS} 条" in page
    out = console.client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert console.client.get("/console/ledger", follow_redirects=False).status_code == 303


def test_admin_sees_the_health_page_but_neither_proofs_nor_verify(console: Console) -> None:
    console.login(Role.ADMIN)
    page = console.client.get("/console/ledger")
    assert page.status_code == 200 and "最新签名检查点" in page.text
    assert 'id="verify-button"' not in page.text and "存在性证明查询" not in page.text
    for path in PAGES[1:]:
        denied = console.client.get(path)
        assert denied.status_code == 403 and "系统管理员无权访问此页面" in denied.text, path


def test_security_officer_looks_up_proofs_but_exports_no_bundle(console: Console) -> None:
    console.login(Role.SECURITY_OFFICER)
    proof = console.client.get("/console/ledger/proof?position=3")
    assert proof.status_code == 200 and "审计路径" in proof.text and "下载证据包" not in proof.text
    assert console.client.get("/console/ledger/evidence?position=3").status_code == 403


def test_proof_and_bundle_refusals_are_explained_in_chinese(console: Console) -> None:
    console.login(Role.AUDITOR)
    beyond = console.client.get(f"/console/ledger/proof?position={ROWS + 1}")
    assert beyond.status_code == 422 and f"账本共有 {ROWS} 条记录" in beyond.text
    no_bundle = console.client.get(f"/console/ledger/evidence?position={ROWS + 1}")
    assert no_bundle.status_code == 422 and "无法出具证据包" in no_bundle.text


def test_an_uploaded_bundle_is_verified_against_the_trusted_keys(any_console: Console) -> None:
    console = any_console
    console.login(Role.AUDITOR)
    bundle = console.client.get("/console/ledger/evidence?position=9")
    assert bundle.status_code == 200
    assert bundle.headers["content-disposition"].endswith('"govledger-evidence-9.json"')
    csrf = console.csrf()

    def check(content: bytes) -> tuple[int, str]:
        files = {"bundle": ("b.json", content, "application/json")}
        reply = console.client.post(
            "/console/ledger/evidence/check", data={"csrf": csrf}, files=files
        )
        return reply.status_code, reply.text

    status, text = check(bundle.content)
    assert status == 200 and "核验通过" in text and "本服务信任的账本公钥" in text
    status, text = check(bundle.content.replace(b'"position": 9', b'"position": 10'))
    assert status == 422 and "核验未通过" in text
    status, text = check(b"\xff\xfe")
    assert status == 422 and "UTF-8" in text


def test_the_api_keeps_its_json_errors(console: Console) -> None:
    reply = console.client.get("/api/v1/proofs/inclusion?position=1")
    assert reply.status_code == 401 and reply.json()["error"] == "missing_credentials"
