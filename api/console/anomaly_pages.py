"""异常访问 / Anomalies: the security officers' triage queue (docs/console.md "Anomaly triage").

The queue (``projections.triage``) filters by status, kind, severity, accessor, resource,
department, assignee, date range and overdue; sorts by score, age or kind; pages; exports
the filtered set as CSV/XLSX; acknowledges a page's selection in one step. Each anomaly
shows its evidence events (the ledger lines at its positions), its age against the
configured response time (``anomaly_response_hours``), and takes reviews — acknowledge,
dismiss, escalate, assign to a named officer, case note — through ``GovLedger.review_anomaly``
where the review rules are enforced (ledger/domain/review.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from api.console.export import EXPORT_LIMIT, export_table
from api.console.register_pages import parse_day
from api.console.session import Session
from api.console.views_common import (
    ask,
    department_names,
    officer_names,
    people,
    record_read,
    views_at,
)
from api.console.web import check_csrf, page, redirect, render
from api.deps import services
from ledger.domain.actor import Actor
from ledger.domain.errors import DomainError
from ledger.domain.review import ReviewAction
from projections import triage
from projections.labels import (
    ANOMALY_KINDS,
    ANOMALY_STATUS,
    REVIEW_ACTIONS,
    SEVERITY_NAMES,
    cst_text,
)
from projections.query import Anomaly, AuditLine, Views
from projections.runner import run_projections
from security.policy import Permission

router = APIRouter()
Reader = Annotated[Session, Depends(page(Permission.READ_ANOMALIES))]
Reviewer = Annotated[Session, Depends(page(Permission.REVIEW_ANOMALY))]
Text = Annotated[str, Query(max_length=100)]
PAGE_SIZE: Final = 50
EVIDENCE_SHOWN: Final = 20
BULK_LIMIT: Final = 200
LABELS: Final = {
    "kinds": ANOMALY_KINDS,
    "statuses": ANOMALY_STATUS,
    "actions": REVIEW_ACTIONS,
    "severities": SEVERITY_NAMES,
    "sorts": {
        "score": "评分从高到低",
        "oldest": "最早的在前",
        "newest": "最新的在前",
        "kind": "按类型",
    },
}
QUERY_KEYS: Final = (
    "status", "kind", "severity", "accessor", "resource", "department", "assignee", "start",
    "end", "overdue", "sort",
)  # fmt: skip


@router.get("/anomalies")
def queue(
    request: Request,
    session: Reader,
    status: Annotated[str, Query(max_length=20)] = "open",
    kind: Text = "",
    severity: Text = "",
    accessor: Text = "",
    resource: Text = "",
    department: Annotated[str, Query(max_length=64)] = "",
    assignee: Text = "",
    start: Text = "",
    end: Text = "",
    overdue: Annotated[str, Query(max_length=3)] = "",
    sort: Annotated[str, Query(pattern="^(score|oldest|newest|kind)?$")] = "score",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    export: Annotated[str, Query(pattern="^(csv|xlsx)?$")] = "",
) -> Response:
    settings = services(request).settings
    first, error_start = parse_day(start)
    last, error_end = parse_day(end)
    response_hours = settings.anomaly_response_hours
    now = datetime.now(UTC)
    filters = triage.Triage(
        status=status, kind=kind.strip(), severity=severity.strip(), accessor=accessor.strip(),
        resource=resource.strip(), department=department, assignee=assignee.strip(),
        start=first, end=last, sort=sort or "score",
        overdue_before=now - timedelta(hours=response_hours) if overdue else None,
    )  # fmt: skip
    dept = department or None
    with views_at(settings, None) as (views, asked):
        m = asked.moment
        if export:
            found = triage.rows(views, m, filters, limit=EXPORT_LIMIT)
            names = department_names(views, m)
            record_read(request, session, "anomaly_export", str(request.url.query))
            return export_table(export, "异常访问", QUEUE_HEADER, _queue_rows(found, names, now))
        counts = ask(
            views, m, "anomaly_counts", lambda: views.anomaly_counts(m, department=dept), dept
        )
        total = ask(views, m, "triage_count", lambda: triage.count(views, m, filters), filters)
        rows = triage.rows(views, m, filters, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
        names = department_names(views, m)
    query = {
        "status": status, "kind": kind, "severity": severity, "accessor": accessor,
        "resource": resource, "department": department, "assignee": assignee, "start": start,
        "end": end, "overdue": overdue, "sort": sort,
    }  # fmt: skip
    return render(
        request,
        "anomalies.html",
        session,
        {
            **LABELS,
            "moment": m,
            "rows": rows,
            "total": total,
            "counts": counts,
            "status": status,
            "query": query,
            "department": department,
            "departments": names,
            "page_number": page_number,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "response_hours": response_hours,
            "age": lambda a: _age(a, now),
            "is_overdue": lambda a: _overdue(a, now, response_hours),
            "error": error_start or error_end,
        },
    )


QUEUE_HEADER: Final = (
    "异常编号", "评分", "等级", "异常类型", "访问主体", "访问部门", "访问时间", "处置状态",
    "承办人", "已过时长（小时）", "说明", "证据位置",
)  # fmt: skip


def _queue_rows(
    found: list[triage.QueueRow], names: dict[str, str], now: datetime
) -> Iterator[list[str | int | float]]:
    for row in found:
        a = row.anomaly
        yield [
            a.anomaly_id, round(a.score, 2), SEVERITY_NAMES.get(a.severity, a.severity),
            ANOMALY_KINDS.get(a.kind, a.kind), a.subject, names.get(a.department or "", ""),
            cst_text(a.time), ANOMALY_STATUS.get(a.status, a.status), row.assignee,
            int((now - a.time).total_seconds() // 3600), a.detail,
            " ".join(str(p) for p in a.positions),
        ]  # fmt: skip


def _age(anomaly: Anomaly, now: datetime) -> str:
    hours = int((now - anomaly.time).total_seconds() // 3600)
    return f"{hours // 24} 天" if hours >= 48 else f"{hours} 小时"


def _overdue(anomaly: Anomaly, now: datetime, response_hours: int) -> bool:
    return anomaly.status == "open" and now - anomaly.time > timedelta(hours=response_hours)


@router.post("/anomalies/bulk")
def bulk_acknowledge(
    request: Request,
    session: Reviewer,
    ids: Annotated[list[str], Form(max_length=BULK_LIMIT)],
    comment: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Acknowledge the selected anomalies with one comment: one ledger event each."""
    check_csrf(session, csrf)
    s = services(request)
    if not comment.strip():
        return redirect(f"/anomalies?{_back(back)}&bulk_error=comment")
    actor = _actor(request, session)
    with views_at(s.settings, None) as (views, _):
        chosen = [a for a in (views.anomaly(i) for i in ids[:BULK_LIMIT]) if a is not None]
    done = 0
    for anomaly in chosen:
        try:
            s.ledger.review_anomaly(
                actor, anomaly.anomaly_id, ReviewAction.ACKNOWLEDGE, comment.strip(),
                severity=anomaly.severity,
            )  # fmt: skip
            done += 1
        except DomainError:
            continue  # already moved on (the machine refuses): left as it is
    if done and s.settings.create_schema:  # a write request: the views take it in, as above
        run_projections(s.settings)
    return redirect(f"/anomalies?{_back(back)}&acknowledged={done}")


