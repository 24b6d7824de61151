"""The facts of issue 14 folded into the zone's state (docs/facts.md §7).

Refreshes (S11), impact assessments (P2), core-data approvals (D1), annual
sharing reports (I3), and a filing's life after review — progress (跟踪),
evaluation (评价), revised amounts (调整概算), entrustments of 受托方 (D3),
data-quality objections (S13) — as the rules of
``projections.rules`` read them (docs/rules-inputs.md). Each is kept in the
plain-JSON state with its business time (epoch seconds) and its positions, so a
finding cites them. A refresh dated later than its record time plus the clock
skew is not counted (docs/facts.md §7: flagged, like an access in the future).
"""

from __future__ import annotations

from typing import Any

from projections import declarations
from projections.facts import Fact, day, uuid_text, when
from projections.fold_core import FoldCore
from projections.rules.calendars import time_limit

State = dict[str, Any]
DEFAULT_CLOCK_SKEW_SECONDS = 300  # ledger.config.Settings.clock_skew_seconds


def _epoch(value: Any) -> float:
    moment = when(value)
    assert moment is not None
    return moment.timestamp()


def filing_extras() -> dict[str, Any]:
    """The keys a filing's state gains after it is filed (absent in older snapshots)."""
    return {
        "reviewed_at": None,  # epoch of the architecture review's decision
        "accepted_at": None,
        "progress": [],  # [{stage, progress_percent, spent_fen, reported_at, position}]
        "evaluation": None,
        "revisions": [],  # [{investment_fen, om_cost_fen, revised_at, position}]
    }


