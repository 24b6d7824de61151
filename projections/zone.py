"""The zone's state folded from the ledger, and what the fold finds on the way.

``ZoneFold`` applies facts in position order to a plain-JSON state (departments,
systems, resources, requests, filings, fund decisions, the domain clock and the
anomaly detector). The state is a pure function of the prefix of the ledger it
has seen, which is what makes snapshots, as-of answers and "rebuild equals
incremental" possible (docs/projections.md).

While folding it emits rows for findings that an event proves at the moment
it happens (S1–S5, S7, S12, P1, D2, F1–F5: domain.md "Compliance rules") and
for anomalies (domain.md "Anomalies"); rules that depend on the moment asked
about (S6, S8–S10, I1, I2) are judged at query time in ``projections.rules``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from ledger.config import Settings
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
from projections.rules.catalogue import SEVERITY

State = dict[str, Any]
FindingRow = tuple[str, str, str, str, str, str | None, str, int, str, str]
AnomalyRow = tuple[str, str, float, str, str, str | None, str, int, str, str]
ReviewRow = tuple[int, str, str, str, str, str]
EVIDENCE_CAP = 50  # positions kept per volume anomaly; the count says how many there were
# Fields of a volume record (a list: see ZoneFold._volume).
FIRST, DAY, COUNT, POSITIONS, HISTORY, THRESHOLD, MEAN, RAISED = range(8)

# AccessReason value -> rule (severities: projections.rules.catalogue). PURPOSE_MISMATCH
# is P1 on sensitive items.
ACCESS_RULES: dict[str, str] = {
    "resource_not_shareable": "S1",
    "no_grant": "S2",
    "grant_expired": "S2",
    "grant_revoked": "S2",
    "items_beyond_grant": "S3",
    "purpose_mismatch": "S4",
    "unknown_resource": "S5",
}
SENSITIVITY_ORDER = ("general", "personal", "sensitive_personal", "important", "core")


@dataclass(frozen=True)
class Rules:
    """Thresholds of the fold, from Settings (docs/configuration.md)."""

    work_start_hour: int = 8
    work_end_hour: int = 20
    burst_count: int = 5
    burst_minutes: int = 60
    baseline_days: int = 28
    baseline_min_days: int = 7
    volume_factor: int = 3
    volume_min: int = 30
    first_access_warmup_days: int = 14

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            work_start_hour=settings.anomaly_work_start_hour,
            work_end_hour=settings.anomaly_work_end_hour,
            burst_count=settings.anomaly_burst_count,
            burst_minutes=settings.anomaly_burst_minutes,
            baseline_days=settings.anomaly_baseline_days,
            baseline_min_days=settings.anomaly_baseline_min_days,
            volume_factor=settings.anomaly_volume_factor,
            volume_min=settings.anomaly_volume_min,
            first_access_warmup_days=settings.anomaly_first_access_warmup_days,
        )


def positions_text(positions: list[int]) -> str:
    """Evidence positions as ``json.dumps`` writes a sorted list of ints, without its cost."""
    return "[" + ", ".join(map(str, sorted(set(positions)))) + "]"


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
        "shared_flagged": [],  # resource codes already found under S12 / D2 (once each)
        "detector": {"actors": {}, "resources": {}, "pairs": [], "refused": {}},
    }


def dump_state(state: State) -> bytes:
    return orjson.dumps(state)


def load_state(blob: bytes) -> State:
    loaded: State = orjson.loads(blob)
    return loaded


def resource_sensitivity(resource: dict[str, Any]) -> str:
    """The highest grade among a resource's items."""
    grades = {item["sensitivity"] for item in resource["items"]}
    return max(grades, key=SENSITIVITY_ORDER.index) if grades else "general"


