"""Findings and anomalies from the read models (``projections.query``, docs/projections.md),
at the report's ledger position.

The views own the compliance rules of domain.md over the whole zone (S1–S13, P, D,
I, F, R) and the anomaly review workflow; the reports cite them rather than judging
those rules a second time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from projections.access_report import AnomalyGroup, RuleGroup
from projections.labels import ANOMALY_KINDS, ANOMALY_STATUS
from projections.query import Finding, Moment, Views
from projections.reports.funds import SEVERITY_ZH
from projections.reports.model import Row, Table
from projections.rules.catalogue import LEDGER_RULES, NOT_EVALUABLE, RULE_ZH, RULES

# Each rule's Chinese name, as the catalogue declares it (one name in one place).
RULE_TEXT: Mapping[str, str] = {
    **{rule_id: rule.name_zh for rule_id, rule in LEDGER_RULES.items()},
    **RULE_ZH,
}
ADVICE = {
    "S": "核查授权与目录，按51号及《政务数据共享条例》整改",
    "P": "落实个人信息保护法要求，补做评估并核验用途",
    "D": "补办专门审批或风险评估后方可共享",
    "F": "经费安排前核查系统接入、僵尸状态与备案审查结论",
    "I": "限期完成系统清理、等保备案与年度报送",
    "L": "立即核验账本并签发检查点",
}
# The console's words for anomalies and their review (the one label table, issue #15).
ANOMALY_KIND = ANOMALY_KINDS
STATUSES = ("open", "acknowledged", "dismissed", "escalated")
STATUS_ZH = ANOMALY_STATUS


# Why a rule no recorded fact can decide is 未评估, in the reports' language; the set of
# such rules and the reason are the catalogue's (projections.rules.catalogue, empty of
# domain.md's rules since issue 14): a report says 未评估 and why, never 0.
NOT_EVALUATED = {
    rule_id: RULES[rule_id].not_evaluable_zh or str(RULES[rule_id].not_evaluable)
    for rule_id in NOT_EVALUABLE
}


@dataclass(frozen=True)
class Oversight:
    """Findings and anomalies of one year, as the views answer them at the report's position.

    ``findings`` are those on anything but an access (dated in the year, or about the
    state at the report's moment); ``access_rules`` the findings on the year's accesses,
    counted in the views' SQL by rule, resource, requester and month (never one object
    per access). ``fund_findings`` are the views' F1–F8 findings at that moment, whatever
    their year (the audit report picks the decisions of its fund year); ``not_evaluated``
    maps each rule the views cannot evaluate to the reason.
    """

    findings: tuple[Finding, ...]
    anomalies: tuple[AnomalyGroup, ...]
    moment: Moment
    access_rules: tuple[RuleGroup, ...] = ()
    fund_findings: tuple[Finding, ...] = ()
    not_evaluated: dict[str, str] = field(default_factory=lambda: dict(NOT_EVALUATED))

    def by_rule(self, *, accesses_only: bool = False) -> dict[str, RuleTally]:
        """Rule -> its findings of the year: severity, count and cited positions."""
        tallies: dict[str, RuleTally] = {}
        if not accesses_only:
            for f in self.findings:
                tallies[f.rule] = tallies.get(f.rule, RuleTally(f.severity)).plus(1, f.positions)
        for g in self.access_rules:
            tallies[g.rule] = tallies.get(g.rule, RuleTally(g.severity)).plus(g.accesses, g.sample)
        return tallies

    def count(self, rule: str) -> int:
        found = self.by_rule().get(rule)
        return found.count if found is not None else 0

    def decision_findings(self) -> dict[str, tuple[Finding, ...]]:
        """Fund decision or filing id (hex) -> the views' F findings on it, by rule."""
        found: dict[str, list[Finding]] = defaultdict(list)
        for f in self.fund_findings:
            found[f.subject].append(f)
        return {k: tuple(sorted(v, key=lambda f: _rule_order(f.rule))) for k, v in found.items()}


