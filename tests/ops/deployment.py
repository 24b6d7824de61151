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

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from ledger.checkpoints import generate_key_file
from ledger.config import Settings
from ledger.store.connect import application_env
from tests.conftest import make_events
from tests.ops.cluster import PrivateCluster
from tests.ops.conftest import BIN

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "ops" / "deploy" / "sql"
DATABASE = "govledger"
ORIGIN = "govledger.test/district"


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

    @property
    def log_key(self) -> Path:
        return self.home / "keys" / "checkpoint.key"

    @property
    def trusted_keys(self) -> Path:
        return self.home / "trusted-keys.txt"

    @property
    def witness_key(self) -> Path:
        return self.home / "keys" / "witness.key"

    @property
    def witness_keys(self) -> Path:
        return self.home / "witness-keys.txt"

    def env(self, role: str, database: str | None = None, **extra: str) -> dict[str, str]:
        """A unit's environment: the common settings (govledger.env), its role's URL and
        password file; the log's signer key only for the checkpoint issuer."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLEDGER_", "PG"))}
        env.update(
            GOVLEDGER_DATABASE_URL=self.url(role, database),
            GOVLEDGER_CREATE_SCHEMA="false",
            GOVLEDGER_POSTGRES_LAYOUT="true",
            GOVLEDGER_STATE_DIR=str(self.state_dir),
            GOVLEDGER_CHECKPOINT_ORIGIN=ORIGIN,
            PGPASSFILE=str(self.pgpass / role),
        )
        if self.trusted_keys.exists():
            env["GOVLEDGER_TRUSTED_KEYS_FILE"] = str(self.trusted_keys)
        if self.witness_keys.exists():
            env["GOVLEDGER_WITNESS_KEYS_FILE"] = str(self.witness_keys)
            env["GOVLEDGER_WITNESS_QUORUM"] = "1"
        if role == "govledger_checkpoint":
            env["GOVLEDGER_CHECKPOINT_KEY_FILE"] = str(self.log_key)
        env.update(extra)
        return env

    def make_keys(self, *, witness: bool) -> None:
        """The log's signer key, its published verifier key and (on request) a witness's."""
        self.log_key.parent.mkdir(mode=0o700, exist_ok=True)
        generate_key_file(str(self.log_key), ORIGIN)
        published = self.govledger("govledger_checkpoint", "keys", "public")
        assert published.returncode == 0, published.stderr
        self.trusted_keys.write_text(published.stdout, encoding="utf-8")
        if witness:
            vkey = generate_key_file(str(self.witness_key), "witness.test/1", witness=True)
            self.witness_keys.write_text(vkey + "\n", encoding="utf-8")

    def append(self, count: int) -> None:
        """``count`` events appended as the API's role (what ingestion does, without HTTP)."""
        url = self.url("govledger_app").replace("@", f":{password(self, 'govledger_app')}@", 1)
        env = application_env(Settings(database_url=url, create_schema=False))
        factory = InfrastructureFactory.construct(Environment(env=env))
        try:
            recorder = factory.application_recorder()
            events = make_events(count)
            for i in range(0, count, 10):
                recorder.insert_events(events[i : i + 10])
        finally:
            factory.close()

    def checkpoint(self) -> None:
        issued = self.govledger("govledger_checkpoint", "checkpoint", "issue")
        assert issued.returncode == 0, issued.stderr

    def witness(self) -> None:
        state = str(self.home / "witness-state.json")
        cosigned = self.govledger(
            "govledger_witness", "witness", "--key", str(self.witness_key), "--state", state
        )
        assert cosigned.returncode == 0, cosigned.stderr

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


def password(deployment: Deployment, role: str) -> str:
    """The role's password, from its pgpass file (``*:*:*:role:password``)."""
    return (deployment.pgpass / role).read_text(encoding="ascii").strip().split(":")[4]
