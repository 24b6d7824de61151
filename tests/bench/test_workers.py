"""``bench/_workers.py`` names the process holding the server's end of a connection: the
bench (``bench/ingest.py``) relies on it to give each sender a worker of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench._workers import connection_owner, worker_pids

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="Linux /proc only")

# A child that accepts one connection on the socket it is handed, says so, and holds it
# until its stdin closes: like a uvicorn worker on the listening socket it inherits.
ACCEPTOR = """
import os, socket, sys
listener = socket.socket(fileno=int(sys.argv[1]))
connection, _ = listener.accept()
print("accepted", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s


def _port(s: socket.socket) -> int:
    return int(s.getsockname()[1])


def test_the_process_that_accepted_a_connection_is_its_owner(listener: socket.socket) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", ACCEPTOR, str(listener.fileno())],
        pass_fds=(listener.fileno(),),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with socket.create_connection(("127.0.0.1", _port(listener))) as client:
            assert child.stdout is not None and child.stdout.readline() == "accepted\n"
            assert child.pid in worker_pids(os.getpid())  # other tests may have children too
            processes = [os.getpid(), child.pid]
            # The listening socket is in both processes; the connection only in the child's.
            assert connection_owner(_port(listener), _port(client), processes) == child.pid
            assert connection_owner(_port(listener), _port(client), [os.getpid()]) is None
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


def test_a_connection_accepted_in_this_process_is_ours(listener: socket.socket) -> None:
    with socket.create_connection(("127.0.0.1", _port(listener))) as client:
        client_port = _port(client)
        accepted, _ = listener.accept()
        with accepted:
            assert connection_owner(_port(listener), client_port, [os.getpid()]) == os.getpid()
    # Closed on both ends: no process holds it any more (the kernel may keep its entry a while).
    assert connection_owner(_port(listener), client_port, [os.getpid()]) is None
