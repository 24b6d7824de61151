"""``govledger import FILE.jsonl``: bulk ingest of the exchange platform's reports.

A line is an access, or, with ``"kind": "resource_refresh"``, a refresh of a
catalogue resource (S11; docs/facts.md §7, read by ``ledger.domain.fact_intake``).

The format is docs/import-format.md. A file is all or nothing: pass 1 parses
and checks every line and writes nothing, pass 2 evaluates each access
(``security.access.evaluate_access`` against the grants on record) and records
it with ``GovLedger.record_accesses`` in batches. Batches, not one transaction,
because a file may hold millions of lines; validating first is what keeps a
bad line 900,000 from leaving 899 batches behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.configured import open_ledger
from ledger.domain import AccessReport, AccessVerdict, Actor, DomainError, Role, intake
from ledger.domain.bounds import BoundsError, TimeBounds
from ledger.domain.fact_intake import refresh_report
from ledger.domain.ids import data_access_id
from ledger.domain.refresh import RefreshReport
from ledger.errors import LedgerError
from ledger.store.connect import init_ledger
from ops.import_records import import_records
from ops.terminal import EXIT_OK, progress_bar
from projections.sharing_terms import SharingTerms
from security.access import SharingReadModel, evaluate_access

# The longest integer Python's JSON reader converts (sys.get_int_max_str_digits).
_MAX_DIGITS = sys.get_int_max_str_digits()

BATCH_SIZE = 1_000
DEFAULT_ACTOR_ID = "exchange-platform"
# A line longer than the API's largest request body cannot be an access the API would take.
DEFAULT_MAX_LINE_BYTES = Settings().max_request_bytes
_BOM = "\ufeff"


class ImportFormatError(LedgerError):
    """A malformed line: the message is one line, ``FILE:LINE: problem``."""

    def __init__(self, path: Path, line_no: int, problem: str) -> None:
        super().__init__(f"{path}:{line_no}: {problem}")
        self.line_no = line_no


class _LineError(ValueError):
    """A problem with one line's content; :func:`_lines` adds where."""


@dataclass(frozen=True)
class ImportSummary:
    """What an import did. ``already_recorded`` includes exact repeats within the file;
    ``dated_in_future`` counts the accesses recorded though their time had not come yet
    (docs/facts.md §6: recorded and flagged, never dropped)."""

    lines: int
    recorded: int
    already_recorded: int
    unauthorized: int
    by_reason: dict[str, int] = field(default_factory=dict)
    dated_in_future: int = 0
    refreshes_recorded: int = 0
    refreshes_flagged: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "unauthorized": self.unauthorized,
            "by_reason": dict(sorted(self.by_reason.items())),
            "dated_in_future": self.dated_in_future,
            "refreshes_recorded": self.refreshes_recorded,
            "refreshes_flagged": self.refreshes_flagged,
        }


# -- parsing ---------------------------------------------------------------------


Report = AccessReport | RefreshReport
KIND_ACCESS = "access"
KIND_REFRESH = "resource_refresh"


def parse_line(text: str, time_bounds: TimeBounds | None = None) -> Report:
    """One line as an :class:`AccessReport` (no ``kind``, or ``"access"``) or a
    :class:`RefreshReport` (``"kind": "resource_refresh"``); :class:`_LineError` says
    what is wrong.

    The object is read by ``ledger.domain.intake`` (what the API's ``AccessIn``
    runs too), then the ledger's configured bounds are applied.
    """
    text = text.rstrip("\r\n")  # the line's own end: an unclosed object ends at its last column
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        where = f"column {e.colno}" if e.lineno == 1 else f"line {e.lineno} column {e.colno}"
        if e.pos >= len(text.rstrip()):
            raise _LineError(f"not JSON: the line ends inside an object or list at {where} "
                             "(a missing } or ]?)") from None  # fmt: skip
        raise _LineError(f"not JSON: {e.msg} at {where}") from None
    except RecursionError:
        raise _LineError("not JSON: nested too deeply") from None
    except ValueError:  # a number of more digits than Python converts (JSON allows it)
        raise _LineError(f"not JSON: a number of more than {_MAX_DIGITS:,} digits") from None
    try:
        report = _decode(obj)
        if time_bounds is not None:
            if isinstance(report, RefreshReport):
                time_bounds.check_past(report.refreshed_at, "refreshed_at")
            else:
                time_bounds.check_past(report.accessed_at, "accessed_at")
    except BoundsError as e:
        raise _LineError(e.detail) from None
    except DomainError as e:
        raise _LineError(e.detail) from None
    return report


