"""Facts-only snapshots of the zone fold: a fresh reader folds only the facts after one.

docs/projections.md §"Facts snapshots". A reader answers the zone at a moment by folding the
non-access facts (the ``facts`` view) up to it (projections/query.py). A process's first
request folded every one of them, and every console read of personal data adds one. The
projection worker (``Projector.run``; reading never writes) therefore stores that fold's
state at a few positions of the ``facts`` view in ``views_fact_snapshots``:

* ``count``: after every ``EVERY``-th fact; only the newest one is kept, so a reader at the
  head folds fewer than ``EVERY`` facts;
* ``month``: just before the first fact that takes the running maximum of the facts'
  effective times into a later CST month (kept for good). Every fact up to such a position
  happened before that month began, so it is also the start of an as-of answer for any date
  from then on: the facts effective by that date are these, in the same order, then those
  after it that pass the date filter.

A snapshot is used only by the same fold: each row carries ``fingerprint`` (``FORMAT``,
the fold's thresholds and the source of the fold's modules). A row of another fingerprint is
never read; the worker's next pass deletes it and writes the snapshots again. Each row also
keeps the ledger's hash at its position: a snapshot of another ledger is never used. What to
keep is a function of the ledger prefix, so a rebuild writes the same rows as the worker.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from ledger.store.base import RowReader
from projections.facts import CST, Fact
from projections.schema import code_version
from projections.store import ViewStore
from projections.zone import Rules, State, ZoneFold, load_state

# The layout of a snapshot row and its state; a change bumps it (older rows are rebuilt).
# 2: the state's JSON compressed with zlib (about 8x smaller: the 1,000,000-event demo's
# newest is 1.7 MB of JSON, 0.2 MB stored; inflating costs a few ms).
FORMAT = 2
EVERY = 256  # facts between two ``count`` snapshots: what a reader at the head folds at most
NAME = "fact_snapshots"
COLUMNS = ("position", "kind", "facts", "max_time", "fingerprint", "hash", "state")
# The modules the fold is made of: a change to any of them is another fold.
_FOLD_SOURCES = ("projections", "projections/rules")


@cache
def _source_digest() -> str:
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(code_version().encode())  # the release, if no source is readable
    for folder in _FOLD_SOURCES:
        for path in sorted((root / folder).glob("*.py")):
            digest.update(f"{folder}/{path.name}\0".encode())
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"\0unreadable\0")
    return digest.hexdigest()


def fingerprint(rules: Rules) -> str:
    """Which fold a snapshot is of: its format, thresholds and the fold's code."""
    return hashlib.sha256(f"{FORMAT}\0{rules!r}\0{_source_digest()}".encode()).hexdigest()[:32]


def fold_rows(fold: ZoneFold, rows: Iterable[tuple[Any, ...]]) -> ZoneFold:
    """Fold ``facts`` view rows (position, topic, entity, state) in position order, emitting
    nothing: how every reader and the worker's snapshots fold the non-access facts."""
    fold.emit = False
    for position, topic, entity, raw in rows:
        fold.apply(Fact(int(position), entity, topic, orjson.loads(raw), b"", b""))
    return fold


def load(
    store: ViewStore,
    rules: Rules,
    position: int,
    reference: float | None,
    hash_at: Callable[[int], bytes],
) -> tuple[int, State | None]:
    """The newest usable snapshot at or before ``position`` (as of ``reference``, an epoch:
    one whose facts were all effective by then): (its position, its state); (0, None) if
    none, and then the fold starts from the first fact."""
    if not store.has_table(NAME):
        return 0, None  # views of a worker from before snapshots
    sql = (
        f"SELECT position, hash, state FROM {store.table(NAME)} "
        "WHERE fingerprint = ? AND position <= ?"
    )
    params: list[Any] = [fingerprint(rules), position]
    if reference is not None:
        sql += " AND (max_time IS NULL OR max_time <= ?)"
        params.append(reference)
    rows = store.query(f"{sql} ORDER BY position DESC LIMIT 1", params)
    if not rows or hash_at(int(rows[0][0])) != bytes(rows[0][1]):
        return 0, None
    return int(rows[0][0]), _unpack(rows[0][2])


