"""A throwaway PostgreSQL cluster for the operations tests: initdb in a temporary directory,
a free port, stopped and removed afterwards. The shared server at 127.0.0.1:5432 is never
touched, so these tests may create roles, databases and pg_hba rules exactly as the docs say.

``auth="trust"``: anyone may connect as ``postgres`` (tests of outages).
``auth="debian"``: Debian's default ``pg_hba.conf`` (peer on the socket, scram-sha-256 over
127.0.0.1), the one docs/install.md leaves unchanged; the superuser's work goes through
``psql`` run as its operating-system user, as ``sudo -u postgres psql`` does.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.conftest import free_port

# Debian's /etc/postgresql/15/main/pg_hba.conf, comments left out (docs/install.md).
DEBIAN_PG_HBA = """\
local   all             {superuser}                             peer
local   all             all                                     peer
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
local   replication     all                                     peer
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
"""


def server_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivateCluster:
    """initdb, start, stop (immediate: a crash), start again, remove."""

    def __init__(self, auth: str = "trust") -> None:
        bindir = server_bindir()
        if bindir is None:
            if os.environ.get("CI") == "true":
                pytest.fail("PostgreSQL server binaries are required under CI")
            pytest.skip("no PostgreSQL server binaries (Debian's postgresql package)")
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="govledger-pgcluster-"))
        # initdb refuses root: the cluster belongs to the postgres OS user then.
        root = os.geteuid() == 0
        self.superuser = "postgres" if root else getpass.getuser()
        self.run_as = ["runuser", "-u", "postgres", "--"] if root else []
        if root:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self._run("initdb", "-D", str(self.data), "-U", self.superuser, "-A", "trust")
        if auth == "debian":
            hba = DEBIAN_PG_HBA.format(superuser=self.superuser)
            (self.data / "pg_hba.conf").write_text(hba, encoding="ascii")
        self.port = 0

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> None:
        port = self.port or free_port()
        options = f"-p {port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.dir / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", options, "start")
        self.port = port

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, dbname: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, *args: str, sql: str | None = None, dbname: str = "postgres") -> str:
        """``psql`` as the superuser on the socket (``sudo -u postgres psql …``); its stdout."""
        argv = [
            *self.run_as,
            str(self.bindir / "psql"),
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.dir),
            "-p",
            str(self.port),
            "-U",
            self.superuser,
            "-d",
            dbname,
            *args,
        ]
        done = subprocess.run(
            argv, input=sql, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"psql {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str) -> None:
        self.psql(sql=f"CREATE DATABASE {name}")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def started(auth: str = "trust") -> Iterator[PrivateCluster]:
    """A private cluster, started, and removed (stopped and deleted) on leaving."""
    cluster = PrivateCluster(auth)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
