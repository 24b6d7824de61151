"""The log's witnesses on ``/metrics``: what the last checkpoint round got from each.

Read from ``<state_dir>/witness-round.json``, which the issuer writes after every
round (ledger/witness_client.py, docs/witnesses.md §Metrics), so every worker
answers a scrape alike. Alerts: ops/prometheus/witness_alerts.yml
(CheckpointWitnessQuorumMissing, CheckpointWitnessNotCosigning,
CheckpointWitnessConflict).
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from ledger.config import Settings
from ledger.witness_client import RoundOutcome, RoundRecord

__all__ = ["witness_round_metrics"]


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def witness_round_metrics(settings: Settings) -> list[Metric]:
    """Gauges of the last round; no samples before the first round (no witness URL set)."""
    outcome = GaugeMetricFamily(
        "govledger_checkpoint_witness_outcome",
        "1 for what the witness did with the newest checkpoint in the last round "
        "(cosigned, unreachable, refused, conflict, bad_response), 0 for the others",
        labels=["witness", "outcome"],
    )
    last_cosigned = GaugeMetricFamily(
        "govledger_checkpoint_witness_last_cosigned_timestamp_seconds",
        "When the witness last returned a valid cosignature (Unix time)",
        labels=["witness"],
    )
    quorum_met = GaugeMetricFamily(
        "govledger_checkpoint_witness_quorum_met",
        "1 if the newest checkpoint carried the witness quorum after the last round, else 0",
    )
    cosignatures = GaugeMetricFamily(
        "govledger_checkpoint_witness_cosignatures",
        "Valid cosignatures of policy witnesses on the newest checkpoint after the last round",
    )
    quorum = GaugeMetricFamily(
        "govledger_checkpoint_witness_quorum", "Cosignatures required (GOVLEDGER_WITNESS_QUORUM)"
    )
    finished = GaugeMetricFamily(
        "govledger_checkpoint_witness_round_timestamp_seconds",
        "When the last round of asking the witnesses finished (Unix time)",
    )
    record = RoundRecord.load(settings.state_dir)
    if record is not None:
        for result in record.witnesses:
            for each in RoundOutcome:
                outcome.add_metric([result.witness, each.value], int(result.outcome is each))
            if (moment := _timestamp(result.last_cosigned_at)) is not None:
                last_cosigned.add_metric([result.witness], moment)
        quorum_met.add_metric([], int(record.quorum_met))
        cosignatures.add_metric([], record.cosignatures)
        quorum.add_metric([], record.quorum)
        if (moment := _timestamp(record.finished_at)) is not None:
            finished.add_metric([], moment)
    return [outcome, last_cosigned, quorum_met, cosignatures, quorum, finished]
