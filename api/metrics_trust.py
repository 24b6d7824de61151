"""The trust part of ``/metrics``: what the verifier and the checkpoint records say.

docs/operations.md §Metrics and §Alerts. Three different things, three alerts:

* a run that **found a break** (``status="failed"``) raises LedgerVerificationFailed;
* a run that **could not run** (``status="error"``: database down, bad configuration) or
  **no run lately** (``govledger_verification_finished_timestamp_seconds``, per mode: the
  15-minute incremental runs and the nightly full re-verification) raises
  LedgerVerificationNotRunning;
* a newest checkpoint **not yet cosigned** by the configured witness quorum is the state
  CheckpointNotWitnessed watches: it says the witnesses are behind, never that the ledger
  was tampered with.

Everything is read from records outside the service's memory (the verifier's state
directory, the proof tables), so every worker answers a scrape alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from api.metrics_witness import witness_round_metrics
from ledger.checkpoint import CosignatureVerifier, require_cosignatures
from ledger.checkpoints import CheckpointStore, load_witness_keys
from ledger.config import Settings
from ledger.errors import NoteError
from ledger.tree import Database
from ledger.verify import HeadRecord, LastRunRecord

__all__ = ["MODES", "STATUSES", "checkpoint_metrics", "verification_metrics"]

MODES = ("incremental", "full")
STATUSES = ("ok", "failed", "error")


@dataclass(frozen=True)
class _Run:
    """The newest verification run of one mode, as the metrics need it (contracts C1)."""

    mode: str
    status: str
    finished_at: float


def _last_runs(settings: Settings, ledger_id: str) -> list[_Run]:
    """The newest run of each mode (incremental, full) recorded in ``verify-last-run.json``."""
    runs = LastRunRecord(settings.state_dir).load(ledger_id)
    if runs is None:
        return []
    return [
        _Run(run.mode, run.status, finished)
        for run in runs.entries()
        if (finished := _timestamp(run.finished_at)) is not None
    ]


def verification_metrics(settings: Settings, ledger_id: str) -> list[Metric]:
    """The recorded head, and per mode the newest run's status and when it finished."""
    head = HeadRecord(settings.state_dir).load(ledger_id)
    position = GaugeMetricFamily(
        "govledger_verification_verified_position",
        "Last position `govledger verify` verified (its recorded head)",
    )
    success = GaugeMetricFamily(
        "govledger_verification_last_success_timestamp_seconds",
        "When the recorded head was verified (Unix time)",
    )
    if head is not None:
        position.add_metric([], head.position)
        if (verified := _timestamp(head.verified_at)) is not None:
            success.add_metric([], verified)
    status = GaugeMetricFamily(
        "govledger_verification_status",
        "1 for the status of the newest run of each mode (ok, failed: a break was found, "
        "error: the verification could not run), 0 for the others",
        labels=["mode", "status"],
    )
    finished = GaugeMetricFamily(
        "govledger_verification_finished_timestamp_seconds",
        "When the newest run of each mode finished, whatever its outcome (Unix time)",
        labels=["mode"],
    )
    # The newest run of any mode, without labels (the dashboard's single stat).
    result = GaugeMetricFamily(
        "govledger_verification_last_run_ok",
        "1 if the newest verification run passed, 0 if it found a break (absent: it could not run)",
    )
    run_time = GaugeMetricFamily(
        "govledger_verification_last_run_timestamp_seconds",
        "When the newest verification run of any mode finished (Unix time)",
    )
    runs = _last_runs(settings, ledger_id)
    for run in runs:
        for name in STATUSES:
            status.add_metric([run.mode, name], 1 if run.status == name else 0)
        finished.add_metric([run.mode], run.finished_at)
    if runs:
        newest = max(runs, key=lambda r: r.finished_at)
        if newest.status != "error":
            result.add_metric([], 1 if newest.status == "ok" else 0)
        run_time.add_metric([], newest.finished_at)
    return [position, success, status, finished, result, run_time]


def checkpoint_metrics(settings: Settings, now: datetime) -> list[Metric]:
    """The newest stored checkpoint: when, how large, how old at ``now``, how cosigned."""
    database = Database(settings, readonly=True)
    try:
        latest = CheckpointStore(database).latest()
    finally:
        database.close()
    issued = GaugeMetricFamily(
        "govledger_checkpoint_last_issued_timestamp_seconds",
        "When the newest stored signed checkpoint was issued (Unix time)",
    )
    age = GaugeMetricFamily(
        "govledger_checkpoint_age_seconds", "Seconds since the newest checkpoint was issued"
    )
    size = GaugeMetricFamily(
        "govledger_checkpoint_tree_size", "Tree size of the newest signed checkpoint"
    )
    interval = GaugeMetricFamily(
        "govledger_checkpoint_interval_seconds",
        "Configured interval between checkpoints (GOVLEDGER_CHECKPOINT_INTERVAL_SECONDS)",
    )
    quorum = GaugeMetricFamily(
        "govledger_checkpoint_witness_quorum",
        "Cosignatures verification requires (GOVLEDGER_WITNESS_QUORUM)",
    )
    cosigned = GaugeMetricFamily(
        "govledger_checkpoint_cosignatures",
        "Valid cosignatures of the configured witnesses on the newest checkpoint",
    )
    interval.add_metric([], settings.checkpoint_interval_seconds)
    quorum.add_metric([], settings.witness_quorum)
    if latest is not None and (moment := _timestamp(latest.issued_at)) is not None:
        issued.add_metric([], moment)
        age.add_metric([], max(now.timestamp() - moment, 0.0))
        size.add_metric([], latest.tree_size)
        witnesses = load_witness_keys(settings)
        cosigned.add_metric([], _cosignatures(latest.served, witnesses))
    # What the last round got from each witness over HTTP (docs/witnesses.md §Metrics).
    return [issued, age, size, interval, quorum, cosigned, *witness_round_metrics(settings)]


def _cosignatures(served: str, witnesses: tuple[CosignatureVerifier, ...]) -> int:
    """How many of ``witnesses`` validly cosigned ``served`` (none listed: none count)."""
    if not witnesses:
        return 0
    try:
        return len(require_cosignatures(served, witnesses, 1))
    except NoteError:  # none yet (or one that does not verify: counted as missing)
        return 0


def _timestamp(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
