"""bench/ingest.py's stage table: where an access's time goes on its way through
``POST /accesses/batch``, each in-process stage timed alone on one batch (µs an access),
set beside the measured HTTP figure, whose remainder is the HTTP server, FastAPI and the
transfer (issue 20).
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from _ingest_ledger import PLATFORM, access_json

from api.access_wire import decode_reports
from api.schemas import AccessBatchIn
from ledger.application import GovLedger
from ledger.domain import AccessReport
from ledger.domain.access import check_report
from ledger.domain.access_state import AccessStateWriter
from ledger.domain.ids import data_access_id
from projections.sharing_terms import SharingTerms

T = TypeVar("T")

STAGES = (
    ("decode", "JSON body -> AccessReport (msgspec)"),
    ("evaluate", "evaluate against grants"),
    ("ids", "check reports, uuid5 ids"),
    ("exists", "idempotency: existence query (1)"),
    ("encode", "stored events (state bytes, msgspec)"),
    ("insert", "chained insert (hash, write) (1)"),
)


PYDANTIC = ("pydantic", "  (pydantic route instead: not summed)")


def stage_costs(app: GovLedger, grant: Any, batch: int, repeats: int) -> dict[str, float]:
    """Median µs per access of each stage, each timed alone on a fresh batch."""
    terms = SharingTerms(app)
    costs: dict[str, list[float]] = {name: [] for name, _ in (*STAGES, PYDANTIC)}
    for _ in range(repeats):
        _time_stages(app, terms, grant, _StageTimer(costs, batch))
    return {name: statistics.median(values) for name, values in costs.items()}


def _time_stages(app: GovLedger, terms: SharingTerms, grant: Any, timer: _StageTimer) -> None:
    run = f"st{uuid.uuid4().hex[:6]}"
    body = json.dumps({"accesses": [access_json(i, grant, run) for i in range(timer.batch)]})
    decoded = timer("decode", lambda: decode_reports(body.encode()))
    assert decoded is not None  # plain bodies never need the pydantic route
    reports = decoded
    # The route bodies msgspec leaves alone take (json.loads, models, reports): not summed.
    timer("pydantic", lambda: [a.report() for a in _pydantic_route(body).accesses])
    evaluate = terms.evaluator()  # as the route: what it remembers lasts while the model does
    verdicts = timer("evaluate", lambda: [evaluate(r) for r in reports])
    seen: set[tuple[object, ...]] = set()  # as GovLedger.record_accesses checks a batch
    plain = [True]
    ids = timer("ids", lambda: [_checked_id(r, seen, plain) for r in reports])
    recorder: Any = app.recorder  # a chained recorder: the check is in the insert's transaction
    writer = AccessStateWriter(app.mapper, PLATFORM, plain=plain[0])
    fresh = list(zip(ids, reports, verdicts, strict=True))
    timer("exists", lambda: None)
    stored = timer("encode", lambda: writer.stored_batch(fresh))
    timer("insert", lambda: recorder.insert_new_aggregates(stored))


class _StageTimer:
    def __init__(self, costs: dict[str, list[float]], batch: int) -> None:
        self.costs, self.batch = costs, batch

    def __call__(self, name: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        self.costs[name].append((time.perf_counter() - started) / self.batch * 1e6)
        return result


def _pydantic_route(body: str) -> AccessBatchIn:
    return AccessBatchIn.model_validate(json.loads(body))


def _checked_id(
    report: AccessReport, seen: set[tuple[object, ...]], plain: list[bool]
) -> uuid.UUID:
    """The input contract's check (ledger/domain/bounds.py) and the id, as the batch path does."""
    plain[0] = check_report(report, seen) and plain[0]
    return data_access_id(report.platform_event_id)


def print_stages(results: dict[str, dict[str, Any]]) -> None:
    """µs per access by stage; the HTTP row is the measured 1-worker figure."""
    backends = list(results)
    print("\nwhere an access's time goes (µs per access; stages timed alone, in process)")
    print(f"{'stage':<42}" + "".join(f"{b:>12}" for b in backends))
    for name, label in (*STAGES, PYDANTIC):
        print(f"{label:<42}" + "".join(f"{results[b]['stages'][name]:>12.2f}" for b in backends))
    sums = {b: sum(results[b]["stages"][name] for name, _ in STAGES) for b in backends}
    http = {b: 1e6 / results[b]["http"] for b in backends}
    outside = {b: sums[b] - results[b]["stages"]["insert"] for b in backends}
    rows = (
        ("sum of stages", sums),
        ("  of which outside the store", outside),
        ("raw append (no application)", {b: 1e6 / results[b]["raw"] for b in backends}),
        ("HTTP batch, measured", http),
        ("  HTTP server, FastAPI, transfer (rest)", {b: http[b] - sums[b] for b in backends}),
    )
    for label, values in rows:
        print(f"{label:<42}" + "".join(f"{values[b]:>12.2f}" for b in backends))
    print(
        "(1) the existence check runs inside the insert's transaction (SQLite: only for a"
        " batch that failed on its key, a retry; PostgreSQL: in the chained insert statement)"
    )
