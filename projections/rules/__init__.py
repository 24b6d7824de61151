"""The rules engine: one catalogue of domain.md's rules, and the judgments of them.

``projections.rules.catalogue`` declares every rule once (severity, Chinese name,
inputs, evidence, 未评估 state); ``projections.rules.moment`` judges the rules that
depend on the moment asked about (S6, S8–S10, I1, I2); the rules proven by one fact
are judged while the zone is folded (``projections.zone``). Everyone imports from
here: ``from projections.rules import RULES, SEVERITY_ZH, rule_status``.
"""

from projections.rules.catalogue import (
    EVALUATED,
    LEDGER_RULES,
    NOT_EVALUABLE,
    NOT_EVALUABLE_ZH,
    NOT_EVALUATED,
    NOT_EVALUATED_ZH,
    RULE_IDS,
    RULE_ZH,
    RULES,
    SEVERITY,
    SEVERITY_ORDER,
    SEVERITY_ZH,
    Rule,
    RuleStatus,
    Severity,
    rule,
    rule_status,
    rules_in,
)
from projections.rules.moment import CORE_METADATA, FindingTuple, state_findings

__all__ = [
    "CORE_METADATA",
    "EVALUATED",
    "LEDGER_RULES",
    "NOT_EVALUABLE",
    "NOT_EVALUABLE_ZH",
    "NOT_EVALUATED",
    "NOT_EVALUATED_ZH",
    "RULES",
    "RULE_IDS",
    "RULE_ZH",
    "SEVERITY",
    "SEVERITY_ORDER",
    "SEVERITY_ZH",
    "FindingTuple",
    "Rule",
    "RuleStatus",
    "Severity",
    "rule",
    "rule_status",
    "rules_in",
    "state_findings",
]
