"""The answers of the Query API: immutable values a view returns (docs/projections.md).

``projections.query.Views`` answers every view for a :class:`Moment`; the values it
answers with, and the conversions from the zone fold's plain-JSON state to them,
live here so the views, the reports and the API share one model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from projections.facts import CST
from projections.rules import FindingTuple

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
