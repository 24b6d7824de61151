"""Read models as of a date or a position (docs/projections.md), and anomaly reviews.

Every ``GET /views/...`` takes ``as_of=YYYY-MM-DD`` (domain date, China
Standard Time) or ``at=N`` (ledger position); neither means the head. Auditors,
ndrc, finance, the performance office and security officers read the views
(``read_audit_views``); anomalies are for security officers and auditors
(``read_anomalies``); department-bound roles read none of them. ``/views/declared/{kind}``
answers the plan's declared records in force (docs/facts.md §11). A review is a
ledger event written through ``GovLedger.review_anomaly``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, BeforeValidator, Field

from api.deps import Caller, ServicesDep, require, views_current
from ledger.domain import bounds
from ledger.domain.bounds import MAX_POSITION
from ledger.domain.declarations import DeclarationKind
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.review import ReviewAction, ReviewStatus
from projections.facts import CST
from projections.query import Moment, Views, as_json, open_views, projection_lags
from projections.runner import PROJECTIONS
from security.policy import Permission

router = APIRouter(tags=["views"], dependencies=[Depends(views_current)])
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]
AnomalyReader = Annotated[Caller, Depends(require(Permission.READ_ANOMALIES))]
Reviewer = Annotated[Caller, Depends(require(Permission.REVIEW_ANOMALY))]


def _day(value: object) -> object:
    """A query date within the input contract's range (1970-01-01 … 2100-12-31,
    ``bounds.content_date``): a day past it is a 422, not a date overflow (500) in the views."""
    if value is None:
        return None
    try:
        return bounds.content_date(value, "date")
    except bounds.BoundsError as e:
        raise ValueError(e.problem) from None


Day = Annotated[date, BeforeValidator(_day)]
AsOf = Annotated[Day | None, Query(description="domain date YYYY-MM-DD (CST)")]
At = Annotated[int | None, Query(ge=0, le=MAX_POSITION, description="ledger position")]
# Filters are typed, so a malformed one is a 422 rather than an empty answer.
Department = Annotated[
    str | None,
    Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$", description="department"),
]
Rule = Annotated[
    str | None, Query(pattern=r"^[A-Z]{1,2}[0-9]{1,2}$", description="rule id (domain.md), e.g. S2")
]
Entity = Annotated[UUID | None, Query(description="aggregate id")]
ResourceCode = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="catalogue code: the resource's events, its requests' and accesses to it",
    ),
]
Actor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=2000,
        pattern=r"^[^\x00-\x1f\x7f]+$",  # no control characters (PostgreSQL text has no NUL)
        description="actor or accessor id, verbatim",
    ),
]
MAX_OFFSET = 10**12  # offset + limit stays a 64-bit SQL integer
PageLimit = Annotated[int, Query(ge=1, le=10_000, description="rows per page")]
PageOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows before the page")]
Page = tuple[list[Any], int]  # one page of rows, and how many there are in all
AnomalyId = Annotated[str, Path(pattern=r"^[0-9a-f]{20}$", description="anomaly id")]


def _answer(
    s: ServicesDep, as_of: date | None, at: int | None, ask: Callable[[Views, Moment], Any]
) -> dict[str, Any]:
    with open_views(s.settings) as views:
        try:
            moment = views.moment(as_of=as_of, at=at)
        except ValueError as e:
            raise DomainError(ErrorCode.INVALID_VALUE, str(e)) from None
        return {"moment": as_json(moment), "result": as_json(ask(views, moment))}


def _paged(
    s: ServicesDep,
    as_of: date | None,
    at: int | None,
    limit: int,
    offset: int,
    ask: Callable[[Views, Moment], Page],
) -> dict[str, Any]:
    """One page of a long answer: ``{"moment", "result", "page": {offset, limit, total}}``."""
    answer = _answer(s, as_of, at, lambda v, m: list(ask(v, m)))
    rows, total = answer.pop("result")
    return {**answer, "result": rows, "page": {"offset": offset, "limit": limit, "total": total}}


@router.get("/views/audit-trail")
def audit_trail(
    _: Reader,
    s: ServicesDep,
    as_of: AsOf = None,
    at: At = None,
    entity: Entity = None,
    actor: Actor = None,
    department: Department = None,
    resource: ResourceCode = None,
    start: Day | None = None,
    end: Day | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="page: lines after this position")
    ] = 0,
) -> dict[str, Any]:
    """Ledger lines per entity, actor, department, resource and period, each with position
    and hash."""
    return _answer(s, as_of, at, lambda v, m: v.audit_trail(
        m, entity=entity.hex if entity else None, actor=actor, department=department,
        resource=resource, start=start, end=end, limit=limit, after=after,
    ))  # fmt: skip


@router.get("/views/rights-register")
def rights_register(
    _: Reader, s: ServicesDep, as_of: AsOf = None, at: At = None, department: Department = None
) -> dict[str, Any]:
    """所有权/控制权/使用权 per resource: owner, controller, use rights in force."""
    return _answer(s, as_of, at, lambda v, m: v.rights_register(m, department=department))


@router.get("/views/rectifications")
def rectifications(
    _: Reader, s: ServicesDep, as_of: AsOf = None, at: At = None, department: Department = None
) -> dict[str, Any]:
    """整改台账: each finding's rectification, open, overdue (rule R1) or accepted."""
    return _answer(s, as_of, at, lambda v, m: v.rectifications(m, department=department))