def _month(epoch: float) -> tuple[int, int]:
    moment = datetime.fromtimestamp(epoch, CST)
    return moment.year, moment.month


def plan(
    rows: Iterable[tuple[Any, Any]], facts: int, max_time: float | None
) -> dict[int, tuple[str, int, float | None]]:
    """Where snapshots fall among the facts after the newest one: position -> (kind, facts
    folded, max effective time), from (position, time) rows in position order, starting from
    ``facts`` folded and their ``max_time``."""
    planned: dict[int, tuple[str, int, float | None]] = {}
    for position, time in rows:
        if time is not None and max_time is not None and _month(time) > _month(max_time):
            planned[int(position) - 1] = ("month", facts, max_time)
        facts += 1
        if time is not None:
            max_time = time if max_time is None else max(max_time, float(time))
        if facts % EVERY == 0:
            planned.setdefault(int(position), ("count", facts, max_time))
    return planned


def write(store: ViewStore, reader: RowReader, rules: Rules, upto: int) -> int:
    """The worker's part: write the snapshots that fall in the facts up to ``upto`` (the
    views' position), drop those of another fold and all but the newest ``count`` one.
    Returns how many were written."""
    if not store.has_table(NAME):
        return 0
    table, facts_table, mark = store.table(NAME), store.table("facts"), fingerprint(rules)
    newest_sql = (
        f"SELECT position, facts, max_time FROM {table} WHERE fingerprint = ? "
        "ORDER BY position DESC LIMIT 1"
    )
    newest = store.query(newest_sql, (mark,))
    stale = bool(store.query(f"SELECT 1 FROM {table} WHERE fingerprint <> ? LIMIT 1", (mark,)))
    start, facts, max_time = (
        (int(newest[0][0]), int(newest[0][1]), newest[0][2]) if newest else (0, 0, None)
    )
    planned = plan(
        store.query(
            f"SELECT position, time FROM {facts_table} WHERE position > ? AND position <= ? "
            "ORDER BY position",
            (start, upto),
        ),
        facts,
        max_time,
    )
    if not planned and not stale:
        return 0
    rows: list[tuple[Any, ...]] = []
    if planned:
        state = _state_at(store, start, mark) if newest else None
        fold = ZoneFold(rules, state)
        done = start
        for position in sorted(planned):
            fold_rows(
                fold,
                store.query(
                    f"SELECT position, topic, entity, state FROM {facts_table} "
                    "WHERE position > ? AND position <= ? ORDER BY position",
                    (done, position),
                ),
            )
            kind, count, latest = planned[position]
            row = reader.row_at(position)
            if row is None:
                break  # the ledger is not the views' (the worker refuses it next pass)
            packed = zlib.compress(fold.snapshot(), 6)
            rows.append((position, kind, count, latest, mark, bytes(row[6]), packed))
            done = position
    with store.transaction():
        if store.query(newest_sql, (mark,)) != newest:
            return 0  # another worker wrote them meanwhile
        store.query(f"DELETE FROM {table} WHERE fingerprint <> ?", (mark,))
        if rows:  # a count snapshot that turns out to end a month too is kept as that
            store.query(f"DELETE FROM {table} WHERE position = ?", (rows[0][0],))
        store.insert_many(NAME, COLUMNS, rows)
        store.query(
            f"DELETE FROM {table} WHERE kind = 'count' AND position < "
            f"(SELECT MAX(position) FROM {table} WHERE kind = 'count')"
        )
    return len(rows)


def _state_at(store: ViewStore, position: int, mark: str) -> State:
    rows = store.query(
        f"SELECT state FROM {store.table(NAME)} WHERE position = ? AND fingerprint = ?",
        (position, mark),
    )
    return _unpack(rows[0][0])


def _unpack(blob: Any) -> State:
    return load_state(zlib.decompress(bytes(blob)))
