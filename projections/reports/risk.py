"""网信办 数据共享风险评估报告 (domain.md "Reports — Risk-assessment report": sections after
网络数据安全管理条例 §31, §33, with an asset/threat/vulnerability breakdown after GB/T 20984)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime

from ledger.domain.catalogue import Resource, Sensitivity
from ledger.domain.organisation import SystemStatus
from ledger.domain.sharing import RequestStatus, SharingRequest
from projections.query import Finding
from projections.reports import analysis
from projections.reports.common import (
    VERIFY_STEPS,
    Inputs,
    accesses_in,
    anchor,
    department_label,
    local,
    now_text,
    scope_paragraph,
)
from projections.reports.facts import AccessFact, LedgerFacts
from projections.reports.model import Report, ReportKind, Row, Section, Table
from projections.reports.oversight import (
    RULE_TEXT,
    Oversight,
    anomalies_table,
    count_or_not_evaluated,
    findings_table,
    not_evaluated_table,
)
from projections.reports.terms import (
    ACCESS_REASON,
    REQUEST_STATUS,
    RISK_LEVEL,
    SENSITIVITY,
    SHARING_TYPE,
    day,
    percent,
)

LEVEL_HIGH, LEVEL_MEDIUM = 6, 3
LIKELY_SHARE = 0.05  # a flagged share at or above this is "likely" (3)


def build_risk_report(inputs: Inputs) -> Report:
    facts, year, checkpoint = inputs.facts, inputs.year, inputs.checkpoint
    accesses = accesses_in(facts, year)
    requests = analysis.requests_in(facts, year)
    matrix = _matrix(facts, accesses)
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
            _processing(facts, accesses),
            _legitimacy(facts, accesses, requests),
            _analysis(facts, accesses, matrix),
            _recipients(facts, accesses, inputs.oversight),
            _measures(facts),
            _incidents(facts, accesses, requests, inputs.oversight),
            _personal(facts, accesses, inputs.oversight),
            _rights(facts, inputs.oversight),
            _conclusion(facts, matrix, inputs.oversight),
        ),
        verification=VERIFY_STEPS,
    )


def _basics(facts: LedgerFacts) -> Section:
    departments = sorted(facts.departments().values(), key=lambda d: d.code)
    rows = tuple(
        Row((d.name, d.code, d.cio_name or "未指定"), facts.positions_of(d.id)) for d in departments
    )
    without = sum(1 for d in departments if not d.cio_name)
    return Section(
        "1",
        "基本情况",
        (
            "数据处理者：苏州高新区各政务部门，经区数据共享交换平台共享政务数据；区发改局牵头共享工作，"
            "区网信办负责共享风险评估与数据安全监督。",
            f"安全组织：在册部门 {len(departments)} 个，已指定信息主管（CIO）"
            f"{len(departments) - without} 个，未指定 {without} 个。",
        ),
        tables=(Table("各部门信息主管（安全责任人）", ("部门", "代码", "信息主管"), rows),),
    )


def _scope(facts: LedgerFacts, year: int) -> Section:
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


def _processing(facts: LedgerFacts, accesses: Sequence[AccessFact]) -> Section:
    purposes: dict[str, list[int]] = defaultdict(list)
    for a in accesses:
        purposes[a.purpose or "（未申报用途）"].append(a.position)
    purpose_rows = tuple(
        Row((purpose, len(p), _rows(accesses, purpose)), tuple(p))
        for purpose, p in sorted(purposes.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    )
    types: dict[str, list[Resource]] = defaultdict(list)
    for r in facts.resources().values():
        types[SENSITIVITY[_grade(r)]].append(r)
    type_rows = tuple(
        Row((name, len(group)), tuple(p for r in group for p in facts.positions_of(r.id)))
        for name, group in sorted(types.items())
    )
    systems = facts.systems()
    on_cloud = [s for s in systems if s.on_cloud]
    methods = Counter(r.share_method or "（未填写）" for r in facts.resources().values())
    return Section(
        "3",
        "数据处理情况",
        (
            f"处理目的、类型与规模：本年度经交换平台数据访问 {len(accesses)} 次，"
            f"返回数据 {sum(a.row_count for a in accesses):,} 条。",
            "处理方式：" + "；".join(f"{m} {n} 项资源" for m, n in sorted(methods.items())) + "。",
            f"存储情况：在册政务信息系统 {len(systems)} 个，其中已上政务云 {len(on_cloud)} 个。",
        ),
        tables=(
            Table("按申报用途统计的数据访问", ("用途", "访问次数", "返回条数"), purpose_rows),
            Table("资源按最高敏感程度分类", ("敏感程度", "资源数"), type_rows),
        ),
    )


def _rows(accesses: Sequence[AccessFact], purpose: str) -> int:
    return sum(a.row_count for a in accesses if (a.purpose or "（未申报用途）") == purpose)


GRADE_ORDER = (
    Sensitivity.CORE,
    Sensitivity.SENSITIVE_PERSONAL,
    Sensitivity.IMPORTANT,
    Sensitivity.PERSONAL,
    Sensitivity.GENERAL,
)


def _grade(resource: Resource) -> Sensitivity:
    present = {item.sensitivity for item in resource.items}
    return next((g for g in GRADE_ORDER if g in present), Sensitivity.GENERAL)


def _impact(resource: Resource | None) -> int:
    """Impact 3: core data or sensitive personal information; 2: important data or personal
    information; 1: general data (数据安全法 §21, PIPL §28)."""
    if resource is None:
        return 2  # unknown to the catalogue: its content cannot be ruled harmless
    grade = _grade(resource)
    if grade in (Sensitivity.CORE, Sensitivity.SENSITIVE_PERSONAL):
        return 3
    return 2 if grade in (Sensitivity.IMPORTANT, Sensitivity.PERSONAL) else 1


def _likelihood(flagged: int, total: int, critical: bool) -> int:
    """Likelihood 3: a critical breach, or flagged ≥ 5% of accesses; 2: any flagged; 1: none."""
    if critical or (total and flagged / total >= LIKELY_SHARE):
        return 3
    return 2 if flagged else 1


def _level(score: int) -> str:
    return "高" if score >= LEVEL_HIGH else "中" if score >= LEVEL_MEDIUM else "低"


def _legitimacy(
    facts: LedgerFacts, accesses: Sequence[AccessFact], requests: Sequence[SharingRequest]
) -> Section:
    by_department: dict[str, list[SharingRequest]] = defaultdict(list)
    for r in requests:
        by_department[r.requester_department].append(r)
    used: dict[str, list[AccessFact]] = defaultdict(list)
    for a in accesses:
        used[a.department].append(a)
    rows = []
    for code in sorted(set(by_department) | set(used)):
        reqs, acc = by_department[code], used[code]
        based = sum(1 for r in reqs if r.legal_basis.strip())
        granted = [r for r in reqs if r.granted_items]
        asked = sum(len(r.items) for r in granted)
        kept = sum(len(r.granted_items) for r in granted)
        clean = sum(1 for a in acc if a.authorized)
        rows.append(
            Row(
                (
                    department_label(facts, code),
                    len(reqs),
                    based,
                    len({r.purpose for r in reqs}),
                    percent(kept, asked),
                    len(acc),
                    percent(clean, len(acc)),
                ),
                tuple(p for r in reqs for p in facts.positions_of(r.id))
                + tuple(a.position for a in acc),
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
        charts=(analysis.response_chart(facts, requests),),
    )


def _analysis(
    facts: LedgerFacts, accesses: Sequence[AccessFact], matrix: dict[str, list[Row]]
) -> Section:
    risks = analysis.resource_risks(facts, accesses)
    return Section(
        "5",
        "风险分析",
        (
            "威胁：数据被篡改、破坏、泄露或被非法获取、非法利用；资产：目录内政务信息资源；"
            "脆弱性：授权失效后仍可调用、超范围调用、用途申报缺失等（参照 GB/T 20984）。",
            "方法：风险值 = 可能性 × 影响程度（各取 1–3）。影响程度：含核心数据或敏感个人信息为 3，"
            "含重要数据或个人信息为 2，仅一般数据为 1（目录外资源按 2 计）。"
            "可能性：本年度存在 S1 违规或违规访问占比不低于 5% 为 3，存在违规访问为 2，"
            "无违规为 1。风险值 ≥ 6 为高，3–5 为中，"
            "≤ 2 为低。对公共利益的影响以资源敏感程度体现，对个人权益的影响见第 9 节。",
            "资源风险分：每次违规访问按所违规则的严重程度计分（严重 10、高 5、中 2、低 1）后累加。",
        ),
        tables=(
            Table(
                "资源风险矩阵",
                ("资源", "影响程度", "可能性", "风险值", "风险等级", "访问次数", "违规访问"),
                tuple(matrix["resources"]),
            ),
            Table(
                "部门风险矩阵",
                ("接收部门", "影响程度", "可能性", "风险值", "风险等级", "访问次数", "违规访问"),
                tuple(matrix["departments"]),
            ),
        ),
        charts=(analysis.top_risk_chart(risks),),
    )


def _matrix(facts: LedgerFacts, accesses: Sequence[AccessFact]) -> dict[str, list[Row]]:
    resources = facts.resources()
    by_resource: dict[str, list[AccessFact]] = defaultdict(list)
    by_department: dict[str, list[AccessFact]] = defaultdict(list)
    for a in accesses:
        by_resource[a.resource_code].append(a)
        by_department[a.department].append(a)

    def row(label: str, group: list[AccessFact], impact: int) -> Row:
        flagged = [a for a in group if analysis.rules_of(a, resources.get(a.resource_code))]
        critical = any(
            "S1" in analysis.rules_of(a, resources.get(a.resource_code)) for a in flagged
        )
        likely = _likelihood(len(flagged), len(group), critical)
        return Row(
            (
                label,
                impact,
                likely,
                impact * likely,
                _level(impact * likely),
                len(group),
                len(flagged),
            ),
            tuple(a.position for a in flagged),
        )

    resource_rows = [
        row(
            f"{code} {resources[code].name if code in resources else '（目录外资源）'}",
            group,
            _impact(resources.get(code)),
        )
        for code, group in sorted(by_resource.items())
    ]
    department_rows = [
        row(
            department_label(facts, code),
            group,
            max(_impact(resources.get(a.resource_code)) for a in group),
        )
        for code, group in sorted(by_department.items())
    ]
    return {"resources": resource_rows, "departments": department_rows}


def _access_findings(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.subject_kind == "access"]


def _recipients(
    facts: LedgerFacts, accesses: Sequence[AccessFact], oversight: Oversight
) -> Section:
    """Each recipient's compliance record: the views' findings against it, by rule."""
    used = Counter(a.department for a in accesses)
    against: dict[str, list[Finding]] = defaultdict(list)
    for f in oversight.findings:
        if f.department:
            against[f.department].append(f)
    rules = sorted({f.rule for group in against.values() for f in group}, key=_rule_key)
    rows = tuple(
        Row(
            (
                department_label(facts, code),
                used[code],
                *(sum(1 for f in against[code] if f.rule == r) for r in rules),
            ),
            tuple(sorted({p for f in against[code] for p in f.positions})),
        )
        for code in sorted(set(used) | set(against))
    )
    return Section(
        "6",
        "接收方情况",
        ("各部门本年度的合规记录：合规发现按规则计数（规则含义见第 11 节）。",),
        tables=(Table("各部门合规记录", ("部门", "访问次数", *rules), rows),),
    )


def _rule_key(rule: str) -> tuple[str, int]:
    return rule[0], int(rule[1:]) if rule[1:].isdigit() else 0


def _measures(facts: LedgerFacts) -> Section:
    systems = [s for s in facts.systems() if s.status is not SystemStatus.DECOMMISSIONED]
    holding = [s for s in systems if s.holds_personal_data or s.holds_important_data]
    unfiled = [s for s in holding if not s.mlps_filed]
    resources = list(facts.resources().values())
    owned = sum(1 for r in resources if r.owner_department and r.controller)
    rows = tuple(
        Row(
            (
                s.inventory.name,
                department_label(facts, s.department),
                s.mlps_level or "—",
                "是" if s.mlps_filed else "否（I2）",
            ),
            facts.positions_of(s.id),
        )
        for s in sorted(holding, key=lambda s: (s.department, s.inventory.name))
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
            "措施效果：违规访问均被记录并标记（见第 8 节），账本完整性可按附录方法独立核验。",
        ),
        tables=(
            Table(
                "承载个人信息或重要数据的系统等保情况",
                ("系统", "部门", "等保级别", "等保备案"),
                rows,
                ledger_list=True,
            ),
        ),
    )


def _incidents(
    facts: LedgerFacts,
    accesses: Sequence[AccessFact],
    requests: Sequence[SharingRequest],
    oversight: Oversight,
) -> Section:
    _months, trend = analysis.monthly_unauthorized(accesses)
    revoked = [r for r in requests if r.status is RequestStatus.REVOKED]
    # Each access is listed with the rules the views give it (one judgment: a purpose
    # mismatch on sensitive personal items is P1, an expired grant and unknown items both
    # S2 and S3), including accesses the platform let through that a rule still flags.
    judged = oversight.access_rules()
    flagged = sorted(
        (a for a in accesses if not a.authorized or a.platform_event_id in judged),
        key=lambda a: a.position,
    )
    reviewed = sum(1 for a in oversight.anomalies if a.status != "open")
    ledger_rows = tuple(
        Row(
            (
                a.position,
                a.accessed_at.isoformat(timespec="minutes"),
                department_label(facts, a.department),
                a.accessor_id,
                a.resource_code,
                _violations(a, judged.get(a.platform_event_id, ())),
            ),
            (a.position,),
        )
        for a in flagged
    )
    return Section(
        "8",
        "已发现风险与事件处置",
        (
            f"本年度违规访问 {len(flagged)} 次（按规则计数见下表）；访问异常 "
            f"{len(oversight.anomalies)} 起，已复核 {reviewed} 起。",
            f"处置：提供部门撤销授权 {len(revoked)} 项；违规访问均已在账本中标记，"
            "异常复核（确认、驳回、升级）结论以账本事件记录。",
        ),
        tables=(
            findings_table(_access_findings(oversight.findings), "违规访问按规则统计"),
            anomalies_table(oversight.anomalies),
            Table(
                "违规访问台账",
                ("账本位置", "访问时间", "部门", "访问者", "资源", "违规情形"),
                ledger_rows,
                ledger_list=True,
            ),
        ),
        charts=(trend,),
    )


def _violations(access: AccessFact, rules: Sequence[str]) -> str:
    """The rules the views give an access; the platform's reasons if the views flag none."""
    if rules:
        return "；".join(f"{rule} {RULE_TEXT.get(rule, rule)}" for rule in rules)
    return "；".join(ACCESS_REASON[r][0] + " " + ACCESS_REASON[r][1] for r in access.reasons)