@router.get("/views/audit-suggestions")
def audit_suggestions(
    _: Reader, s: ServicesDep, as_of: AsOf = None, at: At = None, department: Department = None
) -> dict[str, Any]:
    """审计建议采纳情况: each suggestion's last response (adopted, partially, not) and check."""
    return _answer(s, as_of, at, lambda v, m: v.audit_suggestions(m, department=department))


@router.get("/views/findings")
def findings(
    _: Reader,
    s: ServicesDep,
    as_of: AsOf = None,
    at: At = None,
    rule: Rule = None,
    department: Department = None,
    limit: PageLimit = 1000,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    """Compliance findings (domain.md S1–L2) with severity and proving positions, oldest
    first, a page at a time: ``page.total`` counts them all; ask the next pages ``at`` the
    answer's ``moment.position`` (and the same ``as_of``) so they are of the same moment."""

    def page(views: Views, m: Moment) -> Page:
        found = views.findings(m, rule=rule, department=department, limit=limit, offset=offset)
        return found, views.finding_total(m, rule=rule, department=department)

    return _paged(s, as_of, at, limit, offset, page)


@router.get("/views/anomalies")
def anomalies(
    _: AnomalyReader,
    s: ServicesDep,
    as_of: AsOf = None,
    at: At = None,
    status: ReviewStatus | None = None,
    department: Department = None,
    limit: PageLimit = 1000,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    """Access anomalies with score, evidence positions and review state, in ledger order,
    a page at a time (as ``/views/findings``)."""

    def page(views: Views, m: Moment) -> Page:
        found = views.anomalies(m, status=status, department=department, limit=limit,
                                offset=offset)  # fmt: skip
        counts = views.anomaly_counts(m, department=department)
        total = counts.get(status, 0) if status is not None else sum(counts.values())
        return found, total

    return _paged(s, as_of, at, limit, offset, page)


@router.get("/views/inventory")
def inventory(
    _: Reader, s: ServicesDep, as_of: AsOf = None, at: At = None, department: Department = None
) -> dict[str, Any]:
    """Systems per department, zombie candidates (I1), connected and on-cloud shares."""
    return _answer(s, as_of, at, lambda v, m: v.inventory(m, department=department))


@router.get("/views/access-counts")
def access_counts(
    _: Reader,
    s: ServicesDep,
    start: Day,
    end: Day,
    as_of: AsOf = None,
    at: At = None,
) -> dict[str, Any]:
    """Accesses in [start, end] by provider, requester, resource, purpose, month, reason."""
    return _answer(s, as_of, at, lambda v, m: v.access_counts(m, start=start, end=end))


@router.get("/views/zone")
def zone(_: Reader, s: ServicesDep, as_of: AsOf = None, at: At = None) -> dict[str, Any]:
    """The zone's state: departments, systems, resources, requests and grants, filings, funds."""
    return _answer(s, as_of, at, lambda v, m: v.zone(m))


@router.get("/views/declared/{kind}")
def declared(
    kind: Annotated[DeclarationKind, Path(description="declared record kind (docs/facts.md §11)")],
    _: Reader,
    s: ServicesDep,
    as_of: AsOf = None,
    at: At = None,
) -> dict[str, Any]:
    """The plan's declared records of ``kind`` in force at the moment, by subject (a system's
    id as 32 hex digits, a department or resource code): content, reference, evidence,
    business time (``declared_at``, CST) and ledger position (docs/facts.md §11)."""
    return _answer(s, as_of, at, lambda v, m: {
        subject: {
            "content": d.content, "reference": d.reference, "evidence": d.evidence,
            "declared_at": datetime.fromtimestamp(d.at, CST), "position": d.position,
        }
        for subject, d in sorted(v.declared(m, kind.value).items())
    })  # fmt: skip


@router.get("/views/projections")
def projections_status(_: Reader, s: ServicesDep) -> dict[str, Any]:
    """Each projection's lag behind the ledger's head (rows)."""
    lags = projection_lags(s.settings)
    return {"projections": {name: {"lag": lags[name]} for name in PROJECTIONS}}


class ReviewBody(BaseModel):
    action: ReviewAction
    comment: str = Field(min_length=1, max_length=2000)


@router.post("/anomalies/{anomaly_id}/review", status_code=201)
def review_anomaly(
    anomaly_id: AnomalyId, body: ReviewBody, caller: Reviewer, s: ServicesDep
) -> dict[str, Any]:
    """Acknowledge, dismiss, escalate, assign (comment: the officer) or note an anomaly, as
    the review rules allow (docs/console.md); the review is a ledger event."""
    with open_views(s.settings) as views:
        anomaly = views.anomaly(anomaly_id)
    if anomaly is None:
        raise DomainError(ErrorCode.UNKNOWN_ANOMALY, f"no anomaly {anomaly_id}")
    s.ledger.review_anomaly(
        caller.actor, anomaly_id, body.action, body.comment, severity=anomaly.severity
    )
    # A write request: where this service may write the views, they take in the review.
    with open_views(s.settings, catch_up=s.settings.create_schema) as views:
        found = views.anomaly(anomaly_id)
    assert found is not None
    return as_json(found)  # type: ignore[no-any-return]
