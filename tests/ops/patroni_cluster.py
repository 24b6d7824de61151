"""Three PostgreSQL machines under Patroni and etcd, in network namespaces (issue 18).

Each of ``pg1``–``pg3`` is a network namespace (tests/netns.py) running an etcd
member and Patroni, which runs PostgreSQL 15; ``app`` is a fourth namespace
where the service's side runs (tests/ops/patroni_agent.py). The machines reach
each other only over the bridge, so "a machine dies" is exactly one of:

* :meth:`PatroniCluster.kill_machine` — SIGKILL to every process in the
  namespace (etcd, Patroni, the postmaster and its backends), as a power cut;
* :meth:`PatroniCluster.cut` — the namespace's link goes down, its processes
  keep running, as a failed switch port.

The configuration is ops/deploy/patroni/patroni.yml as shipped (Patroni pinned
by ops/deploy/patroni/requirements.txt, etcd with pre-vote as etcd.env.example
has it), with per-node values and passwords given the way the deployment gives
them (``PATRONI_*`` variables) and three test-only changes: shorter
failure-detection timing (Patroni's, etcd's and ``wal_sender_timeout``, so one
failover takes seconds, not half a minute), ``fsync=off`` (the machines share
one disk; a namespace kill does not lose the page cache, so durability is not
what fsync would protect here) and the bridge's subnet in ``pg_hba``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
import yaml

from tests.netns import SUBNET, Host, Network, namespaces_available

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "ops" / "deploy" / "patroni" / "patroni.yml"
ENSURE = ROOT / "ops" / "scripts" / "ensure-patroni.sh"
PATRONI = "/opt/patroni/bin/patroni"  # the pinned one ENSURE installs (requirements.txt there)
ETCD_CLIENT, ETCD_PEER, PATRONI_API, PG_PORT = 2379, 2380, 8008, 5432
# A dead primary's leader key expires after ttl; loop_wait + 2 * retry_timeout must stay
# within it (Patroni's rule), and ttl is at least 20 (Patroni raises a smaller one).
# Shipped: 30/10/10 (a failover in about 30-40 s).
TEST_TIMING = {"ttl": 20, "loop_wait": 1, "retry_timeout": 5}
# Patroni's lines of every loop (loop_wait is 1 s here), left out of a failure's log tail.
ROUTINE = ("INFO: Lock owner:", "INFO: no action.", " in progress")
# What tells why a member did not rejoin (docs/operations.md §HA, "The former primary rejoins").
KEY_LINES = ("rewind", "removing", "bootstrap", "FATAL:", "PANIC:", "demot")
STAMP = re.compile(r"^[\d-]+ [\d:.,]+ (UTC )?(\[\d+\] )?")  # a log line's time and pid
WRITE_AGAIN_SECONDS = 120  # Patroni's ttl is 20 s here; the rest is slack for a busy machine


def cluster_unavailable() -> str | None:
    """``None`` when the cluster can run here, else why not (Patroni is installed if root)."""
    why = namespaces_available()
    if why is not None:
        return f"network namespaces unavailable: {why}"
    ensured = subprocess.run([str(ENSURE)], capture_output=True, text=True, check=False)
    if ensured.returncode != 0:
        return f"Patroni/etcd unavailable: {ensured.stderr.strip()}"
    if not Path("/usr/lib/postgresql/15/bin/postgres").exists():
        return "PostgreSQL 15 server binaries are not installed"
    return None


def require_cluster() -> None:
    """Skip with the reason where the cluster cannot run, except under CI, where it must."""
    why = cluster_unavailable()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Patroni cluster is required under CI: {why}")
        pytest.skip(why)


@dataclass
class Machine:
    name: str
    host: Host

    @property
    def address(self) -> str:
        return self.host.address


class PatroniCluster:
    """etcd + Patroni on ``pg1``–``pg3``; an ``app`` namespace for the service's side."""

    def __init__(self, network: Network, home: Path, timing: dict[str, int] | None = None) -> None:
        self.network = network
        self.home = home
        self.timing = timing or TEST_TIMING
        self.machines = [Machine(f"pg{i}", network.host(f"pg{i}")) for i in (1, 2, 3)]
        self.app = network.host("app")
        self.superuser_password = secrets.token_hex(16)
        # Set by a test that failed (its fixture): the nodes' logs are kept, not removed.
        self.keep_home = False
        self._passwords = {
            "PATRONI_SUPERUSER_PASSWORD": self.superuser_password,
            "PATRONI_REPLICATION_PASSWORD": secrets.token_hex(16),
            "PATRONI_REWIND_PASSWORD": secrets.token_hex(16),
        }
        shutil.chown(home, "postgres")
        for machine in self.machines:
            config = self.config(machine)
            config.write_text(yaml.safe_dump(self._config(machine)), encoding="utf-8")
            shutil.chown(config, "postgres")

    # ------------------------------------------------------------------ configuration

    def config(self, machine: Machine) -> Path:
        return self.home / f"patroni-{machine.name}.yml"

    def _config(self, machine: Machine) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
        dcs = config["bootstrap"]["dcs"]
        dcs.update(self.timing)
        # wal_sender_timeout: a cut-off primary's shutdown (its demotion) waits for its
        # walsenders to give up on the unreachable standbys: 20 s here, not 60.
        dcs["postgresql"]["parameters"].update(
            {"fsync": "off", "wal_keep_size": "64MB", "wal_sender_timeout": "20s"}
        )
        subnet = f"{SUBNET}.0/24"
        config["postgresql"]["pg_hba"] = [
            line.replace("10.0.0.0/24", subnet) for line in config["postgresql"]["pg_hba"]
        ]
        config["postgresql"]["pgpass"] = str(self.home / f"pgpass-{machine.name}")
        # One machine's socket directory each (they share this machine's file system).
        sockets = self.home / f"sockets-{machine.name}"
        sockets.mkdir()
        shutil.chown(sockets, "postgres")
        config["postgresql"]["parameters"]["unix_socket_directories"] = str(sockets)
        return config

    def _etcd_env(self, machine: Machine) -> dict[str, str]:
        peers = ",".join(f"{m.name}=http://{m.address}:{ETCD_PEER}" for m in self.machines)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ETCD_NAME": machine.name,
            "ETCD_DATA_DIR": str(self.home / f"etcd-{machine.name}"),
            "ETCD_LISTEN_PEER_URLS": f"http://{machine.address}:{ETCD_PEER}",
            "ETCD_LISTEN_CLIENT_URLS": f"http://{machine.address}:{ETCD_CLIENT}",
            "ETCD_INITIAL_ADVERTISE_PEER_URLS": f"http://{machine.address}:{ETCD_PEER}",
            "ETCD_ADVERTISE_CLIENT_URLS": f"http://{machine.address}:{ETCD_CLIENT}",
            "ETCD_INITIAL_CLUSTER": peers,
            "ETCD_INITIAL_CLUSTER_STATE": "new",
            "ETCD_INITIAL_CLUSTER_TOKEN": "govledger-test",
            # Quicker leader elections on a busy two-core machine shared by many tests.
            "ETCD_HEARTBEAT_INTERVAL": "200",
            "ETCD_ELECTION_TIMEOUT": "2000",
            # As shipped (etcd.env.example): a member back from a cut link does not depose
            # the etcd leader.
            "ETCD_PRE_VOTE": "true",
        }

    def _patroni_env(self, machine: Machine) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "PATRONI_NAME": machine.name,
            "PATRONI_RESTAPI_LISTEN": f"{machine.address}:{PATRONI_API}",
            "PATRONI_RESTAPI_CONNECT_ADDRESS": f"{machine.address}:{PATRONI_API}",
            "PATRONI_POSTGRESQL_LISTEN": f"{machine.address}:{PG_PORT}",
            "PATRONI_POSTGRESQL_CONNECT_ADDRESS": f"{machine.address}:{PG_PORT}",
            "PATRONI_POSTGRESQL_DATA_DIR": str(self.home / f"data-{machine.name}"),
            "PATRONI_ETCD3_HOSTS": ",".join(f"{m.address}:{ETCD_CLIENT}" for m in self.machines),
            **self._passwords,
        }

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        for machine in self.machines:
            self.boot(machine)
        self.await_members(2)

    def boot(self, machine: Machine) -> None:
        """Start (again) the machine's etcd member and its Patroni."""
        log = (self.home / f"{machine.name}.log").open("ab")
        etcd_dir = self.home / f"etcd-{machine.name}"
        env = self._etcd_env(machine)
        if etcd_dir.exists():  # a member that rejoins keeps its data: not a new cluster
            env["ETCD_INITIAL_CLUSTER_STATE"] = "existing"
        machine.host.start(["etcd"], env=env, cwd=self.home, log=log)
        machine.host.start(
            ["runuser", "-u", "postgres", "--", PATRONI, str(self.config(machine))],
            env=self._patroni_env(machine),
            cwd=self.home,
            log=log,
        )

    def kill_machine(self, machine: Machine) -> None:
        power_cut(machine.host)

    def cut(self, machine: Machine) -> None:
        machine.host.cut()

    def mend(self, machine: Machine) -> None:
        machine.host.mend()

    def close(self) -> None:
        for machine in self.machines:
            self.kill_machine(machine)

    # ------------------------------------------------------------------ the service's side

    def url(self, dbname: str = "postgres") -> str:
        """The service's URL: every node, the primary chosen by target_session_attrs."""
        hosts = ",".join(f"{m.address}:{PG_PORT}" for m in self.machines)
        return (
            f"postgresql://postgres:{self.superuser_password}@{hosts}/{dbname}"
            "?target_session_attrs=read-write"
        )

    def node_url(self, machine: Machine, dbname: str = "postgres") -> str:
        return (
            f"postgresql://postgres:{self.superuser_password}@{machine.address}:{PG_PORT}/{dbname}"
        )

    def agent(self, *args: str, timeout: float = 180, on: Host | None = None) -> Any:
        """``python -m tests.ops.patroni_agent ARGS`` on the app machine (or ``on`` another:
        a machine whose link is cut still reaches its own addresses); its JSON answer."""
        done = (on or self.app).run(
            [sys.executable, "-m", "tests.ops.patroni_agent", *args],
            env=agent_env(),
            cwd=ROOT,
            timeout=timeout,
        )
        assert done.returncode == 0, f"agent {args[0]} failed: {done.stderr[-3000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])  # ``load`` prints progress first

    def api_urls(self) -> list[str]:
        """``NAME=URL`` of each member's Patroni REST API."""
        return [f"{m.name}=http://{m.address}:{PATRONI_API}" for m in self.machines]

    def members(self) -> list[dict[str, Any]]:
        """What each member that answers says of itself (its PostgreSQL's role, timeline)."""
        answer: list[dict[str, Any]] = self.agent("members", *self.api_urls())["members"]
        return answer

    def await_members(
        self, replicas_streaming: int, *, not_leader: str = "", within: float = 120
    ) -> dict[str, Any]:
        """Until one leader runs and ``replicas_streaming`` replicas stream from it (the
        agent fails after ``within`` seconds)."""
        args = ["await", "--streaming", str(replicas_streaming), "--within", str(within)]
        if not_leader:
            args += ["--not-leader", not_leader]
        answer: dict[str, Any] = self.agent(*args, *self.api_urls(), timeout=within + 60)
        return answer

    def await_demoted(self, machine: Machine, within: float = 120) -> None:
        """Until the machine's Patroni says its PostgreSQL runs as a replica, asked on the
        machine itself (its link may be cut)."""
        url = f"{machine.name}=http://{machine.address}:{PATRONI_API}"
        self.agent("await-replica", "--within", str(within), url, on=machine.host)

    def cached_view(self, machine: Machine) -> list[dict[str, Any]]:
        """The machine's Patroni's copy of etcd (``GET /cluster``), asked on the machine."""
        url = f"http://{machine.address}:{PATRONI_API}"
        members: list[dict[str, Any]] = self.agent("cached", url, on=machine.host)["members"]
        return members

    def dcs_keys(self) -> dict[str, str]:
        """Patroni's ``leader``, ``sync`` and ``history`` keys as the etcd cluster holds them."""
        urls = [f"http://{m.address}:{ETCD_CLIENT}" for m in self.machines]
        found: dict[str, str] = self.agent("keys", *urls)["keys"]
        return found

    def leader(self) -> Machine:
        (name,) = [m["name"] for m in self.members() if m["role"] == "leader"]
        return next(m for m in self.machines if m.name == name)

    def log_tail(self, name: str, lines: int = 40) -> str:
        """For a failure message (CI keeps no files, only what the failure says): one
        machine's log (its etcd, Patroni and PostgreSQL) as its last lines about rewinds,
        rebuilds and fatal errors, then its last ``lines`` less Patroni's once-a-loop lines
        and its ``pg_controldata`` dumps."""
        log = self.home / f"{name}.log"
        if not log.exists():
            return f"--- {name}: {log} missing"
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
        kept = [t for t in text if not t.startswith("  ") and not any(r in t for r in ROUTINE)]
        key: dict[str, list[str]] = {}  # each message once (its first line), with its count
        for line in kept:
            if any(k in line for k in KEY_LINES):
                key.setdefault(STAMP.sub("", line), []).append(line)
        said = [seen[0] + (f" (x{len(seen)})" if len(seen) > 1 else "") for seen in key.values()]
        return "\n".join(
            [f"--- {name}: {log}, what it says of {KEY_LINES}:", *said[-25:],
             f"--- {name}: the last {lines} lines (less {ROUTINE}):", *kept[-lines:]]
        )  # fmt: skip

    def log_text(self) -> str:
        return "\n".join(
            (self.home / f"{m.name}.log").read_text(encoding="utf-8", errors="replace")
            for m in self.machines
            if (self.home / f"{m.name}.log").exists()
        )


