"""个人信息查阅: a person's request answered from the console (issue 19; docs/privacy.md).

The security officer (网信办) enters the person's identifier, the period and the
request's reference; the page lists every access to their records (department,
system, resource, items, purpose, grant, authorized or not, ledger position)
as ``POST /api/v1/subjects/accesses`` answers it, and offers the PDF letter.
Forms are POST only (the identifier never in a URL) and CSRF-checked; every
lookup, and every letter, is recorded in the ledger.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from api.console.session import Session
from api.console.web import check_csrf, page, render
from api.deps import services
from api.subject_letter import letter_pdf, mask
from ledger.domain.actor import Actor
from ledger.domain.errors import DomainError
from projections.labels import ACCESS_REASONS
from security.policy import Permission

router = APIRouter()
Handler = Annotated[Session, Depends(page(Permission.ANSWER_SUBJECT_REQUEST))]
Field = Annotated[str, Form(max_length=512)]


@router.get("/subjects")
def subjects_form(request: Request, session: Handler) -> Response:
    return render(request, "subjects.html", session, {"answer": None, "form": {}})


@router.post("/subjects")
def subjects_lookup(
    request: Request,
    session: Handler,
    subject: Field = "",
    start: Field = "",
    end: Field = "",
    reference: Field = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    check_csrf(session, csrf)
    answer, error = _answer(request, session, subject, start, end, reference)
    return _page(request, session, subject, start, end, reference, answer, error)


@router.post("/subjects/letter")
def subjects_letter(
    request: Request,
    session: Handler,
    subject: Field = "",
    start: Field = "",
    end: Field = "",
    reference: Field = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    check_csrf(session, csrf)
    answer, error = _answer(request, session, subject, start, end, reference)
    if answer is None:
        return _page(request, session, subject, start, end, reference, None, error)
    pdf = letter_pdf(subject, answer, reference)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="subject-letter.pdf"'},
    )


def _page(
    request: Request,
    session: Session,
    subject: str,
    start: str,
    end: str,
    reference: str,
    answer: dict[str, Any] | None,
    error: str | None,
) -> Response:
    """The lookup page with the form as filled in and the answer, or the error (422)."""
    return render(
        request,
        "subjects.html",
        session,
        {
            "answer": answer,
            "error": error,
            "form": {"start": start, "end": end, "reference": reference},
            "masked": mask(subject) if subject.strip() else "",
            "reasons_zh": ACCESS_REASONS,
        },
        status_code=200 if error is None else 422,
    )


def _answer(
    request: Request, session: Session, subject: str, start: str, end: str, reference: str
) -> tuple[dict[str, Any] | None, str | None]:
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return None, "请按 YYYY-MM-DD 填写起止日期"
    if not subject.strip():
        return None, "请填写身份证件号码"
    s = services(request)
    try:
        answer = s.ledger.subject_accesses(
            _actor(request, session), subject, first, last, reference.strip()
        )
    except DomainError as e:
        return None, _refusal(e)
    names: dict[str, str] = {}
    accesses = []
    for access in answer.accesses:
        entry = access.to_json()
        code = entry["department"]
        if code not in names:
            try:
                names[code] = f"{s.ledger.department(code).name}（{code}）"
            except DomainError:
                names[code] = code
        entry["department"] = names[code]
        accesses.append(entry)
    return {
        "from": answer.start.isoformat(),
        "to": answer.end.isoformat(),
        "subject_erased": answer.erased,
        "tree_size": answer.tree_size,
        "accesses": accesses,
    }, None


def _refusal(error: DomainError) -> str:
    known = {
        "subjects_unavailable": "未配置数据主体索引密钥，无法查询",
        "invalid_period": "起始日期晚于截止日期",
        "invalid_value": "输入不符合要求",
    }
    return known.get(error.code.value, error.code.value)


def _actor(request: Request, session: Session) -> Actor:
    client = request.client.host if request.client else None
    return session.principal.to_actor(client_address=client, request_id=request.state.request_id)
