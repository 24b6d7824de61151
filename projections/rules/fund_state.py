"""F1, F2, F4 and F6: a fund decision judged against its system and filing *as of its
business time*, whatever the order the facts were recorded in.

domain.md "Compliance rules" F1 (O&M funds for a system required to connect but not
connected; from 2019, seed §三(三)12 "2019年起", setting ``connection_funds_from_year``),
F2 (funds for a zombie or decommissioned system), F4 (funds for a project whose
architecture review was rejected) and F6 (funds while that review is pending; seed
§三(三)12, §三(一)3, §三(五)17). Each reads the state of the system or filing
*at the decision*. A system keeps its changes with their business times
(``system["changes"]``, from the state before its first change), a filing its review
time (``reviewed_at``), so the state at any time is computed, not the state folded so
far. A system change or a review folded after a decision that cites it (recorded late,
dated earlier) judges those four rules again for the decision: a finding is added or
withdrawn (docs/projections.md §Recorded late). F3, F7 and F8 stay in
``projections.rules.folded``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.facts import CST
from projections.fold_core import FoldCore
from projections.rules.limits import CONNECTION_FUNDS_FROM_YEAR, limit

# The system changes F1 and F2 read.
JUDGED_CHANGES = frozenset(
    {"ConnectionRequirementSet", "Connected", "MarkedZombie", "MergedInto", "Decommissioned"}
)
STATE_RULES = ("F1", "F2", "F4", "F6")


class FundStateRules(FoldCore):
    """F1, F2, F4, F6 of ``ZoneFold``; a decision keeps the rules it was found under
    (``decision["state_rules"]``) so a later fact changes only what it disproves."""

    def _system_changed(
        self, system: dict[str, Any], change: str, data: dict[str, Any], position: int
    ) -> None:
        """Keep a change F1/F2 read (before it is applied), and judge again the
        decisions on the system."""
        if change not in JUDGED_CHANGES:
            return
        if "changes" not in system:
            system["initial"] = {
                "required_to_connect": system["required_to_connect"],
                "connected": system["connected"],
                "status": system["status"],
            }
            system["changes"] = []
        happened = self._happened.timestamp() if self._happened else self.state["clock_epoch"]
        value = data.get("required_to_connect") if change == "ConnectionRequirementSet" else None
        system["changes"].append([happened or 0.0, position, change, value])
        self._rejudge_funds("system_id", system["system_id"])

    def _rejudge_funds(self, key: str, entity: str) -> None:
        """The granted decisions citing ``entity`` (by ``key``), judged again."""
        for decision in self.state["funds"].values():
            if decision[key] == entity and decision["outcome"] == "granted":
                at = datetime.fromisoformat(decision["decided_at"])
                self._fund_state_rules(decision, decision["position"], at, again=True)

    def _fund_state_rules(
        self, decision: dict[str, Any], position: int, at: datetime | None, again: bool = False
    ) -> None:
        subject, department = decision["decision_id"], decision["department"]
        amount = f"{decision['amount_fen'] / 100:,.2f} yuan {decision['kind']}"
        found: dict[str, tuple[list[int], str]] = {}
        system = self.state["systems"].get(decision["system_id"] or "")
        if system is not None:
            required, connected, status = _system_at(system, at)
            evidence = [*system["positions"], position]
            if (
                decision["kind"] == "om_funds"
                and required
                and not connected
                and self._connection_required_then(decision, at)
            ):
                found["F1"] = (evidence, f"{amount} granted to {system['name']}, "
                               "required to connect but not connected")  # fmt: skip
            if status in ("zombie", "decommissioned"):
                found["F2"] = (evidence, f"{amount} granted to {system['name']} in state {status}")
        filing = self.state["filings"].get(decision["filing_id"] or "")
        if filing is not None:
            evidence = [*filing["positions"], position]
            reviewed = filing.get("reviewed_at")
            done = reviewed is not None and (at is None or datetime.fromisoformat(reviewed) <= at)
            if filing["status"] == "rejected" and (done or reviewed is None):
                found["F4"] = (evidence, f"{amount} granted to {filing['name']}, "
                               "whose architecture review was rejected")  # fmt: skip
            elif at is not None and (
                (reviewed is None and filing["status"] == "filed")
                or (reviewed is not None and not done)
            ):
                found["F6"] = (evidence, f"{amount} granted to {filing['name']} while its "
                               "architecture review was still pending")  # fmt: skip
        before = set(decision.get("state_rules", ()))
        for rule in STATE_RULES:
            if rule in before and rule not in found:
                self._withdraw(rule, subject)
            elif rule in found and (rule not in before or not again):
                evidence, detail = found[rule]
                self._finding(
                    rule, subject, "fund_decision", department, evidence, position, at, detail,
                    replace=again,
                )  # fmt: skip
        decision["state_rules"] = sorted(found)

    def _connection_required_then(self, decision: dict[str, Any], at: datetime | None) -> bool:
        """F1 applies from ``connection_funds_from_year`` (seed §三(三)12 "2019年起"): to
        O&M funds for that year or later, or decided (CST) in it or later."""
        if at is None:
            return True
        since = limit(self.state, at, "connection_funds_from_year", CONNECTION_FUNDS_FROM_YEAR)
        return decision["year"] >= since or at.astimezone(CST).year >= since


def _system_at(system: dict[str, Any], at: datetime | None) -> tuple[bool, bool, str]:
    """(required to connect, connected, status) of ``system`` at ``at`` (business time)."""
    if "changes" not in system:
        return system["required_to_connect"], system["connected"], system["status"]
    initial = system["initial"]
    required, connected, status = (
        initial["required_to_connect"], initial["connected"], initial["status"],
    )  # fmt: skip
    limit = at.timestamp() if at is not None else float("inf")
    for epoch, _, change, value in sorted(system["changes"], key=lambda c: (c[0], c[1])):
        if epoch > limit:
            break
        if change == "ConnectionRequirementSet":
            required = bool(value)
        elif change == "Connected":
            connected = True
        elif change == "MarkedZombie":
            status = "zombie"
        elif change == "MergedInto":
            status = "merged"
        elif change == "Decommissioned":
            status = "decommissioned"
    return required, connected, status
