"""The trust part of ``/metrics``: what the verifier and the checkpoint records say.

docs/operations.md §Metrics and §Alerts: LedgerVerificationFailed reads the
verifier's last-run record, the checkpoint alerts read the newest stored
checkpoint. Both are read from records outside the service's own memory (the
state directory, the proof tables), so every worker answers a scrape alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from ledger.checkpoints import CheckpointStore
from ledger.config import Settings
from ledger.tree import Database
from ledger.verify import HeadRecord, LastRunRecord

__all__ = ["checkpoint_metrics", "verification_metrics"]


def verification_metrics(settings: Settings, ledger_id: str) -> list[Metric]:
    """The recorded head and the outcome of the newest `govledger verify` run."""
    head = HeadRecord(settings.state_dir).load(ledger_id)
    position = GaugeMetricFamily(
        "govledger_verification_verified_position",
        "Last position `govledger verify` verified (its recorded head)",
    )
    success = GaugeMetricFamily(
        "govledger_verification_last_success_timestamp_seconds",
        "When the recorded head was verified (Unix time)",
    )
    result = GaugeMetricFamily(
        "govledger_verification_last_run_ok",
        "1 if the last verification run passed, 0 if it found a break",
    )
    run_time = GaugeMetricFamily(
        "govledger_verification_last_run_timestamp_seconds",
        "When the last verification run finished (Unix time)",
    )
    if head is not None:
        position.add_metric([], head.position)
        if (verified := _timestamp(head.verified_at)) is not None:
            success.add_metric([], verified)
    last_run = LastRunRecord(settings.state_dir).load(ledger_id)
    if last_run is not None and (finished := _timestamp(last_run[1])) is not None:
        result.add_metric([], 1 if last_run[0] else 0)
        run_time.add_metric([], finished)
    return [position, success, result, run_time]


def checkpoint_metrics(settings: Settings, now: datetime) -> list[Metric]:
    """The newest stored checkpoint: when, how large, and how old at ``now``."""
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
    interval.add_metric([], settings.checkpoint_interval_seconds)
    if latest is not None and (moment := _timestamp(latest.issued_at)) is not None:
        issued.add_metric([], moment)
        age.add_metric([], max(now.timestamp() - moment, 0.0))
        size.add_metric([], latest.tree_size)
    return [issued, age, size, interval]


def _timestamp(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
