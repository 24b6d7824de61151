"""Reads on a replica and replication metrics, for real (issue 18; docs/configuration.md
§Reads on a replica): a private primary and a streaming replica (tests/ops/test_replica.py's
fixture). The projection worker reads the ledger's rows from ``database_read_url`` and
writes its views on the primary; a replica behind the views is waited for, never taken
for a rewritten ledger; the primary reports each standby's lag on ``/metrics``."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.core import Metric

from api.metrics_replication import replication_metrics
from ledger.config import Settings
from ledger.errors import ConfigurationError
from ledger.store.connect import init_ledger, ledger_head
from projections.runner import open_projector, tracked_position
from tests.conftest import Ledger, pg_connect
from tests.ops.conftest import wait_for
from tests.ops.test_replica import Cluster, primary_and_replica, replayed_to

__all__ = ["primary_and_replica"]  # the fixture, used by name below

pytestmark = pytest.mark.slow


def samples(metrics: list[Metric]) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {m.name: [(s.labels, s.value) for s in m.samples] for m in metrics}


def test_the_worker_reads_the_replica_and_waits_for_it(
    primary_and_replica: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    primary, replica = primary_and_replica
    settings = Settings(
        database_url=primary.url,
        database_read_url=replica.url,
        state_dir=str(tmp_path / "state"),
    ).validate()
    assert settings.reading().database_url == replica.url
    assert settings.reading().create_schema is False
    init_ledger(settings)
    ledger = Ledger(settings)
    ledger.append(20, per_transaction=5)
    wait_for(lambda: replayed_to(primary.url, replica.url), 60, "the replica to replay")

    # Replay paused: the primary goes on, the replica stays at 20 (+ genesis rows).
    with pg_connect(replica.url) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    on_replica = ledger_head(settings.reading())
    ledger.append(10, per_transaction=5)
    assert ledger_head(settings) == on_replica + 10

    with open_projector(settings) as projector:
        projector.run()
        assert tracked_position(projector.store) == on_replica  # what the replica had

    # The views are ahead of the replica once read from the primary: the worker then waits.
    with open_projector(settings.with_overrides(database_read_url="")) as projector:
        projector.run()
        assert tracked_position(projector.store) == on_replica + 10
    with open_projector(settings) as projector:
        assert projector.run() == 0
        assert tracked_position(projector.store) == on_replica + 10

    with pg_connect(replica.url) as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    wait_for(lambda: replayed_to(primary.url, replica.url), 60, "the replica to catch up")
    ledger.append(5, per_transaction=5)
    wait_for(lambda: replayed_to(primary.url, replica.url), 60, "the replica to replay")
    with open_projector(settings) as projector:
        assert projector.run() == 5
    ledger.close()

    # The primary reports its standby's lag; the replica and SQLite report nothing.
    found = samples(replication_metrics(settings))
    ((labels, lag),) = found["govledger_replication_lag_seconds"]
    assert labels["standby"] and lag >= 0
    assert "govledger_replication_lag_bytes" in found
    assert "govledger_replication_synchronous_standbys" not in found  # none configured
    assert replication_metrics(settings.reading()) == []
    assert replication_metrics(Settings(database_url="sqlite:///:memory:")) == []


def test_a_read_url_needs_postgresql_on_both_sides() -> None:
    with pytest.raises(ConfigurationError):
        Settings(database_url="sqlite:///x.db", database_read_url="postgresql://u@h/db").validate()
