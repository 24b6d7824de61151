"""异常访问 / Anomalies: the review queue of security officers (docs/projections.md Anomaly).

The queue is sorted by score, highest first; each anomaly shows its evidence
events (the ledger lines at its positions). Acknowledge, dismiss and escalate
go through ``GovLedger.review_anomaly``: the review is a ledger event, shown
back at once with its position (the views catch up before they answer).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from api.console.labels import ANOMALY_KINDS, ANOMALY_STATUS, REVIEW_ACTIONS
from api.console.session import Session
from api.console.views_common import ask, department_names, views_at
from api.console.web import check_csrf, page, redirect, render
from api.deps import services
from ledger.domain.errors import DomainError
from ledger.domain.review import ReviewAction
from projections.query import Anomaly, AuditLine, Views
from projections.rules import SEVERITY_ZH as SEVERITY
from projections.runner import run_projections
from security.policy import Permission

router = APIRouter()
Reader = Annotated[Session, Depends(page(Permission.READ_ANOMALIES))]
Reviewer = Annotated[Session, Depends(page(Permission.REVIEW_ANOMALY))]
PAGE_SIZE: Final = 50
EVIDENCE_SHOWN: Final = 20
LABELS: Final = {
    "kinds": ANOMALY_KINDS,
    "statuses": ANOMALY_STATUS,
    "actions": REVIEW_ACTIONS,
    "severities": SEVERITY,
}


@router.get("/anomalies")
def queue(
    request: Request,
    session: Reader,
    status: Annotated[str, Query(max_length=20)] = "open",
    department: Annotated[str, Query(max_length=64)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    settings = services(request).settings
    dept = department or None
    with views_at(settings, None) as (views, asked):
        m = asked.moment
        counts = ask(
            views, m, "anomaly_counts", lambda: views.anomaly_counts(m, department=dept), dept
        )
        rows = ask(
            views,
            m,
            "anomaly_queue",
            lambda: views.anomalies(
                m,
                status=status or None,
                department=dept,
                by_score=True,
                limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
            ),
            status,
            dept,
            page_number,
        )
        names = department_names(views, asked.moment)
    total = counts.get(status, 0) if status else sum(counts.values())
    return render(
        request,
        "anomalies.html",
        session,
        {
            **LABELS,
            "moment": asked.moment,
            "rows": rows,
            "total": total,
            "counts": counts,
            "status": status,
            "department": department,
            "departments": names,
            "page_number": page_number,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


@router.get("/anomalies/{anomaly_id}")
def detail(request: Request, session: Reader, anomaly_id: str) -> Response:
    return _detail(request, session, anomaly_id)


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


@router.post("/anomalies/{anomaly_id}/review")
def review(
    request: Request,
    session: Reviewer,
    anomaly_id: str,
    action: Annotated[str, Form(max_length=20)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    check_csrf(session, csrf)
    s = services(request)
    problem = _review_problem(action, comment)
    if not problem:
        with views_at(s.settings, None) as (views, _):
            if views.anomaly(anomaly_id) is None:
                problem = "没有这条异常记录"
    if not problem:
        client = request.client.host if request.client else None
        actor = session.principal.to_actor(
            client_address=client, request_id=request.state.request_id
        )
        try:
            s.ledger.review_anomaly(actor, anomaly_id, ReviewAction(action), comment.strip())
        except DomainError as e:
            problem = f"处置未记录：{e.detail}"
        else:  # a write request: where this service may write the views, they take it in
            if s.settings.create_schema:
                run_projections(s.settings)
    if problem:
        return _detail(request, session, anomaly_id, error=problem)
    return redirect(f"/anomalies/{anomaly_id}#reviews")


def _review_problem(action: str, comment: str) -> str:
    if action not in REVIEW_ACTIONS:
        return "请选择处置方式"
    if not comment.strip():
        return "请填写处置意见"
    return ""
