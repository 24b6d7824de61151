"""Replication on ``/metrics``: how far each standby is behind the primary (issue 18).

With Patroni (docs/operations.md §High availability) an acknowledged append is
on the synchronous standby's disk, but *replayed* — visible to the reads sent to
a replica through ``GOVLEDGER_DATABASE_READ_URL`` — only when the standby gets
to it. Read on the primary from ``pg_stat_replication`` (the metrics role needs
``pg_monitor`` to see the LSN columns):

* ``govledger_replication_lag_seconds{standby}`` — replay lag (0 when caught up);
* ``govledger_replication_lag_bytes{standby}`` — WAL not yet replayed;
* ``govledger_replication_synchronous_standbys`` — standbys in ``sync`` state,
  only where synchronous replication is configured (with none, strict
  synchronous mode makes every write wait).

A server without standbys and without synchronous replication gives no samples,
so a single-server deployment raises no alert. The standby label is its
``application_name`` (Patroni: the node's name), never an address or a secret.
Alerts: ReplicationLagging, NoSynchronousStandby (ops/prometheus/alerts.yml).
"""

from __future__ import annotations

import psycopg
from prometheus_client.core import GaugeMetricFamily, Metric

from ledger.config import Settings
from ledger.store.conninfo import postgres_conninfo

__all__ = ["replication_metrics"]

_STANDBYS = """
SELECT application_name,
       coalesce(extract(epoch FROM replay_lag), 0)::float8,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8,
       sync_state
  FROM pg_stat_replication
"""


def replication_metrics(settings: Settings) -> list[Metric]:
    """Gauges of the primary's standbys; nothing on SQLite or a server without replication."""
    if settings.database.backend != "postgresql":
        return []
    conninfo = postgres_conninfo(settings.database)
    with psycopg.connect(**conninfo, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,):
            return []  # a standby: the primary's view is the one that counts
        standbys = conn.execute(_STANDBYS).fetchall()
        (names,) = conn.execute("SHOW synchronous_standby_names").fetchone() or ("",)
    seconds = GaugeMetricFamily(
        "govledger_replication_lag_seconds",
        "how long ago the standby's replayed WAL was current on the primary (0: caught up)",
        labels=["standby"],
    )
    behind = GaugeMetricFamily(
        "govledger_replication_lag_bytes",
        "bytes of WAL the standby has not replayed yet",
        labels=["standby"],
    )
    for name, lag_seconds, lag_bytes, _state in standbys:
        seconds.add_metric([name], lag_seconds)
        behind.add_metric([name], lag_bytes)
    metrics: list[Metric] = [seconds, behind] if standbys else []
    if names:
        synchronous = GaugeMetricFamily(
            "govledger_replication_synchronous_standbys",
            "standbys confirming every commit (synchronous replication is configured)",
        )
        synchronous.add_metric([], sum(1 for *_, state in standbys if state == "sync"))
        metrics.append(synchronous)
    return metrics
