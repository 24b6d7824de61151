"""The Query API of the read models (docs/projections.md "Query API").

Every view is answered for a :class:`Moment`: a prefix of the ledger (positions
1..``position``) and the reference time the question is asked at. ``as_of`` a
date is the prefix the ledger's domain clock had reached by the end of that day
(China Standard Time); ``at`` a position is that prefix, at the clock there.

This module opens the views, makes moments and folds the zone for them; the other
answers are its mixins: ``projections.query_findings`` (findings, rule status),
``projections.query_anomalies`` (anomalies and reviews), ``projections.registers``
(registers) and ``projections.access_report`` (access aggregates for reports).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from ledger.store.connect import open_reader
from projections import declarations, fact_snapshots
from projections.access_report import AccessReportViews
from projections.facts import ACCESS, CST
from projections.model import (
    _DEPARTMENT_TOPICS,
    AccessCounts,
    Anomaly,
    AuditLine,
    DepartmentInventory,
    DepartmentState,
    FilingState,
    Finding,
    FundDecisionState,
    Inventory,
    ItemState,
    Moment,
    RequestState,
    ResourceState,
    Review,
    RightsEntry,
    SystemState,
    Tally,
    UseRight,
    ZoneState,
    _Converted,
    _filing,
    _fund,
    _request,
    _resource,
    _system,
    as_json,
)
from projections.query_anomalies import AnomalyViews
from projections.query_findings import FindingViews
from projections.registers import RegisterViews, projection_lags, projection_positions
from projections.rules import FindingTuple
from projections.runner import (
    BLOCK,
    Projector,
    tracked_position,
)
from projections.set_aside import SetAside
from projections.set_aside import read as read_set_aside
from projections.store import ViewStore
from projections.zone import Rules, State, ZoneFold, dump_state, load_state

__all__ = [
    "AccessCounts",
    "Anomaly",
    "AuditLine",
    "DepartmentInventory",
    "DepartmentState",
    "FilingState",
    "Finding",
    "FundDecisionState",
    "Inventory",
    "ItemState",
    "Moment",
    "RequestState",
    "ResourceState",
    "Review",
    "RightsEntry",
    "SystemState",
    "Tally",
    "UseRight",
    "Views",
    "ZoneState",
    "as_json",
    "forget_folds",
    "open_views",
    "projection_lags",
    "projection_positions",
]

# ---------------------------------------------------------------------------- the reader

# The fold of the non-access facts at the newest head asked about, per ledger and rules, with
# the ledger's hash at that position: the first page after the ledger moved folds only the
# facts added since (most moves are accesses: none), not every request and filing again.
# The hash chain proves the prefix folded is still the ledger's. States here are never
# changed (a fold that goes on works on a copy). The same for the zone as of a date: the
# facts effective by then, in position order, only grow at the end as the ledger moves.
_FOLDS: dict[tuple[str, str, Rules, date | None], tuple[int, bytes, State]] = {}
FOLDS_KEPT = 8
_FOLDS_LOCK = threading.Lock()


def forget_folds() -> None:
    """Drop the memo of head folds: the next zone is folded from the first fact (the first
    request of a process; benches measure it)."""
    with _FOLDS_LOCK:
        _FOLDS.clear()


class Views(FindingViews, AnomalyViews, RegisterViews, AccessReportViews):
    """Answers every view for a moment; open with :func:`open_views`."""

    def __init__(self, settings: Settings, store: ViewStore, projector: Projector) -> None:
        self.settings = settings
        self.store = store
        self.projector = projector
        self._cached: tuple[tuple[int, date | None], State] | None = None
        # The moment-dependent findings of the last moment asked (a page lists some and
        # counts all of them).
        self._judged: tuple[tuple[int, date | None, datetime], list[FindingTuple]] | None = None

    # ------------------------------------------------------------------ moments

    @property
    def position(self) -> int:
        """How far the views have followed the ledger."""
        return tracked_position(self.store)

    def set_aside(self) -> list[SetAside]:
        """Facts the views could not use, set aside with their reason (projections/set_aside.py)."""
        return read_set_aside(self.store, self.position)

    def moment(self, *, as_of: date | None = None, at: int | None = None) -> Moment:
        """The head; ``at`` a position; ``as_of`` a date (as the ledger stands now); or both:
        as of the date as the ledger stood at the position (docs/projections.md "As-of
        semantics"), which is what the pages of one answer about a date are asked at."""
        tracked = self.position
        if at is not None and not 0 <= at <= tracked:
            raise ValueError(f"position {at} is outside 0..{tracked} (the views' position)")
        if as_of is not None:
            end_of_day = datetime.combine(as_of + timedelta(days=1), time(), CST)
            return Moment(
                tracked if at is None else at, end_of_day - timedelta(microseconds=1), as_of
            )
        if at is not None:
            return Moment(at, self._clock_at(at) or datetime.now(UTC).astimezone(CST))
        clock = self._clock_at(tracked)
        now = datetime.now(UTC).astimezone(CST)
        return Moment(tracked, max(clock, now) if clock else now)

    def _clock_at(self, position: int) -> datetime | None:
        """The domain clock at ``position``: the latest domain time recorded up to there."""
        rows = self.store.query(
            f"SELECT MAX(position) FROM {self.store.table('clock')} WHERE position <= ?",
            (position,),
        )
        day_start = rows[0][0]
        if day_start is None:
            return None
        rows = self.store.query(
            f"SELECT MAX(epoch) FROM {self.store.table('events')} WHERE position BETWEEN ? AND ?",
            (int(day_start), position),
        )
        return datetime.fromtimestamp(float(rows[0][0]), CST) if rows[0][0] is not None else None

    # ------------------------------------------------------------------ the zone

    def _state(self, m: Moment) -> State:
        key = (m.position, m.as_of)
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self._fold_zone(m))
        return self._cached[1]

    def _fold_zone(self, m: Moment) -> State:
        """The zone at ``m``: a fold of the non-access facts, then access counts per system."""
        folded = self._facts_fold(m)
        # The folded entities are shared with the memo of folds (read-only); only the
        # systems get this moment's access counts, on copies.
        state = {**folded, "systems": {k: dict(v) for k, v in folded["systems"].items()}}
        for system_id, count, last in self._system_accesses(m):
            system = state["systems"].get(system_id)
            if system is not None:
                system["access_count"], system["last_access_epoch"] = count, last
        return state

    def _facts_fold(self, m: Moment) -> State:
        """The fold of the non-access facts up to ``m``. At a position at or after the one
        of the memo of this ledger's folds (at the head, or as of the same date), only the
        facts added since are folded."""
        settings = self.settings
        key = (settings.database_url, settings.postgres_schema, self.projector.rules, m.as_of)
        with _FOLDS_LOCK:
            memo = _FOLDS.get(key)
        if memo is not None and memo[0] <= m.position and self._hash_at(memo[0]) == memo[1]:
            if memo[0] == m.position:
                return memo[2]
            # A copy goes on folding: the memo's state may be in use by other requests.
            fold = ZoneFold(self.projector.rules, load_state(dump_state(memo[2])))
            state = self._fold_facts(fold, m, memo[0])
        else:  # from the worker's newest usable snapshot (projections/fact_snapshots.py)
            reference = m.reference_time.timestamp() if m.as_of is not None else None
            start, snapshot = fact_snapshots.load(
                self.store, self.projector.rules, m.position, reference, self._hash_at
            )
            state = self._fold_facts(ZoneFold(self.projector.rules, snapshot), m, start)
        with _FOLDS_LOCK:
            newest = _FOLDS.get(key)
            if newest is None or newest[0] <= m.position:
                _FOLDS.pop(key, None)
                _FOLDS[key] = (m.position, self._hash_at(m.position), state)
                while len(_FOLDS) > FOLDS_KEPT:  # the least recently folded ledger goes
                    del _FOLDS[next(iter(_FOLDS))]
        return state

    def _fold_facts(self, fold: ZoneFold, m: Moment, after: int) -> State:
        sql, params = self._facts_sql(m)
        rows = self.store.query(f"{sql} AND position > ? ORDER BY position", [*params, after])
        return fact_snapshots.fold_rows(fold, rows).state

    def _hash_at(self, position: int) -> bytes:
        """The ledger's hash at ``position``: the same hash, the same chain up to there."""
        row = self.projector.reader.row_at(position) if position > 0 else None
        return bytes(row[6]) if row is not None else b""

    def _facts_sql(self, m: Moment) -> tuple[str, list[Any]]:
        """The non-access facts recorded up to ``m`` (as of a date: effective by then)."""
        sql = (
            f"SELECT position, topic, entity, state FROM {self.store.table('facts')} "
            "WHERE position <= ?"
        )
        params: list[Any] = [m.position]
        if m.as_of is not None:
            sql += " AND (time IS NULL OR time <= ?)"
            params.append(m.reference_time.timestamp())
        return sql, params

    def _system_accesses(self, m: Moment) -> list[tuple[str, int, float]]:
        """(system id, accesses through it, latest access epoch) up to ``m``."""
        full_blocks = (m.position + 1) // BLOCK
        day_filter, extra = (
            ("", []) if m.as_of is None else (" AND day <= ?", [m.as_of.isoformat()])
        )
        found: dict[str, tuple[int, float]] = {}
        for key, count, last in [
            *self.store.query(
                f"SELECT key, SUM(total), MAX(last_time) FROM {self.store.table('access_blocks')} "
                f"WHERE dim = 'system' AND block < ?{day_filter} GROUP BY key",
                (full_blocks, *extra),
            ),
            *self.store.query(
                f"SELECT system, COUNT(*), MAX(time) FROM {self.store.table('events')} "
                f"WHERE topic = ? AND position >= ? AND position <= ?{day_filter} GROUP BY system",
                (ACCESS, full_blocks * BLOCK, m.position, *extra),
            ),
        ]:
            before = found.get(key, (0, 0.0))
            found[key] = (before[0] + int(count), max(before[1], float(last)))
        return [(key, count, last) for key, (count, last) in found.items()]

    def departments(self, m: Moment) -> dict[str, DepartmentState]:
        """The departments of :meth:`zone` at ``m``, from their own few facts: every page
        names departments, and the whole zone is a fold of every request, filing, …"""
        if self._cached is not None and self._cached[0] == (m.position, m.as_of):
            found = self._cached[1]["departments"]  # the zone is folded already
        else:
            sql, params = self._facts_sql(m)
            topics = ", ".join("?" * len(_DEPARTMENT_TOPICS))
            rows = self.store.query(
                f"{sql} AND topic IN ({topics}) ORDER BY position", [*params, *_DEPARTMENT_TOPICS]
            )
            found = fact_snapshots.fold_rows(ZoneFold(self.projector.rules), rows).state[
                "departments"
            ]
        return {
            code: DepartmentState(d["code"], d["name"], d["cio_name"], d["position"])
            for code, d in found.items()
        }

    def zone(self, m: Moment) -> ZoneState:
        s = self._state(m)
        return ZoneState(
            moment=m,
            departments={
                code: DepartmentState(d["code"], d["name"], d["cio_name"], d["position"])
                for code, d in s["departments"].items()
            },
            systems=_Converted(s["systems"], _system),
            resources=_Converted(s["resources"], _resource),
            requests=_Converted(s["requests"], _request),
            filings=_Converted(s["filings"], _filing),
            fund_decisions=_Converted(s["funds"], _fund),
        )

    def declared(self, m: Moment, kind: str) -> dict[str, declarations.Declared]:
        """The plan's declared records of ``kind`` in force at ``m``, by subject (a system's
        id, a department or resource code; docs/facts.md §11)."""
        return declarations.in_force(self._state(m), kind, m.reference_time)


# ---------------------------------------------------------------------------- opening


@contextmanager
def open_views(settings: Settings, *, catch_up: bool = False) -> Iterator[Views]:
    """A reader of the views, which never writes (docs/projections.md §Opening and moments):
    it reads what the worker or a rebuild wrote; views not built: StoreUnavailableError.
    ``catch_up=True``: the caller is a writer and first projects what the ledger added.
    The ledger is opened first: a file that is no ledger never gets a views file. A read
    that may be stale reads ledger and views on ``database_read_url`` when one is set (a
    replica holds both at one replayed position: docs/configuration.md §Reads on a replica);
    a writer reads the primary it writes."""
    if not catch_up:
        settings = settings.reading()
    reader = open_reader(settings)
    try:
        if catch_up:
            writer = ViewStore(settings)
            try:
                Projector(settings, writer, reader).run()
            finally:
                writer.close()
        store = ViewStore(settings, readonly=True)
    except BaseException:
        reader.close()
        raise
    try:
        if not store.has_table("events"):
            raise StoreUnavailableError(
                "the views are not built yet: run `govledger projections run` (or the worker)"
            )
        yield Views(settings, store, Projector(settings, store, reader))
    finally:
        reader.close()
        store.close()
