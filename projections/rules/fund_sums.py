"""F7 and F8: a fund decision judged against the sums that stand *at its business time*,
whatever the order the decisions, revisions and accesses were recorded in.

domain.md "Compliance rules" F7 (funds granted above the filed or revised amounts; seed
§三(五)17, 调整概算) and F8 (O&M funds for a little-used system; seed §三(五)17
"利用程度低…的运维经费"); inputs in docs/rules-inputs.md. Each sums other facts:

* F7 sums the granted decisions of the filing's scope decided on or before the judged
  decision (business time, ties included), against the amounts of the latest revision
  in force then. A decision, a revision or a filing recorded late judges again the
  decisions it changes; the finding is replaced (new total) or withdrawn.
* F8 counts the system's accesses on the 365 days (China Standard Time) ending with the
  decision's day. The fold keeps per system the accesses per day (``state["access_days"]``,
  also for a system not yet registered) and per judged decision its count
  (``decision["used"]``), raised by each access recorded later in its window; the
  finding is replaced while the count stays below the limit and withdrawn once it
  reaches it.

docs/projections.md §Recorded late.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from projections.fold_core import FoldCore, local_day_number
from projections.rules.fund_state import in_scope, scope_filing
from projections.rules.limits import LITTLE_USED_ACCESSES_PER_YEAR, limit

# F8's window: the decision's day and the 364 days before it.
WINDOW_DAYS = 365


def _epoch(decision: dict[str, Any]) -> float:
    return datetime.fromisoformat(decision["decided_at"]).timestamp()


class FundSumRules(FoldCore):
    """F7 and F8 of ``ZoneFold``: a decision keeps what it was found under
    (``decision["f7"]``: the detail, ``decision["used"]``: F8's count) so a fact
    recorded later changes only what it changes."""

    # ------------------------------------------------------------------ F7

    def _above_filed(self, decision: dict[str, Any], again: bool = False) -> None:
        """F7 (seed §三(五)17; 调整概算): the filing's construction funds over all years
        beyond ``investment_fen``, or its (and its systems') O&M funds of one year beyond
        ``om_cost_fen``, summed over the decisions decided on or before this one."""
        filing = scope_filing(self.state["filings"], decision)
        found: tuple[list[int], str] | None = None
        if filing is not None:
            found = self._sum_above(decision, filing)
        before = decision.get("f7")
        subject = decision["decision_id"]
        if found is None:
            if before is not None:
                decision["f7"] = None
                self._withdraw("F7", subject)
            return
        evidence, detail = found
        if detail == before:
            return
        decision["f7"] = detail
        self._finding(
            "F7", subject, "fund_decision", decision["department"], evidence,
            decision["position"], datetime.fromisoformat(decision["decided_at"]), detail,
            replace=again or before is not None,
        )  # fmt: skip

    def _sum_above(
        self, decision: dict[str, Any], filing: dict[str, Any]
    ) -> tuple[list[int], str] | None:
        end = _epoch(decision)
        construction = decision["kind"] == "construction_funds"
        investment, om_cost = filing["investment_fen"], filing["om_cost_fen"]
        for revision in sorted(
            filing.get("revisions", ()), key=lambda r: (r["revised_at"], r["position"])
        ):
            if revision["revised_at"] <= end:
                investment, om_cost = revision["investment_fen"], revision["om_cost_fen"]
        ceiling = investment if construction else om_cost
        summed = [
            d for d in in_scope(self.state, filing, decision["kind"])
            if (construction or d["year"] == decision["year"]) and _epoch(d) <= end
        ]  # fmt: skip
        total = sum(d["amount_fen"] for d in summed)
        if total <= ceiling:
            return None
        scope = "over all years" if construction else f"in {decision['year']}"
        return (
            [*filing["positions"], *(d["position"] for d in summed)],
            f"{decision['kind']} granted for {filing['name']} {scope} total "
            f"{total / 100:,.2f} yuan, above the filed {ceiling / 100:,.2f} yuan",
        )

    def _rejudge_above_filed(
        self, filing: dict[str, Any], after: dict[str, Any] | None = None
    ) -> None:
        """F7 of the decisions bounded by ``filing`` judged again: a revision or the
        filing recorded (every decision), or a decision ``after`` (those decided on or
        after it, of its kind)."""
        if after is None:
            for decision in in_scope(self.state, filing):
                self._above_filed(decision, again=True)
            return
        start = _epoch(after)
        for decision in in_scope(self.state, filing, after["kind"]):
            if decision is not after and _epoch(decision) >= start:
                self._above_filed(decision, again=True)

    def _fund_sums(self, decision: dict[str, Any]) -> None:
        """F7 and F8 of a granted decision, and F7 again of the later ones it adds to."""
        self._above_filed(decision)
        filing = scope_filing(self.state["filings"], decision)
        if filing is not None:
            self._rejudge_above_filed(filing, after=decision)
        self._little_used(decision)

    # ------------------------------------------------------------------ F8

    def _little_used(self, decision: dict[str, Any]) -> None:
        """F8 (seed §三(五)17): O&M funds for a system with fewer accesses than
        ``little_used_accesses_per_year`` on the 365 days ending with the decision's
        day; a system registered less than a year before is not judged."""
        system = self.state["systems"].get(decision["system_id"] or "")
        if system is None or decision["kind"] != "om_funds":
            return
        at = datetime.fromisoformat(decision["decided_at"])
        registered = system.get("registered_at")
        if registered and at - datetime.fromisoformat(registered) < timedelta(days=365):
            return
        last = local_day_number(at.timestamp())
        days = self.state["access_days"].get(system["system_id"], {})
        decision["used"] = sum(days.get(str(d), 0) for d in range(last - WINDOW_DAYS + 1, last + 1))
        decision["wanted"] = limit(self.state, at, "little_used_accesses_per_year",
                                   LITTLE_USED_ACCESSES_PER_YEAR)  # fmt: skip
        self.state["little_used"].setdefault(system["system_id"], []).append(
            decision["decision_id"]
        )
        self._judge_little_used(decision, again=False)

    def _system_used(self, system_id: str, epoch: float) -> None:
        """An access of ``system_id`` (hex id) on its business day: kept per day, and
        counted for the decisions whose F8 window holds it (the short path of accesses)."""
        day = local_day_number(epoch)
        by_system = self.state["access_days"]
        days = by_system.get(system_id)
        if days is None:
            days = by_system[system_id] = {}
        key = str(day)
        days[key] = days.get(key, 0) + 1
        decisions = self.state["little_used"].get(system_id)
        if not decisions:
            return
        for decision_id in decisions:
            decision = self.state["funds"][decision_id]
            last = local_day_number(_epoch(decision))
            if last - WINDOW_DAYS < day <= last:
                decision["used"] += 1
                if decision["used"] <= decision["wanted"]:
                    self._judge_little_used(decision, again=True)

    def _judge_little_used(self, decision: dict[str, Any], again: bool) -> None:
        used, wanted = decision["used"], decision["wanted"]
        subject = decision["decision_id"]
        if used >= wanted:
            if again:
                self._withdraw("F8", subject)
            return
        system = self.state["systems"][decision["system_id"]]
        self._finding(
            "F8", subject, "fund_decision", decision["department"],
            [*system["positions"], decision["position"]], decision["position"],
            datetime.fromisoformat(decision["decided_at"]),
            f"{decision['amount_fen'] / 100:,.2f} yuan om_funds granted to {system['name']}, "
            f"used {used} times in the year before (little used: fewer than {wanted})",
            replace=again,
        )  # fmt: skip
