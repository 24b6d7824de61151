"""A person's requests (issue 19; docs/privacy.md): who read my records, and erasure.

POST only, so a data subject's identifier is never in a URL (access logs, proxies).
Both are recorded in the ledger (``ledger/commands/subjects.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import Field

from api.deps import Caller, Services, ServicesDep, require
from api.schemas import Body, Text
from api.subject_letter import letter_pdf
from ledger.domain import bounds
from ledger.domain.errors import DomainError
from security.policy import Permission

router = APIRouter(tags=["data subjects"])
Handler = Annotated[Caller, Depends(require(Permission.ANSWER_SUBJECT_REQUEST))]
Eraser = Annotated[Caller, Depends(require(Permission.ERASE_SUBJECT))]
Identifier = Annotated[str, Field(min_length=1, max_length=bounds.MAX_ID)]


class SubjectLookupIn(Body):
    subject: Identifier = Field(description="the person's identifier, e.g. a citizen id number")
    start: date = Field(alias="from", description="first day (CST) of the period")
    end: date = Field(alias="to", description="last day (CST) of the period, inclusive")
    reference: str = Field(
        default="", max_length=bounds.MAX_ID, description="the request's own reference (文号)"
    )


class SubjectErasureIn(Body):
    subject: Identifier
    reason: Text = Field(examples=["处理目的已实现"])
    legal_basis: Text = Field(examples=["《个人信息保护法》第四十七条"])


@router.post("/subjects/accesses")
def subject_accesses(body: SubjectLookupIn, caller: Handler, s: ServicesDep) -> dict[str, Any]:
    """Every access to one person's records in a period: department, system, items,
    purpose, grant and verdict, each with its ledger position and inclusion proof."""
    return _answer(body, caller, s)


_PDF: dict[int | str, dict[str, Any]] = {
    200: {"description": "the letter", "content": {"application/pdf": {}}}
}


@router.post("/subjects/accesses/letter", response_class=Response, responses=_PDF)
def subject_letter(body: SubjectLookupIn, caller: Handler, s: ServicesDep) -> Response:
    """The same answer as a PDF letter in Chinese (个人信息查阅答复函); recorded alike."""
    answer = _answer(body, caller, s)
    for access in answer["accesses"]:
        access["department"] = _department_name(s, access["department"])
    pdf = letter_pdf(body.subject, answer, body.reference)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="subject-letter.pdf"'},
    )


def _department_name(s: Services, code: str) -> str:
    try:
        return f"{s.ledger.department(code).name}（{code}）"
    except DomainError:
        return code


def _answer(body: SubjectLookupIn, caller: Caller, s: Services) -> dict[str, Any]:
    answer = s.ledger.subject_accesses(
        caller.actor, body.subject, body.start, body.end, body.reference
    )
    return {
        "from": answer.start.isoformat(),
        "to": answer.end.isoformat(),
        "subject_erased": answer.erased,
        "tree_size": answer.tree_size,
        "accesses": [access.to_json() for access in answer.accesses],
    }


@router.post("/subjects/erase")
def erase_subject(body: SubjectErasureIn, caller: Eraser, s: ServicesDep) -> dict[str, Any]:
    """Destroy the person's keys (个人信息保护法 §47): their key ids read as erased
    everywhere; the access facts and every proof stay."""
    erasure = s.ledger.erase_subject(caller.actor, body.subject, body.reason, body.legal_basis)
    return {
        "erasure_id": str(erasure.erasure_id),
        "keys_destroyed": erasure.keys_destroyed,
    }
