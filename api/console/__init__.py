"""The web console (issue #8): server-rendered pages in Simplified Chinese under ``/console``.

``mount_console(app)`` is the one call api/app.py makes: it adds the pages,
the static files, and the handlers that turn the console's refusals into a
redirect to the login form or a Chinese 403 page (the API's JSON errors are
untouched).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from api import refusals
from api.console import (
    anomaly_pages,
    finding_pages,
    ledger_pages,
    login,
    rectification_pages,
    register_pages,
    report_pages,
    subject_pages,
)
from api.console.session import SessionCodec
from api.console.verify_jobs import VerifyJobs
from api.console.web import (
    HERE,
    PREFIX,
    BadCsrf,
    ConsoleState,
    Forbidden,
    LoginRequired,
    forbidden_page,
    redirect,
)
from ledger.config import Settings
from security.audit_log import RefusalKind

__all__ = ["mount_console"]


def mount_console(app: FastAPI, settings: Settings) -> None:
    app.state.console = ConsoleState(
        codec=SessionCodec.from_settings(settings), verify_jobs=VerifyJobs(settings)
    )
    for module in (
        login,
        ledger_pages,
        anomaly_pages,
        register_pages,
        finding_pages,
        rectification_pages,
        report_pages,
        subject_pages,
    ):
        app.include_router(module.router, prefix=PREFIX, include_in_schema=False)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(LoginRequired)
    async def login_required(_: Request, __: LoginRequired) -> Response:
        return redirect("/login")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        # A signed-in user refused a page or a command: recorded (api/refusals.py).
        principal = exc.session.principal if exc.session else None
        await refusals.record_async(
            request, RefusalKind.COMMAND_REFUSED, f"console: {exc.reason}", principal
        )
        return forbidden_page(request, exc.session, exc.reason)

    @app.exception_handler(BadCsrf)
    async def bad_csrf(request: Request, _: BadCsrf) -> Response:
        return forbidden_page(request, None, "表单校验码（CSRF）无效或已过期，请刷新页面后重试")