def _back(query: str) -> str:
    """The queue's query string the form came from (only the queue's own keys kept)."""
    kept = [(k, v) for k, v in parse_qsl(query) if k in QUERY_KEYS or k == "page"]
    return urlencode(kept)


@router.get("/anomalies/{anomaly_id}")
def detail(request: Request, session: Reader, anomaly_id: str) -> Response:
    page = _detail(request, session, anomaly_id)
    if page.status_code == 200:  # evidence names accessors and client addresses: recorded
        record_read(request, session, "anomaly", anomaly_id)
    return page


def _detail(request: Request, session: Session, anomaly_id: str, error: str = "") -> Response:
    settings = services(request).settings
    with views_at(settings, None) as (views, asked):
        anomaly = views.anomaly(anomaly_id)
        if anomaly is None:
            return render(
                request, "anomaly.html", session, {**LABELS, "anomaly": None}, status_code=404
            )
        evidence = _evidence(views, asked.moment, anomaly)
        reviews = _review_lines(views, asked.moment, anomaly)
        names = department_names(views, asked.moment)
    assigned = [r.comment for r in anomaly.reviews if r.action == ReviewAction.ASSIGN.value]
    now = datetime.now(UTC)
    return render(
        request,
        "anomaly.html",
        session,
        {
            **LABELS,
            "anomaly": anomaly,
            "evidence": evidence,
            "review_lines": reviews,
            "departments": names,
            "error": error,
            "officers": officer_names(request),
            "people": people(request),
            "assignee": assigned[-1] if assigned else "",
            "age": _age(anomaly, now),
            "overdue": _overdue(anomaly, now, settings.anomaly_response_hours),
            "response_hours": settings.anomaly_response_hours,
            "hidden_evidence": max(0, len(anomaly.positions) - EVIDENCE_SHOWN),
        },
        status_code=422 if error else 200,
    )


