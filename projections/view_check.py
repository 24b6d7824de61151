"""Are the served views the ledger's? Checked before a report is issued (docs/reports.md
§Issued from checked views).

``govledger verify`` covers the ledger, not the read models: whoever can write the views'
database can delete or alter a row of ``views_findings`` and the next report would drop
or change it, still citing its ledger position, and issuing would anchor it in the
ledger. So before any issue path records an issuance (``report … --issue``,
``POST /reports/{kind}/issue``, the worker's schedule), :func:`check_issue` folds the
ledger up to the report's position into a private views store (a temporary SQLite file,
whatever the backend: the runner's own fold, ``Projector.run(until=…)``, never a second
one) and compares

1. each view table's rows as they stood at that position, served against fresh
   (:data:`AT_POSITION` says how each table is read at a position), and names the first
   table and row that differ;
2. the report built from the fresh views with the one about to be issued (generation time
   and checkpoint aside): what the rows cannot show (a forged facts snapshot, a process's
   memo of folds) still shows there.

A mismatch raises :class:`ViewsMismatchError`; nothing is recorded. The cost is a fold of
the ledger up to the position: proportional to the ledger (docs/reports.md gives the
figures), paid per issuance, not per read.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.store.connect import open_reader
from projections.query import Views, forget_folds
from projections.reports import Report, build_from
from projections.runner import Progress, Projector, tracked_position
from projections.schema import BLOCK, TABLES
from projections.store import PREFIX, ViewStore
from projections.zone import load_state

REBUILD_HINT = (
    "not issued; rebuild the views from the ledger (`govledger projections rebuild`, "
    "docs/operations.md §Views that differ from the ledger) and issue again"
)


@dataclass(frozen=True)
class AtPosition:
    """How a table is read as it stood at a position: a filter (one ``?``, the position or,
    ``by_block``, the number of blocks complete there) and the columns naming a row."""

    where: str
    key: tuple[str, ...]
    by_block: bool = False


_POSITION = AtPosition("position <= ?", ("position",))
AT_POSITION: dict[str, AtPosition] = {
    "events": _POSITION,
    "facts": _POSITION,
    "reviews": _POSITION,
    "snapshots": _POSITION,
    "set_aside": _POSITION,
    "clock": AtPosition("position <= ?", ("day",)),
    "anomalies": AtPosition("position <= ?", ("anomaly_id",)),
    # Versions judged by then; one withdrawn later still stood at the position.
    "findings": AtPosition("judged_at <= ?", ("finding_id", "judged_at")),
    "access_blocks": AtPosition("block < ?", ("block", "day", "dim", "key"), by_block=True),
    "access_totals": AtPosition(
        "block < ?",
        ("block", "year", "department", "resource", "provider", "purpose", "flagged", "month"),
        by_block=True,
    ),
}
# Tables not compared row by row, and why (a table added to the schema must be placed here
# or in AT_POSITION: tests/projections/test_view_check.py).
NOT_COMPARED = {
    "fact_snapshots": "written wherever the worker stopped, so the positions differ; a forged "
    "one changes the report, which is compared",
}


@dataclass(frozen=True)
class Mismatch:
    """The first row of a table that differs: the table's name, the row's key, how."""

    table: str
    row: str
    detail: str

    def __str__(self) -> str:
        return f"{self.table}: {self.row}: {self.detail}"


class ViewsMismatchError(LedgerError):
    """The served views are not the ledger's at the report's position: not issued."""

    def __init__(self, position: int, mismatch: Mismatch) -> None:
        self.position = position
        self.mismatch = mismatch
        super().__init__(
            f"the views do not match the ledger at position {position}: {mismatch}; " + REBUILD_HINT
        )


@contextmanager
def fresh_views(
    settings: Settings, position: int, progress: Progress | None = None
) -> Iterator[Views]:
    """Views folded from the ledger up to ``position`` into a temporary SQLite file, removed
    on leaving; the ledger is read from the primary (``settings``)."""
    reader = open_reader(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="govledger-view-check-") as folder:
            private = dataclasses.replace(
                settings, database_url=f"sqlite:///{Path(folder) / 'check.db'}"
            )
            store = ViewStore(private)
            try:
                Projector(settings, store, reader).run(until=position, progress=progress)
                # ``private`` keys this fold's memo apart from the served views' (query._FOLDS).
                yield Views(private, store, Projector(private, store, reader))
            finally:
                store.close()
                forget_folds()  # the memo of a removed file is of no use to anyone
    finally:
        reader.close()


def check_issue(settings: Settings, report: Report) -> None:
    """Refuse (:class:`ViewsMismatchError`) to issue ``report`` unless the views it was built
    from are the ledger's at its position, row for row, and the report built from views
    folded afresh is the same report."""
    position = report.anchor.position
    served = ViewStore(settings, readonly=True)
    try:
        if tracked_position(served) < position:
            raise LedgerError(
                f"the views are at position {tracked_position(served)}, before the "
                f"report's {position}: run `govledger projections run` and issue again"
            )
        with fresh_views(settings, position) as fresh:
            mismatch = first_mismatch(served, fresh.store, position)
            if mismatch is None:
                rebuilt = build_from(
                    fresh, fresh.projector.reader, report.kind, report.year, position,
                    report.anchor.checkpoint,
                )  # fmt: skip
                mismatch = report_mismatch(report, rebuilt)
    finally:
        served.close()
    if mismatch is not None:
        raise ViewsMismatchError(position, mismatch)


def check_views(
    settings: Settings, position: int | None = None, progress: Progress | None = None
) -> tuple[int, Mismatch | None]:
    """The served views against the ledger folded afresh, at ``position`` (default: the
    position the views have reached): the position compared and the first mismatch, if
    any (``govledger projections check``, docs/operations.md §Views that differ from the
    ledger). Rows only: no report is built."""
    served = ViewStore(settings, readonly=True)
    try:
        reached = tracked_position(served)
        if position is None:
            position = reached
        elif position > reached:
            raise LedgerError(
                f"the views are at position {reached}, before {position}: run "
                "`govledger projections run` first, or check at a position they have reached"
            )
        with fresh_views(settings, position, progress) as fresh:
            return position, first_mismatch(served, fresh.store, position)
    finally:
        served.close()


def first_mismatch(served: ViewStore, fresh: ViewStore, position: int) -> Mismatch | None:
    """The first row, table by table, where ``served`` differs from ``fresh`` (folded to
    ``position``) as both stood at ``position``; None when every table agrees."""
    for name in TABLES:
        spec = AT_POSITION.get(name)
        if spec is None or not fresh.has_table(name):
            continue
        found = _table_mismatch(served, fresh, name, spec, position)
        if found is not None:
            return found
    return None


def _table_mismatch(
    served: ViewStore, fresh: ViewStore, name: str, spec: AtPosition, position: int
) -> Mismatch | None:
    columns = [str(r[1]) for r in fresh.query(f"PRAGMA table_info({fresh.table(name)})")]
    named = f"{PREFIX}{name}"  # as an operator finds it, whatever the backend
    if not served.has_table(name):
        return Mismatch(named, "the table", "missing from the served views")
    bound = (position + 1) // BLOCK if spec.by_block else position
    streamed = spec.key == ("position",)  # the largest tables, in the one order both share
    select = f"SELECT {', '.join(columns)} FROM {{table}} WHERE {spec.where}" + (
        " ORDER BY position" if streamed else ""
    )
    normal = _Normal(name, columns, position)
    key_at = [columns.index(k) for k in spec.key]
    theirs, ours = (
        _rows(store, select.format(table=store.table(name)), bound, normal)
        for store in (served, fresh)
    )
    if not streamed:  # sorted here: text order differs between databases (collations, NULLs)
        theirs, ours = _sorted(theirs, key_at), _sorted(ours, key_at)
    for served_row, fresh_row in zip_longest(theirs, ours):
        if served_row != fresh_row:
            return _describe(named, columns, key_at, served_row, fresh_row)
    return None


class _Normal:
    """A row as both databases can hold it: PostgreSQL text has no NUL (store.pg_text), a
    finding withdrawn after the position stood there, a fold snapshot by its state."""

    def __init__(self, table: str, columns: Sequence[str], position: int) -> None:
        self.position = position
        self.withdrawn = columns.index("withdrawn_at") if table == "findings" else -1
        self.state = columns.index("state") if table == "snapshots" else -1

    def __call__(self, row: Sequence[Any]) -> tuple[Any, ...]:
        values = [_value(v) for v in row]
        w = self.withdrawn
        if w >= 0 and values[w] is not None and values[w] > self.position:
            values[w] = None
        if self.state >= 0:
            values[self.state] = load_state(values[self.state])
        return tuple(values)


def _value(v: Any) -> Any:
    if isinstance(v, str):
        return v.replace("\x00", "\ufffd")
    if isinstance(v, memoryview):
        return bytes(v)
    return v


def _rows(store: ViewStore, sql: str, bound: int, normal: _Normal) -> Iterator[tuple[Any, ...]]:
    for batch in store.stream(sql, (bound,)):
        yield from map(normal, batch)


def _order(values: Sequence[Any]) -> tuple[tuple[int, Any], ...]:
    """A sort key for a row's values, NULL first (Python cannot compare None with a value)."""
    return tuple((0, "") if v is None else (1, v) for v in values)


