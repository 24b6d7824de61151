"""网信办 数据共享风险评估报告 (domain.md "Reports — Risk-assessment report": sections after
网络数据安全管理条例 §31, §33, with an asset/threat/vulnerability breakdown after GB/T 20984).

Read from the views at the report's position (views_facts.ReportFacts, issue #12 item 2):
accesses come grouped from the views' SQL, the rules on them are the views' findings,
the 违规访问台账 lists the first flagged accesses and says how many there are.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from ledger.domain.catalogue import RiskLevel, Sensitivity, SharingType
from ledger.domain.sharing import RequestStatus
from projections.access_report import AccessGroup, FlaggedAccess, RuleGroup
from projections.model import RequestState, ResourceState
from projections.reports import analysis, risk_core
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
from projections.reports.oversight import (
    RULE_TEXT,
    Oversight,
    anomalies_table,
    anomaly_count,
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
from projections.reports.views_facts import ReportFacts

LEVEL_HIGH, LEVEL_MEDIUM = 6, 3
LIKELY_SHARE = 0.05  # a flagged share at or above this is "likely" (3)
NO_PURPOSE = "（未申报用途）"


def build_risk_report(inputs: Inputs) -> Report:
    facts, year, checkpoint = inputs.facts, inputs.year, inputs.checkpoint
    requests = analysis.requests_in(facts.zone.requests.values(), year)
    matrix = _matrix(facts, inputs.oversight)
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
            _analysis(facts, matrix, inputs.oversight),
            _recipients(facts, inputs.oversight),
            _measures(facts),
            _incidents(facts, requests, inputs.oversight),
            _personal(facts, inputs.oversight),
            _rights(facts, inputs.oversight),
            sections.entrusting(facts, "11"),
            sections.cross_border("12"),
            _conclusion(facts, matrix, inputs.oversight),
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


def _impact(resource: ResourceState | None) -> int:
    """Impact 3: core data or sensitive personal information; 2: important data or personal
    information; 1: general data (数据安全法 §21, PIPL §28)."""
    if resource is None:
        return 2  # unknown to the catalogue: its content cannot be ruled harmless
    present = {item.sensitivity for item in resource.items}
    if present & {Sensitivity.CORE, Sensitivity.SENSITIVE_PERSONAL}:
        return 3
    return 2 if present & {Sensitivity.IMPORTANT, Sensitivity.PERSONAL} else 1


def _likelihood(flagged: int, total: int, critical: bool) -> int:
    """Likelihood 3: a critical breach, or flagged ≥ 5% of accesses; 2: any flagged; 1: none."""
    if critical or (total and flagged / total >= LIKELY_SHARE):
        return 3
    return 2 if flagged else 1


def _level(score: int) -> str:
    return "高" if score >= LEVEL_HIGH else "中" if score >= LEVEL_MEDIUM else "低"


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


def _analysis(facts: ReportFacts, matrix: dict[str, list[Row]], oversight: Oversight) -> Section:
    risks = analysis.resource_risks(facts.zone.resources, facts.accesses, oversight.access_rules)
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


def _matrix(facts: ReportFacts, oversight: Oversight) -> dict[str, list[Row]]:
    resources = facts.zone.resources
    rules: dict[tuple[str, str], list[RuleGroup]] = defaultdict(list)
    for g in oversight.access_rules:
        rules["resource", g.resource].append(g)
        rules["department", g.department].append(g)

    def row(label: str, group: list[AccessGroup], impact: int, found: list[RuleGroup]) -> Row:
        flagged = analysis.flagged(group)
        critical = any(g.rule == "S1" for g in found)
        likely = _likelihood(flagged, analysis.total(group), critical)
        return Row(
            (
                label,
                impact,
                likely,
                impact * likely,
                _level(impact * likely),
                analysis.total(group),
                flagged,
            ),
            analysis.cited(found),
            flagged,
        )

    resource_rows = [
        row(
            f"{code} {resources[code].name if code in resources else '（目录外资源）'}",
            group,
            _impact(resources.get(code)),
            rules["resource", code],
        )
        for code, group in sorted(analysis.by(facts.accesses, "resource").items())
    ]
    department_rows = [
        row(
            department_label(facts, code),
            group,
            max(_impact(resources.get(g.resource)) for g in group),
            rules["department", code],
        )
        for code, group in sorted(analysis.by(facts.accesses, "department").items())
    ]
    return {"resources": resource_rows, "departments": department_rows}


def _recipients(facts: ReportFacts, oversight: Oversight) -> Section:
    """Each recipient's compliance record: the views' findings against it, by rule."""
    used = {
        code: analysis.total(g) for code, g in analysis.by(facts.accesses, "department").items()
    }
    against: dict[str, Counter[str]] = defaultdict(Counter)
    cite: dict[str, set[int]] = defaultdict(set)
    for f in oversight.findings:
        if f.department:
            against[f.department][f.rule] += 1
            cite[f.department].update(f.positions)
    for g in oversight.access_rules:
        against[g.department][g.rule] += g.accesses
        cite[g.department].update(g.sample)
    rules = sorted({r for counts in against.values() for r in counts}, key=_rule_key)
    rows = tuple(
        Row(
            (
                department_label(facts, code),
                used.get(code, 0),
                *(against[code][r] for r in rules),
            ),
            tuple(sorted(cite[code]))[:40],
            sum(against[code].values()),
        )
        for code in sorted(set(used) | set(against))
    )
    return Section(
        "6",
        "接收方情况",
        ("各部门本年度的合规记录：合规发现按规则计数（规则含义见第 13 节）。",),
        tables=(Table("各部门合规记录", ("部门", "访问次数", *rules), rows),),
    )


def _rule_key(rule: str) -> tuple[str, int]:
    return rule[0], int(rule[1:]) if rule[1:].isdigit() else 0


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


def _incidents(
    facts: ReportFacts, requests: Sequence[RequestState], oversight: Oversight
) -> Section:
    trend = analysis.monthly_flagged(facts.accesses, oversight.access_rules)
    revoked = [r for r in requests if r.status == RequestStatus.REVOKED]
    reviewed = anomaly_count(oversight.anomalies, reviewed=True)
    # Each access is listed with the rules the views give it (one judgment: a purpose
    # mismatch on sensitive personal items is P1, an expired grant and unknown items both
    # S2 and S3).
    ledger_rows = tuple(
        Row(
            (
                a.position,
                local_minutes(a.epoch),
                department_label(facts, a.department),
                a.accessor_id,
                a.resource,
                "、".join(a.items) or "—",
                a.grant_id or "—",
                _violations(a),
            ),
            (a.position,),
        )
        for a in facts.flagged
    )
    listed = len(facts.flagged)
    note = (
        f"共 {facts.flagged_total} 次（平台标记的违规访问及平台放行但规则标记的访问），"
        f"本表列出账本顺序的前 {listed} 次；"
        "完整清单见同一账本位置的合规发现查询（规则与账本位置）。"
        if facts.flagged_total > listed
        else ""
    )
    return Section(
        "8",
        "已发现风险与事件处置",
        (
            f"本年度违规访问 {analysis.flagged(facts.accesses)} 次（按规则计数见下表）；访问异常 "
            f"{anomaly_count(oversight.anomalies)} 起，已复核 {reviewed} 起。",
            f"处置：提供部门撤销授权 {len(revoked)} 项；违规访问均已在账本中标记，"
            "异常复核（确认、排除、升级）结论以账本事件记录。",
        ),
        tables=(
            findings_table(oversight, "违规访问按规则统计", accesses_only=True),
            anomalies_table(oversight.anomalies),
            Table(
                "违规访问台账",
                ("账本位置", "访问时间", "部门", "访问者", "资源", "信息项", "授权", "违规情形"),
                ledger_rows,
                ledger_list=True,
                note=note,
            ),
        ),
        charts=(trend,),
    )


def local_minutes(epoch: float) -> str:
    """A moment as China Standard Time to the minute (the report says 北京时间 once)."""
    return local(datetime.fromtimestamp(epoch, UTC)).strftime("%Y-%m-%d %H:%M")


def _violations(access: FlaggedAccess) -> str:
    """The rules the views give an access; the platform's reasons if the views flag none."""
    if access.rules:
        return "；".join(_rule_text(rule, access) for rule in access.rules)
    return "；".join(" ".join(ACCESS_REASON[r]) for r in access.reasons if r in ACCESS_REASON)


