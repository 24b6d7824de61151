"""Report defects of issue #12: the reports state what the views judge, as of their moment.

On top of the hand-worked scenario (positions 1–33, scenario.py) this zone adds:
34–35 Q3 submitted, approved until 30 June 2026 (expired at the report's moment);
36–38 Q4 submitted, approved, revoked 1 August 2026; 39 A6, on Q3 after it ran out,
reading 身份证号 never granted (S2 and S3); 40 D8, construction funds for project
“无备案改造” on the connected system S_c with no filing (F3).
"""

from __future__ import annotations

import io
from datetime import date
from uuid import UUID

import pytest
from openpyxl import load_workbook

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import AccessReason, FundKind, FundOutcome
from ledger.store.connect import application_env
from projections.query import open_views
from projections.reports import Format, ReportKind, generate, render
from projections.reports.model import Report, Table
from tests.projections.reports.scenario import (
    FINANCE,
    GONGAN,
    MINZHENG,
    PLATFORM,
    R1,
    Clock,
    _access,
    at,
    build,
)


def table(report: Report, title: str) -> Table:
    return next(t for _, t in report.tables() if t.title == title)


def rules_of(label: str) -> set[str]:
    return {part.split(" ")[0] for part in label.split("；")}


def paragraphs(report: Report) -> str:
    return "\n".join(p for s in report.sections for p in s.paragraphs)


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("one-judgment")
    settings = Settings(database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "s"))
    build(settings)
    s_c = _system_c(settings)
    clock = Clock()
    app = GovLedger(env=application_env(settings), clock=clock)
    try:
        clock.now = at(2026, 6, 1)
        q3 = app.submit_request(
            MINZHENG, requester_department="minzheng", resource_code=R1, items=["姓名"],
            purpose="低保复核", legal_basis="《社会救助暂行办法》",
            period_start=date(2026, 6, 1), period_end=date(2026, 6, 30),
        )  # fmt: skip
        app.approve_request(GONGAN, q3, ["姓名"], at(2026, 6, 30, 23))
        q4 = app.submit_request(
            MINZHENG, requester_department="minzheng", resource_code=R1, items=["户籍地"],
            purpose="救助核查", legal_basis="《社会救助暂行办法》",
            period_start=date(2026, 6, 1), period_end=date(2026, 12, 31),
        )  # fmt: skip
        app.approve_request(GONGAN, q4, ["户籍地"], at(2026, 12, 31, 23))
        clock.now = at(2026, 8, 1)
        app.revoke_grant(GONGAN, q4, "用途已完成")
        reasons = (AccessReason.GRANT_EXPIRED, AccessReason.ITEMS_BEYOND_GRANT)
        a6 = _access("a6", at(2026, 8, 3), R1, ("姓名", "身份证号"), "低保复核", q3, *reasons)
        app.record_accesses(PLATFORM, [a6])
        app.decide_funds(
            FINANCE, kind=FundKind.CONSTRUCTION_FUNDS, year=2026, department="gongan",
            amount_fen=1_500_000, outcome=FundOutcome.GRANTED, rationale="年度预算",
            system_id=s_c, project_name="无备案改造",
        )  # fmt: skip
    finally:
        app.close()
    return settings


def _system_c(settings: Settings) -> UUID:
    """S_c, the connected and compliant system of the scenario."""
    with open_views(settings, catch_up=True) as views:
        systems = views.zone(views.moment()).systems.values()
        return UUID(next(s.system_id for s in systems if s.name == "视频系统"))


def test_use_rights_are_dated_as_of_the_report(zone: Settings) -> None:
    report = generate(zone, ReportKind.RISK, 2026, catch_up=True)
    status = {(r.cells[2], r.cells[3]): r.cells[5] for r in table(report, "使用权台账").rows}
    assert status[("姓名", "低保复核")] == "已到期"  # Q3 ran out on 30 June
    assert status[("户籍地", "救助核查")] == "已撤销"  # Q4 revoked on 1 August
    book = load_workbook(io.BytesIO(render(report, Format.XLSX)))
    sheet = next(book[name] for name in book.sheetnames if "使用权台账" in name)
    states = {str(c.value) for row in sheet.iter_rows() for c in row}
    assert {"已到期", "已撤销"} <= states
    # Before the revocation (position 37 is Q4's approval) Q4 was in force.
    before = generate(zone, ReportKind.RISK, 2026, at=37, catch_up=True)
    status = {(r.cells[2], r.cells[3]): r.cells[5] for r in table(before, "使用权台账").rows}
    assert status[("户籍地", "救助核查")] == "已授权"


def test_the_ledger_list_labels_accesses_with_the_views_findings(zone: Settings) -> None:
    report = generate(zone, ReportKind.RISK, 2026, catch_up=True)
    labels = {r.cells[0]: str(r.cells[-1]) for r in table(report, "违规访问台账").rows}
    # A3 (20): no grant, no purpose, a sensitive personal item: S2 and P1, not S4.
    assert rules_of(labels[20]) == {"S2", "P1"}
    # A6 (39): on an expired grant, with an item never granted: S2 and S3.
    assert rules_of(labels[39]) == {"S2", "S3"}
    with open_views(zone, catch_up=True) as views:
        theirs = {
            f.rule
            for f in views.findings(views.moment(), subject_kinds=("access",))
            if 39 in f.positions
        }
    assert theirs == {"S2", "S3"}


def test_rules_of_issue_14_are_counted_not_left_unevaluated(zone: Settings) -> None:
    """S11, P2, D1 and I3 are judged from recorded facts now (issue 14): no 未评估 for them."""
    report = generate(zone, ReportKind.RISK, 2026, catch_up=True)
    rows = {r.cells[0]: r.cells for r in table(report, "未评估的规则").rows}
    assert not {"P2", "S11", "D1", "I3"} & set(rows)
    text = paragraphs(report)
    assert "（P2）：未评估（" not in text
    with open_views(zone, catch_up=True) as views:
        found = views.findings(views.moment(), rule="P2")
    # The report counts the findings of its year: R1's P2 is dated by A5 (2025-12-31).
    assert [f.time.year for f in found] == [2025]
    assert "（P2）：0 项" in text or "P2）0 项" in text


def test_audit_fund_findings_equal_the_views(zone: Settings) -> None:
    report = generate(zone, ReportKind.AUDIT, 2026, catch_up=True)
    listed = {r.cells[0]: str(r.cells[6]) for r in table(report, "经费决定逐笔检查台账").rows}
    with open_views(zone, catch_up=True) as views:
        findings = views.findings(views.moment(), subject_kinds=("fund_decision",))
    by_position: dict[int, set[str]] = {}
    for f in findings:
        by_position.setdefault(max(f.positions), set()).add(f.rule)
    for position, verdict in listed.items():
        mine = {part.split(" ")[0] for part in verdict.split("；") if part != "合规"} - {"F5"}
        assert mine == by_position.get(int(position), set()), position


def test_a_project_without_filing_is_f3_everywhere(zone: Settings) -> None:
    """D8 names a project and a system but cites no filing: F3 (domain.md), in the views
    and in the audit report alike."""
    report = generate(zone, ReportKind.AUDIT, 2026, catch_up=True)
    listed = {r.cells[0]: str(r.cells[6]) for r in table(report, "经费决定逐笔检查台账").rows}
    assert listed[40].startswith("F3 ")
    with open_views(zone, catch_up=True) as views:
        rules = {f.rule for f in views.findings(views.moment()) if 40 in f.positions}
    assert "F3" in rules