@dataclass(frozen=True)
class RuleTally:
    severity: str
    count: int = 0
    positions: tuple[int, ...] = ()

    def plus(self, count: int, positions: Sequence[int]) -> RuleTally:
        cited = self.positions
        if len(cited) < CITED:
            cited = tuple(sorted({*cited, *positions}))[:CITED]
        return RuleTally(self.severity, self.count + count, cited)


CITED = 40  # positions a summary row cites; its count says how many records there are


def load_oversight(views: Views, position: int, year: int) -> Oversight:
    """Findings beside accesses dated in ``year`` (CST) or about the state as of
    ``position``; the year's access findings counted in SQL; the year's anomalies."""
    moment = views.moment(at=position)
    findings = tuple(
        f
        for f in views.findings_beside_accesses(moment)
        if f.time.astimezone(CST).year == year or f.time == moment.reference_time
    )
    anomalies = tuple(views.anomaly_groups(moment, year))
    funds = tuple(
        f
        for f in views.findings(moment, subject_kinds=("fund_decision", "filing"))
        if f.rule.startswith("F")
    )
    return Oversight(
        findings, anomalies, moment, tuple(views.access_rule_groups(moment, year)), funds
    )


def findings_table(oversight: Oversight, title: str, *, accesses_only: bool = False) -> Table:
    rows = tuple(
        Row(
            (
                rule,
                RULE_TEXT.get(rule, rule),
                SEVERITY_ZH.get(t.severity, t.severity),
                t.count,
                ADVICE.get(rule[0], "核查整改"),
            ),
            t.positions,
            t.count,
        )
        for rule, t in sorted(
            oversight.by_rule(accesses_only=accesses_only).items(),
            key=lambda kv: _rule_order(kv[0]),
        )
    )
    return Table(title, ("规则", "问题", "严重程度", "数量", "整改建议"), rows)


def not_evaluated_table(not_evaluated: dict[str, str], rules: Sequence[str] | None = None) -> Table:
    """未评估的规则: each rule no recorded fact can decide, with the reason (never "0 项")."""
    chosen = [r for r in sorted(not_evaluated, key=_rule_order) if rules is None or r in rules]
    rows = tuple(Row((r, RULE_TEXT.get(r, r), "未评估", not_evaluated[r])) for r in chosen)
    return Table("未评估的规则", ("规则", "问题", "状态", "原因"), rows)


def count_or_not_evaluated(rule: str, count: int, not_evaluated: dict[str, str]) -> str:
    """``N 项`` for an evaluated rule, ``未评估（reason）`` for one the facts cannot decide."""
    if rule in not_evaluated:
        return f"未评估（{not_evaluated[rule]}）"
    return f"{count} 项"


def _rule_order(rule: str) -> tuple[str, int]:
    return rule[0], int(rule[1:]) if rule[1:].isdigit() else 0


def anomalies_table(anomalies: Sequence[AnomalyGroup]) -> Table:
    by_kind: dict[str, list[AnomalyGroup]] = defaultdict(list)
    for a in anomalies:
        by_kind[a.kind].append(a)
    rows = tuple(
        Row(
            (
                ANOMALY_KIND.get(kind, kind),
                count,
                *(sum(a.count for a in group if a.status == s) for s in STATUSES),
            ),
            tuple(sorted({p for a in group for p in a.sample})),
            count,
        )
        for kind, group in sorted(by_kind.items())
        for count in [sum(a.count for a in group)]
    )
    return Table(
        "访问异常及复核情况", ("异常类型", "数量", *(STATUS_ZH[s] for s in STATUSES)), rows
    )


def anomaly_count(anomalies: Sequence[AnomalyGroup], *, reviewed: bool = False) -> int:
    """How many anomalies (``reviewed``: only those no longer open)."""
    return sum(a.count for a in anomalies if not reviewed or a.status != "open")
