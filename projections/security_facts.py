"""The facts of 《网络数据安全管理条例》 第三十三条 folded for the risk report (docs/facts.md §10).

Each declaration (网络数据安全负责人 of a department or the zone, a resource's
storage, a system's technical measures) is kept in the plain-JSON zone state under
its subject with its business time and position; :func:`as_of` answers, for each
subject, the latest declaration dated at or before the moment (a later one
supersedes; one dated after the moment is not yet a fact then). A subject with no
declaration is absent, and the report says 未记录 for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.facts import Fact, uuid_text, when

TOPICS = ("SecurityLead.Appointed", "ResourceStorage.Declared", "SystemMeasures.Declared")
_FIELDS = {
    "SecurityLead.Appointed": ("leads", "scope", "appointed_at", ("name", "contact")),
    "ResourceStorage.Declared": (
        "storage",
        "resource_code",
        "declared_at",
        ("storage_period", "storage_location"),
    ),
    "SystemMeasures.Declared": ("measures", "system_id", "declared_at", ("measures",)),
}
State = dict[str, Any]


def fold(state: State, fact: Fact) -> None:
    """Apply one declaration to the zone state (plain JSON, snapshot-safe)."""
    group, subject_key, time_key, kept = _FIELDS[fact.topic]
    d = fact.data
    at = when(d[time_key])
    assert at is not None
    entry = {k: d[k] for k in kept}
    entry.update(reference=d["reference"], at=at.timestamp(), position=fact.position)
    kept_by = state.setdefault("security_facts", {}).setdefault(group, {})
    subject = uuid_text(d[subject_key]) if subject_key == "system_id" else d[subject_key]
    kept_by.setdefault(str(subject), []).append(entry)


@dataclass(frozen=True)
class Declaration:
    """The declaration in force for one subject: its fields, reference and position."""

    fields: Mapping[str, Any]
    reference: str
    position: int


@dataclass(frozen=True)
class SecurityFacts:
    """Per subject, the declaration in force: leads by scope (department code or
    ``zone``), storage by resource code, measures by system id (32 hex digits, as the
    zone keys systems)."""

    leads: Mapping[str, Declaration]
    storage: Mapping[str, Declaration]
    measures: Mapping[str, Declaration]


def as_of(state: State, moment: datetime) -> SecurityFacts:
    """The latest declaration of each subject dated at or before ``moment``."""
    kept = state.get("security_facts", {})
    limit = moment.timestamp()

    def latest(group: str) -> dict[str, Declaration]:
        found: dict[str, Declaration] = {}
        for subject, entries in kept.get(group, {}).items():
            dated = [e for e in entries if e["at"] <= limit]
            if dated:
                e = max(dated, key=lambda e: (e["at"], e["position"]))
                fields = {k: v for k, v in e.items() if k not in ("reference", "at", "position")}
                found[subject] = Declaration(fields, e["reference"], e["position"])
        return found

    return SecurityFacts(latest("leads"), latest("storage"), latest("measures"))
