"""报告 / Reports: the three reports of docs/reports.md, viewed with their charts or downloaded.

Generation is the reports package's (projections/reports: one replay of the
ledger, then layout); the console only asks and serves, through the cache it
shares with the API (projections/reports/cache.py): the other format or a
second download of an unchanged ledger costs no replay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.console.session import Session
from api.console.web import SECURITY_HEADERS, page, render
from api.deps import services
from ledger.domain.calendar import CHINA_STANDARD_TIME
from projections.reports import Format, ReportKind
from projections.reports.cache import REPORTS
from security.policy import Permission

router = APIRouter()
Reader = Annotated[Session, Depends(page(Permission.READ_AUDIT_VIEWS))]
KINDS: Final = {
    ReportKind.RISK: ("政务数据共享风险评估报告", "区网信办"),
    ReportKind.ANNUAL: ("政务信息资源共享情况年度报告", "区发改局"),
    ReportKind.AUDIT: ("信息化经费决定合规审计报告", "区审计局"),
}
DOWNLOADS: Final = (Format.PDF, Format.XLSX)
# The report's own HTML carries its styles and inline SVG charts, and no script.
REPORT_HTML_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


def this_year() -> int:
    return datetime.now(CHINA_STANDARD_TIME).year


@router.get("/reports")
def reports(request: Request, session: Reader) -> Response:
    year = this_year()
    return render(
        request,
        "reports.html",
        session,
        {"kinds": KINDS, "years": list(range(year, year - 5, -1)), "year": year},
    )


@router.get("/reports/{kind}")
def report(
    request: Request,
    _: Reader,
    kind: ReportKind,
    year: Annotated[int, Query(ge=2000, le=2100)],
    fmt: Annotated[Format, Query(alias="format")] = Format.HTML,
) -> Response:
    body = REPORTS.get(services(request).settings, kind, year, fmt)
    if fmt in DOWNLOADS:
        name = f"govledger-{kind.value}-{year}.{fmt.value}"
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(body, media_type=fmt.media_type, headers=headers)
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": REPORT_HTML_POLICY}
    return Response(body, media_type=fmt.media_type, headers=headers)
