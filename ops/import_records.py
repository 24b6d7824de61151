"""``govledger import --role ROLE FILE``: bulk records of people (docs/import-format.md).

The exchange platform's reports (accesses, refreshes) are imported as the
platform (ops/importer.py). The issue-14 records of people — PIAs, core-data
approvals, annual reports, processors, project progress and evaluation
(docs/facts.md §7), and the filings, reviews, acceptances, fund decisions,
CIOs and moves to the cloud those rules judge — are recorded by the role that
owns each, so such a file is imported as that role (and department). All or nothing, in one
transaction: pass 1 decodes every line (``ledger.domain.fact_intake``, the
API's decoder); pass 2 runs every command with its saves deferred (roles,
departments, references, business time checked as over the API) and only
then saves everything at once. A line may refer only to records in the
ledger before the import. Re-importing a file records nothing: a record with
a natural key is the same record; a progress report's key is derived from its
line; a withdrawal, approval, review, acceptance or end already on record is skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.application import GovLedger
from ledger.domain import Actor, DomainError, bounds
from ledger.domain.bounds import BoundsError
from ledger.domain.declarations import DeclarationKind
from ledger.domain.errors import ErrorCode
from ledger.domain.fact_intake import KINDS, read_fields
from ledger.errors import LedgerError

MAX_RECORD_LINES = 10_000  # one transaction: records of people are few
_BOM = "\ufeff"

# kind -> (the line's target field and its converter, or None; the command)
Command = Callable[..., Any]
_Target = tuple[str, Callable[[object, str], Any]] | None


def _declaring(kind: str) -> Callable[[GovLedger], Command]:
    """A declared record's command (docs/facts.md §11): ``declare`` for that kind."""
    return lambda app: partial(app.declare, kind=kind)


_COMMANDS: dict[str, tuple[_Target, Callable[[GovLedger], Command]]] = {
    "impact_assessment": (None, lambda app: app.record_impact_assessment),
    "core_data_approval": (None, lambda app: app.approve_core_data_sharing),
    "core_data_withdrawal": (("approval_id", bounds.uuid), lambda a: a.withdraw_core_data_approval),
    "department_annual_report": (None, lambda app: app.submit_department_report),
    "zone_annual_report": (None, lambda app: app.submit_zone_report),
    "zone_report_approval": (
        ("year", lambda v, f: bounds.count(v, f, maximum=2100)),
        lambda app: app.approve_zone_report,
    ),
    "contracted_processor": (None, lambda app: app.entrust_processor),
    "processor_end": (("processor_id", bounds.uuid), lambda app: app.end_processor),
    "project_progress": (("filing_id", bounds.uuid), lambda app: app.report_project_progress),
    "project_evaluation": (("filing_id", bounds.uuid), lambda app: app.evaluate_project),
    "filed_amounts_revision": (("filing_id", bounds.uuid), lambda app: app.revise_filed_amounts),
    "quality_objection": (None, lambda app: app.raise_quality_objection),
    "quality_objection_resolution": (
        ("objection_id", bounds.uuid),
        lambda app: app.resolve_quality_objection,
    ),
    "rectification_notice": (None, lambda app: app.notify_rectification),
    "rectification_report": (
        ("rectification_id", bounds.uuid),
        lambda app: app.report_rectification,
    ),
    "rectification_verification": (
        ("rectification_id", bounds.uuid),
        lambda app: app.verify_rectification,
    ),
    "audit_suggestion": (None, lambda app: app.issue_audit_suggestion),
    "audit_suggestion_response": (
        ("suggestion_id", bounds.uuid),
        lambda app: app.respond_audit_suggestion,
    ),
    "audit_suggestion_confirmation": (
        ("suggestion_id", bounds.uuid),
        lambda app: app.confirm_audit_suggestion,
    ),
    "security_lead": (None, lambda app: app.appoint_security_lead),
    "resource_storage": (None, lambda app: app.declare_resource_storage),
    "system_measures": (("system_id", bounds.uuid), lambda app: app.declare_system_measures),
    **{kind.value: (None, _declaring(kind.value)) for kind in DeclarationKind},
    "connection_requirement": (
        ("system_id", bounds.uuid),
        lambda app: app.set_connection_requirement,
    ),
    "system_connection": (("system_id", bounds.uuid), lambda app: app.connect_system),
    "zombie_mark": (("system_id", bounds.uuid), lambda app: app.mark_system_zombie),
    "department_cio": (("department", bounds.code), lambda app: app.name_cio),
    "system_on_cloud": (("system_id", bounds.uuid), lambda app: app.move_system_on_cloud),
    "project_filing": (
        None,
        lambda app: partial(_with_lists, app.file_project, ("resource_codes", "system_ids")),
    ),
    "project_review": (("filing_id", bounds.uuid), lambda app: app.review_project),
    "project_acceptance": (("filing_id", bounds.uuid), lambda app: app.accept_project),
    "fund_decision": (None, lambda app: app.decide_funds),
}
assert set(_COMMANDS) == set(KINDS)
RECORD_KINDS = frozenset(_COMMANDS)
# A line's ``kind`` is the record's kind, so a body field named ``kind`` has another name
# on a line: line name -> the body's (the API's) name.
_LINE_NAMES: dict[str, dict[str, str]] = {"fund_decision": {"fund_kind": "kind"}}
# A change that can happen once: on a re-import the first on record is the fact.
_ONCE: dict[str, frozenset[ErrorCode]] = {
    **dict.fromkeys(
        (
            "core_data_withdrawal",
            "zone_report_approval",
            "processor_end",
            "quality_objection_resolution",
        ),
        frozenset({ErrorCode.RECORD_EXISTS}),
    ),
    "project_review": frozenset({ErrorCode.FILING_ALREADY_REVIEWED}),
    "project_acceptance": frozenset({ErrorCode.FILING_ALREADY_ACCEPTED}),
}
# No natural key: the record's id is derived from the line (an idempotency key).
_KEYED = frozenset({"project_progress", "quality_objection", "project_filing", "fund_decision"})


