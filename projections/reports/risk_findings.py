"""What the risk report says the views found, by recipient and by access (docs/reports.md;
domain.md "Reports — Risk-assessment report", 网络数据安全管理条例 §33): §6 接收方情况
(each recipient's compliance record), §8 已发现风险与事件处置 (the findings, anomalies and
the 违规访问台账 of the first flagged accesses) and §9 个人信息影响 (PIPL §55).

Split from ``projections.reports.risk`` to keep modules of one concern
(docs/architecture.md, under 600 lines). As there, the rules on each access are the
views' findings at the report's position (issue 12, "One judgment, everywhere"); the
ledger lists the first flagged accesses and says how many there are.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from ledger.domain.sharing import RequestStatus
from projections.access_report import FlaggedAccess
from projections.model import RequestState
from projections.reports import analysis
from projections.reports.common import department_label, local
from projections.reports.model import Row, Section, Table
from projections.reports.oversight import (
    RULE_TEXT,
    Oversight,
    anomalies_table,
    anomaly_count,
    count_or_not_evaluated,
    findings_table,
)
from projections.reports.terms import ACCESS_REASON
from projections.reports.views_facts import ReportFacts

NO_PURPOSE = "（未申报用途）"


def recipients(facts: ReportFacts, oversight: Oversight) -> Section:
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


def incidents(
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


def personal(facts: ReportFacts, oversight: Oversight) -> Section:
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
