"""What `make test` relies on: it brings up PostgreSQL itself, and the dependency tree is lean."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import psycopg
import pytest

from ledger.config import DatabaseURL
from ledger.store.connect import postgres_conninfo

SCRIPT = Path(__file__).resolve().parents[2] / "ops" / "scripts" / "test-postgres.sh"


@pytest.mark.parametrize("name", ["psycopg2", "psycopg2-binary"])
def test_psycopg2_is_not_installed(name: str) -> None:
    """One PostgreSQL driver: psycopg 3, the one eventsourcing's module is built on."""
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution(name)
    assert metadata.version("psycopg").startswith("3.")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("psql") is None, reason="needs PostgreSQL client tools")
def test_script_starts_a_private_postgres_when_none_answers() -> None:
    # A world-readable scratch dir: as root, the cluster runs as the postgres user.
    scratch = tempfile.mkdtemp(prefix="govledger-pgboot-")
    os.chmod(scratch, 0o755)
    env = dict(
        os.environ,
        TMPDIR=scratch,
        GOVLEDGER_TEST_PGPORT="1",  # nothing answers on port 1
        GOVLEDGER_TEST_PRIVATE_PGPORT="55439",
    )
    try:
        done = subprocess.run(
            [SCRIPT], env=env, capture_output=True, text=True, check=False, timeout=240
        )
        assert done.returncode == 0, done.stderr
        assert "starting a private PostgreSQL on 127.0.0.1:55439" in done.stderr
        urls = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
        owner = DatabaseURL.parse(urls["GOVLEDGER_TEST_DATABASE_URL"])
        assert owner.port == 55439
        with psycopg.connect(**postgres_conninfo(owner)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("govledger_owner",)
    finally:
        _stop_clusters(Path(scratch))
        shutil.rmtree(scratch, ignore_errors=True)


def _stop_clusters(scratch: Path) -> None:
    for data in scratch.glob("govledger-pgtest-*/data"):
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        stop = [str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"]
        if os.geteuid() == 0:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        subprocess.run(stop, capture_output=True, check=False)