def _personal(facts: LedgerFacts, accesses: Sequence[AccessFact], oversight: Oversight) -> Section:
    resources = facts.resources()
    touching = [a for a in accesses if analysis.personal(a, resources.get(a.resource_code))]
    p1 = sum(1 for f in oversight.findings if f.rule == "P1")
    p2 = sum(1 for f in oversight.findings if f.rule == "P2")
    p2_text = count_or_not_evaluated("P2", p2, oversight.not_evaluated)
    by_department = Counter(a.department for a in touching)
    rows = tuple(
        Row(
            (
                department_label(facts, code),
                n,
                sum(1 for a in touching if a.department == code and not a.authorized),
            ),
            tuple(a.position for a in touching if a.department == code),
        )
        for code, n in sorted(by_department.items())
    )
    return Section(
        "9",
        "个人信息影响",
        (
            f"本年度涉及个人信息或敏感个人信息的访问 {len(touching)} 次，"
            f"其中敏感个人信息无用途或超用途访问（P1）{p1} 次；"
            f"未做个人信息保护影响评估即提供个人信息（P2）：{p2_text}。",
        ),
        tables=(Table("各部门涉及个人信息的访问", ("部门", "访问次数", "其中违规"), rows),),
    )


def _rights(facts: LedgerFacts, oversight: Oversight) -> Section:
    """Use rights as of the report's moment: in force (已授权), run out (已到期) or revoked
    (已撤销); every grant ever made is listed, none left out."""
    moment = oversight.moment.reference_time
    holders: dict[str, list[SharingRequest]] = defaultdict(list)
    for r in facts.requests():
        if r.status in GRANTED_ONCE:
            holders[r.resource_code].append(r)
    resources = sorted(facts.resources().values(), key=lambda r: r.code)
    rows = tuple(
        Row(
            (
                r.code,
                r.name,
                SHARING_TYPE[r.sharing_type],
                department_label(facts, r.owner_department) if r.owner_department else "未明确",
                r.controller or "未明确",
                sum(1 for g in holders[r.code] if _right_status(g, moment) == "已授权"),
            ),
            facts.positions_of(r.id),
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
            facts.positions_of(g.id),
        )
        for code in sorted(holders)
        for g in holders[code]
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
                ("资源代码", "资源名称", "共享类型", "所有权", "控制权", "使用权持有数"),
                rows,
                ledger_list=True,
            ),
            Table(
                "使用权台账",
                ("资源代码", "持有部门", "信息项", "用途", "到期日", "状态"),
                grant_rows,
                ledger_list=True,
            ),
        ),
    )


