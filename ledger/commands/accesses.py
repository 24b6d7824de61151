"""Recording the data accesses the exchange platform reports: facts, never refused for
their verdict, in batches of one transaction each (ledger-format §6, §12).

Each batch is checked, given its ids and written as stored events in one pass,
a chunk at a time; the chained stores take the chunks into the batch's one
transaction as they are built (issue 20: the database's half and the service's
half of a batch overlap instead of taking turns).

An access dated later than the ledger's clock plus the clock skew is recorded
all the same (the platform's facts are never dropped) and reported back as
dated in the future (docs/facts.md §6).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.commands.sharing import SharingCommands
from ledger.domain.access import AccessReport, AccessVerdict, DataAccess, check_report
from ledger.domain.access_state import AccessStateWriter, Entry
from ledger.domain.actor import Actor, Role
from ledger.domain.errors import ErrorCode, require
from ledger.domain.ids import data_access_id
from ledger.errors import ChainWriteError
from ledger.gc_pause import collector_paused

# Accesses built and sent to the store at a time (the chained stores stream the chunks of a
# batch, ledger/store/postgres_stream.py, sqlite_stream.py): small enough that the database
# starts early, large enough that a chunk's statement costs little beside its rows.
STREAM_CHUNK = 250


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
        retry maps to the same ids; ids already stored are skipped
        (:meth:`_save_new_accesses`). One pass over the batch checks each report,
        derives its id and builds its stored event, a chunk at a time; the chained
        stores take each chunk as it is built, so the database inserts one while the
        next is being built (ledger/store/postgres_stream.py, sqlite_stream.py), still
        in one transaction.
        """
        self._require_role(actor, {Role.EXCHANGE_PLATFORM}, "record data accesses")
        with collector_paused():  # the batch's objects are freed with it (ledger/gc_pause.py)
            return self._record_accesses(actor, entries)

    def _record_accesses(
        self, actor: Actor, entries: Iterable[tuple[AccessReport, AccessVerdict]]
    ) -> AccessBatchResult:
        bounds = self.time_bounds
        # In UTC: a time reported in UTC then compares without converting (same tzinfo).
        latest = self.clock() + bounds.clock_skew
        batch = _Batch(bounds.earliest.astimezone(UTC), latest.astimezone(UTC))
        stream = getattr(self.recorder, "insert_new_stream", None)
        if stream is not None and getattr(self.recorder, "stream_locks_database", False):
            # SQLite's stream holds the database's one write lock while the batch is built,
            # and a batch naming data subjects stores their keys meanwhile, in transactions
            # of their own (_sealed_subjects): such a batch is built first, then inserted.
            entries = list(entries)
            if any(report.subjects for report, _ in entries):
                stream = None
        chunks = self._stored_chunks(actor, iter(entries), batch)
        if stream is not None:  # each chunk goes to the database as it is built
            existing: set[UUID] = stream(chunks).existing
        else:
            existing = self._save_new_accesses([event for chunk in chunks for event in chunk])
        ids, repeated, in_future = tuple(batch.ids), tuple(batch.repeated), tuple(batch.in_future)
        if not existing:  # the usual batch: all of it new, no id hashed to find out
            return AccessBatchResult(tuple(batch.unique), repeated, ids, in_future)
        recorded = tuple(i for i in batch.unique if i not in existing)
        stored = tuple(i for i in batch.unique if i in existing)
        return AccessBatchResult(recorded, stored + repeated, ids, in_future)

    def _stored_chunks(
        self, actor: Actor, entries: Iterator[tuple[AccessReport, AccessVerdict]], batch: _Batch
    ) -> Iterator[list[StoredEvent]]:
        """The stored events of the batch's first occurrences, a chunk at a time, each chunk
        checked (``check_report``) as it is built: one pass over the batch.

        A report that fails its check raises where it is met: the store's transaction,
        if open, rolls back whole, and nothing of the batch is saved.
        """
        writer = AccessStateWriter(self.mapper, actor)
        time_bounds, earliest, latest = self.time_bounds, batch.earliest, batch.latest
        first, seen = batch.first, batch.seen
        ids, unique, repeated, in_future = batch.ids, batch.unique, batch.repeated, batch.in_future
        while chunk := list(islice(entries, STREAM_CHUNK)):
            fresh: list[Entry] = []
            named: list[tuple[UUID, tuple[str, ...]]] = []  # accesses naming data subjects
            plain = True  # every report of built-in types: the writer need not check again
            for report, verdict in chunk:
                plain = check_report(report, seen) and plain
                moment = report.accessed_at
                if moment < earliest:
                    time_bounds.check_past(moment, "accessed_at")  # raises
                key = report.platform_event_id
                access_id = first.get(key)
                if access_id is None:
                    access_id = first[key] = data_access_id(key)
                    fresh.append((access_id, report, verdict))
                    unique.append(access_id)
                    if report.subjects:
                        named.append((access_id, report.subjects))
                else:
                    repeated.append(access_id)
                ids.append(access_id)
                if moment > latest:
                    in_future.append(access_id)
            writer.plain = plain
            writer.sealed = self._subjects_json(named, batch) if named else {}
            yield writer.stored_batch(fresh)

    def _subjects_json(
        self, named: list[tuple[UUID, tuple[str, ...]]], batch: _Batch
    ) -> dict[UUID, Any]:
        """The ``subjects`` of these accesses: their subjects' key ids (ledger-format §9.1).
        Keys not in the table yet are stored first, in a transaction of their own, so no
        stored access names a key that was never stored (a batch that then fails leaves
        unused keys, nothing else). The erasure generation is read once a batch."""
        require(
            self.subjects is not None,
            ErrorCode.SUBJECTS_UNAVAILABLE,
            "accesses name data subjects, but no subject index secret is configured "
            "(GOVLEDGER_SUBJECT_INDEX_KEY_FILE, docs/privacy.md)",
        )
        assert self.subjects is not None
        arrays, batch.erasure_generation = self.subjects.subjects_json(
            named, batch.erasure_generation
        )
        return arrays

    def _save_new_accesses(self, stored: list[StoredEvent]) -> set[UUID]:
        """Store, in one transaction, the events of accesses not stored yet; return the ids
        that were. The chained stores check inside the insert's transaction (SQLite: only a
        batch that fails on its key). Elsewhere (the in-memory store), if a concurrent
        writer stores one of our ids between the check and the save, the recorder raises
        ``IntegrityError``, the transaction rolls back whole, and we re-check and save the
        rest again (``ChainWriteError`` after ``duplicate_retries`` lost races in a row).
        """
        insert_new = getattr(self.recorder, "insert_new_aggregates", None)
        if insert_new is not None:
            found: set[UUID] = insert_new(stored).existing
            return found
        for _attempt in range(self.duplicate_retries + 1):
            existing = self._existing([access_id(event) for event in stored])
            fresh = [e for e in stored if e.originator_id not in existing] if existing else stored
            try:
                if fresh:
                    self.recorder.insert_events(fresh)
            except IntegrityError:
                continue  # lost a race on some id: re-check, then save the rest
            return existing
        raise ChainWriteError(
            f"access batch still colliding after {self.duplicate_retries} retries"
        )


def access_id(event: StoredEvent) -> UUID:
    """The access's id: stored events of accesses are built with UUID originators."""
    originator_id = event.originator_id
    assert isinstance(originator_id, UUID)
    return originator_id


@dataclass(slots=True)
class _Batch:
    """What one pass over a batch learns: every entry's id, the first occurrences, the
    repeats, the accesses dated in the future; and what the checks remember."""

    earliest: datetime
    latest: datetime
    ids: list[UUID] = field(default_factory=list)
    unique: list[UUID] = field(default_factory=list)
    repeated: list[UUID] = field(default_factory=list)
    in_future: list[UUID] = field(default_factory=list)
    # By platform event id: a str hashes in C, a UUID in Python.
    first: dict[str, UUID] = field(default_factory=dict)
    seen: set[tuple[object, ...]] = field(default_factory=set)  # what repeats, once checked
    # Of the data subjects' keys, read before the first chunk naming any (ledger/subjects.py).
    erasure_generation: str | None = None
