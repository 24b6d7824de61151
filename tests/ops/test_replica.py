"""The read-replica path for real (issue 6 §6, docs/scaling.md): a private PostgreSQL primary
(wal_level=replica) and a streaming replica made with pg_basebackup -R, each on a free loopback
port. Events appended through the primary reach the replica; `govledger verify` and the
ledger feed run against the replica, which refuses writes. The shared server is not touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from security.apikeys import open_api_keys
from tests.conftest import Ledger, pg_connect
from tests.ops.conftest import BIN, child_env, free_port, wait_for

pytestmark = pytest.mark.slow
EVENTS = 30


def pg_bindir() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_basebackup").exists():
            return candidate
    reason = "no PostgreSQL server binaries (make test installs Debian's postgresql)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster we started, stopped by its own data directory."""

    bindir: Path
    data: Path
    port: int
    as_postgres: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *argv: str) -> None:
        subprocess.run([*self.as_postgres, *argv], check=True, capture_output=True, timeout=120)

    def start(self, *settings: str) -> None:
        options = " ".join(
            [f"-p {self.port}", f"-k {self.data.parent}", "-c listen_addresses=127.0.0.1"]
            + [f"-c {s}" for s in ("fsync=off", *settings)]
        )
        log = self.data.parent / f"{self.data.name}.log"
        self.run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(log),
            "-w",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_postgres,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )


@pytest.fixture
def primary_and_replica() -> Iterator[tuple[Cluster, Cluster]]:
    bindir = pg_bindir()
    root = Path(tempfile.mkdtemp(prefix="govledger-replica-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the clusters run as the postgres user
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    primary = Cluster(bindir, root / "primary", free_port(), as_postgres)
    replica = Cluster(bindir, root / "replica", free_port(), as_postgres)
    try:
        primary.run(
            str(bindir / "initdb"), "-D", str(primary.data), "-U", "postgres", "-A", "trust"
        )
        primary.start("wal_level=replica", "max_wal_senders=4")
        replica.run(
            str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-D", str(replica.data), "-R", "-X", "stream",
        )  # fmt: skip
        replica.start("hot_standby=on")
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


def replayed_to(primary_url: str, replica_url: str) -> bool:
    """Has the replica replayed everything the primary has written so far?"""
    try:
        with pg_connect(primary_url) as p, pg_connect(replica_url) as r:
            (lsn,) = p.execute("SELECT pg_current_wal_lsn()").fetchone() or (None,)
            row = r.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
            return bool(row and row[0])
    except psycopg.Error:
        return False


def test_reads_and_verification_run_on_a_streaming_replica(
    primary_and_replica: tuple[Cluster, Cluster], tmp_path: Path
) -> None:
    primary, replica = primary_and_replica
    on_primary = Settings(database_url=primary.url, state_dir=str(tmp_path / "state-primary"))
    init_ledger(on_primary)
    ledger = Ledger(on_primary)
    ledger.append(EVENTS, per_transaction=5)
    ledger.close()
    keys = open_api_keys(on_primary)
    auditor = keys.create(Role.AUDITOR).token
    keys.close()

    wait_for(lambda: replayed_to(primary.url, replica.url), 60, "the replica to replay the ledger")
    on_replica = Settings(
        database_url=replica.url, state_dir=str(tmp_path / "state-replica"), create_schema=False
    )
    with pg_connect(replica.url) as conn:
        (in_recovery,) = conn.execute("SELECT pg_is_in_recovery()").fetchone() or (False,)
        assert in_recovery
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE not_here (x int)")

    verified = subprocess.run(
        [str(BIN / "govledger"), "verify", "--full", "--json"],
        env=child_env(on_replica, GOVLEDGER_CREATE_SCHEMA="false"),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert '"head_position": 30' in verified.stdout

    with TestClient(create_app(on_replica)) as client:
        feed: dict[str, Any] = client.get(
            "/api/v1/ledger/events",
            params={"after": 0, "limit": 1000},
            headers={"Authorization": f"Bearer {auditor}"},
        ).json()
    assert [e["position"] for e in feed["events"]] == list(range(1, EVENTS + 1))
