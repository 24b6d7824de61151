"""What both backends share: genesis creation, head bookkeeping, the row reader protocol."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from ledger.chain import HASH_ALGORITHMS, Digest, Genesis, RowTuple, genesis_hash
from ledger.errors import ConfigurationError

DEFAULT_HASH_ALGORITHM = "sha256"
HASH_ALGORITHM_KEY = "LEDGER_HASH_ALGORITHM"


def new_genesis(hash_algorithm: str | None) -> Genesis:
    """A fresh genesis record (§3) for a ledger being created now."""
    algorithm = hash_algorithm or DEFAULT_HASH_ALGORITHM
    if algorithm not in HASH_ALGORITHMS:
        raise ConfigurationError(
            f"unknown hash algorithm {algorithm!r} (known: {', '.join(HASH_ALGORITHMS)})"
        )
    ledger_id = str(uuid.uuid4())
    created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Genesis(ledger_id, created_at, algorithm, genesis_hash(ledger_id, created_at, algorithm))


def check_requested_algorithm(genesis: Genesis, requested: str | None) -> None:
    """One chain never mixes algorithms: refuse a setting that contradicts the genesis."""
    if requested and requested != genesis.hash_algorithm:
        raise ConfigurationError(
            f"this ledger was created with {genesis.hash_algorithm}; "
            f"the configured hash algorithm {requested} cannot be used with it"
        )


def genesis_from_row(row: Any) -> Genesis:
    """The genesis record from a database row read by column name (both backends)."""
    return Genesis(
        ledger_id=row["ledger_id"],
        created_at=row["created_at"],
        hash_algorithm=row["hash_algorithm"],
        genesis_hash=bytes(row["genesis_hash"]),
        format_version=row["format_version"],
    )


def originator_text(originator_id: UUID | str) -> str:
    """The canonical text of an originator id in the hash input (§2)."""
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


@dataclass(frozen=True, slots=True)
class NewAggregates:
    """What ``insert_new_aggregates`` did: positions written, originators found already stored."""

    ids: list[int]
    existing: set[UUID]


class NotificationsFromOne:
    """Mixed into the chained recorders: ``select_notifications`` never reads below
    position 1 (ledger-format §2), so the projections read what ``verify`` reads."""

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        if start is None or start < (1 if inclusive_of_start else 0):
            start, inclusive_of_start = 1, True
        found: Sequence[Notification] = super().select_notifications(  # type: ignore[misc]
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )
        return found


def chain_input(stored_events: Sequence[StoredEvent]) -> list[tuple[str, int, str, bytes]]:
    return [
        (originator_text(e.originator_id), e.originator_version, e.topic, e.state)
        for e in stored_events
    ]


@dataclass(frozen=True, slots=True)
class Bounds:
    """The shape of the whole event table, read cheaply (indexes), for ledger-format §5."""

    low: int | None  # the lowest position, None when the table is empty
    high: int  # the greatest position, 0 when empty
    count: int  # how many rows
    unique: bool  # whether the database still guarantees one row a position

    def exact(self) -> bool:
        """Whether the rows are exactly 1..high (given ``unique``)."""
        return self.unique and self.count == self.high and (self.low is None or self.low == 1)


class RowReader(Protocol):
    """Read access to the chain for verify and export; never writes."""

    def genesis(self) -> Genesis: ...

    def max_position(self) -> int: ...

    def iter_batches(self, after: int | None, batch_size: int) -> Iterator[list[RowTuple]]:
        """The rows after position ``after`` in position order; every row when ``None``."""
        ...

    def row_at(self, position: int) -> RowTuple | None: ...

    def rows_at(self, positions: Sequence[int]) -> dict[int, RowTuple]:
        """The rows at these positions (absent ones left out), in one query."""
        ...

    def position_of_hash(self, stored_hash: bytes, after: int) -> int | None: ...

    def close(self) -> None: ...


class VerifiableReader(RowReader, Protocol):
    """What verification reads beyond the rows (ledger-format §5): the table's shape."""

    def snapshot(self) -> AbstractContextManager[None]:
        """Every read inside sees one state of the database."""
        ...

    def bounds(self, *, count: bool = True) -> Bounds:
        """Lowest and highest position, and (``count``) the row count and uniqueness."""
        ...

    def head_record(self) -> tuple[int, bytes] | None:
        """PostgreSQL's head record ``(position, hash)``; ``None`` where there is none."""
        ...

    def positions(self, after: int | None = None) -> Iterator[list[int]]:
        """Every position after ``after`` (all when ``None``), ascending, repeats kept."""
        ...

    def hashes(self, after: int, batch_size: int) -> Iterator[list[tuple[int, bytes]]]:
        """``(position, hash)`` of the rows after ``after``, in position order."""
        ...


__all__ = [
    "DEFAULT_HASH_ALGORITHM",
    "HASH_ALGORITHM_KEY",
    "Bounds",
    "Digest",
    "NewAggregates",
    "NotificationsFromOne",
    "RowReader",
    "VerifiableReader",
    "chain_input",
    "check_requested_algorithm",
    "genesis_from_row",
    "new_genesis",
    "originator_text",
]