class ObligationsFold(FoldCore):
    """Handlers of the issue-14 facts, mixed into ``projections.zone.ZoneFold``."""

    def obligation_handlers(self) -> dict[str, Any]:
        return {
            "ResourceRefresh.Reported": self._refresh,
            "ImpactAssessment.Recorded": self._assessment,
            "CoreDataApproval.Granted": self._core_approval,
            "CoreDataApproval.Withdrawn": self._core_withdrawn,
            "AnnualSharingReport.Submitted": self._annual_report,
            "AnnualSharingReport.Approved": self._annual_approved,
            "ProjectProgress.Reported": self._progress,
            "ProjectEvaluation.Recorded": self._evaluation,
            "FiledAmountsRevision.Recorded": self._revision,
            "ContractedProcessor.Entrusted": self._entrusted,
            "ContractedProcessor.Ended": self._entrustment_ended,
            "QualityObjection.Raised": self._objection,
            "QualityObjection.Resolved": self._objection_resolved,
            # docs/facts.md §11: the plan's declared records (projections.declarations).
            declarations.TOPIC: lambda fact: declarations.fold(self.state, fact),
        }

    # ------------------------------------------------------------------ S13

    def _objection(self, fact: Fact) -> None:
        d = fact.data
        self.state.setdefault("objections", {})[fact.entity] = {
            "department": d["department"],
            "resource_code": d["resource_code"],
            "raised_at": _epoch(d["raised_at"]),
            "resolved_at": None,
            "positions": [fact.position],
        }

    def _objection_resolved(self, fact: Fact) -> None:
        objection = self.state.get("objections", {}).get(fact.entity)
        if objection is not None:
            objection["resolved_at"] = _epoch(fact.data["resolved_at"])
            objection["positions"].append(fact.position)

    # ------------------------------------------------------------------ D3

    def _entrusted(self, fact: Fact) -> None:
        d = fact.data
        self.state.setdefault("processors", {})[fact.entity] = {
            "department": d["department"],
            "processor_name": d["processor_name"],
            "contract_reference": d["contract_reference"],
            "period_end": str(day(d["period_end"])),
            "ended_at": None,  # epoch of ContractedProcessor.Ended's business time
            "positions": [fact.position],
        }

    def _entrustment_ended(self, fact: Fact) -> None:
        processor = self.state.get("processors", {}).get(fact.entity)
        if processor is not None:
            processor["ended_at"] = _epoch(fact.data["occurred_at"])
            processor["positions"].append(fact.position)

    # ------------------------------------------------------------------ S11

    def _rejudge_provided(self, code: str) -> None:
        """P2 and D1 of ``code`` judged again (``projections.rules.provided``)."""

    def _rejudge_above_filed(self, filing: dict[str, Any], after: Any = None) -> None:
        """F7 of the decisions ``filing`` bounds judged again (``projections.rules.fund_sums``)."""

    def _refresh(self, fact: Fact) -> None:
        d = fact.data
        refreshed = _epoch(d["refreshed_at"])
        recorded = when(d.get("timestamp"))
        if recorded is not None:
            skew = time_limit(
                self.state, recorded, "clock_skew_seconds", DEFAULT_CLOCK_SKEW_SECONDS
            )
            if refreshed > recorded.timestamp() + skew:
                return  # dated in the future: flagged at intake, never counted
        refreshes = self.state.setdefault("refreshes", {})
        last = refreshes.get(d["resource_code"])
        if last is None or (last["refreshed_at"], last["position"]) <= (refreshed, fact.position):
            refreshes[d["resource_code"]] = {"refreshed_at": refreshed, "position": fact.position}

    # ------------------------------------------------------------------ P2, D1

    def _assessment(self, fact: Fact) -> None:
        d = fact.data
        self.state.setdefault("assessments", {}).setdefault(d["resource_code"], []).append(
            {
                "department": d["department"],
                "reference": d["reference"],
                "recipient_department": d["recipient_department"],
                "request_id": uuid_text(d["request_id"]),
                "conclusion": d["conclusion"],
                "assessed_at": _epoch(d["assessed_at"]),
                "position": fact.position,
            }
        )
        self._rejudge_provided(d["resource_code"])

    def _core_approval(self, fact: Fact) -> None:
        d = fact.data
        until = d.get("valid_until")
        self.state.setdefault("core_approvals", {})[fact.entity] = {
            "reference": d["reference"],
            "resource_code": d["resource_code"],
            "recipient_department": d["recipient_department"],
            "request_id": uuid_text(d["request_id"]),
            "approved_at": _epoch(d["approved_at"]),
            "valid_until": None if until is None else _epoch(until),
            "withdrawn_at": None,
            "positions": [fact.position],
        }
        self._rejudge_provided(d["resource_code"])

    def _core_withdrawn(self, fact: Fact) -> None:
        approval = self.state.get("core_approvals", {}).get(fact.entity)
        if approval is not None:
            approval["withdrawn_at"] = _epoch(fact.data["withdrawn_at"])
            approval["positions"].append(fact.position)
            self._rejudge_provided(approval["resource_code"])

    # ------------------------------------------------------------------ I3

    def _annual_report(self, fact: Fact) -> None:
        d = fact.data
        self.state.setdefault("annual_reports", {})[f"{d['scope']}:{d['year']}"] = {
            "scope": d["scope"],
            "year": d["year"],
            "reference": d["reference"],
            "submitted_at": _epoch(d["submitted_at"]),
            "approved_at": None,
            "entity": fact.entity,
            "positions": [fact.position],
        }

    def _annual_approved(self, fact: Fact) -> None:
        for report in self.state.get("annual_reports", {}).values():
            if report["entity"] == fact.entity:
                report["approved_at"] = _epoch(fact.data["approved_at"])
                report["positions"].append(fact.position)

    # ------------------------------------------------------------------ projects

    def _filing_of(self, fact: Fact) -> dict[str, Any] | None:
        filing: dict[str, Any] | None = self.state["filings"].get(
            uuid_text(fact.data["filing_id"]) or ""
        )
        if filing is not None:
            for key, value in filing_extras().items():
                filing.setdefault(key, value)
        return filing

    def _progress(self, fact: Fact) -> None:
        filing, d = self._filing_of(fact), fact.data
        if filing is not None:
            filing["progress"].append(
                {
                    "stage": d["stage"],
                    "progress_percent": d["progress_percent"],
                    "spent_fen": d["spent_fen"],
                    "reported_at": _epoch(d["reported_at"]),
                    "position": fact.position,
                }
            )

    def _evaluation(self, fact: Fact) -> None:
        filing, d = self._filing_of(fact), fact.data
        if filing is not None:
            filing["evaluation"] = {
                "rating": d["rating"],
                "evaluated_at": _epoch(d["evaluated_at"]),
                "position": fact.position,
            }

    def _revision(self, fact: Fact) -> None:
        filing, d = self._filing_of(fact), fact.data
        if filing is not None:
            filing["revisions"].append(
                {
                    "reference": d["reference"],
                    "investment_fen": d["investment_fen"],
                    "om_cost_fen": d["om_cost_fen"],
                    "revised_at": _epoch(d["revised_at"]),
                    "position": fact.position,
                }
            )
            self._rejudge_above_filed(filing)  # F7 as of each decision (recorded late)
