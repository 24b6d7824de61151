"""审计局 audit report: fund decisions of a year checked against F1–F8 (issue #4 item 4;
domain.md "Reports — Audit report")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ledger.domain.funding import FundOutcome
from projections.reports import audit_projects as projects
from projections.reports import audit_sections as sections
from projections.reports.common import (
    VERIFY_STEPS,
    anchor,
    department_label,
    empty_year_notice,
    now_text,
)
from projections.reports.funds import RULE_ZH, SEVERITY, SEVERITY_ZH
from projections.reports.model import (
    Chart,
    ChartKind,
    Report,
    ReportKind,
    Row,
    Section,
    Table,
)
from projections.reports.terms import FILING_STATUS, FUND_KIND, FUND_OUTCOME, yuan
from projections.reports.views_facts import AuditFacts, Decision

# F6–F8: issue 14 (projects after filing, O&M of little-used systems; seed §三(五)17).
RULES = ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8")


def build_audit_report(facts: AuditFacts, year: int, checkpoint: str | None) -> Report:
    """The audit report from the views' funds, findings and rectifications at
    ``facts.position``, in the sections of 《国家审计准则》 第一百二十二条."""
    decisions = [d for d in facts.decisions if d.year == year]
    faulty = [d for d in decisions if d.checks and d.outcome is FundOutcome.GRANTED]
    rules = f"{RULES[0]}–{RULES[-1]}"
    found = sections.problems(facts, decisions, RULES)
    return Report(
        kind=ReportKind.AUDIT,
        title=f"{year}年度信息化经费决定合规审计报告",
        year=year,
        subtitle=f"区审计局 · 经费决定对照合规规则 {rules} 的合法合规性审查",
        generated_at=now_text(),
        anchor=anchor(facts, checkpoint),
        sections=(
            sections.basis(RULES),
            sections.scope(facts, year, decisions, rules),
            _auditee(facts, decisions),
            _totals(facts, decisions, sections.evaluation(decisions, faulty, rules)),
            sections.previous(facts, year),
            Section(
                "六",
                "审计发现的问题及处理意见",
                _problems_lead(found),
                tables=(found, _ledger_list(facts, decisions)),
            ),
            sections.referral(),
            sections.suggestions(found, facts, year),
        ),
        verification=VERIFY_STEPS,
        notice=empty_year_notice(year, len(decisions), "经费决定"),
    )


def _problems_lead(found: Table) -> tuple[str, ...]:
    if not found.rows:
        return ("本年度未发现违反检查规则的问题。",)
    return (
        f"审计发现问题 {len(found.rows)} 类，逐类列明事实、定性、处理意见及依据；"
        "逐笔检查结果见后附台账。",
    )


def _amounts(decisions: Sequence[Decision], outcome: FundOutcome) -> tuple[int, int]:
    chosen = [d for d in decisions if d.outcome is outcome]
    return len(chosen), sum(d.amount_fen for d in chosen)


def _auditee(facts: AuditFacts, decisions: Sequence[Decision]) -> Section:
    by_department: dict[str, list[Decision]] = defaultdict(list)
    for d in decisions:
        by_department[d.department].append(d)
    rows = []
    for code in sorted(by_department):
        group = by_department[code]
        granted, granted_fen = _amounts(group, FundOutcome.GRANTED)
        withheld, withheld_fen = _amounts(group, FundOutcome.WITHHELD)
        rows.append(
            Row(
                (
                    department_label(facts, code),
                    len(group),
                    granted,
                    yuan(granted_fen),
                    withheld,
                    yuan(withheld_fen),
                ),
                tuple(d.position for d in group),
            )
        )
    granted, granted_fen = _amounts(decisions, FundOutcome.GRANTED)
    withheld, withheld_fen = _amounts(decisions, FundOutcome.WITHHELD)
    rows.append(
        Row(
            ("合计", len(decisions), granted, yuan(granted_fen), withheld, yuan(withheld_fen)),
            tuple(d.position for d in decisions),
        )
    )
    table = Table(
        "各部门经费决定",
        ("部门", "决定笔数", "安排笔数", "安排金额（元）", "不予安排笔数", "不予安排金额（元）"),
        tuple(rows),
    )
    return Section(
        "三",
        "被审计单位基本情况",
        (*sections.auditee(facts, decisions), *_filings_lead(facts), projects.lead(facts)),
        tables=(table, _filings(facts), projects.table(facts)),
    )


def _ledger_list(facts: AuditFacts, decisions: Sequence[Decision]) -> Table:
    rows = []
    for d in sorted(decisions, key=lambda d: d.position):
        target = d.system_name or d.filing_name or d.project_name or "—"
        verdict = "；".join(f"{c.rule} {RULE_ZH[c.rule]}" for c in d.checks) or "合规"
        evidence = {d.position, *(p for c in d.checks for p in c.positions)}
        rows.append(
            Row(
                (
                    d.position,
                    department_label(facts, d.department),
                    FUND_KIND[d.kind],
                    target,
                    yuan(d.amount_fen),
                    FUND_OUTCOME[d.outcome],
                    verdict,
                ),
                tuple(sorted(evidence)),
            )
        )
    table = Table(
        "经费决定逐笔检查台账",
        ("账本位置", "部门", "经费类别", "系统或项目", "金额（元）", "决定", "检查结果"),
        tuple(rows),
        ledger_list=True,
        note="依据位置含决定本身及所涉系统、项目备案在决定之前的全部记录。",
    )
    return table


def _totals(facts: AuditFacts, decisions: Sequence[Decision], opinion: str) -> Section:
    rule_rows = []
    amounts: list[float] = []
    for rule in RULES:
        hit = [d for d in decisions if any(c.rule == rule for c in d.checks)]
        granted = [d for d in hit if d.outcome is FundOutcome.GRANTED]
        fen = sum(d.amount_fen for d in granted)
        amounts.append(fen / 1_000_000)  # 万元: 1 万元 = 1,000,000 fen
        rule_rows.append(
            Row(
                (
                    rule,
                    RULE_ZH[rule],
                    SEVERITY_ZH[SEVERITY[rule]],
                    len(hit),
                    len(granted),
                    yuan(fen),
                ),
                _evidence(hit, rule),
            )
        )
    faulty = [d for d in decisions if d.checks and d.outcome is FundOutcome.GRANTED]
    total_fen = sum(d.amount_fen for d in faulty)
    rule_rows.append(
        Row(
            (
                "合计",
                "违反至少一项规则的经费安排（每笔只计一次）",
                "—",
                len(faulty),
                len(faulty),
                yuan(total_fen),
            ),
            _evidence(faulty, None),
        )
    )
    per_department = _non_compliant_by_department(facts, faulty)
    chart = Chart(
        "各规则涉及的不合规经费安排金额",
        ChartKind.BAR,
        RULES,
        tuple(amounts),
        "金额（万元）",
    )
    return Section(
        "四",
        "审计评价意见",
        (opinion,),
        tables=(
            Table(
                "按规则统计",
                ("规则", "内容", "严重程度", "涉及决定笔数", "其中安排笔数", "安排金额（元）"),
                tuple(rule_rows),
            ),
            per_department,
        ),
        charts=(chart,),
    )


def _evidence(decisions: Sequence[Decision], rule: str | None) -> tuple[int, ...]:
    found = {d.position for d in decisions}
    for d in decisions:
        found.update(p for c in d.checks if rule in (None, c.rule) for p in c.positions)
    return tuple(sorted(found))


def _non_compliant_by_department(facts: AuditFacts, faulty: Sequence[Decision]) -> Table:
    by_department: dict[str, list[Decision]] = defaultdict(list)
    for d in faulty:
        by_department[d.department].append(d)
    rows = tuple(
        Row(
            (
                department_label(facts, code),
                len(group),
                "、".join(sorted({c.rule for d in group for c in d.checks})),
                yuan(sum(d.amount_fen for d in group)),
            ),
            _evidence(group, None),
        )
        for code, group in sorted(by_department.items())
    )
    return Table("按部门统计不合规经费安排", ("部门", "笔数", "涉及规则", "金额（元）"), rows)


def _filings_lead(facts: AuditFacts) -> tuple[str, ...]:
    missing = sum(1 for f in facts.filings if not f.catalogue_preregistered)
    return (
        f"账本中在册项目备案 {len(facts.filings)} 项，"
        f"其中未做信息资源目录预编制 {missing} 项（F5）。",
    )


def _filings(facts: AuditFacts) -> Table:
    rows = tuple(
        Row(
            (
                f.name,
                department_label(facts, f.builder),
                yuan(f.investment_fen),
                yuan(f.om_cost_fen),
                FILING_STATUS[f.status],
                "是" if f.catalogue_preregistered else "否（F5）",
            ),
            f.positions,
        )
        for f in facts.filings
    )
    return Table(
        "项目备案台账",
        ("项目名称", "建设单位", "投资（元）", "年运维费（元）", "状态", "信息资源目录预编制"),
        rows,
        ledger_list=True,
    )