def _decode(obj: object) -> Report:
    """The line's kind decides its decoder; ``kind`` itself is not a field of the fact."""
    if isinstance(obj, dict) and "kind" in obj:
        fields = {k: v for k, v in obj.items() if k != "kind"}
        if obj["kind"] == KIND_REFRESH:
            return refresh_report(fields)
        if obj["kind"] != KIND_ACCESS:
            raise _LineError(
                f"kind: {str(obj['kind'])[:60]!r} is not one of access, {KIND_REFRESH}"
            )
        obj = fields
    return intake.access_report(obj)


def _lines(
    path: Path, time_bounds: TimeBounds | None = None, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, Report]]:
    """(line number, report) for each non-blank line; the first bad line raises.

    Read as bytes and decoded per line, so a bad UTF-8 sequence is pinned to its
    line; a UTF-8 byte order mark opening the file is skipped.
    """
    with path.open("rb") as f:
        line_no = 0
        while raw := f.readline(max_line_bytes + 1):
            line_no += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise ImportFormatError(path, line_no, f"longer than {max_line_bytes} bytes")
            try:
                line = raw.decode("utf-8")
                if line_no == 1:
                    line = line.removeprefix(_BOM)
                if line.strip():
                    yield line_no, parse_line(line, time_bounds)
            except UnicodeDecodeError:
                raise ImportFormatError(path, line_no, "not UTF-8") from None
            except _LineError as e:
                raise ImportFormatError(path, line_no, str(e)) from None


