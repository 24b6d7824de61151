"""The FastAPI application factory: ``uvicorn --factory api.app:create_app``.

One process holds one :class:`GovLedger` over the chained store, the sharing
terms read model, and the authenticator. Every error leaves as
``{"error": code, "detail": ...}`` with a 4xx (or 503 when the store is down).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import psycopg
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from api import observe, refusals
from api.collector import serving_collector
from api.console import mount_console
from api.deps import Services
from api.docs import install_docs
from api.faults import BodySizeLimit, install_store_fault_handlers, store_unavailable
from api.logging import configure_logging
from api.metrics import AnomaliesSummary, FindingsSummary, ProjectionPositions
from api.routers import (
    accesses,
    declarations,
    funding,
    ledger,
    obligations,
    proofs,
    rectification,
    registry,
    report_issue,
    security_facts,
    sharing,
    subjects,
    tlog,
)
from api.routers import reports as reports_router
from api.routers import views as views_router
from ledger.application import GovLedger
from ledger.checkpoints import checkpoint_round, default_key_paths, signer_key_file
from ledger.config import Settings, load_settings
from ledger.configured import open_ledger
from ledger.domain.errors import DomainError, ErrorCode
from ledger.errors import (
    ForeignStoreError,
    LedgerError,
    StoreUnavailableError,
    VerificationError,
)
from ledger.store.connect import init_ledger
from ledger.subject_requests import catch_up_index
from ledger.subjects import SubjectVault, index_key_path
from projections import query, summaries
from projections.sharing_terms import SharingTerms
from security.audit_log import RefusalKind
from security.principal import AuthenticationFailed, PermissionDenied

API_PREFIX = "/api/v1"
# A caller's X-Request-ID goes into the actor record of every event the request writes, and
# into the log: kept only as 1-64 printable ASCII characters. A tab, a C1 control or other
# bytes (which the input contract refuses in every other field, docs/security.md "One input
# contract") would bypass the contract through the actor record: such an id is replaced.
_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,64}")
_MAX_ERRORS_SHOWN = 20
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
    ErrorCode.RISK_ASSESSMENT_EXISTS: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.REQUEST_ALREADY_DECIDED: 409,
    ErrorCode.FILING_ALREADY_REVIEWED: 409,
    ErrorCode.FILING_ALREADY_ACCEPTED: 409,
    ErrorCode.ANOMALY_CLOSED: 409,
    ErrorCode.REVIEW_NOT_ALLOWED: 409,
    ErrorCode.RECORD_EXISTS: 409,
    ErrorCode.RECTIFICATION_CLOSED: 409,
    ErrorCode.RECTIFICATION_REPORT_PENDING: 409,
    ErrorCode.RECTIFICATION_NOT_REPORTED: 409,
    ErrorCode.SUBJECT_ALREADY_ERASED: 409,
    ErrorCode.SUGGESTION_CLOSED: 409,
    ErrorCode.SUGGESTION_RESPONSE_PENDING: 409,
    ErrorCode.SUGGESTION_NOT_RESPONDED: 409,
    **{code: 404 for code in ErrorCode if code.value.startswith("unknown_")},
}


def _reapply_erasures(govledger: GovLedger) -> None:
    """Re-apply the erasure log at start (docs/privacy.md); a database that refuses (a read
    replica, a role without the grant) is logged, not fatal: the primary's service and
    ``govledger erase --reapply`` apply it."""
    try:
        destroyed = govledger.reapply_erasures()
    except (LedgerError, psycopg.Error, sqlite3.Error) as e:
        logging.getLogger("govledger.api").error(
            "erasure log not re-applied at start", extra={"problem": type(e).__name__}
        )
        return
    if destroyed:
        logging.getLogger("govledger.api").warning(
            "erasure log re-applied at start", extra={"keys_destroyed": destroyed}
        )


def create_app(
    settings: Settings | None = None,
    *,
    findings_summary: FindingsSummary | None = None,
    anomalies_summary: AnomaliesSummary | None = None,
    projection_positions: ProjectionPositions | None = None,
) -> FastAPI:
    """The service. The providers feed ``/metrics`` (docs/operations.md §Metrics): open
    compliance findings by (rule, severity), open anomalies by severity, and projection
    positions (beside this process's own ``sharing_terms``). By default they read the
    views as the projection worker left them: a scrape never runs a projection."""
    settings = settings or load_settings()
    findings_summary = findings_summary or partial(
        summaries.findings_summary, settings, catch_up=False
    )
    anomalies_summary = anomalies_summary or partial(
        summaries.anomalies_summary, settings, catch_up=False
    )
    projection_positions = projection_positions or partial(query.projection_positions, settings)
    configure_logging(settings)
    if settings.create_schema:
        init_ledger(settings)
    # Time bounds and the configured calendar (docs/facts.md §3, §6).
    govledger = open_ledger(settings, create=False)
    if govledger.subjects is not None:  # a restored key table follows the erasure log (§9.1)
        _reapply_erasures(govledger)
    sharing_terms = SharingTerms(govledger)
    metrics = observe.metrics_of(  # docs/operations.md
        settings,
        govledger,
        sharing_terms,
        findings_summary,
        anomalies_summary,
        projection_positions,
    )
    app = FastAPI(
        lifespan=_lifespan(settings, warm_up=metrics.collector.warm_up),
        title="govledger",
        version="0.1.0",
        description=(
            "Hash-chained audit ledger of the district's government data sharing "
            "(政务数据共享审计账本). Every write is an event in one chain; "
            "authenticate with `Authorization: Bearer <API key or JWT>`."
        ),
        responses=_ERROR_RESPONSES,
        docs_url=None,  # served from the packaged assets instead (api/docs.py)
        redoc_url=None,
    )
    install_docs(app, API_PREFIX)
    app.state.services = Services(
        settings=settings,
        ledger=govledger,
        sharing_terms=sharing_terms,
        authenticator=observe.CallerNotingAuthenticator(settings),
    )
    app.middleware("http")(_request_id)
    observe.install(app, metrics, api_prefix=API_PREFIX)  # /metrics; outermost middleware
    _install_error_handlers(app)
    # Reliability (issue #7, api/faults.py): database faults are 503, oversized bodies 413.
    install_store_fault_handlers(app)
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)

    app.get("/healthz", tags=["ops"])(healthz)  # module level: see api/docs.py

    for module in (
        registry,
        sharing,
        accesses,
        funding,
        obligations,
        rectification,
        security_facts,
        declarations,
        ledger,
        proofs,
        subjects,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(views_router.router, prefix=API_PREFIX)  # read models (projections)
    app.include_router(reports_router.router, prefix=API_PREFIX)  # the three reports
    app.include_router(report_issue.router, prefix=API_PREFIX)  # issuing and verifying them
    app.include_router(tlog.router, prefix="/tlog")  # static tiles (checkpoint-format §15)
    # The web console for people (issue #8): HTML pages under /console.
    mount_console(app, settings)
    return app


def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _lifespan(
    settings: Settings, warm_up: Callable[[threading.Event], None] | None = None
) -> Callable[[FastAPI], Any]:
    """While serving, run a checkpoint round every ``checkpoint_interval_seconds`` (issue a
    signed checkpoint, collect its witnesses' cosignatures, write the tiles)
    (when the log's signer key is configured, or on SQLite may appear under the state
    directory: ``govledger init`` creates it there), and bring the data subjects' access
    index up to the chain (when their index secret is: ledger-format §9.1, so that a
    lookup reads only what came since); on shutdown, close the database pools.

    Issuing is idempotent (an unchanged tree reuses the newest checkpoint); run one
    scheduling process per ledger. ``warm_up`` runs once in the background at start
    (the metrics follower reads the ledger then, not in the first scrape) and stops
    early when the service does.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        background: list[threading.Thread] = []
        if warm_up is not None:
            background.append(
                threading.Thread(target=warm_up, args=(stop,), name="metrics-warm-up")
            )
        if signer_key_file(settings) or default_key_paths(settings) or index_key_path(settings):
            background.append(
                threading.Thread(target=_issue_until, args=(settings, stop), name="checkpoints")
            )
        for thread in background:
            thread.daemon = True
            thread.start()
        with serving_collector():  # what startup built lives as long as the worker (issue 20)
            yield
        stop.set()
        for thread in background:
            thread.join(timeout=30)
        # Closing a connection another thread is using crashes SQLite: only once they are done.
        if any(thread.is_alive() for thread in background):
            logger.warning("background work still running at shutdown: pools left to the exit")
        else:
            _close(app.state.services)

    return lifespan


def _close(services: Services) -> None:
    """Give the database connections back when the service stops (pools hold them open)."""
    services.authenticator.close()
    services.ledger.close()


def _issue_until(settings: Settings, stop: threading.Event) -> None:
    while True:
        try:
            if signer_key_file(settings):  # read every round: a key made by init is picked up
                checkpoint_round(settings)  # issue, ask the witnesses, write the tiles
        except LedgerError as e:  # reported, retried next interval; never kills the service
            logger.error("checkpoint not issued: %s", e)
        try:
            if SubjectVault.configured(settings) is not None:
                catch_up_index(settings)  # the tree is integrated: cheap after a round
        except (LedgerError, psycopg.Error, sqlite3.Error) as e:  # as above; lookups catch up
            logger.error("subjects' access index not caught up: %s", type(e).__name__)
        if stop.wait(settings.checkpoint_interval_seconds):
            return


async def _request_id(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Every request gets an id: it goes into the events it writes and its response header."""
    supplied = request.headers.get("x-request-id", "")
    request.state.request_id = supplied if _REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
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
            for e in exc.errors()[:_MAX_ERRORS_SHOWN]  # a hostile body cannot make it huge
        ]
        return _body(422, "invalid_request", detail)

    # Failed sign-ins and refused commands are recorded in the ledger (api/refusals.py).
    @app.exception_handler(AuthenticationFailed)
    async def unauthenticated(request: Request, exc: AuthenticationFailed) -> JSONResponse:
        credential = request.headers.get("authorization")
        await refusals.record_async(
            request, RefusalKind.SIGN_IN_FAILED, exc.code.value, credential=credential
        )
        return _body(401, exc.code.value, exc.detail, **{"WWW-Authenticate": "Bearer"})

    @app.exception_handler(PermissionDenied)
    async def forbidden(request: Request, exc: PermissionDenied) -> JSONResponse:
        principal = getattr(request.state, "principal", None)
        await refusals.record_async(
            request, RefusalKind.COMMAND_REFUSED, f"{exc.code.value}: {exc.detail}", principal
        )
        return _body(403, exc.code.value, exc.detail)

    @app.exception_handler(DomainError)
    async def refused(request: Request, exc: DomainError) -> JSONResponse:
        status = _DOMAIN_STATUS.get(exc.code, 422)
        if status == 403:
            principal = getattr(request.state, "principal", None)
            await refusals.record_async(
                request, RefusalKind.COMMAND_REFUSED, f"{exc.code.value}: {exc.detail}", principal
            )
        return _body(status, exc.code.value, exc.detail)

    @app.exception_handler(accesses.BatchTooLargeError)
    async def too_large(_: Request, exc: accesses.BatchTooLargeError) -> JSONResponse:
        return _body(413, "batch_too_large", str(exc))

    @app.exception_handler(StoreUnavailableError)
    async def unavailable(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        return store_unavailable(str(exc))

    @app.exception_handler(ForeignStoreError)
    async def foreign(_: Request, exc: ForeignStoreError) -> JSONResponse:
        return _body(503, "not_a_ledger", str(exc))

    @app.exception_handler(VerificationError)
    async def unverifiable(_: Request, exc: VerificationError) -> JSONResponse:
        return _body(422, type(exc).__name__, str(exc))

    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, exc: LedgerError) -> JSONResponse:
        return _body(400, type(exc).__name__, str(exc))
