"""What every request leaves behind: latency and batch-size observations, one structured log
line with its request id and actor, and ``GET /metrics`` (docs/operations.md).

Kept apart from ``api/app.py``: the factory calls :func:`metrics_of` and :func:`install`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logging import RequestCaller, current_caller, log_request, note_caller
from api.metrics import (
    AnomaliesSummary,
    FindingsSummary,
    Metrics,
    ProjectionPositions,
    RequestMetrics,
    build_metrics,
    observe_request,
)
from ledger.application import GovLedger
from ledger.config import Settings
from projections.sharing_terms import SharingTerms
from security.auth import Authenticator
from security.principal import Principal

logger = logging.getLogger("govledger.api")


def metrics_of(
    settings: Settings,
    govledger: GovLedger,
    sharing_terms: SharingTerms,
    findings_summary: FindingsSummary | None,
    anomalies_summary: AnomaliesSummary | None,
    projection_positions: ProjectionPositions | None,
) -> Metrics:
    """The metrics of one API process, fed by the projection worker's providers."""
    return build_metrics(
        settings,
        govledger,
        projection_positions=_with_sharing_terms(sharing_terms, projection_positions),
        findings_summary=findings_summary,
        anomalies_summary=anomalies_summary,
    )


def install(app: FastAPI, metrics: Metrics, *, api_prefix: str) -> None:
    """``GET /metrics`` and the observing middleware (added last: outermost, so it times and
    logs every request, errors included)."""
    app.state.metrics = metrics
    app.add_middleware(ObserveRequests, metrics=metrics.requests, api_prefix=api_prefix)

    # A module function, not a closure over ``metrics``: FastAPI caches by endpoint function
    # for the whole process, and would keep every app's metrics alive (api/docs.py).
    app.get("/metrics", tags=["ops"], include_in_schema=False)(prometheus_metrics)


def prometheus_metrics(request: Request) -> Response:
    """Prometheus text exposition (docs/operations.md §Metrics); no secrets, no user ids."""
    metrics: Metrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _with_sharing_terms(
    sharing_terms: SharingTerms, others: ProjectionPositions | None
) -> ProjectionPositions:
    """Positions for ``govledger_projection_lag_events``: this process's sharing terms (caught
    up first, as every access evaluation does: a lag that stays says catching up fails)."""

    def positions() -> Mapping[str, int]:
        try:
            sharing_terms.current()
        except Exception:  # reported as lag, not as a failed scrape
            logger.exception("sharing terms cannot catch up")
        return {"sharing_terms": sharing_terms.position, **(others() if others else {})}

    return positions


class CallerNotingAuthenticator(Authenticator):
    """Tells the request log who the caller is, once authenticated (never the credential)."""

    def authenticate(self, authorization: str | None) -> Principal:
        principal = super().authenticate(authorization)
        note_caller(principal.subject, principal.role.value, principal.department_code)
        return principal


class ObserveRequests:
    """Latency histogram, ingest batch sizes and one structured log line per request."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, api_prefix: str) -> None:
        self.app = app
        self.metrics = metrics
        self.api_prefix = api_prefix
        self.ingest_one = f"{api_prefix}/accesses"
        self.ingest_batch = f"{api_prefix}/accesses/batch"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        caller: RequestCaller = {}
        token = current_caller.set(caller)
        seen: MutableMapping[str, Any] = {"status": 500, "request_id": None}
        batch = scope["method"] == "POST" and scope["path"] == self.ingest_batch
        body: list[bytes] = []

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-request-id":
                        seen["request_id"] = value.decode("latin-1")
            elif batch and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            current_caller.reset(token)
            elapsed = time.perf_counter() - started
            route = route_template(scope, self.api_prefix)
            status = int(seen["status"])
            observe_request(self.metrics, scope["method"], route, status, elapsed)
            self._batch_size(scope, status, body)
            log_request(
                request_id=seen["request_id"],
                method=scope["method"],
                route=route,
                status=status,
                latency_seconds=elapsed,
                caller=caller,
            )

    def _batch_size(self, scope: Scope, status: int, body: list[bytes]) -> None:
        if scope["method"] != "POST" or status not in (200, 201):
            return
        if scope["path"] == self.ingest_one:
            self.metrics.batch_size.observe(1)
        elif scope["path"] == self.ingest_batch:
            try:
                answer = json.loads(b"".join(body))
                self.metrics.batch_size.observe(
                    int(answer["recorded"]) + int(answer["already_recorded"])
                )
            except (ValueError, KeyError, TypeError):
                logger.warning("batch answer without counts: batch size not observed")


def route_template(scope: Scope, api_prefix: str) -> str:
    """The matched route's template (a bounded label), with the prefix its router was
    included under; ``unmatched`` for a 404 (never the raw path)."""
    template: str | None = getattr(scope.get("route"), "path", None)
    if not template:
        return "unmatched"
    if scope["path"].startswith(api_prefix + "/") and not template.startswith(api_prefix + "/"):
        return api_prefix + template
    return template
