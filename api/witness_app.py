"""The witness over HTTP, C2SP tlog-witness: ``govledger witness serve`` (docs/witnesses.md).

A separate service from the log's API, run by another administration on
another host: it needs its own key, its witnessed logs file and its own state
file, never the log's database (ledger/witness_server.py does the work).

* ``POST /add-checkpoint`` — tlog-witness §add-checkpoint;
* ``GET /<hex SHA-256 of origin>/checkpoint`` — §Monitor Retrieval Mechanism;
* ``GET /metrics`` — Prometheus: per witnessed log, the size and time last
  cosigned, split views and failed proofs (kept in the state file, so they
  survive restarts), and this process's answers by outcome;
* ``GET /healthz``.

Run one process per state file (the state is shared through SQLite, but the
answer counters are per process).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.logging import configure_logging
from ledger.config import Settings, load_settings
from ledger.witness_protocol import ADD_CHECKPOINT, MAX_REQUEST_BYTES
from ledger.witness_server import Outcome, Witness, open_witness

__all__ = ["create_witness_app"]

logger = logging.getLogger("govledger.witness")
_UNKNOWN_LOG = "unknown"  # the label of requests whose origin is not a witnessed log


class _StateCollector(Collector):
    """Figures read from the witness's state file at every scrape."""

    def __init__(self, witness: Witness) -> None:
        self.witness = witness

    def collect(self) -> Iterable[Metric]:
        size = GaugeMetricFamily(
            "govledger_witness_tree_size",
            "Tree size of the newest checkpoint this witness cosigned, per witnessed log",
            labels=["log"],
        )
        cosigned = GaugeMetricFamily(
            "govledger_witness_last_cosigned_timestamp_seconds",
            "When this witness last cosigned a checkpoint of the log (Unix time)",
            labels=["log"],
        )
        split = CounterMetricFamily(
            "govledger_witness_split_views",
            "Validly signed checkpoints of a size already cosigned with another root "
            "(two trees of one size: a split view), kept as evidence in the state file",
            labels=["log"],
        )
        inconsistent = CounterMetricFamily(
            "govledger_witness_inconsistent_checkpoints",
            "Validly signed checkpoints refused because the consistency proof failed",
            labels=["log"],
        )
        for summary in self.witness.summaries():
            labels = [summary.origin]
            if summary.tree_size is not None:
                size.add_metric(labels, summary.tree_size)
            if summary.cosigned_at is not None:
                cosigned.add_metric(labels, summary.cosigned_at)
            split.add_metric(labels, summary.split_views)
            inconsistent.add_metric(labels, summary.inconsistent)
        return [size, cosigned, split, inconsistent]


def create_witness_app(settings: Settings | None = None) -> FastAPI:
    """The witness service (``uvicorn --factory api.witness_app:create_witness_app``)."""
    settings = settings or load_settings()
    configure_logging(settings)
    witness = open_witness(settings)
    registry = CollectorRegistry()
    registry.register(_StateCollector(witness))
    answers = Counter(
        "govledger_witness_add_checkpoint",
        "add-checkpoint requests answered by this process, by witnessed log and outcome",
        ["log", "outcome"],
        registry=registry,
    )
    for origin in witness.logs:  # every series from the first scrape, zeros included
        for outcome in Outcome:
            answers.labels(origin, outcome.value)
    app = FastAPI(title="govledger witness", version="0.1.0", docs_url=None, redoc_url=None)

    @app.post(f"/{ADD_CHECKPOINT}")
    async def add_checkpoint(request: Request) -> Response:
        body = await _bounded_body(request)
        if body is None:
            return PlainTextResponse("request body too large\n", status_code=413)
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        answers.labels(answer.origin or _UNKNOWN_LOG, answer.outcome.value).inc()
        if answer.outcome in (Outcome.SPLIT_VIEW, Outcome.INCONSISTENT):
            logger.error(
                "refused a validly signed checkpoint of %s: %s (%s)",
                answer.origin,
                answer.outcome.value,
                answer.body.decode("utf-8", "replace").strip(),
            )
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    @app.get("/{hashed_origin}/checkpoint")
    def monitored_checkpoint(hashed_origin: str) -> Response:
        found = witness.checkpoint(hashed_origin)
        if found is None:
            return PlainTextResponse("no checkpoint cosigned for this log\n", status_code=404)
        return Response(found, media_type="text/plain; charset=utf-8")

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "witness": f"{witness.signer.name}+{witness.signer.key_id:08x}"}

    return app


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or ``None`` once it exceeds what a request may carry (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
