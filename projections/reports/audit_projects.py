"""The audit report's 项目跟踪、验收与评价 (docs/reports.md, audit 三): each filing's life
after its architecture review — progress reports (跟踪), acceptance (验收), evaluation
(评价) — as seed §三(五)17 "申报、跟踪、验收、评价" asks, beside the views' I4 (not
tracked within the interval) and I5 (accepted, not evaluated in time) findings on it.

Read from the views at the report's position (``projections.obligation_registers``
through ``views_facts.AuditFacts``); nothing is judged here. A rule the views cannot
evaluate prints 未评估 and why, never 0.
"""

from __future__ import annotations

from projections.labels import EVALUATION_RATINGS, PROJECT_STAGES
from projections.obligation_registers import FilingFollowUp
from projections.reports.common import department_label
from projections.reports.model import Row, Table
from projections.reports.oversight import NOT_EVALUATED, count_or_not_evaluated
from projections.reports.terms import FILING_STATUS, day, yuan
from projections.reports.views_facts import AuditFacts

FINDING_ZH = {"I4": "未按期跟踪报告（I4）", "I5": "验收后未按期评价（I5）"}


def lead(facts: AuditFacts) -> str:
    tracked = sum(1 for f in facts.follow_up if f.progress_reports)
    accepted = sum(1 for f in facts.follow_up if f.accepted_at is not None)
    evaluated = sum(1 for f in facts.follow_up if f.evaluated_at is not None)
    counts = {
        rule: sum(1 for found in facts.follow_up_findings.values() for x in found if x.rule == rule)
        for rule in ("I4", "I5")
    }
    return (
        "项目备案后的跟踪、验收与评价（苏高新办〔2019〕2号 三(五)17 “申报、跟踪、验收、评价”）："
        f"有进展报告的项目 {tracked} 项，已验收 {accepted} 项，已评价 {evaluated} 项；"
        "以本报告时点计，未按期跟踪报告（I4）"
        f"{count_or_not_evaluated('I4', counts['I4'], NOT_EVALUATED)}，"
        f"验收后未按期评价（I5）{count_or_not_evaluated('I5', counts['I5'], NOT_EVALUATED)}。"
    )


def _progress(f: FilingFollowUp) -> str:
    if f.last_progress_at is None:
        return "无"
    stage = PROJECT_STAGES.get(f.last_stage or "", f.last_stage or "")
    return f"{day(f.last_progress_at)} {stage} {f.last_percent}%"


def _evaluation(f: FilingFollowUp) -> str:
    if f.evaluated_at is None:
        return "未评价"
    return f"{day(f.evaluated_at)} {EVALUATION_RATINGS.get(f.rating or '', f.rating or '')}"


def table(facts: AuditFacts) -> Table:
    """项目跟踪、验收与评价: one row per filing, with the views' I4/I5 findings on it."""
    rows = []
    for f in facts.follow_up:
        found = facts.follow_up_findings.get(f.filing_id, ())
        rows.append(
            Row(
                (
                    f.name,
                    department_label(facts, f.builder),
                    FILING_STATUS.get(f.status, f.status),
                    day(f.reviewed_at),
                    f.progress_reports,
                    _progress(f),
                    "—" if f.spent_fen is None else yuan(f.spent_fen),
                    day(f.accepted_at),
                    _evaluation(f),
                    "；".join(FINDING_ZH.get(x.rule, x.rule) for x in found) or "无",
                ),
                tuple(sorted({*f.positions, *(p for x in found for p in x.positions)})),
            )
        )
    return Table(
        "项目跟踪、验收与评价",
        (
            "项目名称",
            "建设单位",
            "状态",
            "审查日期",
            "进展报告（次）",
            "最近进展",
            "已支出（元）",
            "验收日期",
            "评价",
            "发现",
        ),
        tuple(rows),
        ledger_list=True,
    )
