"""年度报告: the zone's annual sharing report (domain.md "Reports — Annual sharing
report"; no official template, the structure follows the seed plan 苏高新办〔2019〕2号).

Read from the views at the report's position (views_facts.ReportFacts, issue #12 item 2):
the zone's systems, catalogue, requests and fund decisions as of that position, the
year's accesses grouped in the views' SQL, the views' findings.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger.domain.catalogue import SharingType
from ledger.domain.funding import FundKind, FundOutcome
from ledger.domain.organisation import SystemStatus
from ledger.domain.sharing import RequestStatus
from projections.access_report import AccessGroup
from projections.labels import UPDATE_CYCLES
from projections.model import RequestState
from projections.reports import analysis
from projections.reports import annual_obligations as obligations
from projections.reports.common import (
    VERIFY_STEPS,
    Inputs,
    anchor,
    department_label,
    now_text,
    scope_paragraph,
    sharing_notice,
)
from projections.reports.declared import integration_sentence
from projections.reports.model import Report, ReportKind, Row, Section, Table
from projections.reports.oversight import Oversight, anomaly_count, findings_table
from projections.reports.terms import (
    FUND_KIND,
    FUND_OUTCOME,
    SHARING_TYPE,
    SYSTEM_STATUS,
    percent,
    yuan,
)
from projections.reports.views_facts import ReportFacts

# 共享评价 weights (configurable defaults; the method is printed in section 9).
WEIGHTS = {
    "shareable": 20,
    "open": 10,
    "on_time": 20,
    "updated": 10,  # S11 (编制指南 更新周期): own resources not overdue at the report's moment
    "provided": 15,
    "used": 15,
    "clean": 10,
}


def build_annual_report(inputs: Inputs) -> Report:
    facts, year, checkpoint = inputs.facts, inputs.year, inputs.checkpoint
    requests = analysis.requests_in(facts.zone.requests.values(), year)
    return Report(
        kind=ReportKind.ANNUAL,
        title=f"苏州高新区政务信息资源共享情况年度报告（{year}年度）",
        year=year,
        subtitle="区发改局汇编 · 依据苏高新办〔2019〕2号",
        generated_at=now_text(),
        anchor=anchor(facts, checkpoint),
        sections=(
            _systems(facts, year, inputs.oversight),
            _catalogue(facts, inputs.oversight),
            _provision(facts, requests),
            _use(facts),
            _objections(inputs.oversight),
            _security(facts, year, inputs.oversight),
            _funds(facts, year),
            _issues(facts, inputs.oversight),
            _evaluation(facts, requests, inputs.oversight),
        ),
        verification=VERIFY_STEPS,
        notice=sharing_notice(facts, year, len(requests)),
    )


def _systems(facts: ReportFacts, year: int, oversight: Oversight) -> Section:
    systems = list(facts.zone.systems.values())
    rows = []
    for code in sorted({s.department for s in systems}):
        own = [s for s in systems if s.department == code]
        status = Counter(s.status for s in own)
        rows.append(
            Row(
                (
                    department_label(facts, code),
                    len(own),
                    status[SystemStatus.ACTIVE],
                    status[SystemStatus.ZOMBIE],
                    status[SystemStatus.MERGED],
                    status[SystemStatus.DECOMMISSIONED],
                    sum(1 for s in own if s.connected),
                    sum(1 for s in own if s.required_to_connect and not s.connected),
                    sum(1 for s in own if s.on_cloud),
                ),
                tuple(s.position for s in own),
            )
        )
    cleared = sum(1 for s in systems if s.status != SystemStatus.ACTIVE)
    connected = sum(1 for s in systems if s.connected)
    zombie_lead, zombie_table = obligations.zombies(facts, oversight)
    return Section(
        "一",
        "系统清理与接入",
        (
            scope_paragraph(facts, year),
            f"全区在册政务信息系统 {len(systems)} 个；清理（认定僵尸、整合、停用）{cleared} 个；"
            f"已接入共享交换平台 {connected} 个；"
            f"已上政务云 {sum(1 for s in systems if s.on_cloud)} 个。",
            integration_sentence(facts.zone, facts.declared),
            zombie_lead,
        ),
        tables=(
            Table(
                "各部门系统清理与接入",
                (
                    "部门",
                    "系统数",
                    SYSTEM_STATUS[SystemStatus.ACTIVE],
                    SYSTEM_STATUS[SystemStatus.ZOMBIE],
                    SYSTEM_STATUS[SystemStatus.MERGED],
                    SYSTEM_STATUS[SystemStatus.DECOMMISSIONED],
                    "已接入",
                    "应接未接",
                    "已上云",
                ),
                tuple(rows),
            ),
            zombie_table,
        ),
    )


def _judged(oversight: Oversight, rule: str, counted: str) -> str:
    """What the views judge of ``rule`` at the report's moment: ``counted`` N 项, or 未评估
    with the reason (a report never prints 0 for a rule it did not evaluate)."""
    reason = oversight.not_evaluated.get(rule)
    if reason is not None:
        return f"{counted}（{rule}）：未评估（{reason}）"
    return f"{counted} {oversight.count(rule)} 项（{rule}）"


def _catalogue(facts: ReportFacts, oversight: Oversight) -> Section:
    resources = sorted(facts.zone.resources.values(), key=lambda r: r.code)
    rows = tuple(
        Row((SHARING_TYPE[t], len(group)), tuple(r.position for r in group))
        for t in SharingType
        for group in [[r for r in resources if r.sharing_type == t]]
    )
    ledger_rows = tuple(
        Row(
            (
                r.code,
                r.name,
                department_label(facts, r.provider_department),
                SHARING_TYPE[SharingType(r.sharing_type)],
                UPDATE_CYCLES.get(r.update_cycle, r.update_cycle),
                len(r.items),
            ),
            (r.position,),
        )
        for r in resources
    )
    return Section(
        "二",
        "目录情况",
        (
            f"政务信息资源目录在册资源 {len(resources)} 项。",
            "更新及时性："
            + _judged(oversight, "S11", "以本报告时点计，未按更新周期（含宽限期）逾期未更新的资源")
            + "。",
        ),
        tables=(
            Table("目录资源按共享类型", ("共享类型", "资源数"), rows),
            Table(
                "政务信息资源目录台账",
                ("信息资源代码", "资源名称", "提供部门", "共享类型", "更新周期", "信息项数"),
                ledger_rows,
                ledger_list=True,
            ),
        ),
    )


@dataclass
class Provision:
    served: list[AccessGroup] = field(default_factory=list)
    received: list[RequestState] = field(default_factory=list)

    @property
    def served_count(self) -> int:
        return analysis.total(self.served)

    @property
    def answered_on_time(self) -> list[RequestState]:
        return [r for r in self.received if analysis.answered_on_time(r)]

    @property
    def rejected(self) -> list[RequestState]:
        return [r for r in self.received if r.status == RequestStatus.REJECTED]


def _provisions(facts: ReportFacts, requests: Sequence[RequestState]) -> dict[str, Provision]:
    """Per provider: the accesses of other departments to its resources (the provider the
    views recorded with each access), and the requests it received."""
    out: dict[str, Provision] = defaultdict(Provision)
    for g in facts.accesses:
        if g.provider and g.provider != g.department:
            out[g.provider].served.append(g)
    for r in requests:
        out[r.provider_department].received.append(r)
    return out


def _provision(facts: ReportFacts, requests: Sequence[RequestState]) -> Section:
    rows = []
    for code, p in sorted(_provisions(facts, requests).items()):
        with_reason = [r for r in p.rejected if (r.rejection_reason or "").strip()]
        rows.append(
            Row(
                (
                    department_label(facts, code),
                    p.served_count,
                    len(p.received),
                    len(p.answered_on_time),
                    percent(len(p.answered_on_time), len(p.received)),
                    len(p.rejected),
                    len(with_reason),
                ),
                tuple(x for r in p.received for x in r.positions),
                p.served_count + sum(len(r.positions) for r in p.received),
            )
        )
    on_time = sum(1 for r in requests if analysis.answered_on_time(r))
    return Section(
        "三",
        "提供共享情况",
        (
            f"本年度收到有条件共享申请 {len(requests)} 项，"
            "按期（答复期限以申请时记录的工作日期限为准）"
            f"答复 {on_time} 项，按期答复率 {percent(on_time, len(requests))}。"
            "“提供访问次数”为其他部门对本部门资源的访问。",
        ),
        tables=(
            Table(
                "各提供部门共享情况",
                (
                    "提供部门",
                    "提供访问次数",
                    "收到申请",
                    "按期答复",
                    "按期答复率",
                    "拒绝",
                    "其中说明理由",
                ),
                tuple(rows),
            ),
        ),
        charts=(analysis.response_chart(requests),),
    )


def _use(facts: ReportFacts) -> Section:
    by_key: dict[tuple[str, str], int] = defaultdict(int)
    for g in facts.accesses:
        by_key[(g.department, g.purpose or "（未申报用途）")] += g.count
    rows = tuple(
        Row((department_label(facts, dept), purpose, n), (), n)
        for (dept, purpose), n in sorted(by_key.items())
    )
    return Section(
        "四",
        "使用共享情况",
        (f"本年度各部门经交换平台访问共享数据 {analysis.total(facts.accesses)} 次。",),
        tables=(Table("各使用部门按用途的访问次数", ("使用部门", "用途", "访问次数"), rows),),
    )


def _objections(oversight: Oversight) -> Section:
    return Section(
        "五",
        "数据质量异议",
        (
            _judged(
                oversight, "S13", "以本报告时点计，超过处理时限（工作日）逾期未处理的数据质量异议"
            )
            + "。",
        ),
    )


def _security(facts: ReportFacts, year: int, oversight: Oversight) -> Section:
    accesses = facts.accesses
    personal = analysis.total(analysis.personal(accesses))
    trend = analysis.monthly_flagged(accesses, oversight.access_rules)
    risks = analysis.resource_risks(facts.zone.resources, accesses, oversight.access_rules)
    assessed = [r for r in facts.zone.resources.values() if r.risk_assessments]
    tallies = oversight.by_rule()
    flagged = analysis.flagged(accesses)
    rows = (
        Row(
            ("网信办风险评估（资源）", sum(len(r.risk_assessments) for r in assessed)),
            tuple(r.position for r in assessed),
        ),
        Row(("违规访问（事件）", flagged), analysis.cited(oversight.access_rules), flagged),
        Row(("涉及个人信息的访问", personal), (), personal),
        Row(
            ("合规发现", sum(t.count for t in tallies.values())),
            tuple(sorted({p for t in tallies.values() for p in t.positions}))[:40],
            sum(t.count for t in tallies.values()),
        ),
        Row(
            ("访问异常", anomaly_count(oversight.anomalies)),
            tuple(sorted({p for a in oversight.anomalies for p in a.sample})),
            anomaly_count(oversight.anomalies),
        ),
    )
    return Section(
        "六",
        "安全情况",
        (f"{year} 年度安全情况如下；违规访问月度趋势与风险最高的资源见图。",),
        tables=(Table("安全情况统计", ("项目", "数量"), rows),),
        charts=(trend, analysis.top_risk_chart(risks)),
    )


def _funds(facts: ReportFacts, year: int) -> Section:
    decisions = [d for d in facts.decisions if d.year == year]
    rows = tuple(
        Row(
            (
                FUND_KIND[kind],
                FUND_OUTCOME[outcome],
                len(group),
                yuan(sum(d.amount_fen for d in group)),
            ),
            tuple(d.position for d in group),
        )
        for kind in FundKind
        for outcome in FundOutcome
        for group in [[d for d in decisions if d.kind is kind and d.outcome is outcome]]
    )
    filings = facts.filings
    return Section(
        "七",
        "项目备案与经费",
        (
            f"账本在册项目备案 {len(filings)} 项，其中未做资源目录预编制 "
            f"{sum(1 for f in filings if not f.catalogue_preregistered)} 项。"
            f"{year} 年度经费决定 {len(decisions)} 笔，明细与合规检查见审计报告。",
        ),
        tables=(Table("经费安排与不予安排", ("经费类别", "决定", "笔数", "金额（元）"), rows),),
    )


def _issues(facts: ReportFacts, oversight: Oversight) -> Section:
    reporting_lead, reporting = obligations.reporting(facts, oversight)
    return Section(
        "八",
        "问题与整改",
        (
            "下表列出本年度依合规规则（S1–S13、P、D、F、I、L）发现的问题及整改建议，按规则汇总。",
            reporting_lead,
        ),
        tables=(findings_table(oversight, "问题清单"), reporting),
    )


def _evaluation(
    facts: ReportFacts, requests: Sequence[RequestState], oversight: Oversight
) -> Section:
    resources = list(facts.zone.resources.values())
    judged = "S11" not in oversight.not_evaluated
    overdue = {f.subject for f in oversight.findings if f.rule == "S11"}
    provisions = _provisions(facts, requests)
    by_user = analysis.by(facts.accesses, "department")
    used = {code: analysis.total(g) for code, g in by_user.items()}
    flagged = {code: analysis.flagged(g) for code, g in by_user.items()}
    max_provided = max((p.served_count for p in provisions.values()), default=0)
    max_used = max(used.values(), default=0)
    rows = []
    for code in sorted(facts.departments()):
        own = [r for r in resources if r.provider_department == code]
        shareable = sum(1 for r in own if r.sharing_type != SharingType.NOT_SHAREABLE)
        opened = sum(1 for r in own if r.open_type != "not_open")
        p = provisions.get(code, Provision())
        on_time = len(p.answered_on_time)
        updated = sum(1 for r in own if r.code not in overdue)
        use, bad = used.get(code, 0), flagged.get(code, 0)
        parts = {
            "shareable": shareable / len(own) if own else 0.0,
            "open": opened / len(own) if own else 0.0,
            "on_time": on_time / len(p.received) if p.received else 1.0,
            "updated": updated / len(own) if own and judged else 1.0,
            "provided": p.served_count / max_provided if max_provided else 0.0,
            "used": use / max_used if max_used else 0.0,
            "clean": 1 - bad / use if use else 1.0,
        }
        score = sum(WEIGHTS[k] * v for k, v in parts.items())
        rows.append(
            Row(
                (
                    department_label(facts, code),
                    percent(shareable, len(own)),
                    percent(opened, len(own)),
                    percent(on_time, len(p.received)),
                    percent(updated, len(own)) if judged else "未评估",
                    p.served_count,
                    use,
                    bad,
                    round(score, 1),
                ),
                (),
                bad,
            )
        )
    method = "、".join(
        f"{name} {WEIGHTS[key]} 分"
        for key, name in (
            ("shareable", "可共享资源占比"),
            ("open", "可开放资源占比"),
            ("on_time", "按期答复率"),
            ("updated", "更新及时率（未逾期未更新的资源占比，S11）"),
            ("provided", "提供调用量（与最高部门之比）"),
            ("used", "使用调用量（与最高部门之比）"),
            ("clean", "合规访问占比"),
        )
    )
    return Section(
        "九",
        "共享评价结果",
        (
            f"评价方法（满分 100）：{method}。"
            "无申请的部门按期答复率计满分，无在册资源的部门更新及时率计满分"
            + (
                ""
                if judged
                else f"；S11 未评估（{oversight.not_evaluated['S11']}），更新及时率计满分"
            )
            + "。证据列为该部门的违规访问位置。",
        ),
        tables=(
            Table(
                "各部门共享评价",
                (
                    "部门",
                    "可共享占比",
                    "可开放占比",
                    "按期答复率",
                    "更新及时性",
                    "提供调用量",
                    "使用调用量",
                    "违规访问",
                    "评价得分",
                ),
                tuple(rows),
            ),
        ),
    )
