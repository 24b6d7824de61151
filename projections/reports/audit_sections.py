"""The sections 《国家审计准则》(2010) 第一百二十二条 asks of an audit report (issue #15).

审计依据; 审计范围、内容、方式和实施的起止时间; 被审计单位基本情况; 审计评价意见;
以往审计决定执行情况和审计建议采纳情况; 审计发现问题的事实、定性、处理处罚意见以及
依据的法律法规和标准; 移送处理事项; 审计建议. Each is filled from what the views keep at
the report's position: the fund decisions with their F1–F8 findings, the
rectification register (R1) and earlier years' audit suggestions with the departments'
answers (adopted, partially, not adopted; docs/facts.md §8). A section that needs
facts the ledger does not hold says so plainly (不在账本记录范围) instead of inventing
them. Rules, their Chinese names, severities and sources come from the one catalogue
(projections/rules/catalogue.py); nothing here judges a rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.domain.funding import FundOutcome
from projections.audit_suggestion import SuggestionEntry
from projections.labels import (
    ADOPTION,
    RECTIFICATION_REGISTER,
    RECTIFICATION_STATUS,
    SUGGESTION_STATUS,
)
from projections.rectification import RectificationEntry
from projections.reports.common import department_label
from projections.reports.model import Row, Section, Table
from projections.reports.terms import yuan
from projections.reports.views_facts import AuditFacts, Decision
from projections.rules.catalogue import RULE_ZH, RULES, SEVERITY, SEVERITY_ZH

PLAN = "苏高新办〔2019〕2号"
NOT_ON_RECORD = "不在账本记录范围"

# 处理意见: what the plan prescribes when a rule is broken (seed §三(三)12, §三(五)17;
# 审计法 §45 for rectification). The auditor signs them; the ledger does not decide them.
HANDLING_ZH: dict[str, str] = {
    "F1": "责令有关部门限期将系统接入共享交换平台；接入前不予安排运维经费。",
    "F2": "责令停止向僵尸或已停用系统安排经费，对已安排经费予以清理。",
    "F3": "责令补办项目全口径备案；未备案前不予安排经费。",
    "F4": "架构治理审查未通过的项目不予审批、不安排经费；对已安排经费予以纠正。",
    "F5": "责令补做信息资源目录预编制。",
    "F6": "架构治理审查通过前暂缓安排经费。",
    "F7": "超出备案（调整）金额的部分予以纠正，按规定办理备案调整。",
    "F8": "逐步减少直至取消利用程度低的系统的运维经费。",
    "R1": "督促有关部门限期完成整改，并报送整改结果。",
}
SUGGESTION_ZH: dict[str, str] = {
    "F1": "财政部门在安排运维经费前核对系统接入共享交换平台的情况。",
    "F2": "财政部门在安排经费前核对系统是否已认定为僵尸或已停用系统。",
    "F3": "坚持信息化项目全口径备案，备案前不予安排经费。",
    "F4": "严格执行架构治理审查结论，未通过审查的项目不予审批、不安排经费。",
    "F5": "项目备案时同步完成信息资源目录预编制。",
    "F6": "架构治理审查完成后再行安排经费。",
    "F7": "安排金额以备案（调整）金额为限，调整须先行备案。",
    "F8": "对利用程度低的系统逐年压减运维经费。",
    "R1": "对逾期未完成的整改事项加强督办，必要时依法追究责任。",
}
_SOURCES = (
    ("seed ", f"{PLAN} "),
    ("审计法 §45", "《中华人民共和国审计法》第四十五条"),
    ("; docs/facts.md §8", ""),
    ("; ", "；"),
)


def basis_zh(rule_id: str) -> str:
    """The rule's source in the catalogue, as a reader of the report cites it."""
    text = RULES[rule_id].source
    for english, chinese in _SOURCES:
        text = text.replace(english, chinese)
    return text


def basis(rules: Sequence[str]) -> Section:
    cited = "；".join(f"{r} {RULE_ZH[r]}：{basis_zh(r)}" for r in rules)
    return Section(
        "一",
        "审计依据",
        (
            "《中华人民共和国审计法》《中华人民共和国审计法实施条例》《国家审计准则》；"
            f"{PLAN}（苏州高新区政务信息资源共享与信息化项目管理相关规定）。",
            "各项检查规则及其依据：" + cited + "。",
        ),
    )


