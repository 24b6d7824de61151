"""The FastAPI application factory: ``uvicorn --factory api.app:create_app``.

One process holds one :class:`GovLedger` over the chained store, the sharing
terms read model, and the authenticator. Every error leaves as
``{"error": code, "detail": ...}`` with a 4xx (or 503 when the store is down).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from api.console import mount_console
from api.deps import Services
from api.routers import accesses, funding, ledger, proofs, registry, sharing
from api.routers import views as views_router
from ledger.application import GovLedger
from ledger.checkpoints import issue_checkpoint
from ledger.config import Settings, load_settings
from ledger.domain.errors import DomainError, ErrorCode
from ledger.errors import (
    ForeignStoreError,
    LedgerError,
    StoreUnavailableError,
    VerificationError,
)
from ledger.store.connect import application_env, init_ledger
from projections.sharing_terms import SharingTerms
from security.auth import Authenticator
from security.principal import AuthenticationFailed, PermissionDenied

API_PREFIX = "/api/v1"
logger = logging.getLogger("govledger.api")


class ErrorBody(BaseModel):
    """Every error response: a stable machine code and a human detail."""

    error: str
    detail: Any


_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}

# Domain refusals by kind; anything else is a 422 (the request was understood, not allowed).
_DOMAIN_STATUS: dict[ErrorCode, int] = {
    ErrorCode.DEPARTMENT_MISMATCH: 403,
    ErrorCode.ROLE_NOT_PERMITTED: 403,
    ErrorCode.DEPARTMENT_EXISTS: 409,
    ErrorCode.RESOURCE_EXISTS: 409,
    ErrorCode.REQUEST_ALREADY_DECIDED: 409,
    ErrorCode.FILING_ALREADY_REVIEWED: 409,
    ErrorCode.FILING_ALREADY_ACCEPTED: 409,
    ErrorCode.ANOMALY_CLOSED: 409,
    **{code: 404 for code in ErrorCode if code.value.startswith("unknown_")},
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    if settings.create_schema:
        init_ledger(settings)
    app = FastAPI(
        lifespan=_checkpoint_schedule(settings),
        title="govledger",
        version="0.1.0",
        description=(
            "Hash-chained audit ledger of the district's government data sharing "
            "(政务数据共享审计账本). Every write is an event in one chain; "
            "authenticate with `Authorization: Bearer <API key or JWT>`."
        ),
        responses=_ERROR_RESPONSES,
    )
    govledger = GovLedger(env=application_env(settings, create=False))
    app.state.services = Services(
        settings=settings,
        ledger=govledger,
        sharing_terms=SharingTerms(govledger),
        authenticator=Authenticator(settings),
    )
    app.middleware("http")(_request_id)
    _install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in (registry, sharing, accesses, funding, ledger, proofs):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(views_router.router, prefix=API_PREFIX)  # read models (projections)
    # The web console for people (issue #8): HTML pages under /console.
    mount_console(app, settings)
    return app


def _checkpoint_schedule(settings: Settings) -> Callable[[FastAPI], Any]:
    """Issue a signed checkpoint every ``checkpoint_interval_seconds`` while serving.

    Only when a signing key is configured. Issuing is idempotent (an unchanged
    tree reuses the newest checkpoint); run one scheduling process per ledger.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker = None
        if settings.checkpoint_key_file:
            worker = threading.Thread(
                target=_issue_until, args=(settings, stop), name="checkpoints", daemon=True
            )
            worker.start()
        yield
        stop.set()
        if worker is not None:
            worker.join(timeout=30)

    return lifespan


def _issue_until(settings: Settings, stop: threading.Event) -> None:
    while True:
        try:
            issue_checkpoint(settings)
        except LedgerError as e:  # reported, retried next interval; never kills the service
            logger.error("checkpoint not issued: %s", e)
        if stop.wait(settings.checkpoint_interval_seconds):
            return


async def _request_id(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Every request gets an id: it goes into the events it writes and its response header."""
    supplied = request.headers.get("x-request-id", "")
    request.state.request_id = supplied if 0 < len(supplied) <= 64 else uuid.uuid4().hex
    response = await call_next(request)
    response.headers["X-Request-ID"] = request.state.request_id
    return response


def _body(status: int, error: str, detail: Any, **headers: str) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": error, "detail": detail}, headers=headers
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _body(exc.status_code, f"http_{exc.status_code}", exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return _body(422, "invalid_request", detail)

    @app.exception_handler(AuthenticationFailed)
    async def unauthenticated(_: Request, exc: AuthenticationFailed) -> JSONResponse:
        return _body(401, exc.code.value, exc.detail, **{"WWW-Authenticate": "Bearer"})

    @app.exception_handler(PermissionDenied)
    async def forbidden(_: Request, exc: PermissionDenied) -> JSONResponse:
        return _body(403, exc.code.value, exc.detail)

    @app.exception_handler(DomainError)
    async def refused(_: Request, exc: DomainError) -> JSONResponse:
        return _body(_DOMAIN_STATUS.get(exc.code, 422), exc.code.value, exc.detail)

    @app.exception_handler(accesses.BatchTooLargeError)
    async def too_large(_: Request, exc: accesses.BatchTooLargeError) -> JSONResponse:
        return _body(413, "batch_too_large", str(exc))

    @app.exception_handler(StoreUnavailableError)
    async def unavailable(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        return _body(503, "store_unavailable", str(exc), **{"Retry-After": "5"})

    @app.exception_handler(ForeignStoreError)
    async def foreign(_: Request, exc: ForeignStoreError) -> JSONResponse:
        return _body(503, "not_a_ledger", str(exc))

    @app.exception_handler(VerificationError)
    async def unverifiable(_: Request, exc: VerificationError) -> JSONResponse:
        return _body(422, type(exc).__name__, str(exc))

    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, exc: LedgerError) -> JSONResponse:
        return _body(400, type(exc).__name__, str(exc))
