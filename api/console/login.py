"""登录 / 退出: the user presents an API key or JWT once and gets a session cookie (session.py).

退出 ends the session on the server (security/ended_sessions.py), not only in this browser:
a copy of the cookie is refused afterwards by every worker. A cookie that is no session
(expired, forged, already ended) is simply cleared. docs/console.md "Sign-in and sessions".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api import refusals
from api.console.labels import ROLE_NAMES
from api.console.session import LOGIN_COOKIE, SESSION_COOKIE, end_session
from api.console.web import (
    PREFIX,
    Forbidden,
    check_csrf,
    console_state,
    current_session,
    redirect,
    render,
)
from api.deps import services
from security.audit_log import RefusalKind
from security.policy import Permission, is_allowed
from security.principal import AuthenticationFailed, CredentialKind, Principal

router = APIRouter()
MAX_CREDENTIAL_FIELD = 8 * 1024 + 16


@router.get("/login")
def login_form(request: Request) -> Response:
    if current_session(request) is not None:
        return redirect("/ledger")
    return _form(request)


def _form(request: Request, error: str = "", status_code: int = 200) -> Response:
    cookie, nonce = console_state(request).codec.login_nonce()
    response = render(
        request, "login.html", None, {"nonce": nonce, "error": error}, status_code=status_code
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=600,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/login")
def login(
    request: Request,
    credential: Annotated[str, Form(max_length=MAX_CREDENTIAL_FIELD)] = "",
    nonce: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    state = console_state(request)
    if not state.codec.login_nonce_matches(request.cookies.get(LOGIN_COOKIE), nonce):
        return _form(request, "登录表单已过期，请重新提交。", status_code=403)
    try:
        principal = services(request).authenticator.authenticate(f"Bearer {credential.strip()}")
    except AuthenticationFailed as e:
        refusals.record(request, RefusalKind.SIGN_IN_FAILED, f"console: {e.code.value}",
                        credential=credential)  # fmt: skip
        # One message whatever was wrong: the form never tells which keys exist.
        return _form(request, "密钥或令牌无效、已过期或已被吊销。", status_code=401)
    if not is_allowed(principal, Permission.OPEN_CONSOLE):
        role = principal.role
        raise Forbidden(None, f"{ROLE_NAMES[role]}（{role.value}）无权使用本控制台")
    cookie, _ = state.codec.issue(principal, person_of(request, principal))
    response = redirect("/ledger")
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=state.codec.lifetime_seconds,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


def person_of(request: Request, principal: Principal) -> str:
    """The person a key is bound to: its label (``govledger keys create --label``)."""
    if principal.kind is not CredentialKind.API_KEY:
        return ""
    found = services(request).authenticator.api_keys.store.find(principal.credential_id)
    return found[0].label if found else ""


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    session = current_session(request)
    if session is not None:
        check_csrf(session, csrf)  # another site cannot sign the user out
        end_session(session, services(request).authenticator.api_keys)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response
