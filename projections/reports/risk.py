"""网信办 数据共享风险评估报告 (domain.md "Reports — Risk-assessment report": sections after
网络数据安全管理条例 §31, §33, with an asset/threat/vulnerability breakdown after GB/T 20984).

Read from the views at the report's position (views_facts.ReportFacts, issue #12 item 2):
accesses come grouped from the views' SQL, the rules on them are the views' findings,
the 违规访问台账 lists the first flagged accesses and says how many there are.

This module builds the report and writes the sections on the zone itself (§1–§4, §7 安全
措施, §10 权属情况); the risk analysis and its conclusion (§5, §13) are in
``projections.reports.risk_matrix``, what the views found by recipient and access (§6,
§8, §9) in ``projections.reports.risk_findings``, and what 条例 §33 adds in
``projections.reports.risk_sections`` and ``risk_core``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from ledger.domain.catalogue import Sensitivity, SharingType
from ledger.domain.sharing import RequestStatus
from projections.model import RequestState, ResourceState
from projections.reports import analysis, risk_core, risk_findings, risk_matrix
from projections.reports import risk_sections as sections
from projections.reports.common import (
    VERIFY_STEPS,
    Inputs,
    anchor,
    department_label,
    local,
    now_text,
    scope_paragraph,
    sharing_notice,
)
from projections.reports.declared import classified_sentence
from projections.reports.model import Report, ReportKind, Row, Section, Table
from projections.reports.oversight import Oversight
from projections.reports.risk_findings import NO_PURPOSE
from projections.reports.terms import REQUEST_STATUS, SENSITIVITY, SHARING_TYPE, day, percent
from projections.reports.views_facts import ReportFacts


def build_risk_report(inputs: Inputs) -> Report:
    facts, year, checkpoint = inputs.facts, inputs.year, inputs.checkpoint
    requests = analysis.requests_in(facts.zone.requests.values(), year)
    matrix = risk_matrix.matrix(facts, inputs.oversight)
    return Report(
        kind=ReportKind.RISK,
        title=f"{year}年度政务数据共享风险评估报告",
        year=year,
        subtitle="区网信办 · 依据《网络数据安全管理条例》第三十一条、第三十三条",
        generated_at=now_text(),
        anchor=anchor(facts, checkpoint),
        sections=(
            _basics(facts),
            _scope(facts, year),
            _processing(facts, inputs.oversight),
            _legitimacy(facts, requests),
            risk_matrix.risk_analysis(facts, matrix, inputs.oversight),
            risk_findings.recipients(facts, inputs.oversight),
            _measures(facts),
            risk_findings.incidents(facts, requests, inputs.oversight),
            risk_findings.personal(facts, inputs.oversight),
            _rights(facts, inputs.oversight),
            sections.entrusting(facts, "11"),
            sections.cross_border("12"),
            risk_matrix.conclusion(facts, matrix, inputs.oversight),
        ),
        verification=VERIFY_STEPS,
        notice=sharing_notice(facts, year, len(requests)),
    )


def _basics(facts: ReportFacts) -> Section:
    departments = sorted(facts.zone.departments.values(), key=lambda d: d.code)
    rows = tuple(Row((d.name, d.code, d.cio_name or "未指定"), (d.position,)) for d in departments)
    without = sum(1 for d in departments if not d.cio_name)
    return Section(
        "1",
        "基本情况",
        (
            "数据处理者：苏州高新区各政务部门，经区数据共享交换平台共享政务数据；区发改局牵头共享工作，"
            "区网信办负责共享风险评估与数据安全监督。",
            f"安全组织：在册部门 {len(departments)} 个，已指定首席信息官"
            f"{len(departments) - without} 个，未指定 {without} 个。",
            sections.security_lead(facts),
        ),
        tables=(Table("各部门首席信息官", ("部门", "部门代码", "首席信息官"), rows),),
    )


def _scope(facts: ReportFacts, year: int) -> Section:
    return Section(
        "2",
        "评估范围与依据",
        (
            scope_paragraph(facts, year),
            "评估范围：经区数据共享交换平台发生的全部数据访问、共享申请与授权、政务信息资源目录及"
            "承载数据的政务信息系统。",
            "评估依据：《中华人民共和国数据安全法》第二十一条；《中华人民共和国个人信息保护法》"
            "第六条、第二十八条、第三十四条、第五十五条；《网络数据安全管理条例》第三十一条、第三十三条；"
            "国发〔2016〕51号《政务信息资源共享管理暂行办法》；《政务数据共享条例》（国务院令第809号）；"
            "苏高新办〔2019〕2号；风险分析方法参照 GB/T 20984《信息安全风险评估方法》。",
        ),
    )


def _processing(facts: ReportFacts, oversight: Oversight) -> Section:
    accesses = facts.accesses
    purposes = analysis.by(accesses, "purpose")
    purpose_rows = tuple(
        Row((purpose or NO_PURPOSE, n, sum(g.rows for g in group)), (), n)
        for purpose, group in purposes.items()
        for n in [analysis.total(group)]
    )
    purpose_rows = tuple(sorted(purpose_rows, key=lambda r: (-int(r.cells[1]), str(r.cells[0]))))
    resources = facts.zone.resources
    types: dict[str, list[ResourceState]] = defaultdict(list)
    for r in resources.values():
        types[SENSITIVITY[Sensitivity(r.sensitivity)]].append(r)
    type_rows = tuple(
        Row((name, len(group)), tuple(r.position for r in group))
        for name, group in sorted(types.items())
    )
    methods = Counter(r.share_method or "（未填写）" for r in resources.values())
    core_lead, core_tables = risk_core.core_data(facts, oversight)
    return Section(
        "3",
        "数据处理情况",
        (
            f"处理目的、类型与规模：本年度经交换平台数据访问 {analysis.total(accesses)} 次，"
            f"返回数据 {sum(g.rows for g in accesses):,} 条。",
            "处理方式：" + "；".join(f"{m} {n} 项资源" for m, n in sorted(methods.items())) + "。",
            *sections.storage(facts),
            core_lead,
        ),
        tables=(
            Table("按申报用途统计的数据访问", ("用途", "访问次数", "返回条数"), purpose_rows),
            Table("资源按最高敏感程度分类", ("敏感程度", "资源数"), type_rows),
            *core_tables,
        ),
    )


def _legitimacy(facts: ReportFacts, requests: Sequence[RequestState]) -> Section:
    by_department: dict[str, list[RequestState]] = defaultdict(list)
    for r in requests:
        by_department[r.requester_department].append(r)
    used = analysis.by(facts.accesses, "department")
    rows = []
    for code in sorted(set(by_department) | set(used)):
        reqs, acc = by_department[code], used.get(code, [])
        based = sum(1 for r in reqs if r.legal_basis.strip())
        granted = [r for r in reqs if r.granted_items]
        asked = sum(len(r.items) for r in granted)
        kept = sum(len(r.granted_items) for r in granted)
        total = analysis.total(acc)
        clean = total - analysis.flagged(acc)
        rows.append(
            Row(
                (
                    department_label(facts, code),
                    len(reqs),
                    based,
                    len({r.purpose for r in reqs}),
                    percent(kept, asked),
                    total,
                    percent(clean, total),
                ),
                tuple(p for r in reqs for p in r.positions),
                sum(len(r.positions) for r in reqs) + total,
            )
        )
    return Section(
        "4",
        "共享的合法性、正当性、必要性",
        (
            "合法性以共享申请是否载明法律依据衡量；正当性以申报用途是否明确衡量；必要性以授权信息项"
            "占申请信息项的比例（最小必要）和授权范围内访问的比例衡量。",
        ),
        tables=(
            Table(
                "各接收部门共享情况",
                (
                    "接收部门",
                    "共享申请",
                    "载明法律依据",
                    "申报用途种数",
                    "授权项/申请项",
                    "数据访问",
                    "授权范围内访问占比",
                ),
                tuple(rows),
            ),
        ),
        charts=(analysis.response_chart(requests),),
    )


def _measures(facts: ReportFacts) -> Section:
    systems = [s for s in facts.zone.systems.values() if s.status != "decommissioned"]
    holding = [s for s in systems if s.holds_personal_data or s.holds_important_data]
    unfiled = [s for s in holding if not s.mlps_filed]
    resources = list(facts.zone.resources.values())
    owned = sum(1 for r in resources if r.owner_department and r.controller)
    rows = tuple(
        Row(
            (
                s.name,
                department_label(facts, s.department),
                s.mlps_level or "—",
                "是" if s.mlps_filed else "否（I2）",
            ),
            (s.position,),
        )
        for s in sorted(holding, key=lambda s: (s.department, s.name))
    )
    return Section(
        "7",
        "安全措施",
        (
            "技术措施：全部共享申请、授权、数据访问与经费决定均写入哈希链账本（只增不改），"
            "定期签发签名检查点并可由见证人联署；交换平台对每次访问按授权核验并记录结论。",
            f"管理措施：目录资源 {len(resources)} 项，已明确所有权与控制权 {owned} 项；"
            f"已开展风险评估的资源 {sum(1 for r in resources if r.risk_assessments)} 项。",
            f"等级保护：承载个人信息或重要数据的在用系统 {len(holding)} 个，"
            f"未完成等保备案 {len(unfiled)} 个（I2）。",
            classified_sentence(facts.zone, facts.declared),
            "措施效果：违规访问均被记录并标记（见第 8 节），账本完整性可按附录方法独立核验。",
            sections.RULES_ON_RECORD,
        ),
        tables=(
            sections.measures_table(
                facts, analysis.flagged(facts.accesses), analysis.total(facts.accesses)
            ),
            Table(
                "承载个人信息或重要数据的系统等保情况",
                ("系统", "部门", "等保级别", "等保备案"),
                rows,
                ledger_list=True,
            ),
        ),
    )


def _rights(facts: ReportFacts, oversight: Oversight) -> Section:
    """Use rights as of the report's moment: in force (已授权), run out (已到期) or revoked
    (已撤销); every grant ever made is listed, none left out. The holders in force are the
    views' use-rights register at the same moment."""
    moment = oversight.moment.reference_time
    holders: dict[str, list[RequestState]] = defaultdict(list)
    for r in facts.zone.requests.values():
        if r.status in GRANTED_ONCE:
            holders[r.resource_code].append(r)
    register = {e.resource_code: e for e in facts.rights}
    resources = sorted(facts.zone.resources.values(), key=lambda r: r.code)
    rows = tuple(
        Row(
            (
                r.code,
                r.name,
                SHARING_TYPE[SharingType(r.sharing_type)],
                department_label(facts, r.owner_department) if r.owner_department else "未明确",
                r.controller or "未明确",
                len(register[r.code].use_rights) if r.code in register else 0,
            ),
            register[r.code].positions if r.code in register else (r.position,),
        )
        for r in resources
    )
    grant_rows = tuple(
        Row(
            (
                g.resource_code,
                department_label(facts, g.requester_department),
                "、".join(g.granted_items),
                g.purpose,
                day(g.expires_at),
                _right_status(g, moment),
            ),
            g.positions,
        )
        for code in sorted(holders)
        for g in sorted(holders[code], key=lambda g: g.positions)
    )
    return Section(
        "10",
        "权属情况",
        (
            "所有权归提供部门；控制权归保管部门或系统；使用权经共享申请获批授予，受信息项、用途和期限约束。"
            f"使用权状态以本报告时点（{local(moment).strftime('%Y-%m-%d %H:%M')}）计："
            "在有效期内为已授权，期满为已到期，提供部门撤销为已撤销。",
        ),
        tables=(
            Table(
                "资源权属登记",
                ("信息资源代码", "资源名称", "共享类型", "所有权", "控制权", "使用权持有数"),
                rows,
                ledger_list=True,
            ),
            Table(
                "使用权台账",
                ("信息资源代码", "持有部门", "信息项", "用途", "到期日", "状态"),
                grant_rows,
                ledger_list=True,
            ),
        ),
    )


GRANTED_ONCE = frozenset({RequestStatus.APPROVED, RequestStatus.REVOKED, RequestStatus.EXPIRED})


def _right_status(grant: RequestState, moment: datetime) -> str:
    """已撤销 once revoked; 已授权 while in force as the views judge it
    (``RequestState.in_force_at``, the register's rule); else 已到期."""
    if grant.status == RequestStatus.REVOKED:
        return REQUEST_STATUS[RequestStatus.REVOKED]
    if grant.in_force_at(moment):
        return REQUEST_STATUS[RequestStatus.APPROVED]
    return REQUEST_STATUS[RequestStatus.EXPIRED]
