"""The three reports in Simplified Chinese (docs/reports.md), for machines and downloads.

``GET /reports/{kind}?year=Y&format=json|html|pdf|xlsx[&at=N]``: the same
documents as ``govledger report`` and the console's 报告 page, from the cache
they share (projections/reports/cache.py), so a second format or a second
reader of an unchanged ledger costs no replay. Readers of the views
(``read_audit_views``) may fetch them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import Caller, ServicesDep, require
from ledger.domain.bounds import MAX_POSITION
from ledger.domain.errors import DomainError, ErrorCode
from ledger.store.connect import ledger_head
from projections.reports import Format, ReportKind
from projections.reports.cache import REPORTS
from security.policy import Permission

router = APIRouter(tags=["reports"])
Reader = Annotated[Caller, Depends(require(Permission.READ_AUDIT_VIEWS))]
_DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report; JSON is its document model (docs/reports.md)",
        "content": {fmt.media_type.split(";")[0]: {} for fmt in Format},
    }
}


@router.get("/reports/{kind}", response_class=Response, responses=_DOCUMENT)
def report(
    _: Reader,
    s: ServicesDep,
    kind: ReportKind,
    year: Annotated[int, Query(ge=2000, le=2100, description="the year reported on")],
    fmt: Annotated[Format, Query(alias="format")] = Format.JSON,
    at: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="as of ledger position N")
    ] = None,
) -> Response:
    """风险评估报告 (risk), 年度共享工作报告 (annual) or 经费审计报告 (audit) for ``year``."""
    if at is not None and at > (head := ledger_head(s.settings)):
        raise DomainError(ErrorCode.INVALID_VALUE, f"position {at} is beyond the head ({head})")
    body = REPORTS.get(s.settings, kind, year, fmt, at=at)
    headers = {}
    if fmt in (Format.PDF, Format.XLSX):
        name = f"govledger-{kind.value}-{year}.{fmt.value}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(body, media_type=fmt.media_type, headers=headers)
