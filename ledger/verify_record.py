"""The verifier's last-run record: ``verify-last-run.json`` (docs/ledger-format.md §8, contract C1).

Every ``govledger verify`` writes the outcome of its run here, errors included, so
``/metrics`` and the alerts can tell a break (``failed``) from a run that could not
run (``error``) and a full re-verification from an incremental one. The newest run
of each mode is kept. The file keeps, at its top level, the four fields it had
before modes existed (the newest run of either mode), so older readers still read
it; a file in that older layout reads as one incremental run.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ledger.errors import ConfigurationError

__all__ = ["MODES", "STATUSES", "LastRun", "LastRunRecord", "LastRuns"]

RUNS_FORMAT = "govledger-verify-runs/1"
MODES = ("incremental", "full")
STATUSES = ("ok", "failed", "error")


@dataclass(frozen=True)
class LastRun:
    """One run of ``govledger verify``: what it checked and what it found."""

    mode: str  # "incremental" (plain or --from) | "full" (--full, --adopt)
    status: str  # "ok" | "failed" (a break was found) | "error" (could not run)
    location: str
    ledger_id: str  # "" when it could not be read
    head_position: int
    first_bad_position: int | None
    kind: str | None  # the break's kind when failed (ledger-format §5)
    detail: str  # one line, never a secret
    started_at: str
    finished_at: str
    rows_checked: int

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> LastRun:
        position = entry.get("first_bad_position")
        kind = entry.get("kind")
        return cls(
            mode=str(entry["mode"]),
            status=str(entry["status"]),
            location=str(entry.get("location", "")),
            ledger_id=str(entry.get("ledger_id", "")),
            head_position=int(entry.get("head_position") or 0),
            first_bad_position=None if position is None else int(position),
            kind=None if kind is None else str(kind),
            detail=str(entry.get("detail", "")),
            started_at=str(entry.get("started_at", "")),
            finished_at=str(entry.get("finished_at", "")),
            rows_checked=int(entry.get("rows_checked") or 0),
        )


class LastRuns(NamedTuple):
    """The newest run of each mode. Its first two fields are what ``load`` answered before
    modes existed (``ok, finished_at`` of the newest run), so ``runs[0]``, ``runs[1]`` still
    mean that; read the typed entries from ``incremental`` and ``full``."""

    ok: bool
    finished_at: str
    incremental: LastRun | None
    full: LastRun | None

    def entries(self) -> list[LastRun]:
        return [run for run in (self.incremental, self.full) if run is not None]

    def newest(self) -> LastRun:
        return max(self.entries(), key=lambda run: run.finished_at)


class LastRunRecord:
    """``verify-last-run.json`` in the state directory."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / "verify-last-run.json"

    def save(self, run: LastRun) -> None:
        runs = self._read_runs()
        runs[run.mode] = run
        newest = max(runs.values(), key=lambda r: r.finished_at)
        data = {
            "format": RUNS_FORMAT,
            "runs": {mode: entry.to_json() for mode, entry in sorted(runs.items())},
            # The layout before modes, for its readers: the newest run of either mode.
            "ledger_id": newest.ledger_id,
            "ok": newest.ok,
            "head_position": newest.head_position,
            "finished_at": newest.finished_at,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".verify-last-run.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def load(self, ledger_id: str | None = None) -> LastRuns | None:
        """The newest run of each mode; with ``ledger_id``, only runs over that ledger (or
        runs that could not read one). ``None`` when no run is recorded."""
        runs = {
            mode: run
            for mode, run in self._read_runs().items()
            if ledger_id is None or run.ledger_id in (ledger_id, "")
        }
        if not runs:
            return None
        newest = max(runs.values(), key=lambda r: r.finished_at)
        return LastRuns(newest.ok, newest.finished_at, runs.get("incremental"), runs.get("full"))

    def _read_runs(self) -> dict[str, LastRun]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise ConfigurationError(f"cannot read {self.path}: {e}") from e
        if not isinstance(data, dict):
            raise ConfigurationError(f"{self.path} is not a last-run record")
        try:
            if data.get("format") == RUNS_FORMAT:
                return {mode: LastRun.from_json(e) for mode, e in data["runs"].items()}
            return {"incremental": _older_layout(data)} if "ok" in data else {}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigurationError(f"{self.path} is not a readable last-run record: {e}") from e


def _older_layout(data: dict[str, Any]) -> LastRun:
    """The record as ``verify`` wrote it before modes: one run, ok or failed."""
    ok = bool(data.get("ok"))
    finished = str(data.get("finished_at", ""))
    return LastRun(
        mode="incremental",
        status="ok" if ok else "failed",
        location="",
        ledger_id=str(data.get("ledger_id", "")),
        head_position=int(data.get("head_position") or 0),
        first_bad_position=None,
        kind=None,
        detail="" if ok else "recorded before the last-run record had modes",
        started_at=finished,
        finished_at=finished,
        rows_checked=0,
    )
