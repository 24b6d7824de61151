"""Which worker process of a local ``govledger serve --workers N`` holds a client's connection.

Issue 20: uvicorn's workers share one listening socket, and a worker that wakes
accepts every connection waiting, so two senders' keep-alive connections, opened
together, often both end up in ONE worker: measured side by side (CPU time of
each worker process), about half the "two workers" runs had one worker idle and
the other taking two batches at a time, slower than one worker with one sender.
``bench/ingest.py`` reconnects a sender until each of its senders is served by a
worker of its own, so "2 workers, 2 senders" measures what it says. Linux only:
the owner is found through ``/proc`` (the socket's inode, then whose descriptor).
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def worker_pids(server_pid: int) -> list[int]:
    """The server's child processes: uvicorn's workers (none when it serves in-process)."""
    return [
        int(entry.name)
        for entry in PROC.iterdir()
        if entry.name.isdigit() and _parent(entry) == server_pid
    ]


def connection_owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The process among ``pids`` holding the server's end of the connection from
    ``client_port``; None when it is not found (the connection closed)."""
    inode = _server_inode(server_port, client_port)
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for pid in pids:
        try:
            descriptors = list((PROC / str(pid) / "fd").iterdir())
        except OSError:  # the worker exited
            continue
        for fd in descriptors:
            try:
                if os.readlink(fd) == wanted:
                    return pid
            except OSError:  # closed while we looked
                continue
    return None


def _parent(entry: Path) -> int | None:
    try:
        # The command name, in parentheses, may hold spaces: the fields follow its last ")".
        fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1])


def _server_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the socket whose local port is the server's and remote port the client's."""
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            # Inode 0: a closed connection the kernel still lists (TIME_WAIT), nobody's.
            if _port(local) == server_port and _port(remote) == client_port and inode != "0":
                return inode
    return None


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)
