"""Recording the data accesses the exchange platform reports: facts, never refused for
their verdict, in batches of one transaction each (ledger-format §6, §12).

An access dated later than the ledger's clock plus the clock skew is recorded
all the same (the platform's facts are never dropped) and reported back as
dated in the future (docs/facts.md §6).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.commands.sharing import SharingCommands
from ledger.domain.access import AccessReport, AccessVerdict, DataAccess, check_report
from ledger.domain.access_state import AccessStateWriter, Entry
from ledger.domain.actor import Actor, Role
from ledger.domain.errors import ErrorCode, require
from ledger.domain.ids import data_access_id
from ledger.errors import ChainWriteError


@dataclass(frozen=True, slots=True)
class AccessBatchResult:
    """Ids recorded by this call, and ids that were already in the ledger (or repeated).

    ``in_future``: the ids whose ``accessed_at`` was later than the ledger's clock
    plus the clock skew when the batch came in (recorded or not, in order given).
    """

    recorded: tuple[UUID, ...]
    already_recorded: tuple[UUID, ...]
    ids: tuple[UUID, ...] = ()  # the id of every entry, in the order given
    in_future: tuple[UUID, ...] = ()


class AccessCommands(SharingCommands):
    """``record_access(es)`` and reading one access back."""

    def access(self, platform_event_id: str) -> DataAccess:
        access_id = data_access_id(platform_event_id)
        return self._load(DataAccess, access_id, ErrorCode.UNKNOWN_ACCESS)

    def record_access(self, actor: Actor, report: AccessReport, verdict: AccessVerdict) -> UUID:
        """Record one reported access (idempotent); returns its id, new or not."""
        self.record_accesses(actor, [(report, verdict)])
        return data_access_id(report.platform_event_id)

    def record_accesses(
        self, actor: Actor, entries: Iterable[tuple[AccessReport, AccessVerdict]]
    ) -> AccessBatchResult:
        """Record a batch of accesses in ONE save (one transaction), idempotently.

        Accesses are facts: never refused for their verdict, only when malformed
        or dated before the earliest business time (then the whole batch is
        refused, nothing saved). Ids are uuid5 of the platform event id, so a
        retry maps to the same ids; ids already stored are skipped. On the
        chained stores (SQLite, PostgreSQL) the check runs inside the insert's
        transaction, under the head's serialisation. Elsewhere (the in-memory
        store), if a concurrent writer stores one of our ids between the check
        and the save, the recorder raises ``IntegrityError`` on (originator_id,
        version 1), the transaction rolls back whole, and we re-check and save
        the rest again (``ChainWriteError`` after
        ``duplicate_retries`` lost races in a row).
        """
        self._require_role(actor, {Role.EXCHANGE_PLATFORM}, "record data accesses")
        earliest = self.time_bounds.earliest
        latest = self.clock() + self.time_bounds.clock_skew
        ids: list[UUID] = []
        in_future: list[UUID] = []
        first: dict[str, UUID] = {}  # by platform event id: a str hashes in C, a UUID in Python
        unique: list[Entry] = []
        repeated: list[UUID] = []
        plain = True  # every report of built-in types: the writer need not check again
        seen: set[tuple[object, ...]] = set()  # what repeats across the batch, once checked
        named: list[tuple[UUID, tuple[str, ...]]] = []  # accesses naming data subjects
        for report, verdict in entries:  # one pass: checks, ids, repeats and the future
            plain = check_report(report, seen) and plain
            moment = report.accessed_at
            if moment < earliest:
                self.time_bounds.check_past(moment, "accessed_at")  # raises
            key = report.platform_event_id
            access_id = first.get(key)
            if access_id is None:
                access_id = first[key] = data_access_id(key)
                unique.append((access_id, report, verdict))
                if report.subjects:
                    named.append((access_id, report.subjects))
            else:
                repeated.append(access_id)
            ids.append(access_id)
            if moment > latest:
                in_future.append(access_id)
        writer = AccessStateWriter(self.mapper, actor, plain=plain)
        if named:
            writer.sealed = self._sealed_subjects(named)
        for _attempt in range(self.duplicate_retries + 1):
            try:
                existing = self._save_new_accesses(writer, unique)
            except IntegrityError:
                continue  # lost a race on some id: re-check, then save the rest
            if not existing:  # the usual batch: all of it new, no id hashed to find out
                recorded = tuple(access_id for access_id, _, _ in unique)
                return AccessBatchResult(recorded, tuple(repeated), tuple(ids), tuple(in_future))
            recorded = tuple(i for i, _, _ in unique if i not in existing)
            stored = tuple(i for i, _, _ in unique if i in existing)
            return AccessBatchResult(
                recorded, stored + tuple(repeated), tuple(ids), tuple(in_future)
            )
        raise ChainWriteError(
            f"access batch still colliding after {self.duplicate_retries} retries"
        )

    def _sealed_subjects(self, named: list[tuple[UUID, tuple[str, ...]]]) -> dict[UUID, Any]:
        """The sealed ``subjects`` of these accesses (ledger-format §9.1): keys are created
        first, in their own transaction, so no stored access names a key never stored."""
        require(
            self.subjects is not None,
            ErrorCode.SUBJECTS_UNAVAILABLE,
            "accesses name data subjects, but no subject index secret is configured "
            "(GOVLEDGER_SUBJECT_INDEX_KEY_FILE, docs/privacy.md)",
        )
        assert self.subjects is not None
        return self.subjects.seal_batch(named)

    def _save_new_accesses(self, writer: AccessStateWriter, unique: list[Entry]) -> set[UUID]:
        """Store, in one transaction, the accesses not stored yet; return the ids that were.

        Stored events are built directly (ledger/domain/access_state.py).
        """
        insert_new = getattr(self.recorder, "insert_new_aggregates", None)
        if insert_new is not None:
            # The chained stores check existence inside the insert's transaction, under
            # the write lock (PostgreSQL: in the insert statement itself).
            found: set[UUID] = insert_new(writer.stored_batch(unique)).existing
            return found
        existing = self._existing([access_id for access_id, _, _ in unique])
        fresh = [entry for entry in unique if entry[0] not in existing] if existing else unique
        if fresh:
            self.recorder.insert_events(writer.stored_batch(fresh))
        return existing
