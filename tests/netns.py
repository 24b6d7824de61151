"""Several hosts on one machine: Linux network namespaces joined by veth pairs to a bridge.

Each :class:`Host` is a network namespace with its own loopback and one
interface ``eth0`` (10.77.0.N/24) whose peer sits on a bridge in a namespace
of its own, so the hosts reach each other only over that wire, never over
the machine's loopback or its real network: a process on one host cannot
reach a service another host binds. :meth:`Host.cut` and :meth:`Host.mend`
take a host off the wire and put it back, as a failed link would.

Needs root and ``ip`` (iproute2). :func:`namespaces_available` says why not,
for a clear skip. Names carry this process's id; namespaces left by a run that
died are removed at the next start.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PREFIX = "glw"
SUBNET = "10.77.0"
_NAME = re.compile(rf"{PREFIX}(\d+)-\w+")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def namespaces_available() -> str | None:
    """``None`` if network namespaces can be made here, else why not."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"{PREFIX}{os.getpid()}-probe{uuid.uuid4().hex[:4]}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def _remove_stale() -> None:
    """Namespaces of earlier runs whose process is gone."""
    listed = _ip("netns", "list", check=False).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        found = _NAME.fullmatch(name)
        if found and not Path(f"/proc/{found.group(1)}").exists():
            _ip("netns", "del", name, check=False)


@dataclass
class Host:
    network: Network
    name: str
    namespace: str
    address: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def url(self, port: int, path: str = "") -> str:
        return f"http://{self.address}:{port}{path}"

    def start(
        self, argv: Sequence[str], *, env: dict[str, str], cwd: Path, log: IO[bytes]
    ) -> subprocess.Popen[bytes]:
        """A long-running process on this host (killed with the network)."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, *argv],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def run(
        self, argv: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """A command on this host, to its end."""
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, *argv],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def cut(self) -> None:
        """Off the wire: its interface goes down (its processes keep running)."""
        _ip("-n", self.namespace, "link", "set", "eth0", "down")

    def mend(self) -> None:
        _ip("-n", self.namespace, "link", "set", "eth0", "up")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=20)
        self.processes.clear()


class Network:
    """One bridge and the hosts on it; :meth:`close` removes everything."""

    def __init__(self) -> None:
        _remove_stale()
        self.tag = f"{PREFIX}{os.getpid()}"
        self.bridge_namespace = f"{self.tag}-net"
        self.hosts: list[Host] = []
        _ip("netns", "add", self.bridge_namespace)
        _ip("-n", self.bridge_namespace, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge_namespace, "link", "set", "br0", "up")

    def host(self, name: str) -> Host:
        number = len(self.hosts) + 1
        namespace = f"{self.tag}-{name}"
        _ip("netns", "add", namespace)
        peer = f"v{number}"
        _ip(
            "-n",
            namespace,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            peer,
            "netns",
            self.bridge_namespace,
        )
        _ip("-n", self.bridge_namespace, "link", "set", peer, "master", "br0", "up")
        address = f"{SUBNET}.{number}"
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        host = Host(self, name, namespace, address)
        self.hosts.append(host)
        return host

    def close(self) -> None:
        for host in self.hosts:
            host.stop()
        for host in self.hosts:
            _ip("netns", "del", host.namespace, check=False)
        _ip("netns", "del", self.bridge_namespace, check=False)
