"""A person's requests: who read my records, and erasure (issue 19; docs/privacy.md).

个人信息保护法 §44–45 (to know and consult) and §47 (deletion). Both are answered
by the role that handles such requests, the 网信办's security officer, and both
are ledger events: a lookup is a ``PersonalDataView.Recorded`` (the watchers
are watched, naming the subject only by its random key ids), an erasure a
``DataSubject.Erased`` (docs/ledger-format.md §9.1). Neither ever stores the
identifier or its blind index in the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from ledger.commands.base import LedgerBase
from ledger.domain import bounds
from ledger.domain.actor import Actor, Role
from ledger.domain.data_subject import DataSubject
from ledger.domain.errors import DomainError, ErrorCode, require
from ledger.domain.oversight import PersonalDataView
from ledger.subject_requests import SubjectAnswer, erased_key_ids, find_accesses
from ledger.subjects import SubjectVault
from ledger.tree_database import Database

HANDLERS = frozenset({Role.SECURITY_OFFICER})
LOOKUP_VIEW = "subject_accesses"


@dataclass(frozen=True, slots=True)
class Erasure:
    erasure_id: UUID
    key_ids: tuple[str, ...]
    keys_destroyed: int


class SubjectCommands(LedgerBase):
    """``subject_accesses``, ``erase_subject``, ``reapply_erasures``."""

    def close(self) -> None:
        """Close the data subjects' key table connection too (kept on PostgreSQL)."""
        if self.subjects is not None:
            self.subjects.close()
        super().close()

    def _vault(self) -> SubjectVault:
        require(
            self.subjects is not None,
            ErrorCode.SUBJECTS_UNAVAILABLE,
            "no subject index secret is configured (GOVLEDGER_SUBJECT_INDEX_KEY_FILE)",
        )
        assert self.subjects is not None
        return self.subjects

    def subject_accesses(
        self, actor: Actor, identifier: str, start: date, end: date, reference: str = ""
    ) -> SubjectAnswer:
        """Every access to the subject's records in ``start``..``end`` (CST days); the
        lookup itself is recorded first (a refused lookup records nothing)."""
        self._require_role(actor, HANDLERS, "answer a data subject's request")
        vault = self._vault()
        _identifier(identifier)
        require(start <= end, ErrorCode.INVALID_PERIOD, f"period {start}..{end} is empty")
        reference = bounds.text(reference, "reference", required=False) if reference else ""
        with vault.keys() as keys:
            key_ids = [row.key_id for row in keys.rows_of(vault.blind(identifier))]
        subject = ",".join(key_ids) or "unknown"
        target = f"subject keys {subject}; {start.isoformat()}..{end.isoformat()}"
        if reference:
            target += f"; request {reference}"
        self.save(PersonalDataView(actor=actor, view=LOOKUP_VIEW, target=target[:2000],
                                   viewed_at=self.clock()))  # fmt: skip
        return find_accesses(vault, identifier, start, end)

    def erase_subject(
        self, actor: Actor, identifier: str, reason: str, legal_basis: str
    ) -> Erasure:
        """Record the erasure (who, why, under which law), then destroy the subject's keys.

        Event first: a crash between the two leaves an erasure the log re-applies
        (:meth:`reapply_erasures`), never keys destroyed without a record.
        """
        self._require_role(actor, HANDLERS, "erase a data subject's personal data")
        vault = self._vault()
        _identifier(identifier)
        reason = bounds.text(reason, "reason")
        legal_basis = bounds.text(legal_basis, "legal_basis")
        with vault.keys() as keys:
            rows = keys.rows_of(vault.blind(identifier))
            require(bool(rows), ErrorCode.UNKNOWN_SUBJECT, "no access names this subject")
            live = tuple(row.key_id for row in rows if row.key is not None)
            require(bool(live), ErrorCode.SUBJECT_ALREADY_ERASED, "this subject is already erased")
            erasure = DataSubject(
                actor=actor,
                key_ids=live,
                reason=reason,
                legal_basis=legal_basis,
                erased_at=self.clock(),
            )
            self.save(erasure)
            destroyed = keys.erase(live)
        return Erasure(erasure.id, live, destroyed)

    def reapply_erasures(self) -> int:
        """Destroy every key an erasure event names (after restoring a key-table backup);
        the number of keys destroyed now."""
        vault = self._vault()
        database = Database(vault.settings)
        try:
            named = erased_key_ids(database)
        finally:
            database.close()
        with vault.keys() as keys:
            return keys.erase(named)


def _identifier(identifier: str) -> None:
    try:
        bounds.text(identifier, "subject", max_length=bounds.MAX_ID)
    except bounds.BoundsError as e:
        raise DomainError(ErrorCode.INVALID_VALUE, f"subject: {e.problem}") from None