def power_cut(host: Host) -> None:
    """SIGKILL every process in the host's namespace (the postmaster has its own session,
    so process groups are not enough)."""
    for _ in range(3):  # a process may fork while we kill: kill until none is left
        listed = subprocess.run(
            ["ip", "netns", "pids", host.namespace],
            capture_output=True, text=True, check=False, timeout=30,
        ).stdout.split()  # fmt: skip
        if not listed:
            break
        for pid in listed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    for process in host.processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    host.processes.clear()


class SinglePrimary:
    """One PostgreSQL 15 server alone on its own machine (namespace), no replication:
    what the cluster's ingestion throughput is measured against (bench/failover.py)."""

    def __init__(self, network: Network, home: Path) -> None:
        self.host = network.host("solo")
        self.data = home / "data-solo"
        self.password = secrets.token_hex(16)
        bindir = Path("/usr/lib/postgresql/15/bin")
        secret = home / "solo-password"
        secret.write_text(self.password, encoding="ascii")
        shutil.chown(secret, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*as_postgres, str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={secret}"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with (self.data / "pg_hba.conf").open("a", encoding="ascii") as hba:
            hba.write(f"host all all {SUBNET}.0/24 scram-sha-256\n")
        sockets = home / "sockets-solo"
        sockets.mkdir()
        shutil.chown(sockets, "postgres")
        options = (
            f"-c listen_addresses={self.host.address} -c port={PG_PORT} -c fsync=off"
            f" -c unix_socket_directories={sockets}"
        )
        log = home / "solo.log"
        done = self.host.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(log),
             "-w", "-o", options, "start"],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, cwd=home,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@{self.host.address}:{PG_PORT}/{dbname}"

    def close(self) -> None:
        power_cut(self.host)


