"""部门 and 合规发现项: the console's place for every finding the rules raise, as of a date.

The 台账 marks the rows of its five sections (systems, resources, requests, filings,
funds) with the findings about them; the rules of issue 14 also judge departments
(I6 no CIO, seed 四(四); I9 self-inspection, §三(一)1), annual sharing reports (I3,
四(二)), entrustments (D3, 数据安全法 §40), data-quality objections (S13, 51号) and the
zone (I7, §三(二)6–8), and the sharing rules judge single accesses. 部门 lists each
department with its CIO, its annual report of a year and its self-inspection report
(``Views.department_register``), marked with the findings about it; 合规发现项 lists the
findings of one kind of subject with rule, severity, date and evidence positions.
``CONSOLE_SECTIONS`` names, per kind of subject the catalogue declares
(projections/rules/catalogue.py ``SUBJECT_KINDS``), the page that shows its findings.
Both pages read the views only (docs/console.md "The view pages").
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.console.register_pages import SECTIONS, SUBJECT_KINDS, TERMS, Reader, Text, parse_day
from api.console.views_common import ask, department_names, views_at
from api.console.web import render
from api.deps import services
from projections.labels import FINDING_SUBJECTS
from projections.model import Finding
from projections.rules.catalogue import FINDING_SUBJECT_KINDS
from projections.rules.catalogue import SUBJECT_KINDS as RULE_KINDS

router = APIRouter()
FINDINGS_PAGE: Final = 100
ZONE: Final = "zone"
# Per kind of subject, the console page that lists its findings: the 台账's section for the
# five it keeps rows of, 部门 for departments, and 合规发现项 (which lists any kind) for
# the rest. tests/api/console/test_finding_pages.py walks the catalogue against this.
CONSOLE_SECTIONS: Final[dict[str, str]] = {
    **{kind: f"/inventory?section={section}" for section, kind in SUBJECT_KINDS.items()},
    "department": "/departments",
    **{
        kind: f"/findings?kind={kind}"
        for kind in FINDING_SUBJECT_KINDS
        if kind not in SUBJECT_KINDS.values() and kind != "department"
    },
}
DEPARTMENT_KINDS: Final = ("department", "annual_report")


@router.get("/departments")
def departments(
    request: Request,
    session: Reader,
    as_of: Text = "",
    department: Text = "",
    year: Annotated[int | None, Query(ge=1990, le=2200)] = None,
) -> Response:
    day, error = parse_day(as_of)
    dept = department or None
    with views_at(services(request).settings, day) as (views, asked):
        m = asked.moment
        found = ask(views, m, "department_register", lambda: views.department_register(
            m, year=year, department=dept), year, dept)  # fmt: skip
        findings = ask(views, m, "findings", lambda: views.findings(
            m, subject_kinds=DEPARTMENT_KINDS), DEPARTMENT_KINDS)  # fmt: skip
        names = department_names(views, m)
    marks: dict[str, list[Finding]] = defaultdict(list)
    zone: list[Finding] = []
    for f in findings:
        scope = f.subject.split(":", 1)[0]  # an annual report's subject is <scope>:<year>…
        if scope == ZONE:
            zone.append(f)
        elif dept is None or scope == dept:
            marks[scope].append(f)
    return render(
        request,
        "departments.html",
        session,
        {
            **TERMS,
            "register": found,
            "marks": dict(marks),
            "zone_findings": zone if dept is None else [],
            "moment": m,
            "as_of": as_of if not error else "",
            "department": department,
            "departments": names,
            "error": error or asked.error,
        },
    )


@router.get("/findings")
def findings(
    request: Request,
    session: Reader,
    as_of: Text = "",
    department: Text = "",
    kind: Text = ZONE,
    rule: Text = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    day, error = parse_day(as_of)
    kind = kind if kind in FINDING_SUBJECTS else ZONE
    rules = [r for r, kinds in RULE_KINDS.items() if kind in kinds]  # this kind's rules
    chosen = rule if rule in rules else None
    dept = department or None
    with views_at(services(request).settings, day) as (views, asked):
        m = asked.moment
        start = (page_number - 1) * FINDINGS_PAGE  # the page is cut in SQL (a million
        # access findings are not decoded for a hundred)
        page = ask(views, m, "findings_page", lambda: views.findings(
            m, rule=chosen, department=dept, subject_kinds={kind}, newest_first=True,
            limit=FINDINGS_PAGE, offset=start), chosen, dept, kind, start)  # fmt: skip
        total = ask(views, m, "finding_total", lambda: views.finding_total(
            m, rule=chosen, department=dept, subject_kinds={kind}), chosen, dept, kind)  # fmt: skip
        names = department_names(views, m)
    return render(
        request,
        "findings.html",
        session,
        {
            **TERMS,
            "kinds": {k: FINDING_SUBJECTS[k] for k in FINDING_SUBJECT_KINDS},
            "kind": kind,
            "kind_rules": rules,
            "rule": chosen or "",
            "inventory_section": next((s for s, k in SUBJECT_KINDS.items() if k == kind), None),
            "section_names": SECTIONS,
            "found": page,
            "total": total,
            "page_number": page_number,
            "pages": max(1, -(-total // FINDINGS_PAGE)),
            "moment": m,
            "as_of": as_of if not error else "",
            "department": department,
            "departments": names,
            "error": error or asked.error,
        },
    )
