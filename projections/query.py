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
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import orjson

from ledger.config import Settings
from ledger.domain.review import STATUS_AFTER, ReviewAction, ReviewStatus
from ledger.errors import StoreUnavailableError
from ledger.store.connect import ledger_head, open_reader
from projections.facts import ACCESS, CST, Fact
from projections.rules import FindingTuple, RuleStatus, rule_status, state_findings
from projections.runner import (
    BLOCK,
    BLOCK_DIMENSIONS,
    PROJECTIONS,
    Projector,
    positions_of,
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
    "anomalies_summary",
    "as_json",
    "findings_summary",
    "forget_folds",
    "open_views",
    "projection_lags",
    "projection_positions",
]

T = TypeVar("T")
OPEN_STATUSES = frozenset({"open", "acknowledged", "escalated"})
# What the departments of the zone are folded from (projections.zone ZoneFold handlers).
_DEPARTMENT_TOPICS = ("Department.Registered", "Department.CioNamed")


# ---------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class Moment:
    position: int
    reference_time: datetime
    as_of: date | None = None


@dataclass(frozen=True)
class DepartmentState:
    code: str
    name: str
    cio_name: str | None
    position: int


@dataclass(frozen=True)
class SystemState:
    system_id: str
    department: str
    name: str
    function: str
    scope_of_use: str
    usage_frequency: str
    approving_body: str
    approval_date: date | None
    funding_source: str
    status: str
    required_to_connect: bool
    connected: bool
    on_cloud: bool
    zombie_reasons: tuple[str, ...]
    integrated_system_id: str | None
    mlps_level: int | None
    mlps_filed: bool
    holds_personal_data: bool
    holds_important_data: bool
    registered_at: datetime | None
    last_access_at: datetime | None
    access_count: int
    position: int


@dataclass(frozen=True)
class ItemState:
    name: str
    sensitivity: str
    base_item: bool


@dataclass(frozen=True)
class ResourceState:
    code: str
    name: str
    provider_department: str
    items: tuple[ItemState, ...]
    sharing_type: str
    legal_basis: str | None
    open_type: str
    update_cycle: str
    summary: str
    format: str
    publish_date: date | None
    share_condition: str
    share_method: str
    base_resource: bool
    owner_department: str | None
    controller: str | None
    risk_assessments: tuple[str, ...]
    risk_level: str | None
    sensitivity: str
    position: int


@dataclass(frozen=True)
class RequestState:
    request_id: str
    requester_department: str
    resource_code: str
    provider_department: str
    items: tuple[str, ...]
    purpose: str
    legal_basis: str
    period_start: date
    period_end: date
    submitted_at: datetime
    response_due: date
    status: str
    granted_items: tuple[str, ...]
    expires_at: datetime | None
    decided_at: datetime | None
    rejection_reason: str | None
    revoked_at: datetime | None
    positions: tuple[int, ...]

    def in_force_at(self, moment: datetime) -> bool:
        return (
            self.status == "approved" and self.expires_at is not None and moment < self.expires_at
        )


@dataclass(frozen=True)
class FilingState:
    filing_id: str
    name: str
    builder: str
    investment_fen: int
    om_cost_fen: int
    funding_channel: str
    resource_codes: tuple[str, ...]
    system_ids: tuple[str, ...]
    mlps_filed: bool
    catalogue_preregistered: bool
    status: str
    architecture_review: str | None
    positions: tuple[int, ...]


@dataclass(frozen=True)
class FundDecisionState:
    decision_id: str
    kind: str
    year: int
    department: str
    system_id: str | None
    project_name: str | None
    filing_id: str | None
    amount_fen: int
    outcome: str
    rationale: str
    decided_at: datetime
    position: int


