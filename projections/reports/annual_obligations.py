"""The annual report's follow-up tables (docs/reports.md, annual 一 and 八): each
department's annual sharing report and the zone's compiled report (seed 四(二); I3), and
the zombie candidates (seed §三(一)3; I1) with the O&M funds still granted to them
(seed §三(五)17 "逐步减少直至取消…利用程度低…的运维经费"; F8).

Every status comes from the views at the report's position: the recorded reports (the
departments' register, ``projections.department_register``), the views' I3, I1 and F8
findings. Whether a
report is late is I3's judgment: a report with no I3 finding is on time, or not yet due;
nothing is judged here. A rule the views cannot evaluate prints 未评估 and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ledger.domain.funding import FundKind, FundOutcome
from projections.department_register import ZONE, ReportOnRecord
from projections.model import Finding
from projections.reports.common import department_label
from projections.reports.model import Row, Table
from projections.reports.oversight import Oversight, count_or_not_evaluated
from projections.reports.terms import day, yuan
from projections.reports.views_facts import ReportFacts

PLAN = "苏高新办〔2019〕2号"
ZONE_ZH = "全区汇总报告（区发改局）"


def _status(report: ReportOnRecord | None, finding: Finding | None) -> str:
    if report is not None:
        return "逾期报送（I3）" if finding else "按期报送"
    return "未报送（I3）" if finding else "尚未报送（未逾期）"


def _approval(report: ReportOnRecord | None, finding: Finding | None) -> str:
    if report is not None and report.approved_at is not None:
        return "已审定，逾期（I3）" if finding else "已审定"
    return "未审定（I3）" if finding else "尚未审定（未逾期）"


def _row(
    label: str, report: ReportOnRecord | None, found: Sequence[Finding | None], cited: int | None
) -> Row:
    late, approval = found
    positions = {*(report.positions if report else ()), *(() if cited is None else (cited,))}
    for f in found:
        positions.update(f.positions if f else ())
    return Row(
        (
            label,
            report.reference if report else "—",
            day(report.submitted_at if report else None),
            _status(report, late),
            day(report.approved_at if report else None) if cited is None else "—",
            _approval(report, approval) if cited is None else "—",
        ),
        tuple(sorted(positions)),
    )


def reporting(facts: ReportFacts, oversight: Oversight) -> tuple[str, Table]:
    """The paragraph and table of the year's annual sharing reports (seed 四(二)), from the
    departments' register at the report's position and the views' I3 findings."""
    year, register = facts.year, facts.departments_register
    found = {f.subject: f for f in facts.annual_report_findings}
    rows: list[Row] = []
    tally: dict[str, int] = {}
    for d in register.departments if register else ():
        late = found.get(f"{d.code}:{year}")
        label = department_label(facts, d.code)
        rows.append(_row(label, d.annual_report, (late, None), d.position))
        status = _status(d.annual_report, late)
        tally[status] = tally.get(status, 0) + 1
    if register is not None:
        zone = (found.get(f"{ZONE}:{year}"), found.get(f"{ZONE}:{year}:approval"))
        rows.append(_row(ZONE_ZH, register.zone_report, zone, None))
    counted = "、".join(f"{k} {v} 个" for k, v in sorted(tally.items())) or "无在册部门"
    in_year = sum(1 for f in facts.annual_report_findings if str(year) in f.subject.split(":"))
    judged = count_or_not_evaluated("I3", in_year, oversight.not_evaluated)
    dues = (
        f"（本年度各部门截止 {register.report_due}，全区汇总截止 {register.zone_report_due}）"
        if register
        else ""
    )
    lead = (
        f"年度共享情况报送（{PLAN} 四(二)：各部门于 12 月底前报送本部门年度共享情况，"
        "区发改局于次年 1 月底前汇编全区报告并报领导小组审定）"
        f"{dues}：{year} 年度各部门 {counted}；以本报告时点计，{year} 年度逾期或未报送、"
        f"未按期审定（I3）{judged}。“未逾期”指期限未届满或该部门期限届满后方登记。"
    )
    return lead, Table(
        f"{year} 年度共享情况报送",
        ("报送单位", "报告文号", "报送日期", "报送情况", "审定日期", "领导小组审定"),
        tuple(rows),
    )


def zombies(facts: ReportFacts, oversight: Oversight) -> tuple[str, Table]:
    """I1's zombie candidates at the report's position, with the O&M funds of the year
    granted to each and the views' F8 findings on those decisions."""
    year = facts.year
    f8 = {
        subject
        for subject, found in oversight.decision_findings().items()
        if any(f.rule == "F8" for f in found)
    }
    rows = []
    funded = granted_fen = flagged = 0
    for s in sorted(facts.zombie_candidates, key=lambda s: (s.department, s.name)):
        grants = sorted(
            (
                d
                for d in facts.zone.fund_decisions.values()
                if d.system_id == s.system_id
                and d.year == year
                and d.kind == FundKind.OM_FUNDS
                and d.outcome == FundOutcome.GRANTED
            ),
            key=lambda d: d.position,
        )
        amount = sum(d.amount_fen for d in grants)
        low = [d for d in grants if d.decision_id in f8]
        funded += bool(grants)
        granted_fen += amount
        flagged += len(low)
        rows.append(
            Row(
                (
                    s.name,
                    department_label(facts, s.department),
                    _last_access(s.last_access_at),
                    len(grants),
                    yuan(amount),
                    f"{len(low)} 笔" if grants else "—",
                ),
                tuple(sorted({s.position, *(d.position for d in grants)})),
            )
        )
    reason = oversight.not_evaluated.get("I1")
    judged = f"未评估（{reason}）" if reason is not None else f"{len(rows)} 个"
    lead = (
        f"疑似僵尸系统（I1，长期无数据访问，{PLAN} 三(一)3）：以本报告时点计 "
        f"{judged}；其中 {funded} 个本年度仍获安排运维经费，合计 "
        f"{yuan(granted_fen)} 元，其中向利用程度低的系统安排（F8）{flagged} 笔"
        "（三(五)17：逐步减少直至取消利用程度低的运维经费）。"
    )
    return lead, Table(
        "疑似僵尸系统及本年度运维经费",
        ("系统", "部门", "最后数据访问", "运维经费笔数", "运维经费（元）", "其中利用程度低（F8）"),
        tuple(rows),
    )


def _last_access(moment: datetime | None) -> str:
    return "无访问记录" if moment is None else day(moment)
