"""The registers folded into the zone's state: departments, systems, resources, calendars.

The handlers of ``projections.zone.ZoneFold`` for the facts that register the zone's
organisation (departments and their CIOs, information systems and their changes), its
catalogue (resources and their owners, controllers, classifications and risk
assessments) and the district calendars in force (docs/facts.md §3). Split from
``projections.zone`` to keep modules of one concern (docs/architecture.md, under 600
lines); as there, the state is plain JSON and a pure function of the ledger's prefix
(docs/projections.md), dated by business time (facts.md §1). The rules these facts
prove are judged in ``projections.rules.folded`` (S12, D2, F1/F2, I7).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projections.facts import Fact, day, uuid_text, when
from projections.fold_core import date_change, name_cio
from projections.rules.provided import ProvidedRules, guarded_items
from projections.rules.rejudged import RejudgedRules, classify

SENSITIVITY_ORDER = ("general", "personal", "sensitive_personal", "important", "core")

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


# A system's or a resource's value changed by facts each dated (docs/facts.md §1): the
# value in force is the one of the change latest in business time, whatever the order
# the changes were recorded in (ties: the later recorded). Each change names its part.
# (A system's status is not among them: the domain takes its steps only forward, active,
# zombie, merged or decommissioned, so recording order is their order.)
_SYSTEM_PART = {
    "ConnectionRequirementSet": "required_to_connect",
    "MlpsRecorded": "mlps",
    "DataHoldingsDeclared": "holdings",
}
_RESOURCE_PART = {
    "OwnerAssigned": "owner",
    "ControllerAssigned": "controller",
    "Reclassified": "classification",
}


def latest_in_business_time(entity: dict[str, Any], part: str, epoch: float) -> bool:
    """Whether a change of ``part`` dated ``epoch`` is the latest in business time of the
    entity's changes of that part folded so far (then remembered: ``in_force_since``).
    A change recorded after a later-dated one is history, not the value in force
    (docs/projections.md §As-of semantics, "By business time")."""
    since = entity.setdefault("in_force_since", {})
    if epoch < since.get(part, float("-inf")):
        return False
    since[part] = epoch
    return True


def calendar_in_force(data: dict[str, Any], position: int) -> dict[str, Any]:
    """A ``DistrictCalendar.Set`` (its stored JSON, decoded) as the projections keep it:
    the zone fold's ``calendars`` and the metrics' follower (projections/ledger_counts.py)
    both, read by projections/rules/calendars.py (docs/facts.md §3)."""
    moment = when(data["in_force_from"])
    assert moment is not None
    return {
        "in_force_from": moment.timestamp(),
        "position": position,
        "years": list(data["years"]),
        "holidays": list(data["holidays"]),
        "adjusted_working_days": list(data["adjusted_working_days"]),
        "response_working_days": dict(data["response_working_days"]),
        "time_limits": dict(data["time_limits"]),
    }


def resource_sensitivity(resource: dict[str, Any]) -> str:
    """The highest grade among a resource's items."""
    grades = {item["sensitivity"] for item in resource["items"]}
    return max(grades, key=SENSITIVITY_ORDER.index) if grades else "general"


class RegistersFold(RejudgedRules, ProvidedRules):
    """Handlers of the register facts, mixed into ``projections.zone.ZoneFold``."""

    def register_handlers(self) -> dict[str, Callable[[Fact], None]]:
        handlers: dict[str, Callable[[Fact], None]] = {
            "Department.Registered": self._department,
            "Department.CioNamed": self._cio,
            "InformationSystem.Registered": self._system,
            "Resource.Registered": self._resource,
            "DistrictCalendar.Set": self._calendar,
        }
        handlers.update({f"InformationSystem.{n}": self._system_change for n in _SYSTEM})
        handlers.update({f"Resource.{n}": self._resource_change for n in _RESOURCE})
        return handlers

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
        part = _SYSTEM_PART.get(name)
        if part is not None and not latest_in_business_time(system, part, self._happened_epoch()):
            return  # dated before the value in force: kept by _system_changed, not applied
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
        # The classifications by business time (security.access judges S1 by them); the
        # registration's is the one in force until a later-dated reclassification.
        classify(resource, self._happened_epoch(), d["sharing_type"])
        latest_in_business_time(resource, "classification", self._happened_epoch())
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
            self._safeguarded(resource, _SAFEGUARD[name], self._happened_epoch())
        if name == "Reclassified":  # every classification, by business time (S1 reads them)
            since = self._happened_epoch()
            classify(resource, since, d["sharing_type"])
            self._rejudge_classified(resource, since)  # S1 of accesses recorded before it
        part = _RESOURCE_PART.get(name)
        if part is not None and not latest_in_business_time(resource, part, self._happened_epoch()):
            return  # dated before the value in force: history, not applied
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
        self.state["calendars"].append(calendar_in_force(fact.data, fact.position))
