"""The erasure of a data subject's personal data, as a ledger fact (个人信息保护法 §47).

docs/ledger-format.md §9.1: erasure destroys the subject's keys in the key table
(``ledger/subjects.py``); this event is the erasure log that a restored key table
is brought back in line with (``govledger erase --reapply``). It names the key
ids only (random, never the identifier or its blind index), who erased, why and
under which legal basis.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor


class DataSubject(Aggregate):
    """One erasure: a fresh id each time (a subject named again later may be erased again)."""

    class Erased(Aggregate.Created):
        actor: Actor
        key_ids: tuple[str, ...]
        reason: str
        legal_basis: str
        erased_at: datetime

    @event(Erased)
    def __init__(
        self,
        *,
        actor: Actor,
        key_ids: tuple[str, ...],
        reason: str,
        legal_basis: str,
        erased_at: datetime,
    ) -> None:
        self.actor = actor
        self.key_ids = tuple(key_ids)
        self.reason = reason
        self.legal_basis = legal_basis
        self.erased_at = erased_at
