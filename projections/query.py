"""The Query API of the read models (docs/projections.md "Query API").

Every view is answered for a :class:`Moment`: a prefix of the ledger (positions
1..``position``) and the reference time the question is asked at. ``as_of`` a
date is the prefix the ledger's domain clock had reached by the end of that day
(China Standard Time); ``at`` a position is that prefix, at the clock there.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ledger.config import Settings
from ledger.domain.review import STATUS_AFTER, ReviewAction, ReviewStatus
from ledger.errors import StoreUnavailableError
from ledger.store.connect import open_reader
from projections import declarations, fact_snapshots
from projections.access_report import AccessReportViews
from projections.facts import ACCESS, CST
from projections.model import (
    _DEPARTMENT_TOPICS,
    OPEN_STATUSES,
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
    _finding,
    _fund,
    _request,
    _resource,
    _system,
    as_json,
)
from projections.registers import RegisterViews, projection_lags, projection_positions
from projections.rules import FindingTuple, RuleStatus, rule_status, state_findings
from projections.runner import (
    BLOCK,
    Projector,
    tracked_position,
)
from projections.schema import standing_at, standing_params
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


class Views(RegisterViews, AccessReportViews):
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

    # ------------------------------------------------------------------ findings

    def findings(
        self,
        m: Moment,
        *,
        rule: str | None = None,
        department: str | None = None,
        subject_kinds: Collection[str] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Finding]:
        """Findings at ``m``, oldest first (or ``newest_first``), by time, rule, subject and
        id; ``subject_kinds``: only about these kinds of subject (system, resource, request,
        filing, fund_decision, access). A page (``limit`` after ``offset``) is cut in SQL, so
        a page of a million access findings reads a page of rows."""
        where, params = self._finding_filter(m, rule, department, subject_kinds)
        order = " DESC" if newest_first else ""
        sql = (
            f"SELECT finding_id, rule, severity, subject, subject_kind, department, "
            f"positions, position, time, detail FROM {self.store.table('findings')} "
            f"WHERE {where}"
        )
        if limit is not None:  # the page's rows in SQL; the state's few findings may fall
            # anywhere in it, so both are sorted below (a whole answer is sorted only there)
            sql = (
                f"{sql} ORDER BY time{order}, rule{order}, subject{order}, finding_id{order} "
                "LIMIT ?"
            )
            params = [*params, offset + limit]
        rows: list[tuple[Any, ...]] = list(self.store.query(sql, params))
        rows.extend(self._state_findings(m, rule, department, subject_kinds))
        found = sorted(
            (_finding(r) for r in rows),
            key=lambda f: (f.time, f.rule, f.subject, f.finding_id),
            reverse=newest_first,
        )
        return found[offset:] if limit is None else found[offset : offset + limit]

    def finding_total(
        self,
        m: Moment,
        *,
        rule: str | None = None,
        department: str | None = None,
        subject_kinds: Collection[str] | None = None,
    ) -> int:
        """How many findings :meth:`findings` answers with these filters, counted in SQL."""
        where, params = self._finding_filter(m, rule, department, subject_kinds)
        ((stored,),) = self.store.query(
            f"SELECT COUNT(*) FROM {self.store.table('findings')} WHERE {where}", params
        )
        return int(stored) + sum(
            1 for _ in self._state_findings(m, rule, department, subject_kinds)
        )

    def finding_count(self, m: Moment, *, department: str | None = None) -> int:
        """How many findings :meth:`findings` answers at ``m``, counted without reading them."""
        return sum(self.finding_tally(m, department=department).values())

    def finding_tally(
        self, m: Moment, *, department: str | None = None
    ) -> dict[tuple[str, str], int]:
        """(rule, severity) -> how many findings :meth:`findings` answers at ``m``, grouped
        in SQL: the metrics ask at every new head, and most findings are access findings."""
        where, params = self._finding_filter(m, None, department, None)
        tally: dict[tuple[str, str], int] = defaultdict(int)
        for rule, severity, count in self.store.query(
            f"SELECT rule, severity, COUNT(*) FROM {self.store.table('findings')} "
            f"WHERE {where} GROUP BY rule, severity",
            params,
        ):
            tally[str(rule), str(severity)] += int(count)
        for row in self._state_findings(m, None, department, None):
            tally[row[1], row[2]] += 1
        return dict(tally)

    def rule_status(self, m: Moment, *, department: str | None = None) -> list[RuleStatus]:
        """Every rule of the catalogue at ``m``: its count of findings, or 未评估 and why
        (projections.rules.catalogue) — what reports, /metrics, console and CLI print."""
        return rule_status(self.finding_tally(m, department=department))

    def _finding_filter(
        self,
        m: Moment,
        rule: str | None,
        department: str | None,
        subject_kinds: Collection[str] | None,
    ) -> tuple[str, list[Any]]:
        """The findings table's WHERE clause: the filters are pushed into SQL, because the
        access findings (most of the table) are decoded for nothing otherwise. The
        versions standing at ``m`` (docs/projections.md §Findings are versions)."""
        where = [f"{standing_at()}{self._day_filter(m)}"]
        params: list[Any] = [*standing_params(m.position), *self._day_param(m)]
        for column, value in (("rule", rule), ("department", department)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if subject_kinds is not None:
            kinds = sorted(subject_kinds) or [""]
            where.append(f"subject_kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        return " AND ".join(where), params

    def _state_findings(
        self,
        m: Moment,
        rule: str | None,
        department: str | None,
        subject_kinds: Collection[str] | None,
    ) -> Iterator[FindingTuple]:
        """The moment-dependent findings (projections.rules) that pass the same filters."""
        key = (m.position, m.as_of, m.reference_time)
        if self._judged is None or self._judged[0] != key:
            judged = state_findings(
                self._state(m), m.reference_time, self.settings.finding_zombie_days
            )
            self._judged = (key, list(judged))
        for row in self._judged[1]:
            if (
                (rule is None or row[1] == rule)
                and (department is None or row[5] == department)
                and (subject_kinds is None or row[4] in subject_kinds)
            ):
                yield row

    # ------------------------------------------------------------------ anomalies

    @staticmethod
    def _day_filter(m: Moment, column: str = "time") -> str:
        """As of a date: rows whose (CST ISO) time falls on or before it."""
        return "" if m.as_of is None else f" AND substr({column}, 1, 10) <= ?"

    @staticmethod
    def _day_param(m: Moment) -> list[str]:
        return [] if m.as_of is None else [m.as_of.isoformat()]

    def anomalies(
        self,
        m: Moment,
        *,
        status: str | None = None,
        department: str | None = None,
        by_score: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Anomaly]:
        """Anomalies at ``m`` in ledger order, or ``by_score`` (highest first, then the most
        recent, then by id: the review queue); ``limit``/``offset``: one page of them."""
        order = (
            f"score DESC, time{self._bytewise} DESC, anomaly_id{self._bytewise}"
            if by_score
            else "position, anomaly_id"
        )
        sql, params = self._anomalies_sql(m, department)
        sql = f"SELECT * FROM ({sql}) q"
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params.extend([max(0, limit), max(0, offset)])
        elif offset:
            raise ValueError("an offset needs a limit")
        rows = self.store.query(sql, params)
        reviews = self._reviews(m) if rows else {}
        return [self._anomaly(r[:9], reviews.get(r[0], ())) for r in rows]

    def anomaly_counts(self, m: Moment, *, department: str | None = None) -> dict[str, int]:
        """Status -> how many anomalies at ``m`` have it (every status, zeros included)."""
        sql, params = self._anomalies_sql(m, department)
        counts = dict.fromkeys((s.value for s in ReviewStatus), 0)
        for status, count in self.store.query(
            f"SELECT status, COUNT(*) FROM ({sql}) q GROUP BY status", params
        ):
            counts[str(status)] = int(count)
        return counts

    def open_anomalies_by_severity(self, m: Moment) -> dict[str, int]:
        """Severity -> how many anomalies at ``m`` are open (not dismissed), grouped in SQL."""
        sql, params = self._anomalies_sql(m, None)
        statuses = sorted(OPEN_STATUSES)
        rows = self.store.query(
            f"SELECT severity, COUNT(*) FROM ({sql}) q "
            f"WHERE status IN ({', '.join('?' * len(statuses))}) GROUP BY severity",
            [*params, *statuses],
        )
        return {str(severity): int(count) for severity, count in rows}

    @property
    def _bytewise(self) -> str:
        """Order text by code point, as Python does (PostgreSQL's default collation may not)."""
        return ' COLLATE "C"' if self.store.backend == "postgresql" else ""

    def _anomalies_sql(self, m: Moment, department: str | None) -> tuple[str, list[Any]]:
        """Every anomaly at ``m`` with its status (after its latest review then), in SQL: the
        queue sorts, counts and pages the anomalies without decoding them all."""
        reviews, day = self.store.table("reviews"), self._day_filter(m)
        # Notes and assignments keep the status: the latest review that moved it counts.
        moving = ", ".join(f"'{a.value}'" for a in STATUS_AFTER)
        latest = (
            f"SELECT r.anomaly_id, r.action FROM {reviews} r JOIN (SELECT MAX(position) AS "
            f"position FROM {reviews} WHERE position <= ?{day} AND action IN ({moving}) "
            "GROUP BY anomaly_id) l "
            "ON r.position = l.position"
        )
        status = " ".join(f"WHEN '{a.value}' THEN '{s.value}'" for a, s in STATUS_AFTER.items())
        sql = (
            "SELECT a.anomaly_id, a.kind, a.score, a.severity, a.subject, a.department, "
            "a.positions, a.time, a.detail, a.position, "
            f"CASE v.action {status} ELSE '{ReviewStatus.OPEN.value}' END AS status "
            f"FROM {self.store.table('anomalies')} a LEFT JOIN ({latest}) v "
            f"ON v.anomaly_id = a.anomaly_id WHERE a.position <= ?{self._day_filter(m, 'a.time')}"
        )
        params: list[Any] = [m.position, *self._day_param(m), m.position, *self._day_param(m)]
        if department is not None:
            sql += " AND a.department = ?"
            params.append(department)
        return sql, params

    def anomaly(self, anomaly_id: str) -> Anomaly | None:
        rows = self.store.query(
            f"SELECT anomaly_id, kind, score, severity, subject, department, positions, time, "
            f"detail FROM {self.store.table('anomalies')} WHERE anomaly_id = ?",
            (anomaly_id,),
        )
        if not rows:
            return None
        head = Moment(self.position, datetime.now(UTC))
        return self._anomaly(rows[0], self._reviews(head).get(anomaly_id, ()))

    def _reviews(self, m: Moment) -> dict[str, tuple[Review, ...]]:
        found: dict[str, list[Review]] = defaultdict(list)
        for pos, anomaly_id, action, comment, actor_id, at in self.store.query(
            f"SELECT position, anomaly_id, action, comment, actor_id, time "
            f"FROM {self.store.table('reviews')} WHERE position <= ?{self._day_filter(m)} "
            "ORDER BY position",
            (m.position, *self._day_param(m)),
        ):
            found[anomaly_id].append(
                Review(action, comment, actor_id, datetime.fromisoformat(at), int(pos))
            )
        return {k: tuple(v) for k, v in found.items()}

    @staticmethod
    def _anomaly(row: tuple[Any, ...], reviews: tuple[Review, ...]) -> Anomaly:
        aid, kind, score, severity, subject, department, positions, at, detail = row
        moved = [r for r in reviews if r.action in STATUS_AFTER]  # notes keep the status
        status = STATUS_AFTER[ReviewAction(moved[-1].action)].value if moved else "open"
        return Anomaly(
            aid, kind, float(score), severity, subject, department,
            tuple(json.loads(positions)), datetime.fromisoformat(at), detail, status, reviews,
        )  # fmt: skip


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