@dataclass(frozen=True)
class ZoneState:
    moment: Moment
    departments: Mapping[str, DepartmentState]
    systems: Mapping[str, SystemState]
    resources: Mapping[str, ResourceState]
    requests: Mapping[str, RequestState]
    filings: Mapping[str, FilingState]
    fund_decisions: Mapping[str, FundDecisionState]

    def grants_in_force(self) -> list[RequestState]:
        at = self.moment.reference_time
        return [r for r in self.requests.values() if r.in_force_at(at)]


@dataclass(frozen=True)
class Finding:
    finding_id: str
    rule: str
    severity: str
    subject: str
    subject_kind: str
    department: str | None
    positions: tuple[int, ...]
    time: datetime
    detail: str


@dataclass(frozen=True)
class Review:
    action: str
    comment: str
    actor_id: str
    reviewed_at: datetime
    position: int


@dataclass(frozen=True)
class Anomaly:
    anomaly_id: str
    kind: str
    score: float
    severity: str
    subject: str
    department: str | None
    positions: tuple[int, ...]
    time: datetime
    detail: str
    status: str
    reviews: tuple[Review, ...]


@dataclass(frozen=True)
class UseRight:
    request_id: str
    holder_department: str
    items: tuple[str, ...]
    purpose: str
    expires_at: datetime
    granted_at: datetime
    position: int


@dataclass(frozen=True)
class RightsEntry:
    resource_code: str
    resource_name: str
    provider_department: str
    sharing_type: str
    owner: str | None
    controller: str | None
    sensitivity: str
    use_rights: tuple[UseRight, ...]
    positions: tuple[int, ...]


@dataclass(frozen=True)
class DepartmentInventory:
    department: str
    total: int
    by_status: Mapping[str, int]
    connected: int
    required_to_connect: int
    on_cloud: int


@dataclass(frozen=True)
class Inventory:
    moment: Moment
    departments: tuple[DepartmentInventory, ...]
    systems: tuple[SystemState, ...]
    zombie_candidates: tuple[SystemState, ...]
    in_service: int
    connected_share: float
    on_cloud_share: float


@dataclass(frozen=True)
class Tally:
    total: int = 0
    authorized: int = 0
    unauthorized: int = 0
    rows: int = 0

    def plus(self, total: int, unauthorized: int, rows: int) -> Tally:
        return Tally(
            self.total + total,
            self.authorized + total - unauthorized,
            self.unauthorized + unauthorized,
            self.rows + rows,
        )


@dataclass(frozen=True)
class AccessCounts:
    start: date
    end: date
    moment: Moment
    total: Tally
    by_provider: Mapping[str, Tally]
    by_requester: Mapping[str, Tally]
    by_resource: Mapping[str, Tally]
    by_purpose: Mapping[str, Tally]
    by_month: Mapping[str, Tally]
    by_reason: Mapping[str, int]


@dataclass(frozen=True)
class AuditLine:
    position: int
    hash: str
    topic: str
    entity: str
    actor_id: str
    role: str
    department: str | None
    time: datetime
    summary: str


# ---------------------------------------------------------------------------- conversions


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _system(s: dict[str, Any]) -> SystemState:
    return SystemState(
        system_id=s["system_id"],
        department=s["department"],
        name=s["name"],
        function=s["function"],
        scope_of_use=s["scope_of_use"],
        usage_frequency=s["usage_frequency"],
        approving_body=s["approving_body"],
        approval_date=_d(s["approval_date"]),
        funding_source=s["funding_source"],
        status=s["status"],
        required_to_connect=s["required_to_connect"],
        connected=s["connected"],
        on_cloud=s["on_cloud"],
        zombie_reasons=tuple(s["zombie_reasons"]),
        integrated_system_id=s["integrated_system_id"],
        mlps_level=s["mlps_level"],
        mlps_filed=s["mlps_filed"],
        holds_personal_data=s["holds_personal_data"],
        holds_important_data=s["holds_important_data"],
        registered_at=_dt(s["registered_at"]),
        last_access_at=(
            datetime.fromtimestamp(s["last_access_epoch"], CST)
            if s["last_access_epoch"] is not None
            else None
        ),
        access_count=s["access_count"],
        position=s["position"],
    )


