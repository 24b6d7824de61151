"""整改台账 and 报告核验: rectifications as of a date, and whether a report file was issued.

整改台账 (docs/facts.md §8):
The register of ``Views.rectifications`` (projections/rectification.py): the
notice (文号, department, what to rectify, deadline), the last step by the date
and the status — 整改中, 逾期未完成 (rule R1) or 已通过 — with the positions of
every step linking to their proofs. Below it, 审计建议采纳情况 from
``Views.audit_suggestions`` (projections/audit_suggestion.py): each suggestion, the
department's last answer (已采纳 / 部分采纳 / 未采纳, with its explanation) and
whether the auditor has checked it.

报告核验 (docs/reports.md "Issuance and verification"): an uploaded file is
answered as ``POST /reports/verify`` answers it — issued or not, where, and the
inclusion proof of its issuance against a signed checkpoint.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from api.console.register_pages import parse_day
from api.console.session import Session
from api.console.views_common import ask, department_names, views_at
from api.console.web import check_csrf, page, render
from api.deps import services
from api.routers.report_issue import answer_for
from projections.labels import (
    ADOPTION,
    RECTIFICATION_REGISTER,
    RECTIFICATION_STATUS,
    SUGGESTION_STATUS,
)
from security.policy import Permission

router = APIRouter()
Reader = Annotated[Session, Depends(page(Permission.READ_AUDIT_VIEWS))]
Text = Annotated[str, Query(max_length=100)]
MAX_REPORT_BYTES: Final = 64 * 1024 * 1024
KIND_ZH: Final = {"risk": "风险评估报告", "annual": "年度报告", "audit": "经费审计报告"}
# The one label table (projections/labels.py): the console and the reports say the same.
STATUS_ZH: Final = RECTIFICATION_REGISTER
STEP_ZH: Final = RECTIFICATION_STATUS


@router.get("/rectifications")
def rectifications(
    request: Request, session: Reader, as_of: Text = "", department: Text = ""
) -> Response:
    day, error = parse_day(as_of)
    with views_at(services(request).settings, day) as (views, asked):
        m = asked.moment
        entries = ask(
            views,
            m,
            "rectifications",
            lambda: views.rectifications(m, department=department or None),
            department,
        )
        suggestions = ask(
            views,
            m,
            "audit_suggestions",
            lambda: views.audit_suggestions(m, department=department or None),
            department,
        )
        names = department_names(views, m)
    counts = {status: sum(1 for e in entries if e.status == status) for status in STATUS_ZH}
    return render(
        request,
        "rectifications.html",
        session,
        {
            "entries": entries,
            "suggestions": suggestions,
            "adoption_zh": ADOPTION,
            "suggestion_zh": SUGGESTION_STATUS,
            "counts": counts,
            "status_zh": STATUS_ZH,
            "step_zh": STEP_ZH,
            "moment": m,
            "as_of": as_of if not error else "",
            "department": department,
            "departments": names,
            "error": error or asked.error,
        },
    )


@router.get("/report-check")
def report_check_form(request: Request, session: Reader) -> Response:
    return render(request, "report_check.html", session, {"result": None, "kind_zh": KIND_ZH})


@router.post("/report-check")
async def report_check(
    request: Request,
    session: Reader,
    report: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Was this exact file issued? Answered from the ledger, with the proof when there is one."""
    check_csrf(session, csrf)
    raw = await report.read(MAX_REPORT_BYTES + 1)
    if not raw or len(raw) > MAX_REPORT_BYTES:
        result = {"issued": False, "error": "文件为空或超过 64 MiB"}
    else:
        result = answer_for(services(request), raw)
    return render(
        request,
        "report_check.html",
        session,
        {"result": result, "filename": report.filename or "", "kind_zh": KIND_ZH},
        status_code=200 if result["issued"] else 422,
    )