def scope(facts: AuditFacts, year: int, decisions: Sequence[Decision], rules: str) -> Section:
    return Section(
        "二",
        "审计范围、内容、方式和期间",
        (
            f"范围：区财政局 {year} 年度作出的全部建设经费和运维经费决定，共 {len(decisions)} 笔，"
            "及其所涉系统和项目备案。",
            f"内容：经费决定的合法合规性，即是否符合检查规则 {rules}。"
            "经费决定的真实性和效益性不在账本记录范围，本报告未作审查。",
            "方式：逐笔核对账本记录；每笔决定按其在账本中的位置判定，"
            "系统与项目备案的状态取该决定记录之前的最新状态。",
            "期间：" + _period(facts, year),
        ),
    )


def _period(facts: AuditFacts, year: int) -> str:
    return (
        f"审计所涉期间为 {year} 年 1 月 1 日至 12 月 31 日（以业务发生时间计），"
        f"数据截至账本第 {facts.position} 号记录；审计实施的起止时间{NOT_ON_RECORD}。"
    )


def auditee(facts: AuditFacts, decisions: Sequence[Decision]) -> tuple[str, ...]:
    funded = sorted({d.department for d in decisions})
    names = "、".join(department_label(facts, c) for c in funded) or "无"
    cio = "；".join(
        f"{department_label(facts, c)} 首席信息官 {s.cio_name}"
        for c, s in sorted(facts.departments().items())
        if s.cio_name
    )
    return (
        f"账本中在册部门 {len(facts.departments())} 个；本年度有经费决定的部门：{names}。",
        ("各部门首席信息官：" + cio + "。") if cio else f"各部门首席信息官：{NOT_ON_RECORD}。",
        f"被审计单位的机构职能、人员编制和财务收支总体情况{NOT_ON_RECORD}。",
    )


def evaluation(decisions: Sequence[Decision], faulty: Sequence[Decision], rules: str) -> str:
    compliant = sum(1 for d in decisions if not d.checks)
    if not decisions:
        return "本年度账本中无经费决定记录，无从作出审计评价。"
    return (
        f"经逐笔审查，本年度 {len(decisions)} 笔经费决定中 {compliant} 笔"
        f"未发现违反 {rules} 的情形；"
        f"违反至少一项规则而仍予安排的 {len(faulty)} 笔，金额 "
        f"{yuan(sum(d.amount_fen for d in faulty))} 元。"
        "本评价仅限经费决定的合法合规性，不涉及其真实性和效益性。"
    )


def previous(facts: AuditFacts, year: int) -> Section:
    """以往审计决定执行情况和审计建议采纳情况: the rectification register and the
    suggestions of earlier years' audits, with the departments' answers, at the report's
    position."""
    entries = facts.rectifications
    tables: list[Table] = []
    if not entries:
        paragraphs = ["账本中无以往审计决定（整改通知）记录，无执行情况可报告。"]
    else:
        count = {s: sum(1 for e in entries if e.status == s) for s in RECTIFICATION_REGISTER}
        paragraphs = [
            f"账本中记录整改通知 {len(entries)} 项：已通过整改核验 {count['accepted']} 项，"
            f"整改中 {count['open']} 项，逾期未完成 {count['overdue']} 项"
            f"（R1 {RULE_ZH['R1']}，{SEVERITY_ZH[SEVERITY['R1']]}）。"
        ]
        columns = ("整改通知文号", "部门", "规则", "整改要求", "整改期限", "整改报告")
        rows = tuple(_rectification_row(facts, e) for e in entries)
        tables.append(Table("整改事项执行情况", (*columns, "最新进展", "状态"), rows, True))
    earlier = [e for e in facts.suggestions if e.year < year]
    paragraphs.append(_adoption_summary(earlier))
    if earlier:
        tables.append(
            Table(
                "以往审计建议采纳情况",
                ("审计报告文号", "部门", "审计建议", "采纳情况", "说明", "核实"),
                tuple(_suggestion_row(facts, e) for e in earlier),
                ledger_list=True,
            )
        )
    return Section("五", "以往审计决定执行情况和审计建议采纳情况", tuple(paragraphs), tuple(tables))


