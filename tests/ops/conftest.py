"""Real processes for the operations tests, shared here rather than copied: free loopback
ports, polling with a deadline, and ``govledger serve`` (several workers) as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import application_env, init_ledger
from security.apikeys import open_api_keys
from tests.ledger.domain.builders import (
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER_DEPT,
    FakeClock,
    population_entry,
)

BIN = Path(sys.executable).parent
T = TypeVar("T")


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (bind 0), free for the next bind."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], T | None], seconds: float, what: str) -> T:
    """Poll ``check`` until it returns something truthy, or fail naming ``what``."""
    deadline = time.monotonic() + seconds
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            found = check()
        except (httpx.HTTPError, OSError) as e:  # the server is not up yet
            last, found = e, None
        if found:
            return found
        time.sleep(0.1)  # polling interval, not synchronisation: the condition decides
    raise AssertionError(f"timed out after {seconds}s waiting for {what} (last error: {last})")


def bearer(settings: Settings, role: Role, department: str | None = None) -> dict[str, str]:
    """An Authorization header with a new API key of ``role`` (for a server in a subprocess)."""
    keys = open_api_keys(settings)
    try:
        return {"Authorization": f"Bearer {keys.create(role, department).token}"}
    finally:
        keys.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """``GOVLEDGER_*`` variables that reproduce ``settings`` in a child process."""
    return {
        "GOVLEDGER_DATABASE_URL": settings.database_url,
        "GOVLEDGER_POSTGRES_SCHEMA": settings.postgres_schema,
        "GOVLEDGER_STATE_DIR": settings.state_dir,
        "GOVLEDGER_METRICS_DIR": settings.metrics_dir,
        "GOVLEDGER_CHECKPOINT_KEY_FILE": settings.checkpoint_key_file,
        "GOVLEDGER_CHECKPOINT_INTERVAL_SECONDS": str(settings.checkpoint_interval_seconds),
    }


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env.update(settings_env(settings))
    env.update(extra)
    return env


@contextmanager
def running(
    argv: list[str], env: Mapping[str, str], log: Path, ready: Callable[[], object], what: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own session, ready when ``ready()`` is truthy; stopped by pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:

        def up() -> object:
            if process.poll() is not None:
                raise AssertionError(f"{what} exited: {log.read_text(errors='replace')[-2000:]}")
            return ready()

        wait_for(up, 60, what)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own group: uvicorn and its workers
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def govledger_serve(
    settings: Settings, tmp: Path, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """``govledger serve`` on a free loopback port; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(BIN / "govledger"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]

    def healthy() -> bool:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200

    env = {**child_env(settings), **(extra_env or {})}
    with running(argv, env, tmp / f"serve-{port}.log", healthy, "govledger serve"):
        yield url


@pytest.fixture
def app(settings: Settings) -> Iterator[GovLedger]:
    """A ledger with two departments and one conditional resource, on a fake clock: the
    catalogue the import tests record against (test modules with another ``app`` override it)."""
    init_ledger(settings)
    opened = GovLedger(env=application_env(settings), clock=FakeClock())
    opened.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    opened.register_department(NDRC, USER_DEPT, "区人社局")
    opened.register_resource(PROVIDER, population_entry())
    yield opened
    opened.close()
