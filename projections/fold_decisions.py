"""The decisions folded into the zone's state: sharing requests, filings, funds, reviews.

The handlers of ``projections.zone.ZoneFold`` for the facts that record a request and
what was decided on it: sharing requests (submitted, approved, rejected, revoked,
expired), project filings (filed, architecture review, acceptance), fund decisions,
and the reviews of anomalies (domain.md "Anomalies"). Split from ``projections.zone``
to keep modules of one concern (docs/architecture.md, under 600 lines); as there, the
state is plain JSON and a pure function of the ledger's prefix (docs/projections.md),
dated by business time (facts.md §1). S7 and F5 are emitted here, where their fact is
folded; the other rules these facts prove are judged in ``projections.rules.folded``
(domain.md "Compliance rules").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from projections.facts import CST, Fact, actor_of, day, uuid_text, when
from projections.fold_core import ReviewRow
from projections.fold_obligations import filing_extras
from projections.rules.provided import ProvidedRules
from projections.rules.rejudged import RejudgedRules

_REQUEST = ("Approved", "Rejected", "Revoked", "Expired")
_FILING = ("ArchitectureApproved", "ArchitectureRejected", "Accepted")


class DecisionsFold(RejudgedRules, ProvidedRules):
    """Handlers of requests and decisions, mixed into ``projections.zone.ZoneFold``."""

    reviews: list[ReviewRow]

    def decision_handlers(self) -> dict[str, Callable[[Fact], None]]:
        handlers: dict[str, Callable[[Fact], None]] = {
            "SharingRequest.Submitted": self._submitted,
            "ProjectFiling.Filed": self._filed,
            "FundDecision.Decided": self._funds,
            "AnomalyReview.Started": self._review,
            "AnomalyReview.Reviewed": self._review,
        }
        handlers.update({f"SharingRequest.{n}": self._decision for n in _REQUEST})
        handlers.update({f"ProjectFiling.{n}": self._filing_change for n in _FILING})
        return handlers

    # ------------------------------------------------------------------ requests

    def _submitted(self, fact: Fact) -> None:
        d = fact.data
        due = day(d["response_due"])
        start, end = day(d["period_start"]), day(d["period_end"])
        assert due and start and end
        self.state["requests"][fact.entity] = {
            "request_id": fact.entity,
            "requester_department": d["requester_department"],
            "resource_code": d["resource_code"],
            "provider_department": d["provider_department"],
            "items": list(d["items"]),
            "purpose": d["purpose"],
            "legal_basis": d["legal_basis"],
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "submitted_at": d["submitted_at"]["_data_"],
            "response_due": due.isoformat(),
            "response_working_days": d.get("response_working_days"),
            # The resource's sharing type at submission: the response limit's key.
            "sharing_type": (self.state["resources"].get(d["resource_code"]) or {}).get(
                "sharing_type"
            ),
            "status": "pending",
            "granted_items": [],
            "expires_at": None,
            "decided_at": None,
            "rejection_reason": None,
            "revoked_at": None,
            "positions": [fact.position],
        }
        self._by_user = None
        self._rejudge_lapsed(self.state["requests"][fact.entity])  # S3, recorded late

    def _decision(self, fact: Fact) -> None:
        request = self.state["requests"].get(fact.entity)
        if request is None:
            return
        d, name = fact.data, fact.topic.partition(".")[2]
        request["positions"].append(fact.position)
        if name == "Approved":
            request["status"] = "approved"
            request["granted_items"] = list(d["items"])
            request["expires_at"] = d["expires_at"]["_data_"]
            request["decided_at"] = d["decided_at"]["_data_"]
            decided = when(d["decided_at"])
            self._shared(
                request["resource_code"], request["requester_department"], fact.position, decided
            )
            resource = self.state["resources"].get(request["resource_code"])
            recipient = request["requester_department"]
            if (
                resource is not None
                and decided is not None
                and (recipient != resource["provider_department"])
            ):
                self._provided(
                    resource, recipient, request["granted_items"], fact.entity,
                    fact.position, decided.timestamp(),
                )  # fmt: skip
        elif name == "Rejected":
            request["status"] = "rejected"
            request["rejection_reason"] = d["reason"]
            request["decided_at"] = d["decided_at"]["_data_"]
            if not (d["reason"] or "").strip():
                self._finding(
                    "S7", fact.entity, "request", request["provider_department"],
                    request["positions"], fact.position, when(d["decided_at"]),
                    f"request for {request['resource_code']} rejected without a reason",
                )  # fmt: skip
        elif name == "Revoked":
            request["status"] = "revoked"
            request["revoked_at"] = d["revoked_at"]["_data_"]
        elif name == "Expired":
            request["status"] = "expired"
        self._rejudge_lapsed(request)  # S3 on an access recorded before this
        if name in ("Approved", "Revoked"):  # the terms at an access recorded before it
            self._rejudge_grant(
                request, when(d["decided_at" if name == "Approved" else "revoked_at"])
            )

    # ------------------------------------------------------------------ filings and funds

    def _filed(self, fact: Fact) -> None:
        d, actor = fact.data, actor_of(fact.data)
        self.state["filings"][fact.entity] = {
            "filing_id": fact.entity,
            "name": d["name"],
            "builder": d["builder"],
            "investment_fen": d["investment_fen"],
            "om_cost_fen": d["om_cost_fen"],
            "funding_channel": d["funding_channel"],
            "resource_codes": list(d["resource_codes"]),
            "system_ids": [uuid_text(s) for s in d["system_ids"]],
            "mlps_filed": d["mlps_filed"],
            "catalogue_preregistered": d["catalogue_preregistered"],
            "status": "filed",
            "architecture_review": None,
            "positions": [fact.position],
            "filed_at": self._happened_iso(),  # F3: no filing before it (rules.fund_state)
            **filing_extras(),
        }
        filing = self.state["filings"][fact.entity]
        self._rejudge_above_filed(filing)  # F7 of decisions before
        self._rejudge_filing(filing)  # F4 of decisions for its systems recorded before
        if not d["catalogue_preregistered"]:
            self._finding(
                "F5", fact.entity, "filing", d["builder"], [fact.position],
                fact.position, None,
                f"project {d['name']} filed without catalogue pre-registration "
                f"(filed by {actor['actor_id']})",
            )  # fmt: skip

    def _filing_change(self, fact: Fact) -> None:
        filing = self.state["filings"].get(fact.entity)
        if filing is None:
            return
        name = fact.topic.partition(".")[2]
        filing["positions"].append(fact.position)
        for key, value in filing_extras().items():
            filing.setdefault(key, value)
        if name in ("ArchitectureApproved", "ArchitectureRejected"):
            filing["reviewed_at"] = self._happened_iso()
        if name == "ArchitectureApproved":
            filing["status"] = "approved"
            filing["architecture_review"] = fact.data["architecture_review"]
        elif name == "ArchitectureRejected":
            filing["status"] = "rejected"
            filing["architecture_review"] = fact.data["architecture_review"]
        elif name == "Accepted":
            filing["status"] = "accepted"
            filing["accepted_at"] = self._happened_iso()
        if name in ("ArchitectureApproved", "ArchitectureRejected"):
            self._rejudge_filing(filing)  # F4/F6 of decisions recorded before

    def _funds(self, fact: Fact) -> None:
        d = fact.data
        decision = {
            "decision_id": fact.entity,
            "kind": d["kind"],
            "year": d["year"],
            "department": d["department"],
            "system_id": uuid_text(d.get("system_id")),
            "project_name": d.get("project_name"),
            "filing_id": uuid_text(d.get("filing_id")),
            "amount_fen": d["amount_fen"],
            "outcome": d["outcome"],
            "rationale": d["rationale"],
            "decided_at": d["decided_at"]["_data_"],
            "position": fact.position,
        }
        self.state["funds"][fact.entity] = decision
        if decision["outcome"] == "granted":
            self._fund_rules(decision, fact.position, when(d["decided_at"]))

    # ------------------------------------------------------------------ reviews

    def _review(self, fact: Fact) -> None:
        if not self.emit:
            return
        d = fact.data
        self.reviews.append(
            (
                fact.position,
                d["anomaly_id"],
                d["action"],
                d["comment"],
                actor_of(d)["actor_id"],
                datetime.fromisoformat(d["reviewed_at"]["_data_"]).astimezone(CST).isoformat(),
            )
        )
