"""部门 and 合规发现项 (api/console/finding_pages.py): every finding the rules raise is on a
console page, with its rule, severity, date and evidence positions.

The catalogue's subject kinds are walked against ``CONSOLE_SECTIONS``; on the demo zone
each finding is checked to be of a kind its rule declares and to be shown on that kind's
page; a hand-worked zone of three departments is read as of several dates on both
backends (CIO, annual reports, self-inspection and the I3/I6/I9 marks).
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.finding_pages import CONSOLE_SECTIONS
from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.actor import Actor, Role
from ledger.store.connect import application_env, init_ledger
from projections.facts import CST
from projections.labels import SEVERITY_NAMES
from projections.query import Finding, open_views
from projections.rules.catalogue import (
    FINDING_SUBJECT_KINDS,
    LEDGER_RULES,
    RULE_ZH,
    RULES,
    SUBJECT_KINDS,
)
from tests.api.console.conftest import Console
from tests.projections.scenario import ADMIN, MINZHENG, Clock

GONGAN_CLERK = Actor("gongan-clerk", Role.DEPARTMENT_CLERK, "gongan")
NDRC = Actor("ndrc-1", Role.NDRC, None)
ROW = re.compile(r'<tr id="dept-([a-z]+)"[^>]*>(.*?)</tr>', re.S)
BADGE = re.compile(r'<span class="badge sev-([a-z]+)" title="([^"]*)">([A-Z]+[0-9]+) ')


def test_every_kind_the_catalogue_declares_has_a_console_section() -> None:
    declared = {kind for kinds in SUBJECT_KINDS.values() for kind in kinds}
    assert declared == set(FINDING_SUBJECT_KINDS)
    missing = sorted(kind for kind in declared if kind not in CONSOLE_SECTIONS)
    assert missing == [], f"findings about {missing} are shown on no console page"
    # Every rule raising findings names what they are about (L1, L2: verification reports).
    assert [r for r in (*RULES, *LEDGER_RULES) if not SUBJECT_KINDS[r]] == ["L1", "L2"]


def test_each_demo_finding_is_of_a_declared_kind_and_on_its_page(demo_console: Console) -> None:
    with open_views(demo_console.settings) as views:
        findings = views.findings(views.moment())
    undeclared = {(f.rule, f.subject_kind) for f in findings} - {
        (rule, kind) for rule, kinds in SUBJECT_KINDS.items() for kind in kinds
    }
    assert undeclared == set()
    by_kind: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_kind[f.subject_kind].append(f)
    # The demo plants findings about departments, reports, processors, objections, the zone.
    assert {"department", "annual_report", "processor", "objection", "zone"} <= set(by_kind)
    demo_console.login(Role.SECURITY_OFFICER)
    for kind, found in by_kind.items():
        shown: Counter[str] = Counter()
        for number in range(1, len(found) // 100 + 2):  # the lists show 100 a page
            page = demo_console.client.get(
                f"/console{CONSOLE_SECTIONS[kind]}&page={number}".replace(
                    "departments&", "departments?"
                )
            )
            assert page.status_code == 200, (kind, page.status_code)
            shown.update(rule for _, _, rule in BADGE.findall(page.text))
        for rule, n in Counter(f.rule for f in found).items():
            assert shown[rule] >= n, (kind, rule, n, shown[rule])
    # The list of one kind: every finding, newest first, with its evidence linked.
    for kind in ("zone", "processor", "objection", "annual_report", "access"):
        page = demo_console.client.get(f"/console/findings?kind={kind}").text
        found = by_kind[kind][::-1][:100]
        assert f'id="findings-total">{len(by_kind[kind])}<' in page
        rows = re.findall(r'<tr class="flagged">(.*?)</tr>', page, re.S)
        assert len(rows) == len(found)
        for row, f in zip(rows, found, strict=True):
            assert f"<code>{html.escape(f.subject)}</code>" in row
            assert f"{f.rule} {RULE_ZH[f.rule]}" in row and SEVERITY_NAMES[f.severity] in row
            assert f.time.astimezone(CST).strftime("%Y-%m-%d") in row
            for p in f.positions[:10]:
                assert f'/console/ledger/proof?position={p}"' in row
    # One rule of a kind; a rule of another kind is no filter.
    s1 = sum(f.rule == "S1" for f in by_kind["access"])
    only = demo_console.client.get("/console/findings?kind=access&rule=S1").text
    assert f'id="findings-total">{s1}<' in only and 0 < s1 < len(by_kind["access"])
    assert set(BADGE.findall(only)) and {r for _, _, r in BADGE.findall(only)} == {"S1"}
    other = demo_console.client.get("/console/findings?kind=access&rule=I3").text
    assert f'id="findings-total">{len(by_kind["access"])}<' in other


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=CST)


@pytest.fixture
def three_departments(settings: Settings) -> Iterator[Console]:
    """gongan: CIO 2025-03-15, its 2025 report 12-20, self-inspection 04-01; minzheng: no
    CIO, its report late (2026-01-05), no self-inspection; jiaoyu: nothing. The zone's
    2025 report 2026-01-20, never approved. All registered 2025-03-01."""
    init_ledger(settings)
    app = GovLedger(env=application_env(settings), clock=Clock(at(2027, 6, 30)))
    try:
        for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局"),
                           ("jiaoyu", "区教育局")):  # fmt: skip
            app.register_department(ADMIN, code, name, occurred_at=at(2025, 3, 1))
        app.name_cio(GONGAN_CLERK, "gongan", "张伟", occurred_at=at(2025, 3, 15))
        for who, dept, day in ((GONGAN_CLERK, "gongan", at(2025, 12, 20)),
                               (MINZHENG, "minzheng", at(2026, 1, 5))):  # fmt: skip
            app.submit_department_report(who, department=dept, year=2025,
                                         reference=f"{dept}-2025", summary="年度共享情况",
                                         submitted_at=day)  # fmt: skip
        app.submit_zone_report(NDRC, year=2025, reference="zone-2025", summary="全区汇总",
                               submitted_at=at(2026, 1, 20))  # fmt: skip
        app.declare(GONGAN_CLERK, "self_inspection", department="gongan", reference="自查-1",
                    summary="系统自查", systems_inventoried=0,
                    declared_at=at(2025, 4, 1))  # fmt: skip
    finally:
        app.close()
    with open_views(settings, catch_up=True):  # the projection worker's part, done here
        pass
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield Console(client, settings)


def rows(console: Console, query: str) -> dict[str, str]:
    page = console.client.get(f"/console/departments?{query}")
    assert page.status_code == 200, page.text[:300]
    return dict(ROW.findall(page.text))


def rules_in(row: str) -> list[str]:
    return sorted(rule for _, _, rule in BADGE.findall(row))


def test_departments_as_of_several_dates(three_departments: Console) -> None:
    console = three_departments
    console.login(Role.AUDITOR)
    mid = rows(console, "as_of=2026-06-30")  # the 2025 reports are the latest due
    assert "张伟" in mid["gongan"] and "未明确" not in mid["gongan"]
    assert "已报送 2025-12-20" in mid["gongan"] and "已报送 2025-04-01" in mid["gongan"]
    assert rules_in(mid["gongan"]) == []
    assert "未明确" in mid["minzheng"] and "已报送 2026-01-05" in mid["minzheng"]
    assert rules_in(mid["minzheng"]) == ["I3", "I6", "I9"]  # late report, no CIO, no 自查
    assert mid["jiaoyu"].count("未报送") == 2 and rules_in(mid["jiaoyu"]) == ["I3", "I6", "I9"]
    # The year end: minzheng's report not yet submitted, not yet late; the CIO grace passed.
    year_end = rows(console, "as_of=2025-12-31&year=2025")
    assert "未报送" in year_end["minzheng"] and rules_in(year_end["minzheng"]) == ["I6", "I9"]
    assert "已报送 2025-12-20" in year_end["gongan"]
    # Before gongan named its CIO and before any report or finding.
    early = rows(console, "as_of=2025-03-10")
    assert all("未明确" in row and rules_in(row) == [] for row in early.values())
    # The zone's report: submitted, never approved; its I3 finding listed with the zone.
    page = console.client.get("/console/departments?as_of=2026-06-30").text
    zone = page.split('id="zone"')[1]
    assert "已报送 2026-01-20" in zone and "未审定" in zone
    with open_views(console.settings) as views:
        zone_found = [f for f in views.findings(views.moment(as_of=date(2026, 6, 30)), rule="I3")
                      if f.subject.startswith("zone:")]  # fmt: skip
    assert [f.subject for f in zone_found] == ["zone:2025:approval"]
    assert "<code>zone:2025:approval</code>" in zone
    assert all(f'proof?position={p}"' in zone for p in zone_found[0].positions)
    # One department: its row only, and no zone section.
    one = console.client.get("/console/departments?as_of=2026-06-30&department=jiaoyu").text
    assert list(dict(ROW.findall(one))) == ["jiaoyu"] and 'id="zone"' not in one


def test_findings_page_lists_a_kind_as_of_a_date(three_departments: Console) -> None:
    console = three_departments
    console.login(Role.SECURITY_OFFICER)
    for on, expected in (("2025-12-31", 0), ("2026-01-01", 2), ("2026-06-30", 3)):
        with open_views(console.settings) as views:
            found = views.findings(views.moment(as_of=date.fromisoformat(on)),
                                   subject_kinds={"annual_report"})  # fmt: skip
        assert len(found) == expected, (on, [f.subject for f in found])
        page = console.client.get(f"/console/findings?kind=annual_report&as_of={on}")
        assert f'id="findings-total">{expected}<' in page.text
        assert sorted(re.findall(r"<code>([a-z]+:2025[a-z:]*)</code>", page.text)) == sorted(
            f.subject for f in found
        )
    # an unknown kind shows the zone's findings rather than failing
    assert console.client.get("/console/findings?kind=nothing").status_code == 200
    # the pages are for the roles that read the views: not the administrator
    console.client.cookies.clear()
    console.login(Role.ADMIN)
    for path in ("/console/departments", "/console/findings"):
        denied = console.client.get(path)
        assert denied.status_code == 403 and "系统管理员无权访问此页面" in denied.text
