"""What every console page shares: templates, the signed-in user, CSRF, and the two refusals.

A page declares the permission it needs with ``Depends(page(Permission.X))``:
no valid session sends the browser to the login form (303); a session whose
role lacks ``OPEN_CONSOLE`` or the page's permission gets the Chinese 403
page. The policy itself stays in security/policy.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.console.labels import ROLE_NAMES
from api.console.session import SESSION_COOKIE, Session, SessionCodec, csrf_matches, still_valid
from api.console.verify_jobs import VerifyJobs
from api.deps import services
from projections.labels import cst_text, event_name
from security.policy import Permission, is_allowed

PREFIX: Final = "/console"
HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
# One way to show a moment (China Standard Time, to the second) and an event kind (its
# Chinese name), on every page (projections/labels.py).
templates.env.filters["cst"] = cst_text
templates.env.filters["event_name"] = event_name

# Headers of every console page: no framing, no foreign scripts, no caching of records.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    permission: Permission


# The console's menu, in the order users read it.
NAV: list[NavItem] = [
    NavItem("/ledger", "账本状态", Permission.OPEN_CONSOLE),
    NavItem("/anomalies", "异常访问", Permission.READ_ANOMALIES),
    NavItem("/rights", "权属登记", Permission.READ_AUDIT_VIEWS),
    NavItem("/audit", "审计轨迹", Permission.READ_AUDIT_VIEWS),
    NavItem("/rectifications", "整改台账", Permission.READ_AUDIT_VIEWS),
    NavItem("/reports", "报告", Permission.READ_AUDIT_VIEWS),
    NavItem("/report-check", "报告核验", Permission.READ_AUDIT_VIEWS),
    NavItem("/inventory", "台账", Permission.READ_AUDIT_VIEWS),
    NavItem("/departments", "部门", Permission.READ_AUDIT_VIEWS),
    NavItem("/findings", "合规发现项", Permission.READ_AUDIT_VIEWS),
    NavItem("/subjects", "个人信息查阅", Permission.ANSWER_SUBJECT_REQUEST),
]


@dataclass
class ConsoleState:
    """Held on ``app.state.console``: the cookie codec and the verify runner."""

    codec: SessionCodec
    verify_jobs: VerifyJobs


class LoginRequired(Exception):  # noqa: N818 - a redirect, not an error
    """No valid session: the handler sends the browser to the login form."""


class Forbidden(Exception):  # noqa: N818 - rendered as the 403 page
    def __init__(self, session: Session | None, reason: str) -> None:
        super().__init__(reason)
        self.session = session
        self.reason = reason


class BadCsrf(Exception):  # noqa: N818 - rendered as a 403 page
    pass


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def current_session(request: Request) -> Session | None:
    state = console_state(request)
    session = state.codec.open(request.cookies.get(SESSION_COOKIE))
    if session is None or not still_valid(session, services(request).authenticator.api_keys):
        return None
    return session


def page(permission: Permission) -> Callable[[Request], Session]:
    """A dependency: the session of a user who may open the console and this page."""

    def dependency(request: Request) -> Session:
        session = current_session(request)
        if session is None:
            raise LoginRequired
        for needed in (Permission.OPEN_CONSOLE, permission):
            if not is_allowed(session.principal, needed):
                role = session.principal.role
                raise Forbidden(
                    session, f"{ROLE_NAMES[role]}无权访问此页面（所需权限：{needed.value}）"
                )
        return session

    return dependency


def check_csrf(session: Session, supplied: str | None) -> None:
    if not csrf_matches(session, supplied):
        raise BadCsrf


def render(
    request: Request,
    template: str,
    session: Session | None,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    principal = session.principal if session else None
    nav = [n for n in NAV if principal is not None and is_allowed(principal, n.permission)]
    response = templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "principal": principal,
            "role_name": ROLE_NAMES.get(principal.role, "") if principal else "",
            "role_names": {role.value: name for role, name in ROLE_NAMES.items()},
            "nav": nav,
            "prefix": PREFIX,
            "can": (lambda p: principal is not None and is_allowed(principal, p)),
            "Permission": Permission,
            **(context or {}),
        },
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(path: str) -> RedirectResponse:
    response = RedirectResponse(f"{PREFIX}{path}", status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


def forbidden_page(request: Request, session: Session | None, reason: str) -> Response:
    return render(request, "forbidden.html", session, {"reason": reason}, status_code=403)
