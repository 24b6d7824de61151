"""The verifier's memory of a ledger location, and naming the first row that differs from it.

docs/ledger-format.md §8: what the verifier trusts lives outside the database, per ledger
location (:mod:`ledger.pins`): the ledger's identity, the head it verified last and a
short prefix of every row it verified. A run starts from that memory
(:func:`recall_pin`; :func:`recall_legacy` for callers keyed by ledger id), and when the
rows no longer match it, :class:`Locator` names the first row that differs — inserted,
missing, altered or rewritten — as the chain would name it where the chain breaks there.
The run itself (the checks of §5 in order) is ``ledger/verify.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ledger.chain import ChainBreak, ChainVerifier, Genesis, RowTuple, entry_hash, malformed_reason
from ledger.config import Settings
from ledger.pins import (
    PREFIX_SIZE,
    HeadRecord,
    Identity,
    Pin,
    PinStore,
    VerifiedHead,
    ledger_location,
    now,
)
from ledger.store.base import RowReader, VerifiableReader

__all__ = ["Locator", "Memory", "PinnedLocation", "recall_legacy", "recall_pin", "truncated"]


@dataclass(frozen=True)
class PinnedLocation:
    """The verifier's memory of one ledger location (§8): its pin and row memory."""

    store: PinStore
    location: str

    @classmethod
    def of(cls, settings: Settings) -> PinnedLocation:
        return cls(PinStore(settings.state_dir), ledger_location(settings))

    def pin(self) -> Pin | None:
        return self.store.load(self.location)


@dataclass
class Memory:
    """What one run starts from, and how it records its success."""

    head: VerifiedHead | None
    prefixes: bytes  # PREFIX_SIZE bytes per remembered row, position 1 first
    rows_required: bool  # a pin: incremental runs need the row memory up to the head
    remember: Callable[[VerifiedHead, int, bytes], None] | None

    @property
    def known(self) -> int:
        return len(self.prefixes) // PREFIX_SIZE

    def prefix(self, position: int) -> bytes | None:
        if not 1 <= position <= self.known:
            return None
        return self.prefixes[(position - 1) * PREFIX_SIZE : position * PREFIX_SIZE]


def recall_pin(pinned: PinnedLocation, genesis: Genesis, *, adopt: bool) -> Memory | ChainBreak:
    """The pin of this location; another ledger there is the break ``pin`` (§8)."""
    store, identity = pinned.store, Identity.of(genesis)
    pin = pinned.pin()
    if pin is None and not adopt:
        pin = store.legacy(genesis)  # verified-heads.json, before pins: keep its memory
        pin = replace(pin, location=pinned.location) if pin else None
    if pin is not None and (different := pin.identity.difference(identity)):
        if not adopt:
            return ChainBreak(
                0,
                "pin",
                f"{pinned.location} holds another ledger than the one pinned there "
                f"({pin.identity.ledger_id}, pinned {pin.pinned_at}): {different}; "
                "run `govledger verify --adopt` if it is meant to",
            )
        pin = None
    prefixes = store.memory(pin) if pin is not None else b""

    def remember(head: VerifiedHead, kept: int, new: bytes) -> None:
        if pinned.pin() is not None and adopt and pin is None:
            store.retire(pinned.location, f"adopted {identity.describe()}")
        base = pin or Pin(pinned.location, identity, now(), head, None)
        store.save(replace(base, location=pinned.location, head=head), kept=kept, prefixes=new)

    return Memory(pin.head if pin else None, prefixes, True, remember)


def recall_legacy(record: HeadRecord, genesis: Genesis) -> Memory:
    def remember(head: VerifiedHead, kept: int, new: bytes) -> None:
        del kept, new
        record.save(
            genesis.ledger_id,
            head.position,
            head.hash,
            frontier=head.frontier,
            checkpoint=head.checkpoint,
        )

    return Memory(record.load(genesis.ledger_id), b"", False, remember)