def _with_lists(command: Command, names: tuple[str, ...], *args: Any, **fields: Any) -> Any:
    """``command`` with the list fields a line may leave out given as empty (as the API)."""
    return command(*args, **({name: () for name in names} | fields))


@dataclass(frozen=True)
class _Line:
    line_no: int
    kind: str
    target: Any
    fields: dict[str, Any]
    key: str  # a digest of the line's content: the progress report's idempotency key


@dataclass(frozen=True)
class RecordsSummary:
    lines: int
    recorded: int
    already_recorded: int

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
        }


def _decode(obj: object) -> tuple[str, Any, dict[str, Any]]:
    if not isinstance(obj, dict):
        raise BoundsError("line", "expected a JSON object")
    kind = obj.get("kind")
    if kind not in _COMMANDS:
        raise BoundsError("kind", f"{str(kind)[:60]!r} is not one of {', '.join(sorted(KINDS))}")
    target_spec, _ = _COMMANDS[kind]
    fields = {k: v for k, v in obj.items() if k != "kind"}
    target = None
    if target_spec is not None:
        name, convert = target_spec
        if name not in fields:
            raise BoundsError(name, "missing")
        target = convert(fields.pop(name), name)
    renamed = _LINE_NAMES.get(kind, {})
    fields = {renamed.get(name, name): value for name, value in fields.items()}
    required, optional_fields = KINDS[kind]
    try:
        return kind, target, read_fields(fields, kind, required, optional_fields)
    except BoundsError as e:
        line_names = {body: line for line, body in renamed.items()}
        if e.field in line_names:
            raise BoundsError(line_names[e.field], e.problem) from None
        raise


def read_records(path: Path) -> list[_Line]:
    """Pass 1: every line decoded; the first bad one raises naming its line."""
    lines: list[_Line] = []
    seen: set[str] = set()
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise LedgerError(f"{path}:{line_no}: not UTF-8") from None
            text = text.removeprefix(_BOM) if line_no == 1 else text
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):  # also a number of too many digits
                raise LedgerError(f"{path}:{line_no}: not JSON") from None
            try:
                kind, target, fields = _decode(obj)
            except DomainError as e:
                raise LedgerError(f"{path}:{line_no}: {e.detail}") from None
            key = hashlib.sha256(text.strip().encode()).hexdigest()
            if key in seen:
                continue  # an exact repeat: one record
            seen.add(key)
            lines.append(_Line(line_no, kind, target, fields, key))
            if len(lines) > MAX_RECORD_LINES:
                raise LedgerError(f"{path}: more than {MAX_RECORD_LINES} records in one file")
    return lines


def import_records(app: GovLedger, path: Path, actor: Actor) -> RecordsSummary:
    """Both passes; nothing is written unless every line's command succeeds."""
    if not path.is_file():
        raise LedgerError(f"{path}: not a regular file")
    lines = read_records(path)
    recorded = already = 0
    with app.deferred_saves() as pending:
        for line in lines:
            before = len(pending)
            try:
                _run(app, actor, line)
            except DomainError as e:
                if e.code in _ONCE.get(line.kind, frozenset()):
                    already += 1  # withdrawn, reviewed, ended already: the first is the fact
                    continue
                raise LedgerError(f"{path}:{line.line_no}: {e.code.value}: {e.detail}") from None
            # a system change that was so already is saved with no new event: not recorded
            if any(getattr(a, "pending_events", True) for a in pending[before:]):
                recorded += 1
            else:
                already += 1
    try:
        if pending:
            app.save(*_merge(pending))
    except IntegrityError:
        raise LedgerError(
            f"{path}: two lines record the same record with different content, or another "
            "writer recorded one meanwhile; nothing was written"
        ) from None
    return RecordsSummary(len(lines), recorded, already)


def _run(app: GovLedger, actor: Actor, line: _Line) -> None:
    _, command = _COMMANDS[line.kind]
    call = command(app)
    key = f"import-{line.key[:40]}"
    if line.kind == "project_progress":
        call(actor, line.target, idempotency_key=key, **line.fields)
    elif line.kind in _KEYED:
        call(actor, idempotency_key=key, **line.fields)
    elif line.target is not None:
        call(actor, line.target, **line.fields)
    else:
        call(actor, **dict(line.fields))


def _merge(pending: list[Any]) -> list[Any]:
    """Each aggregate once (a record changed twice in a file is one aggregate, in order)."""
    unique: dict[Any, Any] = {}
    for aggregate in pending:
        unique[id(aggregate)] = aggregate
    return list(unique.values())
