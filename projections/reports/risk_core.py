"""The risk report's core data (docs/reports.md, risk §3 数据处理情况, where the data's
kinds — core, important, personal — are set out): the special approvals recorded and
each D1 finding named, core data shared with no special approval in force
(数据安全法 §21 "国家核心数据…实行更加严格的管理制度"; domain.md D1).

The findings are the views' D1 of the report's year at its position, named by the
recipient and the approval that lapsed (``projections.obligation_registers.core_data``);
nothing is judged here. A rule the views cannot evaluate prints 未评估 and why, never 0.
"""

from __future__ import annotations

from projections.reports.common import department_label, local
from projections.reports.model import Row, Table
from projections.reports.oversight import Oversight, count_or_not_evaluated
from projections.reports.terms import day
from projections.reports.views_facts import ReportFacts

ANY_RECIPIENT = "任一接收部门"


def core_data(facts: ReportFacts, oversight: Oversight) -> tuple[str, tuple[Table, ...]]:
    """The paragraph, the approvals and the year's D1 findings named."""
    core = facts.core_data
    shared = [s for s in core.shared if local(s.finding.time).year == facts.year]
    judged = count_or_not_evaluated("D1", len(shared), oversight.not_evaluated)
    lead = (
        "核心数据（《数据安全法》第二十一条）：目录内含核心数据信息项的资源 "
        f"{len(core.core_resources)} 项，账本记录的核心数据共享专门审批 {len(core.approvals)} 项；"
        f"本年度核心数据未经专门审批即共享（D1）{judged}，逐项列于下表。"
    )
    approvals = tuple(
        Row(
            (
                a.reference,
                a.resource_code,
                department_label(facts, a.recipient_department)
                if a.recipient_department
                else ANY_RECIPIENT,
                day(a.approved_at),
                day(a.valid_until),
                day(a.withdrawn_at),
            ),
            a.positions,
        )
        for a in core.approvals
    )
    found = tuple(
        Row(
            (
                s.resource_code,
                department_label(facts, s.finding.department or ""),
                department_label(facts, s.recipient) if s.recipient else "未记录",
                day(s.finding.time),
                f"专门审批 {s.lapsed_reference} 已失效" if s.lapsed_reference else "无专门审批",
            ),
            s.finding.positions,
        )
        for s in shared
    )
    return lead, (
        Table(
            "核心数据共享专门审批",
            ("审批文号", "资源", "接收部门", "批准日期", "有效期至", "撤回日期"),
            approvals,
        ),
        Table(
            "核心数据未经专门审批即共享（D1）",
            ("资源", "提供部门", "接收部门", "发现日期", "情况"),
            found,
        ),
    )