def _resource(r: dict[str, Any]) -> ResourceState:
    return ResourceState(
        code=r["code"],
        name=r["name"],
        provider_department=r["provider_department"],
        items=tuple(ItemState(i["name"], i["sensitivity"], i["base_item"]) for i in r["items"]),
        sharing_type=r["sharing_type"],
        legal_basis=r["legal_basis"],
        open_type=r["open_type"],
        update_cycle=r["update_cycle"],
        summary=r["summary"],
        format=r["format"],
        publish_date=_d(r["publish_date"]),
        share_condition=r["share_condition"],
        share_method=r["share_method"],
        base_resource=r["base_resource"],
        owner_department=r["owner_department"],
        controller=r["controller"],
        risk_assessments=tuple(r["risk_assessments"]),
        risk_level=r["risk_level"],
        sensitivity=r["sensitivity"],
        position=r["position"],
    )


def _request(r: dict[str, Any]) -> RequestState:
    submitted, due = _dt(r["submitted_at"]), _d(r["response_due"])
    start, end = _d(r["period_start"]), _d(r["period_end"])
    assert submitted and due and start and end
    return RequestState(
        request_id=r["request_id"],
        requester_department=r["requester_department"],
        resource_code=r["resource_code"],
        provider_department=r["provider_department"],
        items=tuple(r["items"]),
        purpose=r["purpose"],
        legal_basis=r["legal_basis"],
        period_start=start,
        period_end=end,
        submitted_at=submitted,
        response_due=due,
        status=r["status"],
        granted_items=tuple(r["granted_items"]),
        expires_at=_dt(r["expires_at"]),
        decided_at=_dt(r["decided_at"]),
        rejection_reason=r["rejection_reason"],
        revoked_at=_dt(r["revoked_at"]),
        positions=tuple(r["positions"]),
    )


def _filing(f: dict[str, Any]) -> FilingState:
    return FilingState(
        filing_id=f["filing_id"],
        name=f["name"],
        builder=f["builder"],
        investment_fen=f["investment_fen"],
        om_cost_fen=f["om_cost_fen"],
        funding_channel=f["funding_channel"],
        resource_codes=tuple(f["resource_codes"]),
        system_ids=tuple(f["system_ids"]),
        mlps_filed=f["mlps_filed"],
        catalogue_preregistered=f["catalogue_preregistered"],
        status=f["status"],
        architecture_review=f["architecture_review"],
        positions=tuple(f["positions"]),
    )


def _fund(f: dict[str, Any]) -> FundDecisionState:
    decided = _dt(f["decided_at"])
    assert decided is not None
    return FundDecisionState(
        decision_id=f["decision_id"],
        kind=f["kind"],
        year=f["year"],
        department=f["department"],
        system_id=f["system_id"],
        project_name=f["project_name"],
        filing_id=f["filing_id"],
        amount_fen=f["amount_fen"],
        outcome=f["outcome"],
        rationale=f["rationale"],
        decided_at=decided,
        position=f["position"],
    )


def _finding(row: FindingTuple | tuple[Any, ...]) -> Finding:
    fid, rule, severity, subject, kind, department, positions, _pos, at, detail = row
    return Finding(
        fid, rule, severity, subject, kind, department, tuple(json.loads(positions)),
        datetime.fromisoformat(at), detail,
    )  # fmt: skip


class _Converted(Mapping[str, T]):
    """The fold's raw entities as typed states, each converted when first read: a page
    about the systems does not pay for converting two thousand requests. Read-only, like
    the fold's state under it (a moment's state is never changed once folded)."""

    def __init__(self, raw: Mapping[str, dict[str, Any]], convert: Callable[[Any], T]) -> None:
        self._raw = raw
        self._convert = convert
        self._done: dict[str, T] = {}

    def __getitem__(self, key: str) -> T:
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self._convert(self._raw[key])
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


