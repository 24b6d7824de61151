"""The risk report's core data (docs/reports.md, risk §3 数据处理情况, where the data's
kinds — core, important, personal — are set out): the special approvals recorded and
each D1 finding named, core data shared with no special approval in force
(数据安全法 §21 "国家核心数据…实行更加严格的管理制度"; domain.md D1).

The findings are the views' D1 of the report's year at its position, named by the
recipient and the approval that lapsed (``projections.obligation_registers.core_data``);
nothing is judged here. A rule the views cannot evaluate prints 未评估 and why, never 0.
The findings are a 台账, one line per resource, led by the provisions' ledger positions
(small type, no evidence column: the demo's risk PDF keeps its 25 pages); the
approvals, few, are one sentence.
"""

from __future__ import annotations

from collections import defaultdict

from projections.obligation_registers import CoreApproval, CoreDataShared
from projections.reports.common import local
from projections.reports.model import Row, Table
from projections.reports.oversight import Oversight, count_or_not_evaluated
from projections.reports.terms import day
from projections.reports.views_facts import ReportFacts

ANY_RECIPIENT = "任一接收部门"
RECIPIENTS = "接收部门及首次提供日期"


def core_data(facts: ReportFacts, oversight: Oversight) -> tuple[str, tuple[Table, ...]]:
    """The paragraph (with the approvals) and the 台账 of the year's D1 findings named."""
    core = facts.core_data
    shared = [s for s in core.shared if local(s.finding.time).year == facts.year]
    judged = count_or_not_evaluated("D1", len(shared), oversight.not_evaluated)
    approvals = "；".join(_approval(facts, a) for a in core.approvals)
    lead = (
        "核心数据（《数据安全法》第二十一条）：目录内含核心数据信息项的资源 "
        f"{len(core.core_resources)} 项；账本记录的核心数据共享专门审批 {len(core.approvals)} 项"
        + (f"（{approvals}）" if approvals else "")
        + f"；本年度核心数据未经专门审批即共享（D1）{judged}，按资源列于下表"
        "（审批已失效的注明文号，余为从无审批；提供部门即资源的提供部门）。"
    )
    by_resource: dict[str, list[CoreDataShared]] = defaultdict(list)
    for s in shared:
        by_resource[s.resource_code].append(s)
    rows = tuple(
        Row(
            (
                "、".join(str(s.position) for s in group if s.position is not None) or "—",
                code,
                "；".join(_named(facts, s) for s in group),
            ),
            tuple(sorted({p for s in group for p in s.finding.positions})),
        )
        for code, group in sorted(by_resource.items())
    )
    return lead, (
        Table(
            "核心数据未经专门审批即共享（D1）",
            ("账本位置", "资源", RECIPIENTS),
            rows,
            ledger_list=True,
        ),
    )


def _approval(facts: ReportFacts, a: CoreApproval) -> str:
    """``网信核-1：RK-0001 提供给区民政局，2025-06-01 至 2025-06-10，位置 12``."""
    department = facts.departments().get(a.recipient_department or "")
    recipient = department.name if department else (a.recipient_department or ANY_RECIPIENT)
    until = f"至 {day(a.valid_until)}" if a.valid_until else "未定期限"
    withdrawn = f"，{day(a.withdrawn_at)} 撤回" if a.withdrawn_at else ""
    positions = "、".join(str(p) for p in a.positions)
    return (
        f"{a.reference}：{a.resource_code} 提供给{recipient}，{day(a.approved_at)} {until}"
        f"{withdrawn}，位置 {positions}"
    )


def _named(facts: ReportFacts, shared: CoreDataShared) -> str:
    """``区民政局 2025-06-12（专门审批 网信核-1 已失效）``: one D1 finding named (the
    department by its name: the table is kept short, codes are in the other tables)."""
    department = facts.departments().get(shared.recipient or "")
    recipient = department.name if department else (shared.recipient or "未记录")
    lapsed = f"（专门审批 {shared.lapsed_reference} 已失效）" if shared.lapsed_reference else ""
    return f"{recipient} {day(shared.finding.time)}{lapsed}"
