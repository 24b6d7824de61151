"""One keep-alive HTTP/1.1 connection that posts prebuilt request bytes: bench/ingest.py's
sender, a load generator as light as wrk's, so its client costs the cores the measured
workers share as little as it can (issue 20).

httpx (a full client: its HTTP/1.1 state machine and body handling in Python) spent about
2.3 ms of CPU to post one 2,000-access batch (``time.thread_time`` around ``post``), on
the same two cores as the workers. Here a request is its head and body joined once, before
the clock starts; posting it is one ``sendall`` and reading the answer's head and
``Content-Length`` bytes. It speaks to govledger's own server on loopback and nothing
else: an answer without ``Content-Length`` is refused, not guessed at.
"""

from __future__ import annotations

import socket

HEAD_END = b"\r\n\r\n"


class SenderError(RuntimeError):
    """The server's answer is not what a batch expects (its status, or no length)."""


def post_request(port: int, path: str, headers: dict[str, str], body: str) -> bytes:
    """The whole request posting ``body`` to ``path`` of ``127.0.0.1:port``: built once,
    before the clock starts, and sent as it is."""
    data = body.encode()
    fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{fixed}"
    return f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data


class RawSender:
    """One keep-alive connection to ``127.0.0.1:port`` that sends prebuilt requests."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending = b""

    @property
    def client_port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def post(self, request: bytes) -> int:
        """Send a prebuilt request; the answer's status, once its body is read."""
        return self.answer(request)[0]

    def get(self, path: str) -> tuple[int, bytes]:
        """``GET path`` on this connection (so from the worker it is served by)."""
        return self.answer(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())

    def answer(self, request: bytes) -> tuple[int, bytes]:
        """Send a request; the answer's status and body."""
        self.sock.sendall(request)
        head = self._read_head()
        status = int(head.split(b" ", 2)[1])
        return status, self._read(_content_length(head))

    def _read_head(self) -> bytes:
        while HEAD_END not in self._pending:
            self._pending += self._recv()
        head, self._pending = self._pending.split(HEAD_END, 1)
        return head

    def _read(self, size: int) -> bytes:
        while len(self._pending) < size:
            self._pending += self._recv()
        body, self._pending = self._pending[:size], self._pending[size:]
        return body

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SenderError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise SenderError("an answer without Content-Length")
