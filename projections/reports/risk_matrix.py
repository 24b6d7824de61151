"""The risk report's risk analysis (docs/reports.md; domain.md "Reports — Risk-assessment
report"): §5 风险分析, the resource and department matrices of likelihood × impact after
GB/T 20984 (信息安全风险评估方法), and §13 风险等级与处置建议, which counts them.

Split from ``projections.reports.risk`` to keep modules of one concern
(docs/architecture.md, under 600 lines). As there, everything is read from the views at
the report's position (views_facts.ReportFacts, issue #12 item 2): the accesses come
grouped from the views' SQL and the rules on them are the views' findings; nothing is
judged here.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from ledger.domain.catalogue import RiskLevel, Sensitivity
from projections.access_report import AccessGroup, RuleGroup
from projections.model import ResourceState
from projections.reports import analysis
from projections.reports.common import department_label
from projections.reports.model import Row, Section, Table
from projections.reports.oversight import Oversight, findings_table, not_evaluated_table
from projections.reports.terms import RISK_LEVEL
from projections.reports.views_facts import ReportFacts

LEVEL_HIGH, LEVEL_MEDIUM = 6, 3
LIKELY_SHARE = 0.05  # a flagged share at or above this is "likely" (3)


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


def risk_analysis(
    facts: ReportFacts, matrix: dict[str, list[Row]], oversight: Oversight
) -> Section:
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


def matrix(facts: ReportFacts, oversight: Oversight) -> dict[str, list[Row]]:
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


def conclusion(facts: ReportFacts, matrix: dict[str, list[Row]], oversight: Oversight) -> Section:
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
