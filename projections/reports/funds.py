"""F1–F5 on each fund decision, as the views judge them (one judgment, issue #12).

domain.md "Compliance rules the ledger evaluates", rows F1–F5 (seed §三(三)12,
§三(一)3, §三(五)17). The rules are written once, in the zone fold behind the
views (``projections.zone``); the audit report reads their findings at its own
position: F1–F4 are findings on the decision, F5 a finding on the filing the
decision funds, reported on every decision that funds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from projections.query import Finding
from projections.rules.catalogue import RULE_ZH as CATALOGUE_RULE_ZH
from projections.rules.catalogue import SEVERITY as CATALOGUE_SEVERITY
from projections.rules.catalogue import SEVERITY_ZH as CATALOGUE_SEVERITY_ZH

# The one catalogue's names and severities (F1–F8 included: issue 14).
SEVERITY, SEVERITY_ZH, RULE_ZH = CATALOGUE_SEVERITY, CATALOGUE_SEVERITY_ZH, CATALOGUE_RULE_ZH


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
    """The views' F1–F4 findings on the decision ``decision_id`` (32 hex digits), then F5
    if the filing it funds has one; ``findings``: subject -> its F findings."""
    checks = [
        FundCheck(f.rule, f.detail, f.positions)
        for f in findings.get(decision_id, ())
        if f.rule in SEVERITY and f.rule != "F5"
    ]
    if filing_id is not None:
        checks.extend(
            FundCheck(f.rule, f.detail, f.positions)
            for f in findings.get(filing_id, ())
            if f.rule == "F5"
        )
    return tuple(checks)
