"""Faults and hostile input at the edge (issue #7 items 2 and 4; docs/security.md).

- A database that is down, restarting or out of connections is a 503 with
  ``Retry-After``, never a 500: the exchange platform retries, and the batch
  endpoint is idempotent, so a retry cannot double-record.
- A request body larger than ``max_request_bytes`` is refused with 413 before
  it is parsed: from ``Content-Length`` when given, else while it streams in,
  so memory stays bounded by the limit.
"""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.tree import TreeConflictError

RETRY_AFTER_SECONDS = 5
logger = logging.getLogger("govledger.api")

# What a lost, refused or exhausted database connection raises on its way up:
# eventsourcing wraps psycopg's errors; psycopg_pool.PoolTimeout is a psycopg.OperationalError.
STORE_FAULTS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


def store_unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"error": "store_unavailable", "detail": detail},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_store_fault_handlers(app: FastAPI) -> None:
    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        # The driver's message names host and port, never a password; it stays in the log.
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        logger.warning("database unavailable: %s: %s", type(exc).__name__, first_line)
        return store_unavailable("the ledger database is unavailable; retry later")

    for fault in STORE_FAULTS:
        app.add_exception_handler(fault, unavailable)

    async def tree_busy(_: Request, exc: Exception) -> JSONResponse:
        # Other integrators kept extending the Merkle tree first: transient, not the client's.
        return JSONResponse(
            status_code=503,
            content={"error": "tree_busy", "detail": str(exc)},
            headers={"Retry-After": "1"},
        )

    app.add_exception_handler(TreeConflictError, tree_busy)


class BodySizeLimit:
    """Pure ASGI middleware: 413 for a body over ``limit`` bytes, read at most ``limit``."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server stops reading at Content-Length
            return
        buffered = await self._read_bounded(receive)
        if buffered is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(buffered, receive), send)

    async def _read_bounded(self, receive: Receive) -> list[Message] | None:
        """A chunked body, message by message, or None once it passes the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                return None
            if message["type"] != "http.request" or not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            status_code=413,
            content={
                "error": "request_too_large",
                "detail": f"the request body exceeds {self.limit} bytes",
            },
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
