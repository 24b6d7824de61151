"""What `make test` relies on: it brings up PostgreSQL itself, and the dependency tree is lean."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import psycopg
import pytest

from ledger.config import DatabaseURL
from ledger.store.connect import postgres_conninfo

SCRIPT = Path(__file__).resolve().parents[2] / "ops" / "scripts" / "test-postgres.sh"
PRIVATE_PORT = 25439  # not the script's default: a suite's own private cluster may hold it


@pytest.mark.parametrize("name", ["psycopg2", "psycopg2-binary"])
def test_psycopg2_is_not_installed(name: str) -> None:
    """One PostgreSQL driver: psycopg 3, the one eventsourcing's module is built on."""
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution(name)
    assert metadata.version("psycopg").startswith("3.")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("psql") is None, reason="needs PostgreSQL client tools")
@pytest.mark.parametrize("taken", [False, True], ids=["port free", "port taken"])
def test_script_starts_a_private_postgres_when_none_answers(taken: bool) -> None:
    """With nothing answering, the script starts its own cluster on the private port; a
    port some other socket holds (a client connection's local end can hold any port of
    the ephemeral range) is passed over for the next one."""
    # A world-readable scratch dir: as root, the cluster runs as the postgres user.
    scratch = tempfile.mkdtemp(prefix="govledger-pgboot-")
    os.chmod(scratch, 0o755)
    env = dict(
        os.environ,
        TMPDIR=scratch,
        GOVLEDGER_TEST_PGPORT="1",  # nothing answers on port 1
        GOVLEDGER_TEST_PRIVATE_PGPORT=str(PRIVATE_PORT),
    )
    holder = socket.socket()
    try:
        if taken:  # bound, not listening: the server cannot bind it, nothing answers on it
            holder.bind(("127.0.0.1", PRIVATE_PORT))
        done = subprocess.run(
            [SCRIPT], env=env, capture_output=True, text=True, check=False, timeout=240
        )
        assert done.returncode == 0, done.stderr
        port = PRIVATE_PORT + 1 if taken else PRIVATE_PORT
        assert f"starting a private PostgreSQL on 127.0.0.1:{port}" in done.stderr
        assert (f"could not start on port {PRIVATE_PORT}" in done.stderr) is taken
        urls = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
        owner = DatabaseURL.parse(urls["GOVLEDGER_TEST_DATABASE_URL"])
        assert owner.port == port
        with psycopg.connect(**postgres_conninfo(owner)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("govledger_owner",)
    finally:
        holder.close()
        _stop_clusters(Path(scratch))
        shutil.rmtree(scratch, ignore_errors=True)


def test_the_private_port_lies_below_the_ephemeral_range() -> None:
    """A port of Linux's ephemeral range can be held by any client connection's local end
    at the moment the cluster starts (seen: a busy machine's 55432)."""
    text = SCRIPT.read_text(encoding="utf-8")
    default = int(text.split("GOVLEDGER_TEST_PRIVATE_PGPORT:-", 1)[1].split("}", 1)[0])
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert default + 9 < low


def _stop_clusters(scratch: Path) -> None:
    for data in scratch.glob("govledger-pgtest-*/data"):
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        stop = [str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"]
        if os.geteuid() == 0:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        subprocess.run(stop, capture_output=True, check=False)
