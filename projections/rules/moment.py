"""Findings that depend on the moment asked about, judged from the zone's state then.

domain.md "Compliance rules": S6 (unanswered past the deadline), S8 (not
shareable without a legal basis), S9 (base items not unconditional), S10
(catalogue metadata gaps), I1 (zombie candidates) and I2 (no MLPS filing); S11,
I3–I6, D3 and S13 in ``projections.rules.obligations``; I7–I10 (from the plan's
declared records) in ``projections.rules.declared``.
Rules proven by one event (S1–S5, S7, S12, P1, D2, F1–F5) are emitted by
``projections.zone`` while folding. Each function returns plain tuples in the
column order of the findings table so both kinds are read alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

from projections import rectification
from projections.facts import CST, stable_id
from projections.rules.calendars import response_due, time_limit
from projections.rules.catalogue import SEVERITY
from projections.rules.declared import (
    classified_unfiled,
    cloud_targets,
    internal_unit_systems,
    self_inspections,
)
from projections.rules.obligations import (
    annual_reports,
    departments_without_cio,
    lapsed_entrustments,
    project_follow_up,
    stale_resources,
    unresolved_objections,
)

State = dict[str, Any]

FindingTuple = tuple[str, str, str, str, str, str | None, str, int, str, str]

# 编制指南 core metadata items checked by S10 (beyond code, name and provider, which
# the ledger refuses to record empty).
CORE_METADATA = ("summary", "format", "publish_date", "update_cycle", "open_type")


def _row(
    rule: str,
    subject: str,
    kind: str,
    department: str | None,
    positions: list[int],
    at: datetime,
    detail: str,
) -> FindingTuple:
    return (
        stable_id(rule, subject),
        rule,
        SEVERITY[rule],
        subject,
        kind,
        department,
        json.dumps(sorted(set(positions))),
        max(positions),
        at.astimezone(CST).isoformat(),
        detail,
    )


def _registered(entity: dict[str, Any], fallback: datetime) -> datetime:
    return (
        datetime.fromisoformat(entity["registered_at"]) if entity.get("registered_at") else fallback
    )


def state_findings(state: State, reference: datetime, zombie_days: int) -> Iterator[FindingTuple]:
    """Every moment-dependent finding of ``state`` at ``reference`` time."""
    yield from _unanswered(state, reference)
    yield from _catalogue(state, reference)
    yield from _systems(state, reference, zombie_days)
    yield from stale_resources(state, reference, _row)
    yield from annual_reports(state, reference, _row)
    yield from project_follow_up(state, reference, _row)
    yield from departments_without_cio(state, reference, _row)
    yield from lapsed_entrustments(state, reference, _row)
    yield from unresolved_objections(state, reference, _row)
    yield from cloud_targets(state, reference, _row)
    yield from internal_unit_systems(state, reference, _row)
    yield from self_inspections(state, reference, _row)
    yield from classified_unfiled(state, reference, _row)
    for subject, department, positions, since, detail in rectification.overdue(state, reference):
        yield _row("R1", subject, "rectification", department, positions, since, detail)


def _unanswered(state: State, reference: datetime) -> Iterator[FindingTuple]:
    """S6: pending after its response deadline (51号 §14), counted in working days of the
    calendar in force at submission (docs/facts.md §5; projections.rules.calendars)."""
    today = reference.astimezone(CST).date()
    for request in state["requests"].values():
        if request["status"] != "pending":
            continue
        due = response_due(state, request)
        if today > due:
            overdue_at = datetime.combine(due + timedelta(days=1), time(), CST)
            yield _row(
                "S6", request["request_id"], "request", request["provider_department"],
                request["positions"], overdue_at,
                f"request for {request['resource_code']} by {request['requester_department']} "
                f"unanswered since {due.isoformat()} (due)",
            )  # fmt: skip


def _catalogue(state: State, reference: datetime) -> Iterator[FindingTuple]:
    """S8 and S9 are dated when the classification in force took effect (the registration
    or a reclassification: what made them due), S10 at the registration."""
    for resource in state["resources"].values():
        code, provider = resource["code"], resource["provider_department"]
        at, positions = _registered(resource, reference), resource["positions"]
        classified = _classified(resource, at)
        sharing = resource["sharing_type"]
        if sharing == "not_shareable" and not (resource["legal_basis"] or "").strip():
            yield _row("S8", code, "resource", provider, positions, classified,
                       f"{code} is not_shareable without a legal basis")  # fmt: skip
        base_items = [i["name"] for i in resource["items"] if i["base_item"]]
        if resource["base_resource"] and base_items and sharing != "unconditional":
            detail = f"base items {base_items} of base resource {code} are {sharing}"
            yield _row("S9", code, "resource", provider, positions, classified, detail)
        missing = [name for name in CORE_METADATA if not resource.get(name)]
        if sharing != "not_shareable" and not resource["share_method"]:
            missing.append("share_method")
        if sharing != "unconditional" and not (resource["share_condition"] or "").strip():
            missing.append("share_condition")
        if missing:
            yield _row("S10", code, "resource", provider, positions, at,
                       f"{code} lacks {', '.join(missing)}")  # fmt: skip


def _classified(resource: dict[str, Any], registered: datetime) -> datetime:
    """When the resource's classification in force took effect (projections.fold_registers
    ``latest_in_business_time``); the registration's time for views folded before it kept one."""
    since = resource.get("in_force_since", {}).get("classification")
    return registered if since is None else datetime.fromtimestamp(since, CST)


def _systems(state: State, reference: datetime, zombie_days: int) -> Iterator[FindingTuple]:
    # I1's idle days: the calendar's time limit in force at the moment asked, else settings.
    zombie_days = time_limit(state, reference, "zombie_idle_days", zombie_days)
    for system in state["systems"].values():
        sid, department, positions = system["system_id"], system["department"], system["positions"]
        registered = _registered(system, reference)
        if system["status"] == "active":
            last = system["last_access_epoch"]
            since = datetime.fromtimestamp(last, CST) if last is not None else registered
            if reference - since >= timedelta(days=zombie_days):
                yield _row(
                    "I1", sid, "system", department, positions,
                    since + timedelta(days=zombie_days),
                    f"{system['name']}: no data access since {since.astimezone(CST):%Y-%m-%d}",
                )  # fmt: skip
        holds = system["holds_personal_data"] or system["holds_important_data"]
        if holds and not system["mlps_filed"] and system["status"] in ("active", "zombie"):
            detail = f"{system['name']} holds personal or important data, no MLPS filing"
            yield _row("I2", sid, "system", department, positions, registered, detail)