def _rule_text(rule: str, access: FlaggedAccess) -> str:
    """The rule's name; S4 on an access that declared no purpose says so (未申报用途)."""
    text = f"{rule} {RULE_TEXT.get(rule, rule)}"
    return f"{text}{NO_PURPOSE}" if rule == "S4" and not access.purpose.strip() else text


def _personal(facts: ReportFacts, oversight: Oversight) -> Section:
    touching = analysis.personal(facts.accesses)
    p1 = oversight.count("P1")
    p2_text = count_or_not_evaluated("P2", oversight.count("P2"), oversight.not_evaluated)
    rows = tuple(
        Row(
            (department_label(facts, code), analysis.total(group), analysis.flagged(group)),
            (),
            analysis.total(group),
        )
        for code, group in sorted(analysis.by(touching, "department").items())
    )
    return Section(
        "9",
        "个人信息影响",
        (
            f"本年度涉及个人信息或敏感个人信息的访问 {analysis.total(touching)} 次，"
            f"其中敏感个人信息无用途或超用途访问（P1）{p1} 次；"
            f"未做个人信息保护影响评估即提供个人信息（P2）：{p2_text}。",
        ),
        tables=(Table("各部门涉及个人信息的访问", ("部门", "访问次数", "其中违规"), rows),),
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


def _conclusion(facts: ReportFacts, matrix: dict[str, list[Row]], oversight: Oversight) -> Section:
    levels = Counter(str(row.cells[4]) for row in matrix["resources"])
    assessed = Counter(
        RISK_LEVEL[RiskLevel(r.risk_level)]
        for r in facts.zone.resources.values()
        if r.risk_level is not None
    )
    return Section(
        "13",
        "风险等级与处置建议",
        (
            f"按第 5 节方法，被访问资源中高风险 {levels['高']} 项、中风险 {levels['中']} 项、"
            f"低风险 {levels['低']} 项。",
            "账本已记录的网信办资源风险评估结论（各资源最新结论）："
            + ("、".join(f"{k} {v} 项" for k, v in sorted(assessed.items())) or "无")
            + "。",
            "处置建议：高风险资源优先复核授权与接口控制；下表列出本年度全部合规发现及整改建议。",
        ),
        tables=(
            findings_table(oversight, "合规发现与处置建议"),
            not_evaluated_table(oversight.not_evaluated),
        ),
    )
