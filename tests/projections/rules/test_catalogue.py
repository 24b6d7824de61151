"""The one catalogue of rules (projections.rules.catalogue; domain.md "Compliance rules")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from projections.rules import (
    NOT_EVALUABLE,
    NOT_EVALUATED_ZH,
    RULE_IDS,
    RULES,
    SEVERITY,
    rule,
    rule_status,
)

DOMAIN = Path("/work/shared/domain.md")


def _domain_table() -> dict[str, str]:
    """rule id -> severity, read from domain.md's table of compliance rules."""
    if not DOMAIN.exists():
        pytest.skip("the domain brief (../shared/domain.md) is not on this machine")
    found = {}
    for line in DOMAIN.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and re.fullmatch(r"[SPDFI][0-9]{1,2}", cells[1]):
            found[cells[1]] = cells[3]
    return found


# Issue 14's checks of the plan beyond domain.md's table (seed §三(五)17; docs/rules-inputs.md).
PLAN_RULES = {
    "F6": "high", "F7": "high", "F8": "medium", "I4": "low", "I5": "low", "I6": "low",
    "D3": "medium", "S13": "low", "I7": "medium", "I8": "medium", "I9": "low", "I10": "high",
}  # fmt: skip


def test_every_rule_of_the_domain_brief_is_declared_once_with_its_severity() -> None:
    table = _domain_table()
    # R1 (overdue rectification) comes from issue 15 (docs/facts.md §8), not the brief's table.
    assert set(RULE_IDS) == set(table) | set(PLAN_RULES) | {"R1"}
    assert len(RULE_IDS) == 24 + len(PLAN_RULES) + 1
    assert {k: v for k, v in SEVERITY.items() if k != "R1"} == {**table, **PLAN_RULES}
    assert all(any(w in RULES[r].source for w in ("seed", "法 §", "51号")) for r in PLAN_RULES)


def test_every_rule_has_a_chinese_name_and_either_inputs_or_a_reason() -> None:
    for r in RULES.values():
        assert re.search(r"[\u4e00-\u9fff]", r.name_zh), r.id
        assert r.evaluated == (r.not_evaluable is None)
        assert r.inputs or not r.evaluated, r.id
        assert r.evidence and r.source


def test_every_rule_of_the_brief_is_now_evaluated_from_recorded_facts() -> None:
    """S11, P2, D1 and I3 are judged from the facts of docs/facts.md §7 (issue 14)."""
    assert set(NOT_EVALUABLE) == set()
    assert all(RULES[r].evaluated and RULES[r].inputs for r in ("S11", "P2", "D1", "I3"))
    assert rule("L1").severity == "critical"
    with pytest.raises(KeyError):
        rule("S99")


def test_status_counts_evaluated_rules_and_never_a_zero_for_the_others() -> None:
    statuses = {s.rule.id: s for s in rule_status({("S2", "high"): 2, ("S3", "high"): 1})}
    assert list(statuses) == list(RULE_IDS)
    assert statuses["S2"].count == 2 and statuses["S2"].count_zh == "2"
    assert statuses["S4"].count == 0 and statuses["S4"].count_zh == "0"
    # P2 is judged now (issue 14): its count is a count, 0 included.
    assert statuses["P2"].count == 0 and statuses["P2"].as_json()["status"] == "evaluated"
    assert rule_status({("P2", "medium"): 3})[RULE_IDS.index("P2")].count == 3
    # The ledger's own rules keep the 未评估 state, with their reason.
    l1 = rule("L1")
    assert not l1.evaluated and l1.not_evaluable_zh and NOT_EVALUATED_ZH == "未评估"
