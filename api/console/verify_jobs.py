"""The 校验 button: one incremental ``verify`` at a time, run beside the service, with progress.

It runs exactly what ``govledger verify`` runs (ledger/verify_job.py :func:`run_verify`:
incremental from the recorded head, against the newest trusted checkpoint, recorded in
the last-run record the verification alert reads) in a thread, so the page can poll its
progress; a second press while one runs joins the running one.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ledger.config import Settings
from ledger.verify import Progress
from ledger.verify_job import run_verify


@dataclass(frozen=True)
class VerifyRun:
    id: str
    started_by: str
    started_at: str
    total: int = 0  # rows after the recorded head when the run started
    done: int = 0
    finished: bool = False
    result: dict[str, Any] | None = None  # ChainReport.to_json(), or {"ok": False, "error": …}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_by": self.started_by,
            "started_at": self.started_at,
            "total": self.total,
            "done": self.done,
            "finished": self.finished,
            "result": self.result,
        }


class VerifyJobs:
    """Holds the current (or last) verification of this process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._run: VerifyRun | None = None
        self._thread: threading.Thread | None = None

    def current(self) -> VerifyRun | None:
        with self._lock:
            return self._run

    def start(self, started_by: str) -> VerifyRun:
        """Start a run, or return the one already running."""
        with self._lock:
            if self._run is not None and not self._run.finished:
                return self._run
            run = VerifyRun(
                id=uuid.uuid4().hex,
                started_by=started_by,
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            self._run = run
            self._thread = threading.Thread(
                target=self._verify, args=(run.id,), name="console-verify", daemon=True
            )
            self._thread.start()
        return run

    def wait(self, timeout: float) -> VerifyRun | None:
        """For shutdown and tests: the run once finished, or as it is after ``timeout``."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.current()

    def _update(self, run_id: str, **changes: Any) -> None:
        with self._lock:
            if self._run is not None and self._run.id == run_id:
                self._run = replace(self._run, **changes)

    def _advance(self, run_id: str, count: int) -> None:
        with self._lock:
            if self._run is not None and self._run.id == run_id:
                self._run = replace(self._run, done=self._run.done + count)

    def _verify(self, run_id: str) -> None:
        # The same run as ``govledger verify``, recorded in the last-run record that the
        # verification alert and the ledger page read (ledger/verify_job.py, contract C1).
        outcome = run_verify(self.settings, progress_bar=lambda total: self._bar(run_id, total))
        self._update(run_id, finished=True, result=outcome.to_json())

    @contextmanager
    def _bar(self, run_id: str, total: int) -> Iterator[Progress]:
        self._update(run_id, total=total)
        yield lambda n: self._advance(run_id, n)
