"""The FastAPI application factory: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from ledger.config import Settings, load_settings
from ledger.errors import ForeignStoreError, LedgerError, StoreUnavailableError
from ledger.store.connect import init_ledger, open_reader


class ErrorBody(BaseModel):
    """Every error response: a stable machine code and a human detail."""

    error: str
    detail: Any


class LedgerHead(BaseModel):
    ledger_id: str
    hash_algorithm: str
    created_at: str
    head_position: int


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    if settings.create_schema:
        init_ledger(settings)
    app = FastAPI(
        title="govledger",
        version="0.1.0",
        description="Hash-chained audit ledger of government data sharing (政务数据共享审计账本).",
        responses={503: {"model": ErrorBody}},
    )
    app.state.settings = settings
    _install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/ledger", response_model=LedgerHead, tags=["ledger"])
    def ledger_head() -> LedgerHead:
        """The ledger's identity and its current length."""
        reader = open_reader(settings)
        try:
            genesis = reader.genesis()
            return LedgerHead(
                ledger_id=genesis.ledger_id,
                hash_algorithm=genesis.hash_algorithm,
                created_at=genesis.created_at,
                head_position=reader.max_position(),
            )
        finally:
            reader.close()

    return app


def _install_error_handlers(app: FastAPI) -> None:
    def body(status: int, error: str, detail: Any) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": error, "detail": detail})

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return body(exc.status_code, f"http_{exc.status_code}", exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return body(422, "invalid_request", exc.errors())

    @app.exception_handler(StoreUnavailableError)
    async def unavailable(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        response = body(503, "store_unavailable", str(exc))
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(ForeignStoreError)
    async def foreign(_: Request, exc: ForeignStoreError) -> JSONResponse:
        return body(503, "not_a_ledger", str(exc))

    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, exc: LedgerError) -> JSONResponse:
        return body(400, type(exc).__name__, str(exc))