def _key_order(row: tuple[Any, ...], key_at: Sequence[int]) -> tuple[tuple[int, Any], ...]:
    return _order([row[i] for i in key_at])


def _sorted(rows: Iterator[tuple[Any, ...]], key_at: Sequence[int]) -> Iterator[tuple[Any, ...]]:
    """Rows in key order (then whole-row order), as both stores' rows are walked."""
    return iter(sorted(rows, key=lambda r: (_key_order(r, key_at), _order(r))))


def _describe(
    table: str,
    columns: Sequence[str],
    key_at: Sequence[int],
    served: tuple[Any, ...] | None,
    fresh: tuple[Any, ...] | None,
) -> Mismatch:
    """The first pair of rows that differ, in key order, said as the operator reads it."""

    def key(row: tuple[Any, ...]) -> str:
        return ", ".join(f"{columns[i]} {row[i]}" for i in key_at)

    if served is None:
        assert fresh is not None
        return Mismatch(table, key(fresh), "missing from the served views")
    if fresh is None or _key_order(served, key_at) < _key_order(fresh, key_at):
        return Mismatch(table, key(served), "not in the ledger's fold")
    if _key_order(fresh, key_at) < _key_order(served, key_at):
        return Mismatch(table, key(fresh), "missing from the served views")
    column = next(c for c, a, b in zip(columns, served, fresh, strict=True) if a != b)
    return Mismatch(table, key(fresh), f"column {column} differs from the ledger's fold")


def report_mismatch(issued: Report, rebuilt: Report) -> Mismatch | None:
    """Where the report to issue differs from the one built from fresh views (generation
    time and checkpoint aside); None when they are the same report."""
    a, b = _comparable(issued), _comparable(rebuilt)
    if a == b:
        return None
    for section, other in zip_longest(a["sections"], b["sections"]):
        if section != other:
            title = (section or other)["title"]
            return Mismatch("the report", f"section {title}", "differs from the ledger's fold")
    return Mismatch("the report", "its cover", "differs from the ledger's fold")


def _comparable(report: Report) -> dict[str, Any]:
    plain = dataclasses.asdict(
        dataclasses.replace(
            report,
            generated_at="",
            anchor=dataclasses.replace(report.anchor, checkpoint=None),
        )
    )
    return _plain(plain)  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return _value(value)


__all__ = [
    "AT_POSITION",
    "NOT_COMPARED",
    "Mismatch",
    "ViewsMismatchError",
    "check_issue",
    "first_mismatch",
    "fresh_views",
    "report_mismatch",
]
