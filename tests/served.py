"""A real ``govledger serve`` in a child process, on a free loopback port.

Used by the crash, fault and secret-logging tests and by ``bench/load.py``:
the settings travel as ``GOVLEDGER_*`` variables, exactly as an operator would
set them; readiness is polled on ``/healthz`` with a deadline (never a fixed
sleep); ``kill()`` is SIGKILL to the server's own process group, so a
multi-worker server dies whole, as in a power cut.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from ledger.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
GOVLEDGER = Path(sys.executable).parent / "govledger"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings) -> dict[str, str]:
    """The process environment that makes ``load_settings()`` return ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        env[f"{ENV_PREFIX}{f.name.upper()}"] = text
    return env


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``govledger ARGS`` as an operator would run it against ``settings``."""
    return subprocess.run(
        [str(GOVLEDGER), *args],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


class Server:
    """``govledger serve`` on 127.0.0.1; restartable on a fresh port after a kill."""

    def __init__(
        self, settings: Settings, *, workers: int = 1, log: IO[bytes] | None = None
    ) -> None:
        if workers > 1 and not settings.metrics_dir:
            # Several workers share their request metrics through files (docs/operations.md).
            settings = settings.with_overrides(
                metrics_dir=tempfile.mkdtemp(prefix="govledger-metrics-")
            )
        self.settings = settings
        self.workers = workers
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, deadline_seconds: float = 60) -> None:
        # A port probed free can be taken before uvicorn binds it: then try another.
        for _attempt in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(
                [str(GOVLEDGER), "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=settings_env(self.settings),
                cwd=ROOT,
                stdout=self.log or subprocess.DEVNULL,
                stderr=self.log or subprocess.DEVNULL,
                start_new_session=True,
            )
            if self._wait_healthy(deadline_seconds):
                return
        raise RuntimeError("govledger serve did not come up")

    def _wait_healthy(self, deadline_seconds: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + deadline_seconds
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False  # exited (e.g. the port was taken): the caller retries
                try:
                    if client.get("/healthz").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # poll interval while the process starts, bounded above
        self.kill()
        raise RuntimeError(f"govledger serve not healthy within {deadline_seconds} s")

    def kill(self) -> None:
        """SIGKILL the whole server (all workers): nothing gets to clean up."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