class Load:
    """``patroni_agent load`` on the app machine; one line per acknowledged request."""

    def __init__(
        self,
        cluster: PatroniCluster,
        url: str,
        setup: dict[str, str],
        home: Path,
        *extra: str,
        name: str = "load",
    ) -> None:
        self.out = home / f"books-{name}.json"
        self.log = (home / f"{name}.log").open("wb")
        self.process = subprocess.Popen(
            [
                "ip", "netns", "exec", cluster.app.namespace,
                sys.executable, "-m", "tests.ops.patroni_agent", "load",
                "--url", url, "--state", str(home / "state"), *extra,
                "--token", setup["token"], "--grant", setup["grant"], "--out", str(self.out),
            ],
            env=agent_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log,
        )  # fmt: skip
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def acknowledged_after(self, moment: float, count: int) -> float:
        """Wait for ``count`` requests sent after ``moment`` to be acknowledged; how long
        after ``moment`` the first one was (the time to the first successful write)."""
        first: float | None = None
        deadline = time.monotonic() + WRITE_AGAIN_SECONDS
        while count:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "the load ended early (see load.log)"
            if line["sent"] > moment:
                first = line["t"] - moment if first is None else first
                count -= 1
        assert first is not None
        return first

    def stop(self) -> dict[str, Any]:
        self.process.terminate()
        assert self.process.wait(timeout=120) == 0
        self.log.close()
        books: dict[str, Any] = json.loads(self.out.read_text(encoding="utf-8"))
        return books


def agent_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env["GOVLEDGER_LOG_FORMAT"] = "text"
    return env


@contextlib.contextmanager
def patroni_cluster(timing: dict[str, int] | None = None) -> Iterator[PatroniCluster]:
    """A started cluster, torn down (every process killed, namespaces removed) on leaving."""
    home = Path(tempfile.mkdtemp(prefix="govledger-patroni-"))
    network = Network()
    cluster: PatroniCluster | None = None
    keep = os.environ.get("GOVLEDGER_KEEP_PATRONI_HOME") == "1"
    try:
        cluster = PatroniCluster(network, home, timing)
        cluster.start()
        yield cluster
    except BaseException:
        keep = True  # the nodes' logs (pg1.log …) and the load's books explain a failure
        print(f"the Patroni cluster's files are kept in {home}", file=sys.stderr)
        raise
    finally:
        if cluster is not None:
            cluster.close()
            if cluster.keep_home and not keep:
                keep = True
                print(f"the Patroni cluster's files are kept in {home}", file=sys.stderr)
        network.close()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
