"""Facts set aside: a ledger fact the read models cannot use is listed, not folded.

The entrances refuse hostile values (ledger/domain/bounds.py), but a ledger
written before that contract, or by someone with write access to the database,
can hold anything: a date whose conversion overflows, a count beyond 64 bits,
text an index cannot hold, a number where text belongs, a field missing, bytes
that are not JSON. One such fact must not stop ``projections run`` for good
(issue 13 item 3): the runner folds each batch, and when one row fails, that
row is *set aside* — its position, topic and reason recorded here, a finding
``L3`` raised — the batch's fold is thrown away and folded again from the last
snapshot without it, and the rest goes on (docs/projections.md "Facts set
aside").

Nothing is clamped or repaired silently: a value is either what the ledger
holds, or the whole fact is set aside and says why. The ledger keeps the row;
``govledger verify`` judges its integrity, this module only whether the views
can hold it.

This module owns the table, the checks of values the views' storage cannot
hold (the fold's own errors are caught by the runner), and the reading.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from types import CodeType
from typing import Annotated, Any, NamedTuple

import msgspec
import orjson
import psycopg
import psycopg.errors

from projections.facts import (
    CST,
    AccessState,
    _Actor,
    _ActorData,
    _Verdict,
    _VerdictData,
    stable_id,
)
from projections.store import ViewStore

NAME = "set_aside"
# The table the runner creates and drops with the other views (projections.runner._TABLES).
TABLES = {NAME: "position {pk}, topic TEXT NOT NULL, reason TEXT NOT NULL"}
COLUMNS = ("position", "topic", "reason")

RULE = "L3"  # docs/projections.md "Facts set aside"; L1, L2 are the ledger's own checks
SEVERITY = "high"

# Errors one row can raise while it is decoded and folded: the decoders' own, and the
# value and range errors of Python's datetime, int and dict handling of odd values.
FOLD_ERRORS: tuple[type[BaseException], ...] = (
    msgspec.DecodeError,  # includes msgspec.ValidationError
    orjson.JSONDecodeError,
    ValueError,  # includes UnicodeDecodeError
    OverflowError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
)

# What the views' database raises for a value it cannot store (never for a lost
# connection: that stops the run, and the next run goes on).
STORE_ERRORS: tuple[type[BaseException], ...] = (
    OverflowError,  # sqlite3: an int beyond 64 bits
    sqlite3.DataError,  # sqlite3: a string or blob too big
    psycopg.DataError,  # PostgreSQL class 22: out of range, untranslatable character, ...
    psycopg.errors.ProgramLimitExceeded,  # PostgreSQL 54000: an index row too large
)

# Any time the views keep must leave a year of headroom inside datetime's range, so
# that every later conversion (CST, UTC, the day before or after) stays in range.
FIRST_EPOCH = datetime(2, 1, 1, tzinfo=UTC).timestamp()
LAST_EPOCH = datetime(9998, 12, 31, tzinfo=UTC).timestamp()
# PostgreSQL's B-tree rows are at most ~2,700 bytes (a third of a page); the views index
# some text columns (events: entity, actor, department, resource). Both backends refuse
# the same so that they show the same views.
MAX_INDEXED_BYTES = 2_048
MAX_COUNT = 10**12  # rows of one access: the input contract's bound, sums stay in BIGINT

# events columns (projections.schema.EVENT_COLUMNS) that are indexed text
_INDEXED = {2: "entity", 3: "actor_id", 5: "department", 10: "resource"}
_TEXT = {1: "topic", 4: "role", 8: "day", 9: "provider", 11: "purpose", 12: "reasons",
         14: "system"}  # fmt: skip
_NUMBER = {6: "time", 7: "epoch"}


_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]


class _StrictActorData(_ActorData, gc=False):
    actor_id: str
    role: str


class _StrictActor(_Actor, gc=False):
    data: _StrictActorData = msgspec.field(name="_data_")


class _StrictVerdictData(_VerdictData, gc=False):
    reasons: list[str]


class _StrictVerdict(_Verdict, gc=False):
    data: _StrictVerdictData = msgspec.field(name="_data_")


class StrictAccessState(AccessState, gc=False):
    """``AccessState`` with the types the views store: checked by msgspec while decoding
    (no cost to speak of), so a number where text belongs, a count beyond the contract's
    bound or 64 bits, or a missing field fails on its own row, before the fold."""

    actor: _StrictActor
    platform_event_id: str
    accessor_id: str
    department: str
    system: str | None
    resource_code: str
    items: list[str]
    row_count: _Count
    purpose: str | None
    verdict: _StrictVerdict


decode_access = msgspec.json.Decoder(StrictAccessState).decode


class UnusableFactError(Exception):
    """One row the views cannot use: the runner sets it aside and folds the batch again."""

    def __init__(self, position: int, topic: str, reason: str) -> None:
        super().__init__(f"position {position} ({topic}): {reason}")
        self.position = position
        self.topic = topic
        self.reason = reason


class SetAside(NamedTuple):
    position: int
    topic: str
    reason: str


def row_in_frame(error: BaseException, code: CodeType) -> Any:
    """The ``row`` local of the innermost frame running ``code`` in ``error``'s traceback
    (the runner's loop over a batch): which row was being folded when it failed."""
    found = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            found = tb.tb_frame.f_locals.get("row")
        tb = tb.tb_next
    return found


def reason_of(error: BaseException) -> str:
    """One line naming what failed (the exception's kind and message, bounded)."""
    text = " ".join(str(error).split()) or "no detail"
    line = f"{type(error).__name__}: {text}"
    return line if len(line) <= 300 else line[:297] + "..."


def epoch_unusable(epoch: float) -> str | None:
    if FIRST_EPOCH <= epoch <= LAST_EPOCH:
        return None
    return f"time out of the views' range (epoch {epoch!r} outside years 2..9998)"


def count_unusable(value: Any) -> str | None:
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return None
    return f"row_count {_show(value)} is not a count in 0..{MAX_COUNT}"


def event_row_unusable(row: tuple[Any, ...]) -> str | None:
    """Why an ``events`` row cannot be stored as it is, or None.

    Accesses are checked field by field in the runner's loop (``access_unusable``);
    this is for the few other facts, whose row is built from whatever JSON they hold.
    """
    for index, name in _INDEXED.items():
        found = _text_unusable(row[index], name, indexed=True)
        if found:
            return found
    for index, name in _TEXT.items():
        found = _text_unusable(row[index], name, indexed=False)
        if found:
            return found
    for index, name in _NUMBER.items():
        value = row[index]
        if value is not None:
            if type(value) not in (int, float):
                return f"{name} {_show(value)} is not a number"
            found = epoch_unusable(value)
            if found:
                return found
    if row[13] is not None:
        return count_unusable(row[13])
    return None


# Accesses whose indexed text is this long in all (characters) are checked byte by byte.
SHORT_TEXT = MAX_INDEXED_BYTES // 3


def check_access(position: int, a: AccessState, epoch: float) -> None:
    """Raise ``UnusableFactError`` if the access cannot be kept (the loop calls this only when a
    cheap test fails: time out of range, or long indexed text)."""
    reason = access_unusable(a, epoch)
    if reason is not None:
        raise UnusableFactError(position, "DataAccess.Recorded", reason)


def access_unusable(a: AccessState, epoch: float) -> str | None:
    """Why a decoded access (``decode_access``: types and count checked) cannot be kept by
    the views, or None: its time out of range, or indexed text too long."""
    return (
        epoch_unusable(epoch)
        or _text_unusable(a.accessor_id, "accessor_id", indexed=True)
        or _text_unusable(a.department, "department", indexed=True)
        or _text_unusable(a.resource_code, "resource_code", indexed=True)
    )


def _text_unusable(value: Any, name: str, *, indexed: bool) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        return f"{name} {_show(value)} is not text"
    if indexed and len(value) * 3 > MAX_INDEXED_BYTES:
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > MAX_INDEXED_BYTES:
            return f"{name} is {size} bytes, more than an index holds ({MAX_INDEXED_BYTES})"
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------- the table


def rows_of(found: list[SetAside]) -> list[tuple[int, str, str]]:
    return [(s.position, s.topic, s.reason) for s in found]


def finding_rows(found: list[SetAside], clock_iso: str | None) -> list[tuple[Any, ...]]:
    """The ``L3`` findings of facts set aside (findings table columns): each judged at
    its fact's position and never withdrawn."""
    from projections.zone import positions_text  # noqa: PLC0415 (zone imports store)

    at = clock_iso or datetime.fromtimestamp(0, CST).isoformat()
    rows = []
    for s in found:
        detail = f"{s.topic} at position {s.position} set aside: {s.reason}"
        subject = str(s.position)
        rows.append((stable_id(RULE, subject), RULE, SEVERITY, subject, "fact", None,
                     positions_text([s.position]), s.position, at, detail,
                     s.position, None))  # fmt: skip
    return rows


def positions(store: ViewStore) -> set[int]:
    """Every position set aside so far (replays skip them)."""
    if not store.has_table(NAME):
        return set()
    return {int(r[0]) for r in store.query(f"SELECT position FROM {store.table(NAME)}")}


def read(store: ViewStore, until: int | None = None) -> list[SetAside]:
    """The facts set aside at or before ``until`` (all if None), by position."""
    if not store.has_table(NAME):
        return []
    sql = f"SELECT position, topic, reason FROM {store.table(NAME)}"
    params: tuple[Any, ...] = ()
    if until is not None:
        sql += " WHERE position <= ?"
        params = (until,)
    rows = store.query(sql + " ORDER BY position", params)
    return [SetAside(int(p), str(t), str(r)) for p, t, r in rows]


def count(store: ViewStore) -> int:
    if not store.has_table(NAME):
        return 0
    return int(store.query(f"SELECT COUNT(*) FROM {store.table(NAME)}")[0][0])


@dataclass
class Pending:
    """Facts set aside by this projector and not yet committed (position -> entry)."""

    found: dict[int, SetAside]

    def between(self, after: int, until: int) -> list[SetAside]:
        return [s for p, s in sorted(self.found.items()) if after < p <= until]

    def drop_until(self, until: int) -> None:
        for p in [p for p in self.found if p <= until]:
            del self.found[p]
