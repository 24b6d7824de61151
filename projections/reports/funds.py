"""F1–F5: a fund decision checked against the system and filing at its position.

domain.md "Compliance rules the ledger evaluates", rows F1–F5 (seed §三(三)12,
§三(一)3, §三(五)17). Only *granted* funds can break F1–F4; F5 is a fault of
the filing, reported on every decision that funds it, granted or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain.funding import (
    FilingStatus,
    FundDecision,
    FundKind,
    FundOutcome,
    ProjectFiling,
)
from ledger.domain.organisation import InformationSystem, SystemStatus

SEVERITY = {"F1": "high", "F2": "high", "F3": "high", "F4": "critical", "F5": "medium"}
SEVERITY_ZH = {"critical": "严重", "high": "高", "medium": "中", "low": "低", "info": "提示"}
RULE_ZH = {
    "F1": "向应接入而未接入共享交换平台的系统拨付运维经费",
    "F2": "向僵尸或已停用系统拨付经费",
    "F3": "项目未备案即拨付建设或运维经费",
    "F4": "架构治理审查未通过的项目仍拨付经费",
    "F5": "项目备案未进行资源目录预编制",
}
FUNDED_STATES = frozenset({SystemStatus.ZOMBIE, SystemStatus.DECOMMISSIONED})


@dataclass(frozen=True, slots=True)
class FundCheck:
    """One broken rule, with the positions that prove it (the decision's own is added by
    the caller's table)."""

    rule: str
    detail: str
    positions: tuple[int, ...]

    @property
    def severity(self) -> str:
        return SEVERITY[self.rule]


def check_decision(
    decision: FundDecision,
    system: InformationSystem | None,
    filing: ProjectFiling | None,
    *,
    system_positions: tuple[int, ...],
    filing_positions: tuple[int, ...],
) -> tuple[FundCheck, ...]:
    checks: list[FundCheck] = []
    granted = decision.outcome is FundOutcome.GRANTED
    if granted and system is not None:
        checks.extend(_system_checks(decision, system, system_positions))
    if granted and filing is None and decision.project_name:
        checks.append(FundCheck("F3", f"项目“{decision.project_name}”无备案记录", ()))
    if filing is not None:
        checks.extend(_filing_checks(granted, filing, filing_positions))
    return tuple(checks)


def _system_checks(
    decision: FundDecision, system: InformationSystem, positions: tuple[int, ...]
) -> list[FundCheck]:
    found: list[FundCheck] = []
    name = system.inventory.name
    if decision.kind is FundKind.OM_FUNDS and system.required_to_connect and not system.connected:
        found.append(FundCheck("F1", f"系统“{name}”应接入共享交换平台但未接入", positions))
    if system.status in FUNDED_STATES:
        state = "僵尸系统" if system.status is SystemStatus.ZOMBIE else "已停用"
        found.append(FundCheck("F2", f"系统“{name}”处于{state}状态", positions))
    return found


def _filing_checks(
    granted: bool, filing: ProjectFiling, positions: tuple[int, ...]
) -> list[FundCheck]:
    found: list[FundCheck] = []
    if granted and filing.status is FilingStatus.REJECTED:
        found.append(
            FundCheck(
                "F4",
                f"项目“{filing.name}”架构治理审查未通过：{filing.architecture_review}",
                positions,
            )
        )
    if not filing.catalogue_preregistered:
        found.append(FundCheck("F5", f"项目“{filing.name}”备案未做资源目录预编制", positions))
    return found
