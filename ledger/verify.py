"""Verification of a stored ledger (docs/ledger-format.md §5, §8).

Streams the rows in position order and recomputes every hash with
:class:`ledger.chain.ChainVerifier`: the same code the standalone verifier runs
on exports. What the verifier trusts lives outside the database, per ledger
location (:mod:`ledger.pins`): the ledger's identity, the head it verified last
and a short memory of every row it verified, so a ledger swapped for another, a
log cut or rewritten behind an earlier verification, fails even if its own hashes
agree, and is named at its first bad position.

Besides the chain, the whole table's shape is checked (§2): a row at 0 or below,
a second row at a position, a row after PostgreSQL's head record, a gap. Every
malformed row is a break at its position; only a run that cannot run (the
database down, a bad setting) is an error. With a :class:`CheckpointSource`, the
rows are also checked against the newest signed checkpoint it trusts
(:mod:`ledger.verify_roots`, checkpoint-format §11). The verifier's memory, and naming
the first row that differs from it, are :mod:`ledger.verify_memory`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace

from ledger.chain import (
    ChainBreak,
    ChainReport,
    ChainVerifier,
    Genesis,
    RowTuple,
    check_genesis,
    hash_function,
)
from ledger.pins import (
    PREFIX_SIZE,
    HeadRecord,
    VerifiedHead,
    now,
)
from ledger.store.base import RowReader, VerifiableReader
from ledger.verify_memory import (
    Locator,
    Memory,
    PinnedLocation,
    recall_legacy,
    recall_pin,
    truncated,
)
from ledger.verify_parallel import Parallel, Plan, fast_forward
from ledger.verify_record import LastRun, LastRunRecord, LastRuns
from ledger.verify_roots import (
    CheckpointSource,
    Frontier,
    RootTracker,
    SignedHead,
    newest_checkpoint,
)

__all__ = [
    "CheckpointSource",
    "HeadRecord",
    "LastRun",
    "LastRunRecord",
    "LastRuns",
    "Parallel",
    "PinnedLocation",
    "SignedHead",
    "VerifiedHead",
    "verify_ledger",
]

DEFAULT_BATCH_SIZE = 5000
Progress = Callable[[int], None]


# ---------------------------------------------------------------- verification


def verify_ledger(
    reader: RowReader,
    record: PinnedLocation | HeadRecord | None = None,
    *,
    start: int | None = None,
    full: bool = False,
    progress: Progress | None = None,
    batch_size: int | None = None,
    checkpoints: CheckpointSource | None = None,
    adopt: bool = False,
    parallel: Parallel | None = None,
) -> ChainReport:
    """Verify the ledger; by default from the head verified last (incremental, §5).

    ``record``: the verifier's memory, a :class:`PinnedLocation` (or, for callers
    written before pins, a :class:`HeadRecord` keyed by ledger id).
    ``start``: verify from row ``start``, trusting the stored hash of ``start − 1``.
    ``full``: walk every row from genesis (the memory is still checked).
    ``adopt``: accept another ledger at a pinned location once it verifies in full.
    ``parallel``: recompute the hashes over ranges in worker processes first
    (:mod:`ledger.verify_parallel`); the answer is the serial run's.
    """
    # The newest checkpoint first: the rows' snapshot, taken after, reaches at least its size.
    newest = checkpoints.newest() if checkpoints is not None else None
    with _snapshot(reader):
        genesis = reader.genesis()
        if broken := check_genesis(genesis):
            return _failed(genesis, broken)
        if isinstance(record, PinnedLocation):
            memory = recall_pin(record, genesis, adopt=adopt)
            if isinstance(memory, ChainBreak):
                return _failed(genesis, memory)
        elif isinstance(record, HeadRecord):
            memory = recall_legacy(record, genesis)
        else:
            memory = Memory(None, b"", False, None)
        size = batch_size or DEFAULT_BATCH_SIZE  # read at call time: tests split runs finely
        run = _Run(reader, genesis, memory, checkpoints, size, progress, newest)
        run.parallel = parallel
        # Without the row memory up to its head, a pin's first run rebuilds it from genesis.
        rebuild = (
            memory.rows_required
            and memory.head is not None
            and (memory.known < memory.head.position)
        )
        return run.verify(start=start, full=full or adopt or (rebuild and start is None))


@contextmanager
def _snapshot(reader: RowReader) -> Iterator[None]:
    snapshot = getattr(reader, "snapshot", None)
    with snapshot() if snapshot else nullcontext():
        yield


class _Run:
    """One verification: the checks of §5 in order, the first bad position named."""

    def __init__(
        self,
        reader: RowReader,
        genesis: Genesis,
        memory: Memory,
        checkpoints: CheckpointSource | None,
        batch_size: int,
        progress: Progress | None,
        newest: SignedHead | ChainBreak | None = None,
    ) -> None:
        self.reader = reader
        self.newest = newest
        self.genesis = genesis
        self.digest = hash_function(genesis.hash_algorithm)
        self.memory = memory
        self.checkpoints = checkpoints
        self.batch_size = batch_size
        self.progress = progress
        verifiable = all(
            hasattr(reader, name) for name in ("bounds", "head_record", "positions", "hashes")
        )
        self.shaped: VerifiableReader | None = reader if verifiable else None  # type: ignore[assignment]
        self.head_record = self.shaped.head_record() if self.shaped else None
        self.parallel: Parallel | None = None
        self.locator = Locator(reader, self.shaped, genesis, self.digest, memory, batch_size)

    def verify(self, *, start: int | None, full: bool) -> ChainReport:
        recorded = self.memory.head
        full = full or (start is None and recorded is None)  # nothing to start from
        anchor = self._anchor(start, full)
        if isinstance(anchor, ChainBreak):
            return _failed(self.genesis, anchor)
        position, anchor_hash, trusted = anchor
        # What an incremental run does not re-read; a break beyond the anchor may still
        # have a lower one before it in the rows it reads.
        early = self._twins() if full else self._below_the_anchor(start)
        if early is not None and early.position <= position:
            return _failed(self.genesis, early)
        signed: SignedHead | None = None
        deferred: ChainBreak | None = None  # a checkpoint finding waits for the rows' own
        if self.checkpoints is not None:
            newest = newest_checkpoint(self.reader, self.newest, recorded)
            if isinstance(newest, ChainBreak):
                deferred = newest
            else:
                signed = newest
        tracker = None
        if signed is not None:
            tracker = RootTracker(self.digest, signed)
            tracker.start(self.reader, position, recorded, self.batch_size)
            broken = tracker.check_behind_anchor(
                self.reader, self.checkpoints, recorded, self.batch_size
            )
            if broken:
                return _failed(self.genesis, broken, position, anchor_hash)
        stream = _Stream(self, position, anchor_hash, tracker)
        report = stream.walk(after=None if full else position)
        failure = report.failure
        # At one position, the table's shape names it better than the chain (a twin row).
        if early is not None and (failure is None or early.position <= failure.position):
            report = replace(report, failure=early)
        if report.failure is None and deferred is not None:
            report = replace(report, failure=deferred)
        if report.ok and trusted and self.memory.remember is not None:
            self._remember(report, stream, signed, tracker)
        return report

    # -------------------------------------------------------------- incremental checks

    def _below_the_anchor(self, start: int | None) -> ChainBreak | None:
        """What an incremental run checks of the rows it does not re-read (§5): the table's
        shape, and that the rows verified before are still there, unchanged."""
        found = [b for b in (self._shape(), self._pinned_rows(start)) if b is not None]
        return min(found, key=lambda b: b.position) if found else None

    def _twins(self) -> ChainBreak | None:
        """A full run reads every row, but cannot tell twins at one position from a forged
        row; where the database no longer keeps positions unique, the positions tell."""
        if self.shaped is None or self.shaped.bounds(count=False).unique:
            return None
        return self._scan_positions()

    def _shape(self) -> ChainBreak | None:
        if self.shaped is None:
            return None
        bounds = self.shaped.bounds()
        found: list[ChainBreak] = []
        if bounds.low is not None and bounds.low < 1:
            found.append(_below_genesis(bounds.low))
        if not bounds.exact() and (scanned := self._scan_positions()):
            found.append(scanned)
        if self.head_record is not None:
            found += self._head_record_breaks(bounds.high)
        return min(found, key=lambda b: b.position) if found else None

    def _scan_positions(self) -> ChainBreak | None:
        """The first gap or repeat among the positions: where the count said one is."""
        assert self.shaped is not None
        expected = 1
        for batch in self.shaped.positions():
            for position in batch:
                if position < 1:
                    return _below_genesis(position)
                if position == expected - 1:
                    return ChainBreak(position, "duplicate", f"a second row at position {position}")
                if position > expected:
                    return ChainBreak(
                        expected, "missing", f"position {expected} is absent; next is {position}"
                    )
                expected = position + 1
        return None

    def _head_record_breaks(self, high: int) -> list[ChainBreak]:
        assert self.head_record is not None
        position, head_hash = self.head_record
        if high > position:
            return [_beyond_head(position)]
        if high < position:
            return [
                ChainBreak(
                    high + 1,
                    "truncated",
                    f"the log ends at {high}, before the head record's {position}",
                )
            ]
        row = self.reader.row_at(position) if position else None
        stored = row[6] if row else self.genesis.genesis_hash
        if stored != head_hash:
            return [
                ChainBreak(
                    position,
                    "head_record",
                    f"the head record's hash is not the hash of row {position}",
                )
            ]
        return []

    def _pinned_rows(self, start: int | None) -> ChainBreak | None:
        """The row at the head verified last is unchanged; else the first changed row."""
        head = self.memory.head
        if head is None or head.position == 0:
            return None
        row = self.reader.row_at(head.position)
        if row is not None and row[6] == head.hash:
            if start is not None and start > 1 and (anchor := self.reader.row_at(start - 1)):
                expected = self.memory.prefix(start - 1)
                if expected is not None and anchor[6][:PREFIX_SIZE] != expected:
                    return self.locator.locate(head)
            return None
        return self.locator.locate(head)

    # -------------------------------------------------------------- anchor and memory

    def _anchor(self, start: int | None, full: bool) -> tuple[int, bytes, bool] | ChainBreak:
        """Where the stream starts: ``(position, hash, whether a success extends the memory)``."""
        recorded = self.memory.head
        if start is not None and start > 1:
            row = self.reader.row_at(start - 1)
            if row is None:
                return ChainBreak(start - 1, "missing", f"position {start - 1} is absent")
            passes_recorded = recorded is not None and start - 1 <= recorded.position
            return start - 1, row[6], passes_recorded
        if start is not None or full or recorded is None:
            return 0, self.genesis.genesis_hash, True
        return recorded.position, recorded.hash, True

    def _remember(
        self,
        report: ChainReport,
        stream: _Stream,
        signed: SignedHead | None,
        tracker: RootTracker | None,
    ) -> None:
        assert self.memory.remember is not None
        previous = self.memory.head
        checkpoint = (signed.size, signed.root) if signed else None
        if checkpoint is None and previous is not None:
            checkpoint = previous.checkpoint  # a run without trusted keys forgets nothing
        frontier = tuple(tracker.frontier.hashes) if tracker else None
        head = VerifiedHead(report.head_position, report.head_hash, now(), frontier, checkpoint)
        self.memory.remember(head, stream.kept, bytes(stream.collected))


class _Stream:
    """The rows after the anchor through the chain verifier, the row memory, the head
    record and the checkpoint's root, stopping at the first break."""

    def __init__(
        self, job: _Run, position: int, anchor_hash: bytes, tracker: RootTracker | None
    ) -> None:
        self.job = job
        self.verifier = ChainVerifier(job.digest, position, anchor_hash)
        self.start = position
        self.tracker = tracker
        # The memory keeps its `kept` rows; the prefixes of the rows verified after them are
        # collected. Only a stream that starts within the memory can extend it without a gap.
        self.kept = job.memory.known
        self.collect = job.memory.rows_required and position <= self.kept
        self.collected = bytearray()

    def run_batches(self, after: int | None) -> ChainBreak | None:
        job, verifier = self.job, self.verifier
        limit = job.head_record[0] if job.head_record is not None else None
        for batch in job.reader.iter_batches(after, job.batch_size):
            index = verifier.feed(batch)
            good = batch if index is None else batch[:index]
            if found := self._check_verified(good, limit):
                return found
            if job.progress:
                job.progress(len(good))
            if index is not None:
                return verifier.classify(batch[index], job.reader)
        return None

    def walk(self, *, after: int | None) -> ChainReport:
        genesis = self.job.genesis
        if self.job.parallel is not None and after in (None, self.start):
            after = self._fast_forward(self.job.parallel, after)
        failure = self.run_batches(after) or self._at_the_end()
        return self.verifier.report(genesis.ledger_id, self.start, failure)

    def _fast_forward(self, parallel: Parallel, after: int | None) -> int | None:
        """Skip what worker processes vouch for: the serial state at one of its batch starts."""
        job = self.job
        top = job.reader.max_position()
        if job.head_record is not None:
            top = min(top, job.head_record[0])
        head, tracker = job.memory.head, self.tracker
        tree = None
        if tracker is not None:
            if tracker.frontier.size != self.start:
                return after
            tree = (list(tracker.frontier.hashes), tracker.signed.size, tracker.signed.root)
        plan = Plan(
            job.genesis.hash_algorithm,
            self.start,
            self.verifier.head_hash,
            after,
            top,
            job.batch_size,
            job.memory.prefixes,
            (head.position, head.hash) if head is not None else None,
            self.kept,
            self.collect,
            job.progress,
            tree,
        )
        advance = fast_forward(parallel, plan)
        if advance is None or advance.position == self.start:
            return after
        if tracker is not None:
            if advance.frontier is None:
                return after
            tracker.frontier = Frontier(job.digest, advance.position, advance.frontier)
        self.verifier = ChainVerifier(job.digest, advance.position, advance.hash)
        self.verifier.count = advance.count
        self.collected = bytearray(advance.collected)
        return advance.position

    def _check_verified(self, rows: list[RowTuple], limit: int | None) -> ChainBreak | None:
        """Rows the chain accepted: as remembered, in the tree, not after the head record."""
        if limit is not None and rows and rows[-1][0] > limit:
            within = [row for row in rows if row[0] <= limit]
            return self._check_within_head(within) or _beyond_head(limit)
        return self._check_within_head(rows)

    def _check_within_head(self, rows: list[RowTuple]) -> ChainBreak | None:
        if not rows:
            return None
        memory = self.job.memory
        first, last = rows[0][0], rows[-1][0]
        if first <= memory.known:
            upto = min(last, memory.known)
            seen = b"".join(r[6][:PREFIX_SIZE] for r in rows[: upto - first + 1])
            if seen != memory.prefixes[(first - 1) * PREFIX_SIZE : upto * PREFIX_SIZE]:
                for row in rows[: upto - first + 1]:
                    if row[6][:PREFIX_SIZE] != memory.prefix(row[0]):
                        return self.job.locator.divergence(row[0])
        head = memory.head
        if (
            head is not None
            and first <= head.position <= last
            and (rows[head.position - first][6] != head.hash)
        ):
            return ChainBreak(
                head.position,
                "rewritten",
                f"row {head.position} differs from the head verified at {head.verified_at}",
            )
        if self.tracker and (mismatch := self.tracker.feed(rows)):
            return mismatch
        if self.collect and last > self.kept:
            self.collected += b"".join(
                r[6][:PREFIX_SIZE] for r in rows[max(self.kept + 1 - first, 0) :]
            )
        return None

    def _at_the_end(self) -> ChainBreak | None:
        """The log reaches the head verified last and the head record (§5 rule 5)."""
        job, last = self.job, self.verifier.head_position
        head = job.memory.head
        if head is not None and head.position > last:
            return truncated(last, head)
        if job.head_record is not None:
            position, head_hash = job.head_record
            if position > last:
                return ChainBreak(
                    last + 1,
                    "truncated",
                    f"the log ends at {last}, before the head record's {position}",
                )
            if position == last and head_hash != self.verifier.head_hash:
                return ChainBreak(
                    position,
                    "head_record",
                    f"the head record's hash is not the hash of row {position}",
                )
        return None


def _below_genesis(position: int) -> ChainBreak:
    return ChainBreak(position, "below_genesis", f"a row at position {position}, before row 1")


def _beyond_head(head_position: int) -> ChainBreak:
    return ChainBreak(
        head_position + 1,
        "beyond_head",
        f"a row after the head record's position {head_position}",
    )


def _failed(
    genesis: Genesis, failure: ChainBreak, position: int = 0, head_hash: bytes | None = None
) -> ChainReport:
    anchor_hash = genesis.genesis_hash if head_hash is None else head_hash
    return ChainReport(genesis.ledger_id, position, 0, position, anchor_hash, failure)