@dataclass
class Locator:
    """Names the first row that differs from what was verified (§8), by the row memory."""

    reader: RowReader
    shaped: VerifiableReader | None  # the reader, when it can list positions and hashes
    genesis: Genesis
    digest: Callable[[bytes], bytes]
    memory: Memory
    batch_size: int

    def locate(self, head: VerifiedHead) -> ChainBreak:
        """The first row that differs from what was verified (§8), by the row memory."""
        if found := self.first_difference():
            return found
        last = self.reader.max_position()
        if head.position > last:
            return truncated(last, head)
        return self.divergence(head.position)

    def first_difference(self) -> ChainBreak | None:
        """Scan the stored hashes of rows 1 … known against the row memory."""
        memory, expected = self.memory, 1
        if self.shaped is None or not memory.known:
            return None
        for batch in self.shaped.hashes(0, self.batch_size):
            rows = [r for r in batch if r[0] <= memory.known]
            if not self._same_as_remembered(rows, expected):
                for position, stored in rows:
                    if position == expected - 1:
                        return ChainBreak(position, "duplicate", f"a second row at {position}")
                    if position != expected:
                        return ChainBreak(
                            expected,
                            "missing",
                            f"position {expected} is absent; next is {position}",
                        )
                    if prefix_of(stored) != memory.prefix(position):
                        return self.divergence(position)
                    expected += 1
            expected = max(expected, rows[-1][0] + 1) if rows else expected
            if len(rows) < len(batch) or expected > memory.known:
                break
        return None if expected > memory.known else truncated(expected - 1, memory.head)

    def _same_as_remembered(self, rows: list[tuple[int, bytes]], expected: int) -> bool:
        """The fast path: a batch of consecutive rows whose prefixes are the memory's."""
        if not rows or rows[0][0] != expected or rows[-1][0] - expected != len(rows) - 1:
            return False
        seen = b"".join(prefix_of(h) for _, h in rows)
        return (
            seen == self.memory.prefixes[(expected - 1) * PREFIX_SIZE : rows[-1][0] * PREFIX_SIZE]
        )

    def divergence(self, position: int) -> ChainBreak:
        """Name the first row that differs from what was verified: as the chain names it
        if the chain breaks there, else by the row memory (inserted, missing, rewritten)."""
        memory = self.memory
        rows = self.reader.rows_at([position - 1, position, position + 1])
        here, after = rows.get(position), rows.get(position + 1)
        if here is None:
            return truncated(position - 1, memory.head)
        before = self.genesis.genesis_hash if position == 1 else hash_of(rows.get(position - 1))
        was_here, was_next = memory.prefix(position), memory.prefix(position + 1)
        if (
            was_here is not None
            and after is not None
            and (
                prefix_of(after[6]) == was_here
                or (
                    before is not None
                    and malformed_reason(after) is None
                    and prefix_of(entry_hash(self.digest, (position, *after[1:5], before, b"")))
                    == was_here
                )
            )
        ):
            return ChainBreak(
                position,
                "inserted",
                f"row {position} is not the row verified there: that row is now at {position + 1}",
            )
        if was_next is not None and prefix_of(here[6]) == was_next:
            return ChainBreak(
                position,
                "missing",
                f"the row verified at {position} is gone: the row verified at {position + 1} "
                "is there now",
            )
        if (
            after is not None
            and malformed_reason(after) is None
            and after[5] != here[6]
            and entry_hash(self.digest, after) == after[6]
        ):
            return ChainBreak(
                position,
                "altered",
                f"row {position} was rewritten: row {position + 1} commits to a different "
                "predecessor",
            )
        if before is not None:  # where the chain itself breaks, it names the row
            checker = ChainVerifier(self.digest, position - 1, before)
            if checker.feed([here]) is not None:
                found = checker.classify(here, self.reader)
                if found.position >= position:
                    return found
        return ChainBreak(
            position,
            "rewritten",
            f"row {position} is not the row verified there; the rows from it on chain among "
            "themselves: history was rewritten with recomputed hashes",
        )


def hash_of(row: RowTuple | None) -> bytes | None:
    return row[6] if row is not None and isinstance(row[6], bytes) else None


def prefix_of(stored: object) -> bytes:
    return stored[:PREFIX_SIZE] if isinstance(stored, bytes) else b""


def truncated(last: int, head: VerifiedHead | None) -> ChainBreak:
    if head is None:
        return ChainBreak(last + 1, "truncated", f"the log ends at {last}")
    return ChainBreak(
        last + 1,
        "truncated",
        f"the log ends at {last}, before the head {head.position} verified at {head.verified_at}",
    )
