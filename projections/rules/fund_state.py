"""F1–F4 and F6: a fund decision judged against its system and filing *as of its
business time*, whatever the order the facts were recorded in.

domain.md "Compliance rules" F1 (O&M funds for a system required to connect but not
connected; from 2019, seed §三(三)12 "2019年起", setting ``connection_funds_from_year``),
F2 (funds for a zombie or decommissioned system), F3 (funds for a project with no
filing: seed §三(五)17 "申请…建设和运维经费时，应及时…全口径备案", so a filing dated
after the decision is no filing at it), F4 (funds for a project whose architecture
review was rejected: "不予审批，…不拨付运维经费", so O&M funds for a system the
rejected filing lists, citing no filing, are F4 too) and F6 (funds while the review of
the cited filing is pending; seed §三(三)12, §三(一)3, §三(五)17). Each reads the state
of the system or filing *at the decision*. A system keeps its changes with their
business times (``system["changes"]``, from the state before its first change), a
filing its own date (``filed_at``) and review time (``reviewed_at``), so the state at
any time is computed, not the state folded so far.

The filing a decision is judged against is the one that bounds it for F7 too
(``scope_filing``): the filing it cites, else the first recorded listing its system.
A system change, a filing or a review folded after a decision it concerns (recorded
late, dated earlier) judges these rules again for the decision: a finding is added,
re-dated or withdrawn, a new version each time (docs/projections.md §Recorded late,
§Findings are versions). F7 and F8 are in ``projections.rules.fund_sums``.
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
STATE_RULES = ("F1", "F2", "F3", "F4", "F6")


def scope_filing(filings: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any] | None:
    """The filing a decision is for: the one it cites, else (citing none) the first
    recorded listing its system (the lowest position: a filing recorded later that lists
    the same system changes no decision's filing; docs/projections.md §Recorded late)."""
    filing: dict[str, Any] | None = filings.get(decision["filing_id"] or "")
    system_id = decision["system_id"]
    if filing is None and decision["filing_id"] is None and system_id:
        filing = next((f for f in filings.values() if system_id in f["system_ids"]), None)
    return filing


def in_scope(
    state: dict[str, Any], filing: dict[str, Any], kind: str | None = None
) -> list[dict[str, Any]]:
    """The granted decisions (of ``kind``) whose filing (``scope_filing``) is ``filing``."""
    systems, filings = set(filing["system_ids"]), state["filings"]
    return [
        d for d in state["funds"].values()
        if d["outcome"] == "granted" and (kind is None or d["kind"] == kind)
        and (d["filing_id"] == filing["filing_id"]
             or (d["filing_id"] is None and d["system_id"] in systems))
        and scope_filing(filings, d) is filing
    ]  # fmt: skip


def on_record_at(filing: dict[str, Any], key: str, at: datetime | None) -> bool:
    """Whether the filing's ``key`` time (``filed_at``, ``reviewed_at``) is at or before
    ``at``; a filing folded before ``filed_at`` was kept (an older snapshot) counts as
    filed from the start."""
    when = filing.get(key)
    if when is None:
        return key == "filed_at"
    return at is None or datetime.fromisoformat(when) <= at


class FundStateRules(FoldCore):
    """F1–F4, F6 of ``ZoneFold``; a decision keeps the rules it was found under
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
                self._rejudge_state(decision)

    def _rejudge_filing(self, filing: dict[str, Any]) -> None:
        """A filing recorded or reviewed: the decisions it is the filing of (cited, or
        through its system) judged again."""
        for decision in in_scope(self.state, filing):
            self._rejudge_state(decision)

    def _rejudge_state(self, decision: dict[str, Any]) -> None:
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
        filing = scope_filing(self.state["filings"], decision)
        cited = self.state["filings"].get(decision["filing_id"] or "") is not None
        if filing is not None and not on_record_at(filing, "filed_at", at):
            if cited:  # a filing dated after the decision was no filing at it
                detail = f"{amount} granted to {filing['name']} before its filing"
                found["F3"] = ([*filing["positions"], position], f"{detail} ({filing['filed_at']})")
        elif filing is not None:
            self._review_rules(decision, filing, found, position, at, amount)
        if not cited and (decision["project_name"] or system is None):
            # Funds naming a project (a system too or not) that cite no filing, or naming
            # nothing; O&M for a system alone is not judged (docs/projections.md F3).
            found["F3"] = ([position], f"{amount} granted to project "
                           f"{decision['project_name']!r} with no filing")  # fmt: skip
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

    def _review_rules(
        self,
        decision: dict[str, Any],
        filing: dict[str, Any],
        found: dict[str, tuple[list[int], str]],
        position: int,
        at: datetime | None,
        amount: str,
    ) -> None:
        """F4 (the filing's review rejected at or before the decision) and F6 (the cited
        filing's review still pending then; O&M for a system whose filing awaits review
        is not F6: the seed withholds O&M only from a rejected project)."""
        evidence = [*filing["positions"], position]
        reviewed = filing.get("reviewed_at")
        done = reviewed is not None and on_record_at(filing, "reviewed_at", at)
        if filing["status"] == "rejected" and (done or reviewed is None):
            found["F4"] = (evidence, f"{amount} granted to {filing['name']}, "
                           "whose architecture review was rejected")  # fmt: skip
        elif (
            at is not None
            and decision["filing_id"] == filing["filing_id"]
            and ((reviewed is None and filing["status"] == "filed") or (reviewed and not done))
        ):
            found["F6"] = (evidence, f"{amount} granted to {filing['name']} while its "
                           "architecture review was still pending")  # fmt: skip

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
