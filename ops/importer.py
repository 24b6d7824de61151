"""``govledger import FILE.jsonl``: bulk ingest of the exchange platform's access reports.

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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import AccessReport, AccessVerdict, Actor, DomainError, Role
from ledger.domain.access import check_report
from ledger.domain.ids import data_access_id
from ledger.errors import LedgerError
from ledger.store.connect import application_env, init_ledger
from ops.terminal import EXIT_OK, progress_bar
from projections.sharing_terms import SharingTerms
from security.access import SharingReadModel, evaluate_access

BATCH_SIZE = 1_000
DEFAULT_ACTOR_ID = "exchange-platform"

REQUIRED_TEXT = ("platform_event_id", "accessor_id", "department", "resource_code")
OPTIONAL_TEXT = ("system", "purpose", "client_address")
KNOWN_FIELDS = frozenset(
    (*REQUIRED_TEXT, *OPTIONAL_TEXT, "items", "row_count", "grant_id", "accessed_at")
)


class ImportFormatError(LedgerError):
    """A malformed line: the message is one line, ``FILE:LINE: problem``."""

    def __init__(self, path: Path, line_no: int, problem: str) -> None:
        super().__init__(f"{path}:{line_no}: {problem}")
        self.line_no = line_no


class _LineError(ValueError):
    """A problem with one line's content; :func:`_lines` adds where."""


@dataclass(frozen=True)
class ImportSummary:
    """What an import did. ``already_recorded`` includes exact repeats within the file."""

    lines: int
    recorded: int
    already_recorded: int
    unauthorized: int
    by_reason: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "unauthorized": self.unauthorized,
            "by_reason": dict(sorted(self.by_reason.items())),
        }


# -- parsing ---------------------------------------------------------------------


def _text(obj: dict[str, Any], name: str, *, required: bool) -> str | None:
    if name not in obj or obj[name] is None:
        if required:
            raise _LineError(f"{name}: missing")
        return None
    value = obj[name]
    if not isinstance(value, str):
        raise _LineError(f"{name}: expected a string, got {type(value).__name__}")
    if required and not value.strip():
        raise _LineError(f"{name}: blank")
    return value


def _items(obj: dict[str, Any]) -> tuple[str, ...]:
    value = obj.get("items")
    if value is None:
        raise _LineError("items: missing")
    if not isinstance(value, list) or not value:
        raise _LineError("items: expected a non-empty array of strings")
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise _LineError("items: every item must be a non-blank string")
    if len(set(value)) != len(value):
        raise _LineError("items: repeated item")
    return tuple(value)


def _row_count(obj: dict[str, Any]) -> int:
    value = obj.get("row_count")
    if value is None:
        raise _LineError("row_count: missing")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _LineError(f"row_count: expected a whole number >= 0, got {value!r}")
    return value


def _grant_id(obj: dict[str, Any]) -> UUID | None:
    value = obj.get("grant_id")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _LineError(f"grant_id: expected a UUID string, got {type(value).__name__}")
    try:
        return UUID(value)
    except ValueError:
        raise _LineError(f"grant_id: {value[:60]!r} is not a UUID") from None


