"""F1–F8 on each fund decision, as the views judge them (one judgment, issue #12).

domain.md "Compliance rules the ledger evaluates", rows F1–F5 (seed §三(三)12,
§三(一)3, §三(五)17), and F6–F8 of issue 14 (docs/rules-inputs.md). The rules are
written once, in the zone fold behind the views (``projections.rules``, named and
graded once in its catalogue); the audit report reads their findings at its own
position: F1–F4 and F6–F8 are findings on the decision, F5 a finding on the filing
the decision funds, reported on every decision that funds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from projections.query import Finding
from projections.rules.catalogue import RULE_ZH, SEVERITY, SEVERITY_ZH

# F6–F8: issue 14 (projects after filing, O&M of little-used systems; seed §三(五)17).
FUND_RULES = ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8")
__all__ = ["FUND_RULES", "RULE_ZH", "SEVERITY", "SEVERITY_ZH", "FundCheck", "checks_from_views"]


@dataclass(frozen=True, slots=True)
class FundCheck:
    """One broken rule, with the positions that prove it."""

    rule: str
    detail: str
    positions: tuple[int, ...]

    @property
    def severity(self) -> str:
        return SEVERITY[self.rule]


def checks_from_views(
    decision_id: str,
    filing_id: str | None,
    findings: Mapping[str, Sequence[Finding]],
) -> tuple[FundCheck, ...]:
    """The views' F1–F4 and F6–F8 findings on the decision ``decision_id`` (32 hex digits), then F5
    if the filing it funds has one; ``findings``: subject -> its F findings."""
    checks = [
        FundCheck(f.rule, f.detail, f.positions)
        for f in findings.get(decision_id, ())
        if f.rule in FUND_RULES and f.rule != "F5"
    ]
    if filing_id is not None:
        checks.extend(
            FundCheck(f.rule, f.detail, f.positions)
            for f in findings.get(filing_id, ())
            if f.rule == "F5"
        )
    return tuple(checks)