class ZoneFold:
    """Applies facts to a state; collects the rows the facts prove when ``emit`` is on."""

    def __init__(self, rules: Rules, state: State | None = None) -> None:
        self.rules = rules
        self.state = state if state is not None else empty_state()
        self.emit = True
        self.findings: list[FindingRow] = []
        self.anomalies: list[AnomalyRow] = []
        self.reviews: list[ReviewRow] = []
        self.clock_days: list[tuple[str, int]] = []
        self.state.setdefault("calendars", [])  # a snapshot from before calendars
        self._flagged = set(self.state["shared_flagged"])
        # The business time of the fact being applied (docs/facts.md §1).
        self._happened: datetime | None = None
        # (department, resource code) -> request ids: the grants S3 checks a lapsed
        # access against. A cache: rebuilt from the state when None.
        self._by_user: dict[tuple[str, str], list[str]] | None = None
        self._lapsed_id: str | None = None
        self._pairs = set(self.state["detector"]["pairs"])
        # Resource codes whose S12 and D2 are settled (found, or impossible) until the
        # resource changes: the accesses that share them skip _shared. A cache only:
        # it is rebuilt from the state, so a reloaded fold finds the same.
        self._quiet: set[str] = set()
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

    # ------------------------------------------------------------------ driving

    def apply(self, fact: Fact) -> float | None:
        """Fold one fact; returns its domain time (epoch seconds) if it has one."""
        if fact.topic == ACCESS:  # the runner folds accesses with ``access`` directly
            return self.access(fact.position, access_state(fact.data))
        happened = domain_time(fact)
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
        self.state["shared_flagged"] = sorted(self._flagged)
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

    # ------------------------------------------------------------------ outputs

    def _finding(
        self,
        rule: str,
        subject: str,
        kind: str,
        department: str | None,
        positions: list[int],
        position: int,
        at: datetime | None,
        detail: str,
    ) -> None:
        if not self.emit:
            return
        self.findings.append(
            (
                stable_id(rule, subject),
                rule,
                SEVERITY[rule],
                subject,
                kind,
                department,
                positions_text(positions),
                position,
                (at or datetime.fromtimestamp(self.state["clock_epoch"] or 0.0, CST))
                .astimezone(CST)
                .isoformat(),
                detail,
            )
        )

    def _anomaly(
        self,
        kind: str,
        key: str,
        score: float,
        subject: str,
        department: str | None,
        positions: list[int],
        position: int,
        at: datetime,
        detail: str,
    ) -> None:
        if not self.emit:
            return
        score = round(min(max(score, 0.0), 1.0), 3)
        severity = "high" if score >= 0.8 else "medium" if score >= 0.5 else "low"
        self.anomalies.append(
            (
                stable_id(kind, key),
                kind,
                score,
                severity,
                subject,
                department,
                positions_text(positions),
                position,
                at.astimezone(CST).isoformat(),
                detail,
            )
        )

    # ------------------------------------------------------------------ organisation

    def _department(self, fact: Fact) -> None:
        d = fact.data
        self.state["departments"][d["code"]] = {
            "code": d["code"],
            "name": d["name"],
            "cio_name": None,
            "position": fact.position,
        }
        self.state["department_by_entity"][fact.entity] = d["code"]

    def _cio(self, fact: Fact) -> None:
        code = self.state["department_by_entity"].get(fact.entity)
        if code in self.state["departments"]:
            self.state["departments"][code]["cio_name"] = fact.data["cio_name"]

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
        resource["sensitive_personal"] = sorted(
            i["name"] for i in resource["items"] if i["sensitivity"] == "sensitive_personal"
        )
        self.state["resources"][d["code"]] = resource
        self.state["resource_by_entity"][fact.entity] = d["code"]
        self._quiet.discard(d["code"])

    def _resource_change(self, fact: Fact) -> None:
        code = self.state["resource_by_entity"].get(fact.entity)
        resource = self.state["resources"].get(code)
        if resource is None:
            return
        self._quiet.discard(resource["code"])
        d, name = fact.data, fact.topic.partition(".")[2]
        resource["positions"].append(fact.position)
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

    def _shared(
        self,
        code: str,
        department: str,
        position: int,
        at: datetime | None,
        epoch: float | None = None,
    ) -> None:
        """S12 and D2: a resource shared (grant approved, access served) without its safeguards."""
        resource = self.state["resources"].get(code)
        if resource is None or department == resource["provider_department"]:
            return
        # After this call S12 is found or impossible, and so is D2 (found, assessed, or
        # no important items): nothing more to find for the code until the resource changes.
        self._quiet.add(code)
        if resource["owner_department"] and resource["controller"] and resource["risk_assessments"]:
            return  # neither S12 nor D2 can hold
        if ("S12:" + code) in self._flagged and ("D2:" + code) in self._flagged:
            return
        if at is None and epoch is not None:
            at = datetime.fromtimestamp(epoch, CST)
        evidence = [*resource["positions"], position]
        if "S12:" + code not in self._flagged and (
            not resource["owner_department"]
            or not resource["controller"]
            or not resource["risk_assessments"]
        ):
            self._flagged.add("S12:" + code)
            missing = [
                name
                for name, ok in (
                    ("owner", resource["owner_department"]),
                    ("controller", resource["controller"]),
                    ("risk assessment", resource["risk_assessments"]),
                )
                if not ok
            ]
            self._finding(
                "S12", code, "resource", resource["provider_department"], evidence,
                position, at, f"{code} shared with {department} without {', '.join(missing)}",
            )  # fmt: skip
        important = any(i["sensitivity"] == "important" for i in resource["items"])
        if important and not resource["risk_assessments"] and "D2:" + code not in self._flagged:
            self._flagged.add("D2:" + code)
            self._finding(
                "D2", code, "resource", resource["provider_department"], evidence,
                position, at, f"important data of {code} shared before any risk assessment",
            )  # fmt: skip

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
            self._shared(
                request["resource_code"],
                request["requester_department"],
                fact.position,
                when(d["decided_at"]),
            )
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
        }
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
        if name == "ArchitectureApproved":
            filing["status"] = "approved"
            filing["architecture_review"] = fact.data["architecture_review"]
        elif name == "ArchitectureRejected":
            filing["status"] = "rejected"
            filing["architecture_review"] = fact.data["architecture_review"]
        elif name == "Accepted":
            filing["status"] = "accepted"

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

    def _fund_rules(self, decision: dict[str, Any], position: int, at: datetime | None) -> None:
        """F1–F4 against the state at the decision (seed §三(三)12, §三(一)3, §三(五)17)."""
        subject, department = decision["decision_id"], decision["department"]
        amount = f"{decision['amount_fen'] / 100:,.2f} yuan {decision['kind']}"
        system = self.state["systems"].get(decision["system_id"] or "")
        if system is not None:
            evidence = [*system["positions"], position]
            if (
                decision["kind"] == "om_funds"
                and system["required_to_connect"]
                and not system["connected"]
            ):
                self._finding(
                    "F1", subject, "fund_decision", department, evidence, position, at,
                    f"{amount} granted to {system['name']}, required to connect but not connected",
                )  # fmt: skip
            if system["status"] in ("zombie", "decommissioned"):
                self._finding(
                    "F2", subject, "fund_decision", department, evidence, position, at,
                    f"{amount} granted to {system['name']} in state {system['status']}",
                )  # fmt: skip
        filing = self.state["filings"].get(decision["filing_id"] or "")
        # F3: funds for a project that no filing on record covers. A decision that names
        # a project (or names nothing) needs one; O&M funds for a system alone do not.
        if filing is None and (decision["project_name"] or system is None):
            self._finding(
                "F3", subject, "fund_decision", department, [position], position, at,
                f"{amount} granted to project {decision['project_name']!r} with no filing",
            )  # fmt: skip
        if filing is not None and filing["status"] == "rejected":
            self._finding(
                "F4", subject, "fund_decision", department,
                [*filing["positions"], position], position, at,
                f"{amount} granted to {filing['name']}, whose architecture review was rejected",
            )  # fmt: skip

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
        epoch = datetime.fromisoformat(a.accessed_at.data).timestamp()
        state = self.state
        clock = state["clock_epoch"]
        if clock is None or clock < epoch:
            self._advance_clock(epoch, position)
        system_id = a.system
        if system_id:
            system = state["systems"].get(system_id.replace("-", ""))
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
        if (
            resource is not None
            and code not in self._quiet
            and a.department != resource["provider_department"]
        ):
            self._shared(code, a.department, position, None, epoch)
        self._detect(position, a, resource, reasons, epoch)
        return epoch

    def _grant_positions(self, grant_id: Any) -> list[int]:
        request = self.state["requests"].get(uuid_text(grant_id) or "")
        return list(request["positions"]) if request else []

    def _access_findings(
        self,
        position: int,
        a: AccessState,
        resource: dict[str, Any] | None,
        reasons: list[str],
        at: datetime,
    ) -> None:
        evidence = [position, *self._grant_positions(a.grant_id)]
        sensitive = set(resource["sensitive_personal"]) if resource else set()
        found: dict[str, list[str]] = {}
        beyond = self._beyond_lapsed_grant(a, reasons)
        if beyond is not None:
            found["S3"] = [f"items_beyond_grant ({', '.join(beyond)} never granted)"]
            evidence.extend(self._grant_positions(self._lapsed_id))
        for reason in reasons:
            rule = ACCESS_RULES[reason]
            if reason == "purpose_mismatch" and sensitive & set(a.items):
                rule = "P1"
            found.setdefault(rule, []).append(reason)
        for rule, why in found.items():
            self._finding(
                rule, a.platform_event_id, "access", a.department, evidence,
                position, at,
                f"{a.accessor_id} ({a.department}) read {a.resource_code}: " + ", ".join(why),
            )  # fmt: skip

    def _beyond_lapsed_grant(self, a: AccessState, reasons: list[str]) -> list[str] | None:
        """S3 on an access under a grant no longer in force (S2: expired or revoked):
        the items it read that the grant never gave (domain.md S2 and S3 both hold)."""
        if "items_beyond_grant" in reasons or not (
            "grant_expired" in reasons or "grant_revoked" in reasons
        ):
            return None
        lapsed = self._lapsed_grant(a)
        if lapsed is None:
            return None
        self._lapsed_id = lapsed["request_id"]
        beyond = sorted(set(a.items) - set(lapsed["granted_items"]))
        return beyond or None

    def _lapsed_grant(self, a: AccessState) -> dict[str, Any] | None:
        """The grant the S2 verdict names: the quoted one if it is this department's for
        this resource, else theirs that ended last before the access (security.access)."""
        requests = self.state["requests"]
        user = (a.department, a.resource_code)
        quoted = requests.get(uuid_text(a.grant_id) or "")
        if quoted is not None:
            ok = (quoted["requester_department"], quoted["resource_code"]) == user
            return quoted if ok and quoted["expires_at"] else None
        if self._by_user is None:
            self._by_user = {}
            for request_id, r in requests.items():
                key = (r["requester_department"], r["resource_code"])
                self._by_user.setdefault(key, []).append(request_id)
        accessed = datetime.fromisoformat(a.accessed_at.data)
        ended: list[tuple[datetime, dict[str, Any]]] = []
        for request_id in self._by_user.get(user, ()):
            r = requests[request_id]
            if not r["expires_at"]:
                continue
            end = datetime.fromisoformat(r["expires_at"])
            if r["revoked_at"]:
                end = min(end, datetime.fromisoformat(r["revoked_at"]))
            if end <= accessed:
                ended.append((end, r))
        return max(ended, key=lambda pair: pair[0])[1] if ended else None

    # ------------------------------------------------------------------ anomaly detection

    def _detect(
        self,
        position: int,
        a: AccessState,
        resource: dict[str, Any] | None,
        reasons: list[str],
        epoch: float,
    ) -> None:
        local_seconds = epoch + CST_OFFSET_SECONDS
        today = int(local_seconds // 86400)
        accessor, department = a.accessor_id, a.department
        rules = self.rules
        sensitive: Set[str] = _NONE
        if resource is not None and resource["sensitive_personal"]:
            sensitive = set(resource["sensitive_personal"]).intersection(a.items)
            hour = (local_seconds % 86400) / 3600
            if sensitive and not rules.work_start_hour <= hour < rules.work_end_hour:
                self._off_hours(a, position, epoch, hour, sensitive)
        if reasons:
            self._flagged_access(a, reasons, position, epoch)
        detector = self.state["detector"]
        actor = self._volume(detector["actors"], accessor, today, position)
        if actor is not None:
            self._volume_anomaly("actor_volume", accessor, department, actor, position, epoch)
        by_resource = self._volume(detector["resources"], a.resource_code, today, position)
        if by_resource is not None:
            self._volume_anomaly(
                "resource_volume", a.resource_code, None, by_resource, position, epoch
            )
        if sensitive and resource is not None:
            self._first_access(accessor, department, resource, today, position, epoch)

    def _flagged_access(
        self, a: AccessState, reasons: list[str], position: int, epoch: float
    ) -> None:
        """Rule-based anomalies of a refused access, and the burst it may complete."""
        accessor, department, event_id = a.accessor_id, a.department, a.platform_event_id
        at = datetime.fromtimestamp(epoch, CST)
        evidence = [position, *self._grant_positions(a.grant_id)]
        for reason, kind, score, what in (
            ("grant_revoked", "after_revocation", 0.9, "on a revoked grant"),
            ("grant_expired", "after_expiry", 0.6, "on an expired grant"),
            ("items_beyond_grant", "items_beyond_grant", 0.8, "beyond the grant's items"),
        ):
            if reason in reasons:
                self._anomaly(
                    kind, event_id, score, accessor, department, evidence, position, at,
                    f"{accessor} read {a.resource_code} {what}",
                )  # fmt: skip
        self._burst(accessor, department, position, epoch)

    def _off_hours(
        self, a: AccessState, position: int, epoch: float, hour: float, items: Set[str]
    ) -> None:
        start, end = self.rules.work_start_hour, self.rules.work_end_hour
        outside = start - hour if hour < start else hour - end
        at = datetime.fromtimestamp(epoch, CST)
        self._anomaly(
            "off_hours_sensitive", a.platform_event_id, 0.5 + 0.5 * min(outside / 6, 1.0),
            a.accessor_id, a.department, [position], position, at,
            f"{a.accessor_id} read sensitive personal items {sorted(items)} "
            f"at {at:%H:%M} CST",
        )  # fmt: skip

    def _burst(self, accessor: str, department: str, position: int, epoch: float) -> None:
        """domain.md: bursts of refused or flagged accesses by one accessor."""
        window = self.state["detector"]["refused"].setdefault(accessor, [])
        window.append([epoch, position])
        horizon = epoch - self.rules.burst_minutes * 60
        window[:] = [entry for entry in window if entry[0] > horizon]
        if len(window) >= self.rules.burst_count:
            positions = [int(p) for _, p in window]
            self._anomaly(
                "refused_burst", f"{accessor}|{positions[0]}",
                min(1.0, 0.5 + len(window) / (4 * self.rules.burst_count)), accessor,
                department, positions, position, datetime.fromtimestamp(epoch, CST),
                f"{len(window)} flagged accesses by {accessor} within "
                f"{self.rules.burst_minutes} minutes",
            )  # fmt: skip
            window.clear()

    def _volume(
        self, records: dict[str, list[Any]], key: str, today: int, position: int
    ) -> list[Any] | None:
        """Count today's volume; return the record when it has just crossed its threshold.

        A record is a list (cheap to update, JSON in snapshots): first day, current day,
        count, evidence positions, history of [day, count] pairs, threshold, mean,
        raised. The threshold is at least ``volume_min``, so it is computed only when a
        day reaches that many, from the ``baseline_days`` before it: cheap for the many
        quiet accessors.
        """
        record = records.get(key)
        if record is None:
            record = records[key] = [today, today, 0, [], [], None, 0.0, False]
        elif today != record[DAY]:
            if today < record[DAY]:  # a late report: counted in its day, judged no more
                history = record[HISTORY]
                # Late reports of one day in a row count in one pair: the baseline sums
                # counts per day, and the history stays days long, not reports long.
                if history and history[-1][0] == today:
                    history[-1][1] += 1
                else:
                    history.append([today, 1])
                return None
            self._close_day(record, today)
        count = record[COUNT] = record[COUNT] + 1
        positions = record[POSITIONS]
        if len(positions) < EVIDENCE_CAP:
            positions.append(position)
        if count < self._volume_min or record[RAISED]:
            return None
        if record[THRESHOLD] is None:
            record[THRESHOLD] = self._threshold(record)
        if count >= record[THRESHOLD]:
            record[RAISED] = True
            return record
        return None

    def _close_day(self, record: list[Any], today: int) -> None:
        history = record[HISTORY]
        history.append([record[DAY], record[COUNT]])
        if len(history) > 2 * self.rules.baseline_days:
            horizon = today - self.rules.baseline_days
            record[HISTORY] = [pair for pair in history if pair[0] >= horizon]
        record[DAY], record[COUNT], record[POSITIONS] = today, 0, []
        record[THRESHOLD], record[RAISED] = None, False

    def _threshold(self, record: list[Any]) -> float:
        """``volume_factor`` x the mean daily volume of the baseline window before today."""
        today = record[DAY]
        known_days = today - record[FIRST]
        if known_days < self.rules.baseline_min_days:
            return math.inf
        horizon = today - self.rules.baseline_days
        total = sum(count for day, count in record[HISTORY] if horizon <= day < today)
        mean = total / min(known_days, self.rules.baseline_days)
        record[MEAN] = mean
        return float(max(self.rules.volume_min, math.ceil(self.rules.volume_factor * mean)))

    def _volume_anomaly(
        self,
        kind: str,
        subject: str,
        department: str | None,
        record: list[Any],
        position: int,
        epoch: float,
    ) -> None:
        mean, count = record[MEAN], record[COUNT]
        day = day_text(record[DAY])
        self._anomaly(
            kind, f"{subject}|{day}", 1 - mean / count, subject, department,
            record[POSITIONS], position, datetime.fromtimestamp(epoch, CST),
            f"{subject}: {count} accesses on {day} against a daily mean of {mean:.1f}",
        )  # fmt: skip

    def _first_access(
        self,
        accessor: str,
        department: str,
        resource: dict[str, Any],
        today: int,
        position: int,
        epoch: float,
    ) -> None:
        pair = f"{accessor}|{resource['code']}"
        if pair in self._pairs:
            return
        self._pairs.add(pair)
        actor = self.state["detector"]["actors"].get(accessor)
        if actor is not None and today - actor[FIRST] >= self.rules.first_access_warmup_days:
            self._anomaly(
                "first_sensitive_access", pair, 0.3, accessor, department, [position], position,
                datetime.fromtimestamp(epoch, CST),
                f"first access by {accessor} to {resource['code']} ({resource['sensitivity']})",
            )  # fmt: skip


CST_OFFSET_SECONDS = 8 * 3600
_NONE: frozenset[str] = frozenset()


def local_day_number(epoch: float) -> int:
    """Days since 1970-01-01 in China Standard Time."""
    return int((epoch + CST_OFFSET_SECONDS) // 86400)


@lru_cache(maxsize=4096)
def day_text(number: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=number)).isoformat()


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
_REQUEST = ("Approved", "Rejected", "Revoked", "Expired")
_FILING = ("ArchitectureApproved", "ArchitectureRejected", "Accepted")