def count_reports(path: Path, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> int:
    """Non-blank lines, without parsing: the size of the progress bar (memory bounded:
    an overlong line counts once and is refused by pass 1)."""
    count = 0
    with path.open("rb") as f:
        while raw := f.readline(max_line_bytes + 1):
            count += bool(raw.strip())
            while len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raw = f.readline(max_line_bytes + 1)
    return count


# -- pass 1: validate -------------------------------------------------------------


def _fingerprint(report: Report) -> bytes:
    return hashlib.blake2b(repr(report).encode("utf-8"), digest_size=16).digest()


def validate_file(path: Path, time_bounds: TimeBounds | None = None) -> int:
    """Pass 1: parse every line, refuse conflicting repeats; the number of reports."""
    seen: dict[tuple[str, str], tuple[int, bytes]] = {}
    count = 0
    for line_no, report in _lines(path, time_bounds):
        count += 1
        mark = _fingerprint(report)
        kind = KIND_REFRESH if isinstance(report, RefreshReport) else KIND_ACCESS
        first = seen.setdefault((kind, report.platform_event_id), (line_no, mark))
        if first[1] != mark:
            raise ImportFormatError(
                path,
                line_no,
                f"platform_event_id {report.platform_event_id!r} is already on line "
                f"{first[0]} with different content",
            )
    return count


# -- pass 2: evaluate and record -------------------------------------------------


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def import_file(
    app: GovLedger,
    path: Path,
    *,
    progress: Callable[[int], None] = lambda _n: None,
    actor: Actor | None = None,
) -> ImportSummary:
    """Validate the whole file, then evaluate and record it in batches (idempotent).

    ``progress`` receives each batch's size once it is saved. The grants are read
    once, before recording: an import creates none.
    """
    platform = actor or Actor(DEFAULT_ACTOR_ID, Role.EXCHANGE_PLATFORM, None)
    if not path.exists():
        raise LedgerError(f"{path}: no such file")
    if not path.is_file():
        raise LedgerError(f"{path}: not a regular file (the import reads it twice)")
    before = _stat(path)
    total = validate_file(path, app.time_bounds)
    if _stat(path) != before:
        raise LedgerError(f"{path} changed while it was being checked; nothing was written")
    model = SharingTerms(app).current()
    tally = _Tally(lines=total)
    batch: list[AccessReport] = []
    refreshes: list[RefreshReport] = []
    for _line_no, report in _lines(path, app.time_bounds):
        if isinstance(report, RefreshReport):
            refreshes.append(report)
            if len(refreshes) == BATCH_SIZE:
                tally.add_refreshes(app, platform, refreshes)
                progress(len(refreshes))
                refreshes = []
            continue
        batch.append(report)
        if len(batch) == BATCH_SIZE:
            tally.add(_record(app, platform, model, batch))
            progress(len(batch))
            batch = []
    if batch:
        tally.add(_record(app, platform, model, batch))
        progress(len(batch))
    if refreshes:
        tally.add_refreshes(app, platform, refreshes)
        progress(len(refreshes))
    return tally.summary()


@dataclass
class _Tally:
    lines: int
    recorded: int = 0
    already: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    unauthorized: int = 0
    in_future: int = 0
    refreshes: int = 0
    refreshes_flagged: int = 0

    def add_refreshes(self, app: GovLedger, actor: Actor, batch: list[RefreshReport]) -> None:
        """One transaction of refreshes (recorded whatever they say, flagged)."""
        result = app.record_refreshes(actor, batch)
        self.refreshes += len(result.recorded)
        self.already += len(result.already_recorded)
        self.refreshes_flagged += sum(1 for i in result.recorded if i in result.flags)

    def add(self, result: _Recorded) -> None:
        recorded, already, verdicts, in_future = result
        self.recorded += recorded
        self.already += already
        self.in_future += in_future
        for verdict in verdicts:
            self.unauthorized += not verdict.authorized
            self.reasons.update(reason.value for reason in verdict.reasons)

    def summary(self) -> ImportSummary:
        return ImportSummary(
            self.lines,
            self.recorded,
            self.already,
            self.unauthorized,
            dict(self.reasons),
            self.in_future,
            self.refreshes,
            self.refreshes_flagged,
        )


# recorded, already recorded, verdicts of the recorded, recorded though dated in the future
_Recorded = tuple[int, int, list[AccessVerdict], int]


def _record(
    app: GovLedger, actor: Actor, model: SharingReadModel, batch: list[AccessReport]
) -> _Recorded:
    """One transaction; the verdicts of the accesses it newly recorded."""
    entries = [(report, evaluate_access(report, model)) for report in batch]
    result = app.record_accesses(actor, entries)
    # Repeats within a file have equal content (pass 1 made sure), hence equal verdicts.
    verdict_of = {data_access_id(r.platform_event_id): v for r, v in entries}
    verdicts = [verdict_of[i] for i in result.recorded]
    new = set(result.recorded)
    in_future = sum(1 for i in result.in_future if i in new)
    return len(result.recorded), len(result.already_recorded), verdicts, in_future


# -- command line ----------------------------------------------------------------


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """``govledger import FILE``: prints one summary line (or JSON) on stdout."""
    if settings.create_schema:
        init_ledger(settings)
    app = open_ledger(settings, create=settings.create_schema)
    path = Path(args.file)
    if args.role != Role.EXCHANGE_PLATFORM.value:
        return _import_records(app, path, args)
    platform = Actor(args.actor_id, Role.EXCHANGE_PLATFORM, None)
    try:
        total = count_reports(path) if path.is_file() else 0
        with progress_bar(total, "import") as advance:
            summary = import_file(app, path, progress=advance, actor=platform)
    finally:
        app.close()
    if args.json:
        print(json.dumps(summary.to_json(), ensure_ascii=False))
    else:
        print(_describe(path, summary))
    return EXIT_OK


def _import_records(app: GovLedger, path: Path, args: argparse.Namespace) -> int:
    """Records of people, as the role that owns them (ops/import_records.py)."""
    try:
        actor = Actor(args.actor_id, Role(args.role), args.department)
        summary = import_records(app, path, actor)
    except DomainError as e:
        raise LedgerError(f"--role/--department: {e.detail}") from None
    finally:
        app.close()
    if args.json:
        print(json.dumps(summary.to_json(), ensure_ascii=False))
    else:
        print(
            f"{path}: {summary.lines} records read, {summary.recorded} recorded, "
            f"{summary.already_recorded} already in the ledger"
        )
    return EXIT_OK


def _describe(path: Path, s: ImportSummary) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.by_reason.items())) or "none"
    return (
        f"{path}: {s.lines} accesses read, {s.recorded} recorded, "
        f"{s.already_recorded} already in the ledger; {s.unauthorized} unauthorized "
        f"(reasons: {reasons}); {s.dated_in_future} dated in the future"
        + (
            f"; {s.refreshes_recorded} resource refreshes recorded ({s.refreshes_flagged} flagged)"
            if s.refreshes_recorded
            else ""
        )
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import`` to the ``govledger`` command line."""
    p = subparsers.add_parser(
        "import", help="record data-access reports from a JSON Lines file (docs/import-format.md)"
    )
    p.add_argument("file", help="the .jsonl file (a regular file: it is read twice)")
    p.add_argument("--actor-id", default=DEFAULT_ACTOR_ID, help="who records (the platform's id)")
    p.add_argument(
        "--role",
        default=Role.EXCHANGE_PLATFORM.value,
        choices=[role.value for role in Role],
        help="another role imports its own records (docs/import-format.md, records of people)",
    )
    p.add_argument("--department", default=None, help="the department of a department role")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_import)
