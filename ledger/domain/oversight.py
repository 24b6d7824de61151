"""Reads of personal data are themselves recorded: the watchers are watched.

GB/T 22239-2019 8.1.4.3 asks that audit cover every user; an auditor or
security officer who opens a view naming who read which citizen's records
leaves a ledger event too.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor


class PersonalDataView(Aggregate):
    """One opening of a view that carries personal data."""

    class Recorded(Aggregate.Created):
        actor: Actor
        view: str
        target: str
        viewed_at: datetime

    @event(Recorded)
    def __init__(self, *, actor: Actor, view: str, target: str, viewed_at: datetime) -> None:
        self.actor = actor
        self.view = view
        self.target = target
        self.viewed_at = viewed_at