def _line_at(views: Views, m: object, position: int) -> AuditLine | None:
    """The audit line recorded at ``position`` (the trail read from just before it)."""
    found = views.audit_trail(m, after=position - 1, limit=1)  # type: ignore[arg-type]
    return found[0] if found and found[0].position == position else None


def _evidence(views: Views, m: object, anomaly: Anomaly) -> list[tuple[int, AuditLine | None]]:
    return [(p, _line_at(views, m, p)) for p in anomaly.positions[:EVIDENCE_SHOWN]]


def _review_lines(views: Views, m: object, anomaly: Anomaly) -> dict[int, AuditLine | None]:
    return {r.position: _line_at(views, m, r.position) for r in anomaly.reviews}


def _actor(request: Request, session: Session) -> Actor:
    client = request.client.host if request.client else None
    return session.principal.to_actor(client_address=client, request_id=request.state.request_id)


@router.post("/anomalies/{anomaly_id}/review")
def review(
    request: Request,
    session: Reviewer,
    anomaly_id: str,
    action: Annotated[str, Form(max_length=20)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    assignee: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    check_csrf(session, csrf)
    s = services(request)
    text = assignee.strip() if action == ReviewAction.ASSIGN.value else comment.strip()
    problem = _review_problem(action, text)
    anomaly = None
    if not problem:
        with views_at(s.settings, None) as (views, _):
            anomaly = views.anomaly(anomaly_id)
        if anomaly is None:
            problem = "没有这条异常记录"
    if not problem and anomaly is not None:
        try:
            s.ledger.review_anomaly(
                _actor(request, session),
                anomaly_id,
                ReviewAction(action),
                text,
                severity=anomaly.severity,
            )
        except DomainError as e:
            problem = f"处置未记录：{REFUSALS.get(e.code.value, e.detail)}"
        else:  # a write request: where this service may write the views, they take it in
            if s.settings.create_schema:
                run_projections(s.settings)
    if problem:
        return _detail(request, session, anomaly_id, error=problem)
    return redirect(f"/anomalies/{anomaly_id}#reviews")


# The review machine's refusals, as the officer reads them (docs/console.md "Review rules").
REFUSALS: Final = {
    "anomaly_closed": "该异常已排除，不再接受处置",
    "review_not_allowed": (
        "不符合处置规则（同一状态不能重复处置；已升级的异常只能由其他安全专员排除；"
        "高、严重等级异常须经另一名安全专员复核后方可排除）"
    ),
}


def _review_problem(action: str, text: str) -> str:
    if action not in REVIEW_ACTIONS:
        return "请选择处置方式"
    if not text:
        return "请选择承办人" if action == ReviewAction.ASSIGN.value else "请填写处置意见"
    return ""
