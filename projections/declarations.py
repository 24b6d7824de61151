"""Declared records folded for the rules, views and reports (docs/facts.md §11).

Each ``Declaration.Declared`` (ledger/domain/declarations.py) is kept in the
plain-JSON zone state under its kind and subject with its content, reference,
business time and position; :func:`in_force` answers, per subject, the latest
declaration dated at or before a moment (a later one supersedes; one dated after
the moment is not a fact yet). A subject with none is absent: the rules read it as
the plan's default (a system under no 处室, not classified, data and services not on
the cloud) and the reports print 未记录.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.facts import Fact, when

TOPIC = "Declaration.Declared"
State = dict[str, Any]


def fold(state: State, fact: Fact) -> None:
    """Apply one declaration to the zone state."""
    d = fact.data
    at = when(d["declared_at"])
    assert at is not None
    entry = {
        "content": dict(d["content"]),
        "reference": d["reference"],
        "evidence": d.get("evidence", ""),
        "at": at.timestamp(),
        "position": fact.position,
    }
    kinds = state.setdefault("declarations", {})
    kinds.setdefault(d["kind"], {}).setdefault(str(d["subject"]), []).append(entry)


@dataclass(frozen=True)
class Declared:
    """The declaration in force for one subject."""

    content: Mapping[str, Any]
    reference: str
    evidence: str
    at: float  # business time, epoch seconds
    position: int

    @property
    def positions(self) -> list[int]:
        return [self.position]


def in_force(state: State, kind: str, moment: datetime) -> dict[str, Declared]:
    """Per subject of ``kind`` (a system's id as 32 hex digits, a department or resource
    code), the latest declaration dated at or before ``moment``."""
    limit = moment.timestamp()
    found: dict[str, Declared] = {}
    for subject, entries in state.get("declarations", {}).get(kind, {}).items():
        dated = [e for e in entries if e["at"] <= limit]
        if dated:
            e = max(dated, key=lambda e: (e["at"], e["position"]))
            found[subject] = Declared(
                e["content"], e["reference"], e["evidence"], e["at"], e["position"]
            )
    return found


def first_dated(state: State, kind: str, subject: str) -> Declared | None:
    """The earliest declaration of ``kind`` about ``subject`` by business time, if any."""
    entries = state.get("declarations", {}).get(kind, {}).get(subject, [])
    if not entries:
        return None
    e = min(entries, key=lambda e: (e["at"], e["position"]))
    return Declared(e["content"], e["reference"], e["evidence"], e["at"], e["position"])