GRANTED_ONCE = frozenset({RequestStatus.APPROVED, RequestStatus.REVOKED, RequestStatus.EXPIRED})


def _right_status(grant: SharingRequest, moment: datetime) -> str:
    """已撤销 once revoked; 已到期 once its end has passed (recorded or not); else 已授权."""
    if grant.status is RequestStatus.REVOKED:
        return REQUEST_STATUS[RequestStatus.REVOKED]
    if grant.status is RequestStatus.EXPIRED or (
        grant.expires_at is not None and grant.expires_at <= moment
    ):
        return REQUEST_STATUS[RequestStatus.EXPIRED]
    return REQUEST_STATUS[RequestStatus.APPROVED]


def _conclusion(facts: LedgerFacts, matrix: dict[str, list[Row]], oversight: Oversight) -> Section:
    levels = Counter(str(row.cells[4]) for row in matrix["resources"])
    assessed = Counter(
        RISK_LEVEL[a.risk_level] for a in facts.assessments if a.position <= facts.position
    )
    return Section(
        "11",
        "风险等级与处置建议",
        (
            f"按第 5 节方法，被访问资源中高风险 {levels['高']} 项、中风险 {levels['中']} 项、"
            f"低风险 {levels['低']} 项。",
            "账本已记录的网信办资源风险评估结论："
            + ("、".join(f"{k} {v} 项" for k, v in sorted(assessed.items())) or "无")
            + "。",
            "处置建议：高风险资源优先复核授权与接口控制；下表列出本年度全部合规发现及整改建议。",
        ),
        tables=(
            findings_table(oversight.findings, "合规发现与处置建议"),
            not_evaluated_table(oversight.not_evaluated),
        ),
    )