# ---------------------------------------------------------------------------- the reader

# The fold of the non-access facts at the newest head asked about, per ledger and rules, with
# the ledger's hash at that position: the first page after the ledger moved folds only the
# facts added since (most moves are accesses: none), not every request and filing again.
# The hash chain proves the prefix folded is still the ledger's. States here are never
# changed (a fold that goes on works on a copy).
_FOLDS: dict[tuple[str, str, Rules], tuple[int, bytes, State]] = {}
FOLDS_KEPT = 4
_FOLDS_LOCK = threading.Lock()


def forget_folds() -> None:
    """Drop the memo of head folds: the next zone is folded from the first fact (the first
    request of a process; benches measure it)."""
    with _FOLDS_LOCK:
        _FOLDS.clear()


class Views:
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
        if as_of is not None and at is not None:
            raise ValueError("ask as_of a date or at a position, not both")
        tracked = self.position
        if at is not None:
            if not 0 <= at <= tracked:
                raise ValueError(f"position {at} is outside 0..{tracked} (the views' position)")
            return Moment(at, self._clock_at(at) or datetime.now(UTC).astimezone(CST))
        if as_of is not None:
            end_of_day = datetime.combine(as_of + timedelta(days=1), time(), CST)
            return Moment(tracked, end_of_day - timedelta(microseconds=1), as_of)
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
        of the memo of this ledger's folds, only the facts added since are folded."""
        if m.as_of is not None:  # the facts effective by a date: not a prefix of the ledger
            return self._fold_facts(ZoneFold(self.projector.rules), m, 0)
        key = (self.settings.database_url, self.settings.postgres_schema, self.projector.rules)
        with _FOLDS_LOCK:
            memo = _FOLDS.get(key)
        if memo is not None and memo[0] <= m.position and self._hash_at(memo[0]) == memo[1]:
            if memo[0] == m.position:
                return memo[2]
            # A copy goes on folding: the memo's state may be in use by other requests.
            fold = ZoneFold(self.projector.rules, load_state(dump_state(memo[2])))
            state = self._fold_facts(fold, m, memo[0])
        else:
            state = self._fold_facts(ZoneFold(self.projector.rules), m, 0)
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
        fold.emit = False
        for position, topic, entity, raw in self.store.query(
            f"{sql} AND position > ? ORDER BY position", [*params, after]
        ):
            fold.apply(Fact(int(position), entity, topic, orjson.loads(raw), b"", b""))
        return fold.state

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
            fold = ZoneFold(self.projector.rules)
            fold.emit = False
            sql, params = self._facts_sql(m)
            topics = ", ".join("?" * len(_DEPARTMENT_TOPICS))
            for position, topic, entity, raw in self.store.query(
                f"{sql} AND topic IN ({topics}) ORDER BY position", [*params, *_DEPARTMENT_TOPICS]
            ):
                fold.apply(Fact(int(position), entity, topic, orjson.loads(raw), b"", b""))
            found = fold.state["departments"]
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

    # ------------------------------------------------------------------ findings

    def findings(
        self,
        m: Moment,
        *,
        rule: str | None = None,
        department: str | None = None,
        subject_kinds: Collection[str] | None = None,
    ) -> list[Finding]:
        """Findings at ``m``, oldest first; ``subject_kinds``: only about these kinds of
        subject (system, resource, request, filing, fund_decision, access)."""
        where, params = self._finding_filter(m, rule, department, subject_kinds)
        rows: list[tuple[Any, ...]] = list(
            self.store.query(
                f"SELECT finding_id, rule, severity, subject, subject_kind, department, "
                f"positions, position, time, detail FROM {self.store.table('findings')} "
                f"WHERE {where}",
                params,
            )
        )
        rows.extend(self._state_findings(m, rule, department, subject_kinds))
        found = [_finding(r) for r in rows]
        return sorted(found, key=lambda f: (f.time, f.rule, f.subject))

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
        access findings (most of the table) are decoded for nothing otherwise."""
        where, params = [f"position <= ?{self._day_filter(m)}"], [m.position, *self._day_param(m)]
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
        latest = (
            f"SELECT r.anomaly_id, r.action FROM {reviews} r JOIN (SELECT MAX(position) AS "
            f"position FROM {reviews} WHERE position <= ?{day} GROUP BY anomaly_id) l "
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
        status = STATUS_AFTER[ReviewAction(reviews[-1].action)].value if reviews else "open"
        return Anomaly(
            aid, kind, float(score), severity, subject, department,
            tuple(json.loads(positions)), datetime.fromisoformat(at), detail, status, reviews,
        )  # fmt: skip

    # ------------------------------------------------------------------ rights and inventory

    def rights_register(self, m: Moment, *, department: str | None = None) -> list[RightsEntry]:
        state, at = self._state(m), m.reference_time
        # Only what the register shows is converted: approved requests (those a grant in
        # force can be among) and the resources, not the zone's every request and system.
        approved = (_request(r) for r in state["requests"].values() if r["status"] == "approved")
        holders: dict[str, list[UseRight]] = defaultdict(list)
        for grant in (g for g in approved if g.in_force_at(at)):
            assert grant.expires_at is not None and grant.decided_at is not None
            holders[grant.resource_code].append(
                UseRight(
                    grant.request_id,
                    grant.requester_department,
                    grant.granted_items,
                    grant.purpose,
                    grant.expires_at,
                    grant.decided_at,
                    grant.positions[-1],
                )
            )
        entries = []
        for code, raw in sorted(state["resources"].items()):
            r = _resource(raw)
            rights = tuple(sorted(holders.get(code, ()), key=lambda u: u.position))
            if department is not None and department != r.provider_department:
                rights = tuple(u for u in rights if u.holder_department == department)
                if not rights:
                    continue
            entries.append(
                RightsEntry(
                    code,
                    r.name,
                    r.provider_department,
                    r.sharing_type,
                    r.owner_department,
                    r.controller,
                    r.sensitivity,
                    rights,
                    tuple(raw["positions"]),
                )
            )
        return entries

    def inventory(self, m: Moment, *, department: str | None = None) -> Inventory:
        systems = sorted(
            (
                _system(s)
                for s in self._state(m)["systems"].values()
                if department is None or s["department"] == department
            ),
            key=lambda s: (s.department, s.name),
        )
        candidates = {f.subject for f in self.findings(m, rule="I1", department=department)}
        per: dict[str, list[SystemState]] = defaultdict(list)
        for s in systems:
            per[s.department].append(s)
        departments = tuple(
            DepartmentInventory(
                dept,
                len(group),
                dict(sorted(_count(s.status for s in group).items())),
                sum(s.connected for s in group),
                sum(s.required_to_connect for s in group),
                sum(s.on_cloud for s in group),
            )
            for dept, group in sorted(per.items())
        )
        in_service = [s for s in systems if s.status in ("active", "zombie")]
        share = (lambda n: n / len(in_service)) if in_service else (lambda _n: 0.0)
        return Inventory(
            m,
            departments,
            tuple(systems),
            tuple(s for s in systems if s.system_id in candidates),
            len(in_service),
            share(sum(s.connected for s in in_service)),
            share(sum(s.on_cloud for s in in_service)),
        )

    # ------------------------------------------------------------------ access counts

    def access_counts(self, m: Moment, *, start: date, end: date) -> AccessCounts:
        """Accesses by dimension: complete blocks from aggregates, the tail from rows."""
        full_blocks = (m.position + 1) // BLOCK
        if m.as_of is not None:
            end = min(end, m.as_of)
        low, high = start.isoformat(), end.isoformat()
        tallies: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
        rows = list(
            self.store.query(
                f"SELECT dim, key, SUM(total), SUM(unauthorized), SUM(row_count) "
                f"FROM {self.store.table('access_blocks')} WHERE block < ? "
                "AND day BETWEEN ? AND ? GROUP BY dim, key",
                (full_blocks, low, high),
            )
        )
        for dim, column in BLOCK_DIMENSIONS.items():
            rows.extend(
                (dim, *row)
                for row in self.store.query(
                    f"SELECT {column}, COUNT(*), SUM(CASE WHEN reasons = '' THEN 0 ELSE 1 END), "
                    f"SUM(row_count) FROM {self.store.table('events')} "
                    "WHERE position >= ? AND position <= ? AND topic = ? "
                    f"AND day BETWEEN ? AND ? GROUP BY {column}",
                    (full_blocks * BLOCK, m.position, ACCESS, low, high),
                )
            )
        for dim, key, total, unauthorized, count in rows:
            tallies[dim][key] = tallies[dim][key].plus(int(total), int(unauthorized), int(count))
        by_month: dict[str, Tally] = defaultdict(Tally)
        for day, tally in tallies["day"].items():
            by_month[day[:7]] = by_month[day[:7]].plus(tally.total, tally.unauthorized, tally.rows)
        by_reason: dict[str, int] = defaultdict(int)
        for reasons, tally in tallies["reasons"].items():
            for reason in filter(None, reasons.split(",")):
                by_reason[reason] += tally.total
        total = Tally()
        for tally in tallies["day"].values():
            total = total.plus(tally.total, tally.unauthorized, tally.rows)
        return AccessCounts(
            start, end, m, total,
            dict(sorted(tallies["provider"].items())),
            dict(sorted(tallies["requester"].items())),
            dict(sorted(tallies["resource"].items())),
            dict(sorted(tallies["purpose"].items())),
            dict(sorted(by_month.items())),
            dict(sorted(by_reason.items())),
        )  # fmt: skip

    # ------------------------------------------------------------------ audit trail

    def audit_trail(
        self,
        m: Moment,
        *,
        entity: str | None = None,
        actor: str | None = None,
        department: str | None = None,
        resource: str | None = None,
        start: date | None = None,
        end: date | None = None,
        limit: int = 1000,
        after: int = 0,
    ) -> list[AuditLine]:
        """Ledger lines (oldest first) matching every filter given, with position and hash.

        ``resource`` (a catalogue code): the resource's own events, the events of sharing
        requests for it, and the accesses to it."""
        where: list[str] = ["position > ?", "position <= ?"]
        params: list[Any] = [after, m.position]
        for column, value in (
            ("entity", entity.replace("-", "") if entity else None),
            ("actor_id", actor),
            ("department", department),
            ("resource", resource),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if start is not None:
            where.append("time >= ?")
            params.append(datetime.combine(start, time(), CST).timestamp())
        if end is not None:
            where.append("time < ?")
            params.append(datetime.combine(end + timedelta(days=1), time(), CST).timestamp())
        rows = self.store.query(
            "SELECT position, topic, entity, actor_id, role, department, time "
            f"FROM {self.store.table('events')} WHERE {' AND '.join(where)} "
            "ORDER BY position LIMIT ?",
            (*params, max(1, min(limit, 10_000))),
        )
        # The lines' ledger rows (hash, state) in one query, not one round trip a line.
        ledger_rows = self.projector.reader.rows_at([int(r[0]) for r in rows])
        lines = []
        for position, topic, ent, actor_id, role, dept, at in rows:
            row = ledger_rows.get(int(position))
            assert row is not None, f"the ledger lost position {position}"
            lines.append(
                AuditLine(
                    int(position),
                    bytes(row[6]).hex(),
                    topic,
                    ent,
                    actor_id,
                    role,
                    dept,
                    datetime.fromtimestamp(float(at), CST),
                    _summary(topic, bytes(row[4])),
                )
            )
        return lines


def _count(values: Iterator[str] | Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


_SUMMARY_SKIP = frozenset({"timestamp", "originator_topic", "actor"})


def _summary(topic: str, state: bytes) -> str:
    """The event's own fields, compact: what an auditor reads beside the position."""
    data = json.loads(state)
    parts = []
    for key, value in data.items():
        if key in _SUMMARY_SKIP:
            continue
        shown = value["_data_"] if isinstance(value, dict) and "_data_" in value else value
        parts.append(f"{key}={json.dumps(shown, ensure_ascii=False, separators=(',', ':'))}")
    return f"{topic}: " + " ".join(parts)


