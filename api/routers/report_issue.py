"""Issuing a report over HTTP, and verifying a file someone hands you (docs/reports.md).

``POST /reports/{kind}/issue?year=Y&format=F[&at=N]`` renders the report as of
position N (default: the ledger's head when asked), records the issuance of its
bytes (``IssuedReport.Issued``, ledger/commands/report_issue.py) and answers the
very bytes issued, with the hash and the positions in headers: a report fetched
again later may differ (its generation time), the issued one is the one on record.
Before recording, the views the report was built from are checked against the ledger
folded afresh to its position (projections/view_check.py, docs/reports.md §Issued from
checked views): views that differ are answered 409 ``views_differ_from_ledger``, naming
the table and row, and nothing is recorded.

``POST /reports/verify`` takes a file's bytes as the body and answers whether and
where this exact file was issued, with the evidence bundle (inclusion of the
issuance event against a signed checkpoint, checkpoint-format §13) when a
checkpoint covers it. A file never issued — one byte changed is enough — is
answered ``{"issued": false}``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import Caller, ServicesDep, require
from ledger.domain.bounds import MAX_POSITION
from ledger.domain.errors import DomainError, ErrorCode
from ledger.errors import LedgerError
from ledger.evidence import build_bundle
from ledger.report_evidence import verify_bytes
from ledger.store.connect import ledger_head
from projections.reports import Format, ReportKind, generate, render
from projections.runner import run_projections
from projections.view_check import ViewsMismatchError, check_issue
from security.policy import Permission

router = APIRouter(tags=["reports"])
Issuer = Annotated[Caller, Depends(require(Permission.ISSUE_REPORT))]
Checker = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]


@router.post("/reports/{kind}/issue", response_class=Response)
def issue(
    caller: Issuer,
    s: ServicesDep,
    kind: ReportKind,
    year: Annotated[int, Query(ge=2000, le=2100, description="the year reported on")],
    fmt: Annotated[Format, Query(alias="format")] = Format.JSON,
    at: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="as of ledger position N")
    ] = None,
) -> Response:
    """Render and issue: the body is the issued file; ``X-Govledger-Sha256``,
    ``X-Govledger-Issued-Position`` and ``X-Govledger-As-Of`` say what was recorded."""
    head = ledger_head(s.settings)
    if head == 0:
        raise DomainError(ErrorCode.INVALID_VALUE, "the ledger is empty: nothing to issue")
    if at is not None and at > head:
        raise DomainError(ErrorCode.INVALID_VALUE, f"position {at} is beyond the head ({head})")
    as_of = at or head
    # Issuing is a write: where this service may write the views, they take in the head.
    if s.settings.create_schema:
        run_projections(s.settings)
    report = generate(s.settings, kind, year, at=as_of)
    try:  # the views it was built from must be the ledger's (projections/view_check.py)
        check_issue(s.settings, report)
    except ViewsMismatchError as e:
        return JSONResponse({"error": "views_differ_from_ledger", "detail": str(e)}, 409)
    body = render(report, fmt)
    (issued,) = s.ledger.issue_report(
        caller.actor, kind=kind.value, year=year, as_of_position=as_of, files=[(fmt.value, body)]
    )
    name = f"govledger-{kind.value}-{year}-{issued.sha256[:12]}.{fmt.value}"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Govledger-Sha256": issued.sha256,
        "X-Govledger-Issued-Position": str(issued.position),
        "X-Govledger-As-Of": str(as_of),
    }
    return Response(body, media_type=fmt.media_type, headers=headers)


@router.post("/reports/verify")
async def verify(_: Checker, s: ServicesDep, request: Request) -> dict[str, Any]:
    """Was this exact file issued? The body is the file's bytes."""
    content = await request.body()
    if not content:
        raise DomainError(ErrorCode.INVALID_VALUE, "the body is empty: send the file's bytes")
    return answer_for(s, content)


def answer_for(s: Any, content: bytes) -> dict[str, Any]:
    """The verification answer for a file's bytes (shared with the console's upload)."""
    sha = hashlib.sha256(content).hexdigest()
    position = s.ledger.issuance_position(sha)
    if position is None:
        return {"issued": False, "sha256": sha}
    issued = s.ledger.issued(sha)
    answer: dict[str, Any] = {
        "issued": True,
        "sha256": sha,
        "position": position,
        "issuance": {
            "kind": issued.kind.value,
            "year": issued.year,
            "format": issued.format.value,
            "size": issued.size,
            "as_of_position": issued.as_of_position,
            "issued_at": issued.issued_at.isoformat(),
        },
    }
    try:
        bundle = build_bundle(s.settings, [position])
    except LedgerError as e:
        return {**answer, "proof": None, "detail": f"no proof yet: {e}"}
    keys = json.loads(bundle)["log_keys"]  # the trusted keys build_bundle checked it with
    checked = verify_bytes(content, bundle, trusted_log_keys=keys)
    return {**answer, "proof": checked.proof.to_json(), "evidence": json.loads(bundle)}
