"""Access counts per block of ledger positions (docs/projections.md "Tracking": the
``access_blocks`` aggregates), and the collector's pace while the runner folds.

The runner counts each access into its block's two groupings while folding; a block
complete in a batch is rolled up into one row per (day, dimension, key)
(``block_rows``), the same rows ``Projector._aggregate_block_sql`` selects when a run
began mid-block. Readers sum complete blocks and count the tail from the events rows.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from projections.schema import BLOCK, BLOCK_DIMENSIONS

Groups = dict[tuple[Any, ...], list[Any]]  # key -> [accesses, refused, rows read, latest time]


@dataclass
class Blocks:
    """Access counts of the blocks not yet aggregated, for the rows projected after ``since``.

    Two groupings per block, from which every dimension rolls up (BLOCK_DIMENSIONS):
    by (day, resource, provider) and by (day, requester, purpose, system, reasons).
    Two dictionary updates an access, a few thousand groups a block.
    """

    since: int
    size: int = BLOCK  # positions per block (the runner's)
    blocks: dict[int, tuple[Groups, Groups]] = field(default_factory=dict)
    EMPTY: ClassVar[Groups] = {}

    def covers(self, block: int) -> bool:
        """Whether every row of ``block`` was counted here (positions start at 1)."""
        return self.since < max(block * self.size, 1)

    def groupings(self, block: int) -> tuple[Groups, Groups]:
        found = self.blocks.get(block)
        if found is None:
            found = self.blocks[block] = ({}, {})
        return found

    def drop_before(self, block: int) -> None:
        for done in [number for number in self.blocks if number < block]:
            del self.blocks[done]


# dimension -> (grouping, index of its key in the grouping's key)
_ROLL_UP = {"provider": (0, 2), "requester": (1, 1), "resource": (0, 1), "purpose": (1, 2),
            "reasons": (1, 4), "system": (1, 3), "day": (1, 0)}  # fmt: skip
BLOCK_COLUMNS = ("block", "day", "dim", "key", "total", "unauthorized", "row_count", "last_time")
DAYS: dict[int, str] = {}  # CST day number -> its ISO text


def same(value: Any) -> Any:
    return value


def block_rows(
    block: int, groupings: tuple[Groups, Groups], text: Callable[[Any], Any]
) -> list[tuple[Any, ...]]:
    """The ``access_blocks`` rows of one block: what ``_aggregate_block_sql`` selects (per
    day and key of each dimension: count, refused, rows read, latest time).

    ``text`` is the value as the database stores it (PostgreSQL: NUL as U+FFFD),
    so keys equal there are grouped here too.
    """
    out: list[tuple[Any, ...]] = []
    for dim in BLOCK_DIMENSIONS:
        grouping, index = _ROLL_UP[dim]
        totals: Groups = {}
        for key, (total, refused, row_count, last) in groupings[grouping].items():
            at = (text(key[0]), text(key[index]))
            found = totals.get(at)
            if found is None:
                totals[at] = [total, refused, row_count, last]
            else:
                found[0] += total
                found[1] += refused
                found[2] += row_count
                found[3] = max(found[3], last)
        out.extend((block, day, dim, key, *values) for (day, key), values in totals.items())
    return out


class _Collector:
    """The collector's threshold while runs go on in this process (any thread)."""

    lock = threading.Lock()
    runs = 0
    saved: tuple[int, int, int] = (700, 10, 10)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Young collections every 50,000 allocations instead of 700, for the run.

    A batch allocates tens of thousands of short-lived tuples, lists and structs that
    form no cycles; at the default threshold the collector ran hundreds of times a
    batch, often over the fold's whole state, finding nothing: ~15% of a rebuild.
    Runs in several threads share it: the first in raises it, the last out restores.
    """
    with _Collector.lock:
        if _Collector.runs == 0:
            _Collector.saved = gc.get_threshold()
            young, *older = _Collector.saved
            if young != 0:  # 0: collection switched off by threshold, leave it so
                gc.set_threshold(max(young, 50_000), *older)
        _Collector.runs += 1
    try:
        yield
    finally:
        with _Collector.lock:
            _Collector.runs -= 1
            if _Collector.runs == 0:
                gc.set_threshold(*_Collector.saved)