def _adoption_summary(earlier: Sequence[SuggestionEntry]) -> str:
    if not earlier:
        return "账本中无以往年度审计建议记录，无采纳情况可报告。"
    said = {a: sum(1 for e in earlier if e.adoption == a) for a in ADOPTION}
    silent = sum(1 for e in earlier if e.adoption is None)
    checked = sum(1 for e in earlier if e.status == "confirmed")
    return (
        f"账本中记录以往年度审计建议 {len(earlier)} 项："
        f"{ADOPTION['adopted']} {said['adopted']} 项，"
        f"{ADOPTION['partially']} {said['partially']} 项，"
        f"{ADOPTION['not_adopted']} {said['not_adopted']} 项，被审计单位尚未反馈 {silent} 项；"
        f"采纳情况经审计核实的 {checked} 项。"
    )


def _suggestion_row(facts: AuditFacts, e: SuggestionEntry) -> Row:
    return Row(
        (
            f"{e.reference} 第 {e.number} 项（{e.year} 年度）",
            department_label(facts, e.department),
            e.suggestion,
            ADOPTION[e.adoption] if e.adoption else "未反馈",
            e.explanation or "—",
            SUGGESTION_STATUS[e.status],
        ),
        e.positions,
    )


def _rectification_row(facts: AuditFacts, e: RectificationEntry) -> Row:
    return Row(
        (
            e.reference,
            department_label(facts, e.department),
            e.rule or "—",
            e.requirement,
            e.deadline.isoformat(),
            f"{e.reports} 次",
            RECTIFICATION_STATUS[e.step],
            RECTIFICATION_REGISTER[e.status],
        ),
        e.positions,
    )


def problems(facts: AuditFacts, decisions: Sequence[Decision], rules: Sequence[str]) -> Table:
    """Each problem: its facts, 定性, 处理意见 and 依据, one row per rule broken."""
    rows = []
    for rule in rules:
        hit = [d for d in decisions if any(c.rule == rule for c in d.checks)]
        if not hit:
            continue
        granted = [d for d in hit if d.outcome is FundOutcome.GRANTED]
        departments = "、".join(sorted({department_label(facts, d.department) for d in hit}))
        fact = (
            f"{departments} 涉及经费决定 {len(hit)} 笔，其中予以安排 {len(granted)} 笔，"
            f"金额 {yuan(sum(d.amount_fen for d in granted))} 元"
        )
        positions = {d.position for d in hit}
        positions.update(p for d in hit for c in d.checks if c.rule == rule for p in c.positions)
        rows.append(
            Row(
                (
                    rule,
                    fact,
                    f"{RULE_ZH[rule]}（{SEVERITY_ZH[SEVERITY[rule]]}）",
                    HANDLING_ZH[rule],
                    basis_zh(rule),
                ),
                tuple(sorted(positions)),
            )
        )
    overdue = [e for e in facts.rectifications if e.status == "overdue"]
    if overdue:
        rows.append(
            Row(
                (
                    "R1",
                    f"整改通知 {len(overdue)} 项逾期未完成："
                    + "、".join(e.reference for e in overdue),
                    f"{RULE_ZH['R1']}（{SEVERITY_ZH[SEVERITY['R1']]}）",
                    HANDLING_ZH["R1"],
                    basis_zh("R1"),
                ),
                tuple(sorted({p for e in overdue for p in e.positions})),
            )
        )
    return Table("审计发现的问题", ("规则", "事实", "定性", "处理意见", "依据"), tuple(rows))


def referral() -> Section:
    return Section(
        "七",
        "移送处理事项",
        ("无。账本中未记录移送司法机关、纪检监察机关或有关部门处理的事项。",),
    )


def suggestions(found: Table, facts: AuditFacts, year: int) -> Section:
    """审计建议: one per rule broken, then those the auditor recorded for this year's audit
    (docs/facts.md §8), which next year's report follows up."""
    hit = [str(row.cells[0]) for row in found.rows]
    paragraphs = [f"{n}. {SUGGESTION_ZH[rule]}" for n, rule in enumerate(hit, start=1)]
    if not hit:
        paragraphs.append("本年度未发现问题，无审计建议。")
    recorded = [e for e in facts.suggestions if e.year == year]
    if recorded:
        paragraphs.append(f"已向被审计单位提出并记入账本的本年度审计建议 {len(recorded)} 项：")
        paragraphs.extend(
            f"{e.reference} 第 {e.number} 项（{department_label(facts, e.department)}）："
            f"{e.suggestion}"
            for e in recorded
        )
    return Section("八", "审计建议", tuple(paragraphs))
