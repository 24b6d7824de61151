"""报告 / Reports: the three reports of docs/reports.md, viewed with their charts or downloaded.

Generation is the reports package's (projections/reports: one replay of the
ledger, then layout); the console only asks and serves. A generated report is
kept per (kind, year, ledger position), so the other format or a second download
of an unchanged ledger costs no replay; a new event makes a new key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Annotated, Final, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.console.session import Session
from api.console.web import SECURITY_HEADERS, page, render
from api.deps import services
from ledger.config import Settings
from ledger.domain.calendar import CHINA_STANDARD_TIME
from projections.reports import Format, Report, ReportKind, generate, ledger_size
from projections.reports import render as render_report
from security.policy import Permission

router = APIRouter()
Reader = Annotated[Session, Depends(page(Permission.READ_AUDIT_VIEWS))]
KINDS: Final = {
    ReportKind.RISK: ("政务数据共享风险评估报告", "区网信办"),
    ReportKind.ANNUAL: ("政务信息资源共享工作报告", "区发改局"),
    ReportKind.AUDIT: ("信息化经费决定合规审计报告", "区审计局"),
}
DOWNLOADS: Final = {
    Format.PDF: ("application/pdf", "pdf"),
    Format.XLSX: ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
# The report's own HTML carries its styles and inline SVG charts, and no script.
REPORT_HTML_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
CACHED_REPORTS: Final = 12
K = TypeVar("K")
V = TypeVar("V")


class ReportCache:
    """Recent reports, keyed by (kind, year, ledger position): the document model once per
    key (the replay is the cost), and each format rendered from it once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: OrderedDict[tuple[str, str, str, int, int], Report] = OrderedDict()
        self._bodies: OrderedDict[tuple[str, str, str, int, int, str], bytes] = OrderedDict()

    def get(self, settings: Settings, kind: ReportKind, year: int, fmt: Format) -> bytes:
        ledger = (settings.database_url, settings.postgres_schema)
        key = (*ledger, kind.value, year, ledger_size(settings))
        body = _recall(self._lock, self._bodies, (*key, fmt.value))
        if body is None:
            model = _recall(self._lock, self._models, key)
            if model is None:
                model = generate(settings, kind, year, at=key[-1])
                _keep(self._lock, self._models, key, model)
            body = render_report(model, fmt)
            _keep(self._lock, self._bodies, (*key, fmt.value), body)
        return body


def _recall(lock: threading.Lock, items: OrderedDict[K, V], key: K) -> V | None:
    with lock:
        if key in items:
            items.move_to_end(key)
            return items[key]
    return None


def _keep(lock: threading.Lock, items: OrderedDict[K, V], key: K, value: V) -> None:
    with lock:
        items[key] = value
        while len(items) > CACHED_REPORTS:
            items.popitem(last=False)


_cache = ReportCache()


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
    body = _cache.get(services(request).settings, kind, year, fmt)
    if fmt in DOWNLOADS:
        media_type, suffix = DOWNLOADS[fmt]
        name = f"govledger-{kind.value}-{year}.{suffix}"
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return Response(body, media_type=media_type, headers=headers)
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": REPORT_HTML_POLICY}
    media = "application/json" if fmt == Format.JSON else "text/html; charset=utf-8"
    return Response(body, media_type=media, headers=headers)
