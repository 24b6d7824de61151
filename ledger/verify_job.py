"""One ``govledger verify`` run as the command and the console run it (contract C1).

:func:`run_verify` opens the configured ledger, verifies it against the pin of its
location (:func:`ledger.verify.verify_ledger`) and, whatever the outcome, records
the run in ``verify-last-run.json`` (:mod:`ledger.verify_record`): a break is
``failed``, a run that could not run (database down, bad setting, unreadable
state) is ``error``. It never raises for either, so a scheduled run always leaves
a record the alerts can read.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from ledger.chain import ChainBreak, ChainReport
from ledger.config import Settings
from ledger.errors import ForeignStoreError, LedgerError
from ledger.pins import Identity, Pin, ledger_location
from ledger.store.base import RowReader
from ledger.verify import Parallel, PinnedLocation, Progress, verify_ledger
from ledger.verify_record import LastRun, LastRunRecord

__all__ = ["ProgressBar", "VerifyOutcome", "record_error", "run_verify"]

ProgressBar = Callable[[int], AbstractContextManager[Progress | None]]


@dataclass(frozen=True)
class VerifyOutcome:
    """What ``govledger verify`` (or the console) reports: the run as recorded, and its report."""

    run: LastRun
    report: ChainReport | None  # None when the run could not run (status "error")
    adopted: str = ""  # what ``--adopt`` replaced, in words

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "failed": 1}.get(self.run.status, 2)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = self.report.to_json() if self.report else {"ok": False}
        body.update(self.run.to_json())
        if self.adopted:
            body["adopted"] = self.adopted
        return body


_DATABASE_ERRORS = (LedgerError, sqlite3.Error, psycopg.Error, OSError)


def run_verify(
    settings: Settings,
    *,
    full: bool = False,
    start: int | None = None,
    adopt: bool = False,
    progress_bar: ProgressBar | None = None,
    jobs: int = 1,
) -> VerifyOutcome:
    """One ``govledger verify`` run over the configured ledger, recorded in the last-run
    record whatever its outcome (contract C1): a break is ``failed``, a run that could
    not run is ``error``. Never raises for either. ``jobs``: processes recomputing the
    hashes (:mod:`ledger.verify_parallel`); the answer is the one-process run's."""
    mode = "full" if full or adopt else "incremental"
    started, pinned = _moment(), PinnedLocation.of(settings)
    try:
        report, adopted = _verify_location(
            settings,
            pinned,
            full=full,
            start=start,
            adopt=adopt,
            progress_bar=progress_bar,
            jobs=jobs,
        )
    except _DATABASE_ERRORS as e:
        run = _run_record(mode, "error", pinned.location, "", started, detail=_one_line(e))
        _record(settings, run)
        return VerifyOutcome(run, None)
    status = "ok" if report.ok else "failed"
    run = _run_record(mode, status, pinned.location, report.ledger_id, started, report)
    _record(settings, run)
    return VerifyOutcome(run, report, adopted)


def _verify_location(
    settings: Settings,
    pinned: PinnedLocation,
    *,
    full: bool,
    start: int | None,
    adopt: bool,
    progress_bar: ProgressBar | None,
    jobs: int = 1,
) -> tuple[ChainReport, str]:
    from ledger.checkpoints import checkpoint_source  # noqa: PLC0415 - checkpoints imports verify
    from ledger.store.connect import open_reader  # noqa: PLC0415 - connect is beneath verify

    before = pinned.pin()
    try:
        reader = open_reader(settings)
    except ForeignStoreError as e:
        return _gone(before, e), ""
    try:
        try:
            genesis = reader.genesis()
        except ForeignStoreError as e:
            return _gone(before, e), ""
        total = _to_verify(reader, before, full=full or adopt, start=start)
        bar = progress_bar(total) if progress_bar else nullcontext(None)
        with checkpoint_source(settings, genesis) as checkpoints, bar as advance:
            report = verify_ledger(
                reader,
                pinned,
                start=start,
                full=full,
                adopt=adopt,
                progress=advance,
                checkpoints=checkpoints,
                parallel=Parallel(jobs, functools.partial(open_reader, settings))
                if jobs > 1
                else None,
            )
    finally:
        reader.close()
    adopted = (
        _adoption(before, Identity.of(genesis), pinned.location) if adopt and report.ok else ""
    )
    return report, adopted


def record_error(settings: Settings, mode: str, error: BaseException) -> VerifyOutcome:
    """Record a run that could not run for a reason :func:`run_verify` did not expect (a bug):
    the last-run record must not keep saying ok."""
    detail = f"{type(error).__name__}: {_one_line(error)}"
    run = _run_record(mode, "error", ledger_location(settings), "", _moment(), detail=detail)
    _record(settings, run)
    return VerifyOutcome(run, None)


def _gone(pin: Pin | None, error: ForeignStoreError) -> ChainReport:
    """A pinned location whose ledger has gone is a break, not an error (§8)."""
    if pin is None:
        raise error
    failure = ChainBreak(
        0, "genesis", f"the ledger pinned here ({pin.identity.ledger_id}) is gone: {error}"
    )
    return ChainReport(pin.identity.ledger_id, 0, 0, 0, pin.identity.genesis_hash, failure)


def _to_verify(reader: RowReader, pin: Pin | None, *, full: bool, start: int | None) -> int:
    total = reader.max_position()
    if start is not None:
        return max(total - start + 1, 0)
    if full or pin is None:
        return total
    return max(total - pin.head.position, 0)


def _adoption(before: Pin | None, identity: Identity, location: str) -> str:
    adopted = f"adopted {identity.describe()} at {location}"
    if before is None or before.identity.difference(identity) is None:
        return adopted if before is None else f"{identity.describe()} was already pinned here"
    old = before.identity.describe()
    return (
        f"{adopted}, in place of {old} (head {before.head.position} verified "
        f"{before.head.verified_at})"
    )


def _run_record(
    mode: str,
    status: str,
    location: str,
    ledger_id: str,
    started: str,
    report: ChainReport | None = None,
    detail: str = "",
) -> LastRun:
    failure = report.failure if report else None
    if report is not None and not detail:
        detail = (
            f"{failure.kind} at position {failure.position}: {failure.detail}"
            if failure
            else f"{report.count} rows verified, head {report.head_position}"
        )
    return LastRun(
        mode=mode,
        status=status,
        location=location,
        ledger_id=ledger_id,
        head_position=report.head_position if report else 0,
        first_bad_position=failure.position if failure else None,
        kind=failure.kind if failure else None,
        detail=_one_line(detail),
        started_at=started,
        finished_at=_moment(),
        rows_checked=report.count if report else 0,
    )


def _record(settings: Settings, run: LastRun) -> None:
    # A run that could not run never creates the state directory (a mistyped setting must
    # leave nothing behind); every deployment has one, where verification ran before.
    if run.status == "error" and not Path(settings.state_dir).is_dir():
        return
    # An unwritable state directory: the run's own outcome still reaches the caller.
    with contextlib.suppress(OSError, LedgerError):
        LastRunRecord(settings.state_dir).save(run)


def _moment() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _one_line(value: object) -> str:
    text = str(value).strip()
    line = text.splitlines()[0] if text else type(value).__name__
    return line[:500]