def _accessed_at(obj: dict[str, Any]) -> datetime:
    value = obj.get("accessed_at")
    if value is None:
        raise _LineError("accessed_at: missing")
    if not isinstance(value, str):
        raise _LineError(f"accessed_at: expected a string, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _LineError(f"accessed_at: {value[:60]!r} is not an RFC 3339 date-time") from None
    if moment.utcoffset() is None:
        raise _LineError(f"accessed_at: {value[:60]!r} has no UTC offset")
    return moment


def parse_line(text: str) -> AccessReport:
    """One line as an :class:`AccessReport`; :class:`_LineError` says what is wrong."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise _LineError(f"not JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(obj, dict):
        raise _LineError(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - KNOWN_FIELDS)
    if unknown:
        raise _LineError(f"unknown field(s): {', '.join(unknown)}")
    report = AccessReport(
        platform_event_id=str(_text(obj, "platform_event_id", required=True)),
        accessor_id=str(_text(obj, "accessor_id", required=True)),
        department=str(_text(obj, "department", required=True)),
        system=_text(obj, "system", required=False),
        resource_code=str(_text(obj, "resource_code", required=True)),
        items=_items(obj),
        row_count=_row_count(obj),
        purpose=_text(obj, "purpose", required=False),
        grant_id=_grant_id(obj),
        client_address=_text(obj, "client_address", required=False),
        accessed_at=_accessed_at(obj),
    )
    try:
        check_report(report)  # the ledger's own test: pass 2 can then never be refused
    except DomainError as e:
        raise _LineError(e.detail) from None
    return report


def _lines(path: Path) -> Iterator[tuple[int, AccessReport]]:
    """(line number, report) for each non-blank line; the first bad line raises.

    Read as bytes and decoded per line, so a bad UTF-8 sequence is pinned to its line.
    """
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
                if line.strip():
                    yield line_no, parse_line(line)
            except UnicodeDecodeError:
                raise ImportFormatError(path, line_no, "not UTF-8") from None
            except _LineError as e:
                raise ImportFormatError(path, line_no, str(e)) from None


def count_reports(path: Path) -> int:
    """Non-blank lines, without parsing: the size of the progress bar."""
    with path.open("rb") as f:
        return sum(1 for raw in f if raw.strip())


# -- pass 1: validate -------------------------------------------------------------


def _fingerprint(report: AccessReport) -> bytes:
    return hashlib.blake2b(repr(report).encode("utf-8"), digest_size=16).digest()


def validate_file(path: Path) -> int:
    """Pass 1: parse every line, refuse conflicting repeats; the number of reports."""
    seen: dict[str, tuple[int, bytes]] = {}
    count = 0
    for line_no, report in _lines(path):
        count += 1
        mark = _fingerprint(report)
        first = seen.setdefault(report.platform_event_id, (line_no, mark))
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
    if not path.is_file():
        raise LedgerError(f"{path}: not a regular file (the import reads it twice)")
    before = _stat(path)
    total = validate_file(path)
    if _stat(path) != before:
        raise LedgerError(f"{path} changed while it was being checked; nothing was written")
    model = SharingTerms(app).current()
    tally = _Tally(lines=total)
    batch: list[AccessReport] = []
    for _line_no, report in _lines(path):
        batch.append(report)
        if len(batch) == BATCH_SIZE:
            tally.add(_record(app, platform, model, batch))
            progress(len(batch))
            batch = []
    if batch:
        tally.add(_record(app, platform, model, batch))
        progress(len(batch))
    return tally.summary()


@dataclass
class _Tally:
    lines: int
    recorded: int = 0
    already: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    unauthorized: int = 0

    def add(self, result: tuple[int, int, list[AccessVerdict]]) -> None:
        recorded, already, verdicts = result
        self.recorded += recorded
        self.already += already
        for verdict in verdicts:
            self.unauthorized += not verdict.authorized
            self.reasons.update(reason.value for reason in verdict.reasons)

    def summary(self) -> ImportSummary:
        return ImportSummary(
            self.lines, self.recorded, self.already, self.unauthorized, dict(self.reasons)
        )


def _record(
    app: GovLedger, actor: Actor, model: SharingReadModel, batch: list[AccessReport]
) -> tuple[int, int, list[AccessVerdict]]:
    """One transaction; the verdicts of the accesses it newly recorded."""
    entries = [(report, evaluate_access(report, model)) for report in batch]
    result = app.record_accesses(actor, entries)
    # Repeats within a file have equal content (pass 1 made sure), hence equal verdicts.
    verdict_of = {data_access_id(r.platform_event_id): v for r, v in entries}
    verdicts = [verdict_of[i] for i in result.recorded]
    return len(result.recorded), len(result.already_recorded), verdicts


# -- command line ----------------------------------------------------------------


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """``govledger import FILE``: prints one summary line (or JSON) on stdout."""
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    path = Path(args.file)
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


def _describe(path: Path, s: ImportSummary) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.by_reason.items())) or "none"
    return (
        f"{path}: {s.lines} accesses read, {s.recorded} recorded, "
        f"{s.already_recorded} already in the ledger; {s.unauthorized} unauthorized "
        f"(reasons: {reasons})"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import`` to the ``govledger`` command line."""
    p = subparsers.add_parser(
        "import", help="record data-access reports from a JSON Lines file (docs/import-format.md)"
    )
    p.add_argument("file", help="the .jsonl file (a regular file: it is read twice)")
    p.add_argument("--actor-id", default=DEFAULT_ACTOR_ID, help="the exchange platform's id")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_import)
