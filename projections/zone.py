"""The zone's state folded from the ledger, and what the fold finds on the way.

``ZoneFold`` applies facts in position order to a plain-JSON state (departments, systems,
resources, requests, filings, fund decisions, the domain clock and the anomaly detector):
a pure function of the ledger's prefix it has seen, which is what makes snapshots, as-of
answers and "rebuild equals incremental" possible (docs/projections.md).

While folding it emits rows for findings that an event proves at the moment it happens
(S1–S5, S7, S12, P1, D2, F1–F5: domain.md "Compliance rules"; the rule families in
``projections.rules.folded``) and for anomalies (domain.md "Anomalies";
``projections.detector``); rules that depend on the moment asked about (S6, S8–S10, I1,
I2) are judged at query time in ``projections.rules``. Dated by business time (facts.md §1).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from projections import audit_suggestion, rectification, security_facts
from projections.detector import EVIDENCE_CAP, HISTORY, AnomalyDetector
from projections.facts import (
    ACCESS,
    CST,
    AccessState,
    Fact,
    access_state,
    actor_of,
    day,
    domain_time,
    stable_id,
    uuid_text,
    when,
)
from projections.fold_core import (
    CST_OFFSET_SECONDS,
    AnomalyRow,
    FindingRow,
    ReviewRow,
    Rules,
    State,
    date_change,
    day_text,
    dump_state,
    load_state,
    local_day_number,
    name_cio,
    positions_text,
)
from projections.fold_obligations import ObligationsFold, filing_extras
from projections.rules.folded import ACCESS_RULES, FoldedRules
from projections.rules.provided import ProvidedRules, guarded_items

# Re-exported: the names other modules import from here.
__all__ = [
    "ACCESS_RULES",
    "CST_OFFSET_SECONDS",
    "EVIDENCE_CAP",
    "HISTORY",
    "AnomalyRow",
    "FindingRow",
    "ReviewRow",
    "Rules",
    "State",
    "ZoneFold",
    "day_text",
    "dump_state",
    "empty_state",
    "load_state",
    "local_day_number",
    "positions_text",
    "resource_sensitivity",
    "stable_id",
]

SENSITIVITY_ORDER = ("general", "personal", "sensitive_personal", "important", "core")


def empty_state() -> State:
    return {
        # The ledger's domain clock: running max of domain times (epoch seconds), and its
        # CST day number (days since 1970-01-01 local).
        "clock_epoch": None,
        "clock_day": None,
        # Running max of the domain times of commands (not of platform-reported accesses):
        # the effective time of an event that carries no time of its own.
        "command_clock": None,
        "departments": {},
        "department_by_entity": {},
        "resource_by_entity": {},
        "systems": {},
        "resources": {},
        "requests": {},
        "filings": {},
        "funds": {},
        # The calendars recorded (DistrictCalendar.Set), in position order: docs/facts.md
        # §3 "Which calendar a judgment uses" (projections.rules.calendars).
        "calendars": [],
        # The facts of issue 14 (projections.fold_obligations): the latest refresh per
        # resource code, assessments per code, core-data approvals and annual reports.
        "refreshes": {},
        "assessments": {},
        "core_approvals": {},
        "annual_reports": {},
        # Judged by business time whatever the recording order (rules.folded, .provided, ...).
        "first_shares": {},
        "shared_found": {},
        "provided_found": {},
        "lapsed_accesses": {},
        "access_days": {},  # system id -> CST day number (text) -> accesses (F8)
        "little_used": {},  # system id -> the O&M decisions F8 judged on it
        "detector": {"actors": {}, "resources": {}, "pairs": [], "refused": {}},
    }


def resource_sensitivity(resource: dict[str, Any]) -> str:
    """The highest grade among a resource's items."""
    grades = {item["sensitivity"] for item in resource["items"]}
    return max(grades, key=SENSITIVITY_ORDER.index) if grades else "general"


