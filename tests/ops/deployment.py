"""The documented production layout on a private cluster, built only as docs/install.md says.

Roles and database from ``ops/deploy/sql/*.sql`` run by the superuser, passwords from
``govledger pgpass`` (one file per role), the schema and grants from ``govledger init`` as
the owner; every command then runs as a subprocess of ``govledger`` under the role of its
unit, with that role's password file only, exactly as the systemd units do.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.ops.cluster import PrivateCluster
from tests.ops.conftest import BIN

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "ops" / "deploy" / "sql"
DATABASE = "govledger"


@dataclass
class Deployment:
    """One district's database on a private cluster and the files a host keeps for it."""

    cluster: PrivateCluster
    home: Path  # stands for /etc/govledger and /var/lib/govledger
    database: str = DATABASE

    @property
    def pgpass(self) -> Path:
        return self.home / "pgpass"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def url(self, role: str, database: str | None = None) -> str:
        return self.cluster.url(database or self.database, role)

    def env(self, role: str, database: str | None = None, **extra: str) -> dict[str, str]:
        """A unit's environment: the common settings, its role's URL and password file."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLEDGER_", "PG"))}
        env.update(
            GOVLEDGER_DATABASE_URL=self.url(role, database),
            GOVLEDGER_CREATE_SCHEMA="false",
            GOVLEDGER_POSTGRES_LAYOUT="true",
            GOVLEDGER_STATE_DIR=str(self.state_dir),
            PGPASSFILE=str(self.pgpass / role),
        )
        env.update(extra)
        return env

    def govledger(
        self, role: str, *argv: str, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """``govledger ARGV`` as ``role``; never raises on a non-zero exit."""
        return subprocess.run(
            [str(BIN / "govledger"), *argv],
            env=dict(env or self.env(role)),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def create_database(self, name: str | None = None) -> None:
        """``database.sql`` as the superuser, as docs/install.md runs it."""
        sql = (SQL / "database.sql").read_text(encoding="utf-8")
        self.cluster.psql("-v", f"dbname={name or self.database}", sql=sql)


def build(cluster: PrivateCluster, home: Path) -> Deployment:
    """roles.sql, database.sql, passwords and ``govledger init`` as the owner."""
    deployment = Deployment(cluster, home)
    cluster.psql(sql=(SQL / "roles.sql").read_text(encoding="utf-8"))
    deployment.create_database()
    made = subprocess.run(
        [str(BIN / "govledger"), "pgpass", "--dir", str(deployment.pgpass)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    cluster.psql(sql=made.stdout)
    init = deployment.govledger("govledger_owner", "init")
    assert init.returncode == 0, init.stderr
    return deployment
