"""A real service on a free port and Debian's chromium driven by Playwright, for console tests.

Chromium is Debian's (ops/scripts/browser-deps.sh installs it): Playwright is
pointed at it with ``executable_path`` and never downloads a browser of its
own. Without chromium the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

START_TIMEOUT_SECONDS = 20


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        reason = "Debian's chromium is not installed (make test runs ops/scripts/browser-deps.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def artefact_dir() -> Path:
    """Where screenshots go: $GOVLEDGER_TEST_ARTEFACTS or <tmp>/govledger-console-artefacts."""
    base = os.environ.get("GOVLEDGER_TEST_ARTEFACTS") or tempfile.gettempdir()
    target = Path(base) / "govledger-console-artefacts"
    target.mkdir(parents=True, exist_ok=True)
    return target


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 at a port the OS picks; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)  # polling a condition with a deadline, not synchronising by sleep
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_SECONDS)
        sock.close()