class ZoneFold(FoldedRules, ProvidedRules, ObligationsFold, AnomalyDetector):
    """Applies facts to a state; collects the rows the facts prove when ``emit`` is on."""

    def __init__(self, rules: Rules, state: State | None = None) -> None:
        self.rules = rules
        self.state = state if state is not None else empty_state()
        self.emit = True
        self.findings: list[FindingRow] = []
        self.anomalies: list[AnomalyRow] = []
        self.reviews: list[ReviewRow] = []
        self.clock_days: list[tuple[str, int]] = []
        for key, empty in empty_state().items():
            self.state.setdefault(key, empty)  # a snapshot from before these keys
        self.withdrawn, self.folding = {}, 0
        # The business time of the fact being applied (docs/facts.md §1).
        self._happened: datetime | None = None
        # (department, resource code) -> request ids: the grants S3 checks a lapsed
        # access against. A cache: rebuilt from the state when None.
        self._by_user: dict[tuple[str, str], list[str]] | None = None
        self._pairs = set(self.state["detector"]["pairs"])
        self._volume_min = rules.volume_min
        self._handlers: dict[str, Callable[[Fact], None]] = {
            "Department.Registered": self._department,
            "Department.CioNamed": self._cio,
            "InformationSystem.Registered": self._system,
            "Resource.Registered": self._resource,
            "SharingRequest.Submitted": self._submitted,
            "ProjectFiling.Filed": self._filed,
            "FundDecision.Decided": self._funds,
            "AnomalyReview.Started": self._review,
            "AnomalyReview.Reviewed": self._review,
            "DistrictCalendar.Set": self._calendar,
        }
        self._handlers.update({f"InformationSystem.{n}": self._system_change for n in _SYSTEM})
        self._handlers.update({f"Resource.{n}": self._resource_change for n in _RESOURCE})
        self._handlers.update({f"SharingRequest.{n}": self._decision for n in _REQUEST})
        self._handlers.update({f"ProjectFiling.{n}": self._filing_change for n in _FILING})
        self._handlers.update(self.obligation_handlers())
        # docs/facts.md §8: rectifications (rule R1) and audit suggestions' adoption.
        section_8 = (*rectification.TOPICS, *audit_suggestion.TOPICS)
        self._handlers.update(dict.fromkeys(section_8, self._rectification))
        # docs/facts.md §10: 条例 §33 declarations (projections.security_facts).
        self._handlers.update({t: self._security_fact for t in security_facts.TOPICS})

    # ------------------------------------------------------------------ driving

    def apply(self, fact: Fact) -> float | None:
        """Fold one fact; returns its domain time (epoch seconds) if it has one."""
        if fact.topic == ACCESS:  # the runner folds accesses with ``access`` directly
            return self.access(fact.position, access_state(fact.data))
        self.folding, happened = fact.position, domain_time(fact)
        found = happened.timestamp() if happened is not None else None
        if found is not None:
            self._advance_clock(found, fact.position)
            command_clock = self.state["command_clock"]
            if command_clock is None or command_clock < found:
                self.state["command_clock"] = found
        handler = self._handlers.get(fact.topic)
        if handler is not None:
            self._happened = happened
            handler(fact)
        return found

    def _happened_iso(self) -> str | None:
        """When the fact being applied happened (CST ISO), else the domain clock."""
        if self._happened is None:
            return self.clock_iso()
        return self._happened.astimezone(CST).isoformat()

    def clock_iso(self) -> str | None:
        """The domain clock as a CST ISO time (None before any domain time)."""
        epoch = self.state["clock_epoch"]
        return None if epoch is None else datetime.fromtimestamp(epoch, CST).isoformat()

    def take_outputs(
        self,
    ) -> tuple[list[FindingRow], list[AnomalyRow], list[ReviewRow], list[tuple[str, int]]]:
        out = (self.findings, self.anomalies, self.reviews, self.clock_days)
        self.findings, self.anomalies, self.reviews, self.clock_days = [], [], [], []
        return out

    def snapshot(self) -> bytes:
        self.state["detector"]["pairs"] = sorted(self._pairs)
        return dump_state(self.state)

    def _advance_clock(self, epoch: float, position: int) -> None:
        state = self.state
        clock = state["clock_epoch"]
        if clock is not None and clock >= epoch:
            return
        state["clock_epoch"] = epoch
        today = local_day_number(epoch)
        if today != state["clock_day"]:
            state["clock_day"] = today
            if self.emit:
                self.clock_days.append((day_text(today), position))

    # ------------------------------------------------------------------ organisation

    def _department(self, fact: Fact) -> None:
        d = fact.data
        self.state["departments"][d["code"]] = {
            "code": d["code"],
            "name": d["name"],
            "cio_name": None,
            "registered_at": self._happened_iso(),
            "position": fact.position,
        }
        self.state["department_by_entity"][fact.entity] = d["code"]

    def _cio(self, fact: Fact) -> None:
        code = self.state["department_by_entity"].get(fact.entity)
        if code in self.state["departments"]:
            name_cio(self.state["departments"][code], fact.data["cio_name"], self._happened_iso())

    def _system(self, fact: Fact) -> None:
        d = fact.data
        approval = day(d.get("approval_date"))
        self.state["systems"][fact.entity] = {
            "system_id": fact.entity,
            "department": d["department"],
            "name": d["name"],
            "function": d["function"],
            "scope_of_use": d["scope_of_use"],
            "usage_frequency": d["usage_frequency"],
            "approving_body": d["approving_body"],
            "approval_date": approval.isoformat() if approval else None,
            "funding_source": d["funding_source"],
            "status": "active",
            "required_to_connect": d["required_to_connect"],
            "connected": False,
            "on_cloud": False,
            "zombie_reasons": [],
            "integrated_system_id": None,
            "mlps_level": None,
            "mlps_filed": False,
            "holds_personal_data": d["holds_personal_data"],
            "holds_important_data": d["holds_important_data"],
            "registered_at": self._happened_iso(),
            "last_access_epoch": None,
            "access_count": 0,
            "position": fact.position,
            "positions": [fact.position],
        }

    def _system_change(self, fact: Fact) -> None:
        system = self.state["systems"].get(fact.entity)
        if system is None:
            return
        d, name = fact.data, fact.topic.partition(".")[2]
        system["positions"].append(fact.position)
        self._system_changed(system, name, d, fact.position)  # F1/F2 as of a decision
        date_change(system, name, self._happened_iso())  # I7 (seed §三(二)6)
        if name == "ConnectionRequirementSet":
            system["required_to_connect"] = d["required_to_connect"]
        elif name == "Connected":
            system["connected"] = True
        elif name == "MovedOnCloud":
            system["on_cloud"] = True
        elif name == "MarkedZombie":
            system["status"] = "zombie"
            system["zombie_reasons"] = list(d["reasons"])
        elif name == "MergedInto":
            system["status"] = "merged"
            system["integrated_system_id"] = uuid_text(d["integrated_system_id"])
        elif name == "Decommissioned":
            system["status"] = "decommissioned"
        elif name == "MlpsRecorded":
            system["mlps_level"] = d["mlps_level"]
            system["mlps_filed"] = d["mlps_filed"]
        elif name == "DataHoldingsDeclared":
            system["holds_personal_data"] = d["holds_personal_data"]
            system["holds_important_data"] = d["holds_important_data"]

    # ------------------------------------------------------------------ catalogue

    def _resource(self, fact: Fact) -> None:
        d = fact.data
        publish = day(d.get("publish_date"))
        resource = {
            "code": d["code"],
            "name": d["name"],
            "provider_department": d["provider_department"],
            "items": [item["_data_"] for item in d["items"]],
            "sharing_type": d["sharing_type"],
            "legal_basis": d["legal_basis"],
            "open_type": d["open_type"],
            "update_cycle": d["update_cycle"],
            "summary": d["summary"],
            "format": d["format"],
            "publish_date": publish.isoformat() if publish else None,
            "share_condition": d["share_condition"],
            "share_method": d["share_method"],
            "base_resource": d["base_resource"],
            "owner_department": None,
            "controller": None,
            "risk_assessments": [],
            "risk_level": None,
            "registered_at": self._happened_iso(),
            "position": fact.position,
            "positions": [fact.position],
        }
        resource["sensitivity"] = resource_sensitivity(resource)
        resource["personal_items"], resource["core_items"] = guarded_items(resource)
        resource["sensitive_personal"] = sorted(
            i["name"] for i in resource["items"] if i["sensitivity"] == "sensitive_personal"
        )
        self.state["resources"][d["code"]] = resource
        self.state["resource_by_entity"][fact.entity] = d["code"]

    def _resource_change(self, fact: Fact) -> None:
        code = self.state["resource_by_entity"].get(fact.entity)
        resource = self.state["resources"].get(code)
        if resource is None:
            return
        d, name = fact.data, fact.topic.partition(".")[2]
        resource["positions"].append(fact.position)
        if name in _SAFEGUARD:  # S12 and D2 read since when (projections.rules.folded)
            happened = self._happened.timestamp() if self._happened else self.state["clock_epoch"]
            self._safeguarded(resource, _SAFEGUARD[name], happened or 0.0)
        if name == "OwnerAssigned":
            resource["owner_department"] = d["owner_department"]
        elif name == "ControllerAssigned":
            resource["controller"] = d["controller"]
        elif name == "Reclassified":
            resource["sharing_type"] = d["sharing_type"]
            resource["legal_basis"] = d["legal_basis"]
            resource["share_condition"] = d["share_condition"]
        elif name == "RiskAssessed":
            resource["risk_assessments"].append(d["reference"])
            resource["risk_level"] = d["risk_level"]

    # ------------------------------------------------------------------ calendar

    def _calendar(self, fact: Fact) -> None:
        """docs/facts.md §3: the calendar and time limits in force from ``in_force_from``."""
        d = fact.data
        moment = when(d["in_force_from"])
        assert moment is not None
        self.state["calendars"].append(
            {
                "in_force_from": moment.timestamp(),
                "position": fact.position,
                "years": list(d["years"]),
                "holidays": list(d["holidays"]),
                "adjusted_working_days": list(d["adjusted_working_days"]),
                "response_working_days": dict(d["response_working_days"]),
                "time_limits": dict(d["time_limits"]),
            }
        )

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
            **filing_extras(),
        }
        self._rejudge_above_filed(self.state["filings"][fact.entity])  # F7 of decisions before
        if not d["catalogue_preregistered"]:
            self._finding(
                "F5", fact.entity, "filing", d["builder"], [fact.position],
                fact.position, None,
                f"project {d['name']} filed without catalogue pre-registration "
                f"(filed by {actor['actor_id']})",
            )  # fmt: skip

    def _rectification(self, fact: Fact) -> None:
        kind = audit_suggestion if fact.topic in audit_suggestion.TOPICS else rectification
        kind.fold(self.state, fact)

    def _security_fact(self, fact: Fact) -> None:
        security_facts.fold(self.state, fact)

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
            self._rejudge_funds("filing_id", fact.entity)  # F4/F6 of decisions recorded before

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

    # ------------------------------------------------------------------ accesses

    def access(self, position: int, a: AccessState) -> float:
        """Fold one access (most rows of any ledger: the short path); returns its epoch."""
        self.folding, epoch = position, datetime.fromisoformat(a.accessed_at.data).timestamp()
        state = self.state
        clock = state["clock_epoch"]
        if clock is None or clock < epoch:
            self._advance_clock(epoch, position)
        system_id = a.system
        if system_id:
            system = state["systems"].get(system_id := system_id.replace("-", ""))
            self._system_used(system_id, epoch)  # F8, by business day (rules.fund_sums)
            if system is not None:
                system["access_count"] += 1
                last = system["last_access_epoch"]
                if last is None or last < epoch:
                    system["last_access_epoch"] = epoch
        code = a.resource_code
        resource = state["resources"].get(code)
        reasons: list[str] = a.verdict.data.reasons
        if reasons:
            at = datetime.fromtimestamp(epoch, CST)
            self._access_findings(position, a, resource, reasons, at)
        if resource is not None and a.department != resource["provider_department"]:
            first = state["first_shares"].get(code)
            if first is None or epoch < first[0]:  # S12/D2: the first share only
                self._shared(code, a.department, position, None, epoch)
            if resource.get("personal_items", True) or resource.get("core_items", True):
                self._provided(
                    resource, a.department, a.items, uuid_text(a.grant_id), position, epoch
                )
        self._dated_in_future(position, a, epoch)  # L4 (docs/facts.md §6)
        self._detect(position, a, resource, reasons, epoch)
        return epoch


_SYSTEM = (
    "ConnectionRequirementSet",
    "Connected",
    "MovedOnCloud",
    "MarkedZombie",
    "MergedInto",
    "Decommissioned",
    "MlpsRecorded",
    "DataHoldingsDeclared",
)
_RESOURCE = ("OwnerAssigned", "ControllerAssigned", "Reclassified", "RiskAssessed")
_SAFEGUARD = {"OwnerAssigned": "owner", "ControllerAssigned": "controller",
              "RiskAssessed": "assessment"}  # fmt: skip
_REQUEST = ("Approved", "Rejected", "Revoked", "Expired")
_FILING = ("ArchitectureApproved", "ArchitectureRejected", "Accepted")
