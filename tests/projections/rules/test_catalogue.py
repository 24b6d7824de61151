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


def test_every_rule_of_the_domain_brief_is_declared_once_with_its_severity() -> None:
    table = _domain_table()
    # R1 (overdue rectification) comes from issue 15 (docs/facts.md §8), not the brief's table.
    assert set(RULE_IDS) == set(table) | {"R1"}
    assert len(RULE_IDS) == 25
    assert {k: v for k, v in SEVERITY.items() if k != "R1"} == table


def test_every_rule_has_a_chinese_name_and_either_inputs_or_a_reason() -> None:
    for r in RULES.values():
        assert re.search(r"[\u4e00-\u9fff]", r.name_zh), r.id
        assert r.evaluated == (r.not_evaluable is None)
        assert r.inputs or not r.evaluated, r.id
        assert r.evidence and r.source


def test_rules_without_facts_are_not_evaluated() -> None:
    assert set(NOT_EVALUABLE) == {"S11", "P2", "D1", "I3"}
    assert rule("L1").severity == "critical"
    with pytest.raises(KeyError):
        rule("S13")


def test_status_counts_evaluated_rules_and_never_a_zero_for_the_others() -> None:
    statuses = {s.rule.id: s for s in rule_status({("S2", "high"): 2, ("S3", "high"): 1})}
    assert list(statuses) == list(RULE_IDS)
    assert statuses["S2"].count == 2 and statuses["S2"].count_zh == "2"
    assert statuses["S4"].count == 0 and statuses["S4"].count_zh == "0"
    p2 = statuses["P2"]
    assert p2.count is None and p2.count_zh == NOT_EVALUATED_ZH and p2.reason and p2.reason_zh
    assert p2.as_json()["status"] == "not_evaluated"
    # A stray tally for a rule that is not evaluated is not printed as a count.
    assert rule_status({("P2", "medium"): 3})[RULE_IDS.index("P2")].count is None