def as_json(value: Any) -> Any:
    """Any answer of this module as plain JSON values (times in ISO 8601, CST kept)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------- opening


@contextmanager
def open_views(settings: Settings, *, catch_up: bool | None = None) -> Iterator[Views]:
    """A reader of the views; ``catch_up`` first projects what the ledger added since.

    By default it catches up when this process may create tables
    (``create_schema``); a least-privileged service (``create_schema=false``) only
    reads what the projection worker (``govledger projections run --follow``) wrote.
    """
    if catch_up is None:
        catch_up = settings.create_schema
    store = ViewStore(settings)
    try:
        reader = open_reader(settings)
    except BaseException:
        store.close()
        raise
    try:
        projector = Projector(settings, store, reader)
        if catch_up:
            projector.run()
        elif not store.has_table("events"):
            raise StoreUnavailableError(
                "the views are not built yet: run `govledger projections run` (or the worker)"
            )
        yield Views(settings, store, projector)
    finally:
        reader.close()
        store.close()


def projection_positions(settings: Settings) -> dict[str, int]:
    """Projection name -> position it has followed the ledger to (metrics)."""
    store = ViewStore(settings)
    try:
        return positions_of(store)
    finally:
        store.close()


def projection_lags(settings: Settings) -> dict[str, int]:
    """Projection name -> rows of the ledger not yet projected (metrics)."""
    positions = projection_positions(settings)
    head = ledger_head(settings)
    return {name: max(0, head - positions.get(name, 0)) for name in PROJECTIONS}


# The newest summary per (kind, ledger), with the views' position it was computed at. At the
# head a summary depends on nothing but that position (the moment's reference time is the
# newest event's), and /metrics asks every scrape in every worker: recompute only when the
# views have moved.
_SUMMARIES: dict[tuple[str, str, str], tuple[int, Mapping[Any, int]]] = {}


def _summary_at_head(
    kind: str,
    settings: Settings,
    catch_up: bool | None,
    count: Callable[[Views], Mapping[Any, int]],
) -> Mapping[Any, int]:
    key = (kind, settings.database_url, settings.postgres_schema)
    with open_views(settings, catch_up=catch_up) as views:
        cached = _SUMMARIES.get(key)
        if cached is not None and cached[0] == views.position:
            return cached[1]
        summary = count(views)
        _SUMMARIES[key] = (views.position, summary)
        return summary


def findings_summary(
    settings: Settings, *, catch_up: bool | None = None
) -> Mapping[tuple[str, str], int]:
    """Findings at the head by (rule, severity); ``catch_up`` as in :func:`open_views`."""

    def count(views: Views) -> Mapping[tuple[str, str], int]:
        return views.finding_tally(views.moment())

    return _summary_at_head("findings", settings, catch_up, count)


def anomalies_summary(settings: Settings, *, catch_up: bool | None = None) -> Mapping[str, int]:
    """Open (not dismissed) anomalies at the head by severity; ``catch_up`` as above."""

    def count(views: Views) -> Mapping[str, int]:
        return views.open_anomalies_by_severity(views.moment())

    return _summary_at_head("anomalies", settings, catch_up, count)
