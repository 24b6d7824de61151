"""权属登记, 审计轨迹, 台账: the read models of docs/projections.md §Query API, as of a date.

Rights register: owner, controller and use-right holders per resource
(seed §三(五)16). Audit trail: ledger lines by department, actor, entity and
period, each linking to its position's proof. Inventory: systems, resources,
requests, filings and fund decisions, each row marked with the compliance
findings (domain.md S1–L2) whose subject it is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.console.export import EXPORT_LIMIT, export_table
from api.console.session import Session
from api.console.views_common import ask, department_names, people, record_read, views_at
from api.console.web import page, render
from api.deps import services
from ledger.domain import bounds
from projections.labels import (
    CLASSIFIED_LEVELS,
    FILING_STATUS,
    FUND_KINDS,
    FUND_OUTCOMES,
    REQUEST_STATUS,
    ROLE_NAMES,
    SENSITIVITY,
    SHARING_TYPES,
    SYSTEM_STATUS,
    cst_text,
    event_name,
)
from projections.query import AuditLine, Finding
from projections.registers import INVENTORY_SECTIONS
from projections.reports.terms import yuan
from projections.rules import LEDGER_RULES, NOT_EVALUABLE, RULE_ZH
from projections.rules import RULES as CATALOGUE
from projections.rules import SEVERITY_ZH as SEVERITY
from security.policy import Permission

router = APIRouter()
# Rule names from the one catalogue (projections.rules), the ledger's own rules included.
RULES = {**RULE_ZH, **{rule_id: r.name_zh for rule_id, r in LEDGER_RULES.items()}}
Reader = Annotated[Session, Depends(page(Permission.READ_AUDIT_VIEWS))]
Text = Annotated[str, Query(max_length=100)]
TRAIL_PAGE: Final = 100
RIGHTS_PAGE: Final = 20  # resources a page: the register of a year was 41,000 px long
INVENTORY_PAGE: Final = 200
SECTIONS: Final = {
    "systems": "政务信息系统",
    "resources": "政务信息资源",
    "requests": "共享申请",
    "filings": "项目备案",
    "funds": "经费决定",
}
# The kind of subject (projections.query Finding.subject_kind) each section's rows are: a
# row is marked with the findings about it, never with the many about single accesses.
SUBJECT_KINDS: Final = {
    "systems": "system",
    "resources": "resource",
    "requests": "request",
    "filings": "filing",
    "funds": "fund_decision",
}
TERMS: Final[dict[str, Any]] = {
    "sensitivity": SENSITIVITY,
    "sharing_type": SHARING_TYPES,
    "system_status": SYSTEM_STATUS,
    "request_status": REQUEST_STATUS,
    "filing_status": FILING_STATUS,
    "fund_kind": FUND_KINDS,
    "fund_outcome": FUND_OUTCOMES,
    "rules": RULES,
    "severities": SEVERITY,
    "yuan": yuan,
}


def parse_day(text: str) -> tuple[date | None, str]:
    """A date from a form field; empty is None; anything else is an error message."""
    if not text.strip():
        return None, ""
    try:
        # The input contract's range (bounds.content_date): a day past 2100 would
        # overflow the views' end-of-day arithmetic (a 500) instead of being refused.
        return bounds.content_date(text.strip(), "date"), ""
    except bounds.BoundsError:
        span = f"{bounds.FIRST_DATE} 至 {bounds.LAST_DATE}"
        return None, f"日期格式应为 YYYY-MM-DD，{span}：{text[:20]}"


@router.get("/rights")
def rights(
    request: Request,
    session: Reader,
    as_of: Text = "",
    department: Text = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    day, error = parse_day(as_of)
    with views_at(services(request).settings, day) as (views, asked):
        m = asked.moment
        entries = ask(
            views,
            m,
            "rights",
            lambda: views.rights_register(m, department=department or None),
            department,
        )
        names = department_names(views, asked.moment)
    return render(
        request,
        "rights.html",
        session,
        {
            **TERMS,
            "entries": entries[(page_number - 1) * RIGHTS_PAGE : page_number * RIGHTS_PAGE],
            "total": len(entries),
            "page_number": page_number,
            "pages": max(1, -(-len(entries) // RIGHTS_PAGE)),
            "moment": asked.moment,
            "as_of": as_of if not error else "",
            "department": department,
            "departments": names,
            "error": error or asked.error,
        },
    )


@router.get("/audit")
def audit_trail(
    request: Request,
    session: Reader,
    department: Text = "",
    actor: Text = "",
    entity: Text = "",
    resource: Text = "",
    q: Text = "",
    start: Text = "",
    end: Text = "",
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    export: Annotated[str, Query(pattern="^(csv|xlsx)?$")] = "",
) -> Response:
    first, error_start = parse_day(start)
    last, error_end = parse_day(end)
    with views_at(services(request).settings, None) as (views, asked):
        lines = views.audit_trail(
            asked.moment,
            department=department.strip() or None,
            actor=actor.strip() or None,
            entity=entity.strip() or None,
            resource=resource.strip() or None,
            text=q.strip() or None,
            start=first,
            end=last,
            limit=EXPORT_LIMIT if export else TRAIL_PAGE,
            after=after,
        )
        names = department_names(views, asked.moment)
    # The trail names who read which resource from where: reading it is recorded.
    record_read(request, session, "audit_trail_export" if export else "audit_trail",
                str(request.url.query))  # fmt: skip
    if export:
        return export_table(export, "审计轨迹", TRAIL_HEADER, _trail_rows(lines, names))
    query = {
        "department": department, "actor": actor, "entity": entity, "resource": resource,
        "q": q, "start": start, "end": end,
    }  # fmt: skip
    return render(
        request,
        "audit.html",
        session,
        {
            "lines": lines,
            "query": query,
            "after": after,
            "next_after": lines[-1].position if len(lines) == TRAIL_PAGE else None,
            "people": people(request),
            "departments": names,
            "moment": asked.moment,
            "error": error_start or error_end,
        },
    )


TRAIL_HEADER: Final = ("账本位置", "时间", "事件", "操作人", "角色", "部门", "摘要", "记录哈希")


def _trail_rows(lines: list[AuditLine], names: dict[str, str]) -> Iterator[list[str | int]]:
    for line in lines:
        yield [
            line.position,
            cst_text(line.time),
            event_name(line.topic),
            line.actor_id,
            ROLE_NAMES.get(line.role, line.role),  # type: ignore[call-overload]
            names.get(line.department or "", line.department or ""),
            line.summary,
            line.hash,
        ]


@router.get("/inventory")
def inventory(
    request: Request,
    session: Reader,
    as_of: Text = "",
    department: Text = "",
    section: Text = "systems",
    flagged: Text = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    day, error = parse_day(as_of)
    section = section if section in SECTIONS else "systems"
    with views_at(services(request).settings, day) as (views, asked):
        m = asked.moment
        dept = department or None
        summary = ask(views, m, "inventory", lambda: views.inventory(m, department=dept), dept)
        kinds = {SUBJECT_KINDS[section]}
        findings = ask(
            views,
            m,
            "findings",
            lambda: views.findings(m, department=dept, subject_kinds=kinds),
            dept,
            section,
        )
        finding_count = ask(
            views, m, "finding_count", lambda: views.finding_count(m, department=dept), dept
        )
        declared = ask(views, m, "declared", lambda: {
            kind: views.declared(m, kind) for kind in ("system_unit", "classified_protection")
        })  # fmt: skip
        marks = _marks(findings)
        # One page, sorted and cut where the rows are kept (projections.registers): only
        # the rows shown are built.
        total, rows = ask(views, m, "inventory_page", lambda: views.inventory_page(
            m,
            section,
            department=dept,
            subjects=marks.keys() if flagged else None,
            offset=(page_number - 1) * INVENTORY_PAGE,
            limit=INVENTORY_PAGE,
        ), dept, section, bool(flagged), page_number)  # fmt: skip
        names = department_names(views, m)
    return render(
        request,
        "inventory.html",
        session,
        {
            **TERMS,
            "summary": summary,
            "sections": SECTIONS,
            "section": section,
            "rows": rows,
            "total": total,
            "page_number": page_number,
            "pages": max(1, -(-total // INVENTORY_PAGE)),
            "marks": marks,
            # docs/facts.md §11: the 处室 a system is kept under, its 分级保护 (in force).
            "units": declared["system_unit"],
            "classified": declared["classified_protection"],
            "classified_levels": CLASSIFIED_LEVELS,
            "subject_of": lambda r: str(getattr(r, INVENTORY_SECTIONS[section].subject)),
            "finding_count": finding_count,
            # Rules no recorded fact decides: printed 未评估 with why, never counted as 0.
            "not_evaluated": [CATALOGUE[rule_id] for rule_id in NOT_EVALUABLE],
            "moment": m,
            "as_of": as_of if not error else "",
            "department": department,
            "departments": names,
            "flagged": bool(flagged),
            "error": error or asked.error,
        },
    )


def _marks(findings: list[Finding]) -> dict[str, list[Finding]]:
    """Findings by the subject they are about (system id, resource code, request id, …)."""
    marks: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        marks[finding.subject].append(finding)
    return dict(marks)
