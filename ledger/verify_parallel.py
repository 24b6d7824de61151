"""``verify --jobs N``: the rows' hashes recomputed on every core (issue 20; ledger-format §5).

Why: one process verifies about 400k rows/s, most of it reading rows and hashing them; a
hundred-million-row ledger is minutes per full pass on one core. The hash of a row depends
only on its own fields and its stored ``prev_hash`` (§4), so ranges of positions can be
recomputed apart, and the links between ranges checked afterwards.

How, keeping the serial run the only judge of a break: worker processes each read a range
``(lo, hi]`` from the store themselves (their own SQLite connection or PostgreSQL session)
and run :class:`ledger.chain.ChainVerifier` over it, trusting the range's first stored
``prev_hash``. The parent takes the ranges in order and accepts one only if its rows are
exactly ``lo+1 … hi``, each recomputes and links, its first row links to the previous
range's last hash, its rows match the verifier's row memory (§8) and the head verified last.
At the first range that is not accepted (a break, a malformed row, a gap, another row at a
position), the parent stops the workers and the serial stream
(:mod:`ledger.verify`) goes on from the last accepted position that starts one of its own
batches: it reads and judges exactly the rows, in exactly the batches, the serial run
would have from there, so the first bad position and its kind are the serial run's, by
construction. A clean ledger is never read twice (at most one batch at the end).

With a signed checkpoint to check (:mod:`ledger.verify_roots`), each worker also folds its
range's leaves into the largest aligned perfect subtrees (RFC 9162 §2.1.1), split at its
last batch start and at the checkpoint's size; the parent appends them to the root tracker's
compact range and compares the root at the signed size, so the tree is hashed in parallel
too, and a root that differs is again left to the serial stream to name.

Not parallel: runs from ``--from`` with ``--full`` together, and ledgers with fewer than
:data:`MIN_ROWS` rows to verify (starting the pool costs more than it saves).
``projections rebuild`` is not parallel
(projections/runner.py): its zone fold carries one state across every row in ledger order
(the domain clock by day, findings whose windows span resources and departments, snapshots
of the whole fold state every interval), and each batch commits the three projections with
their tracking records in one transaction, so a kill leaves all or none of it. The per-row
projections (audit trail, accesses) could be written by ranges, but only by giving up that
one-transaction restart rule; the zone fold by rule family would need a merge of each
family's state at range ends. Neither is done here; it is for the projections' owners.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.util import Finalize

from ledger.chain import ChainVerifier, RowTuple, hash_function
from ledger.pins import PREFIX_SIZE
from ledger.store.base import RowReader
from ledger.verify_roots import Frontier

__all__ = ["MIN_ROWS", "Advance", "Parallel", "Plan", "default_jobs", "fast_forward"]

MIN_ROWS = 100_000  # fewer rows to verify: one process (forking the pool would not pay)
CHUNK_BATCHES = 10  # a range is this many of the serial run's batches (50,000 rows by default)
WORKER_BATCH = 1000  # rows a worker fetches at a time: its overshoot past a range's end


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Parallel:
    """How many processes, and how each opens its own reader of the same store."""

    jobs: int
    opener: Callable[[], RowReader]  # picklable: functools.partial(open_reader, settings)


@dataclass(frozen=True)
class Plan:
    """What the serial stream knows before it reads a row (ledger.verify._Stream)."""

    algorithm: str
    start: int  # the anchor position
    anchor_hash: bytes
    first_after: int | None  # what the serial stream would read after (None: every row)
    top: int  # the highest position to cover (the snapshot's head, capped by a head record)
    batch_size: int
    memory: bytes  # the row memory's prefixes, position 1 first
    head: tuple[int, bytes] | None  # the head verified last
    kept: int  # rows the memory keeps; prefixes after them are collected
    collect: bool
    progress: Callable[[int], None] | None
    # The root tracker's compact range at ``start``, and the signed size and root it must reach.
    tree: tuple[list[bytes], int, bytes] | None = None


@dataclass(frozen=True)
class Advance:
    """Where the serial stream goes on: the verifier's state at ``position``."""

    position: int
    hash: bytes
    count: int
    collected: bytes
    frontier: list[bytes] | None = None  # the tree's compact range at ``position``


@dataclass(frozen=True)
class _Range:
    after: int | None
    lo: int
    hi: int
    anchor_hash: bytes | None  # the first range's trusted anchor; others trust their first row
    algorithm: str
    base: int  # the serial run's batches start at base + k * batch_size
    batch_size: int
    watch: int | None  # a position whose full hash is returned (the head verified last)
    prefixes: bool
    cuts: tuple[int, ...] | None = None  # subtrees wanted, split at these sizes; None: no tree


@dataclass(frozen=True)
class _Checked:
    clean: bool  # exactly lo+1 … hi, every row recomputing and linking within the range
    first_prev: bytes | None
    last_hash: bytes | None
    prefixes: bytes
    watched: bytes | None
    mark: tuple[int, bytes] | None  # the last row that ends a serial batch, and its hash
    nodes: list[tuple[int, int, bytes]] | None = None  # the range's leaves as perfect subtrees


def fast_forward(parallel: Parallel, plan: Plan) -> Advance | None:
    """Verify ranges in parallel; the state at the last serial batch start they vouch for."""
    if plan.top - plan.start < MIN_ROWS or parallel.jobs < 2:
        return None
    with _pool(parallel) as pool:
        return _accept(plan, pool, _ranges(plan), ahead=2 * parallel.jobs)


def _ranges(plan: Plan) -> Iterator[_Range]:
    """The ranges after the anchor, in order; made as needed (a far row leaves a vast gap)."""
    size, known = plan.batch_size * CHUNK_BATCHES, len(plan.memory) // PREFIX_SIZE
    for lo in range(plan.start, plan.top, size):
        hi = min(lo + size, plan.top)
        yield _Range(
            plan.first_after if lo == plan.start else lo,
            lo,
            hi,
            plan.anchor_hash if lo == plan.start else None,
            plan.algorithm,
            plan.start,
            plan.batch_size,
            plan.head[0] if plan.head and lo < plan.head[0] <= hi else None,
            lo < known or (plan.collect and hi > plan.kept),
            _cuts(plan, lo, hi),
        )


def _cuts(plan: Plan, lo: int, hi: int) -> tuple[int, ...] | None:
    """Where a range's subtrees must end: its last serial batch start, the signed size."""
    if plan.tree is None:
        return None
    mark = hi - (hi - plan.start) % plan.batch_size
    return tuple(sorted(c for c in {mark, plan.tree[1]} if lo < c < hi))


@contextmanager
def _pool(parallel: Parallel) -> Iterator[ProcessPoolExecutor]:
    methods = multiprocessing.get_all_start_methods()
    # fork: a worker starts in milliseconds, with this process's modules already imported.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = ProcessPoolExecutor(
        parallel.jobs, mp_context=context, initializer=_open, initargs=(parallel.opener,)
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _accept(
    plan: Plan, pool: ProcessPoolExecutor, ranges: Iterator[_Range], *, ahead: int
) -> Advance:
    """Take the ranges' results in order, a few ranges in flight, up to the first not clean."""
    last, collected = plan.anchor_hash, bytearray()
    at, at_hash, prefixes = plan.start, plan.anchor_hash, 0  # the last batch start vouched for
    tree = Frontier(hash_function(plan.algorithm), plan.start, plan.tree[0]) if plan.tree else None
    at_tree = list(plan.tree[0]) if plan.tree else None
    flight: deque[tuple[_Range, Future[_Checked]]] = deque()
    while True:
        while len(flight) < ahead and (spec := next(ranges, None)) is not None:
            try:
                flight.append((spec, pool.submit(check_range, spec)))
            except (OSError, RuntimeError):  # no process to start, or the pool broke
                ranges = iter(())
        if not flight:
            break
        spec, future = flight.popleft()
        try:
            checked = future.result()
        except Exception:  # the serial stream reads on from here, and meets it itself
            break
        if not _acceptable(plan, spec, checked, last):
            break
        mark = checked.mark[0] if checked.mark else None
        if tree is not None and (marked := _grow(plan, tree, checked, mark)) is False:
            break
        if plan.collect and spec.hi > plan.kept:
            collected += checked.prefixes[max(plan.kept - spec.lo, 0) * PREFIX_SIZE :]
        last = checked.last_hash or b""
        if checked.mark is not None:
            if plan.progress:
                plan.progress(checked.mark[0] - at)
            at, at_hash = checked.mark
            prefixes = max(at - plan.kept, 0) if plan.collect else 0
            if tree is not None:
                at_tree = marked if isinstance(marked, list) else None
    collected_bytes = bytes(collected[: prefixes * PREFIX_SIZE])
    return Advance(at, at_hash, at - plan.start, collected_bytes, at_tree)


def _grow(plan: Plan, tree: Frontier, checked: _Checked, mark: int | None) -> list[bytes] | bool:
    """Extend the tree by a range's subtrees: ``False`` if the root at the signed size is
    not the signed root (the serial stream names it); else the compact range at ``mark``."""
    assert plan.tree is not None
    _, size, root = plan.tree
    at_mark: list[bytes] | bool = True
    for node in checked.nodes or ():
        tree.extend_nodes([node])
        if tree.size == size and tree.root() != root:
            return False
        if tree.size == mark:
            at_mark = list(tree.hashes)
    return at_mark


def _acceptable(plan: Plan, spec: _Range, checked: _Checked, last: bytes) -> bool:
    if not checked.clean or checked.first_prev != last:
        return False
    known = len(plan.memory) // PREFIX_SIZE
    if spec.lo < known:
        upto = min(spec.hi, known)
        seen = checked.prefixes[: (upto - spec.lo) * PREFIX_SIZE]
        if seen != plan.memory[spec.lo * PREFIX_SIZE : upto * PREFIX_SIZE]:
            return False
    return spec.watch is None or plan.head is None or checked.watched == plan.head[1]


# ---------------------------------------------------------------- in the worker processes

_reader: RowReader | None = None


def _open(opener: Callable[[], RowReader]) -> None:
    global _reader  # noqa: PLW0603 - one reader per worker process, for all its ranges
    _reader = opener()
    Finalize(_reader, _reader.close, exitpriority=10)


def check_range(spec: _Range, reader: RowReader | None = None) -> _Checked:
    """Recompute the rows of ``(lo, hi]``: whether they are exactly that range, chained."""
    reader = reader or _reader
    assert reader is not None, "a worker without a reader"
    digest = hash_function(spec.algorithm)
    verifier: ChainVerifier | None = None
    first_prev: bytes | None = None
    prefixes, watched, mark = bytearray(), None, None
    stack: list[tuple[int, int, bytes]] | None = [] if spec.cuts is not None else None
    for batch in reader.iter_batches(spec.after, min(WORKER_BATCH, spec.batch_size)):
        last = batch[-1][0] if batch else None
        if type(last) is int and last > spec.hi:  # the batch runs past the range: cut it there
            rows = [r for r in batch if not (type(r[0]) is int and r[0] > spec.hi)]
        else:
            rows = batch
        if verifier is None and rows:
            prev = spec.anchor_hash if spec.anchor_hash is not None else rows[0][5]
            if type(prev) is not bytes:
                return _Checked(False, None, None, b"", None, None)
            first_prev = prev
            verifier = ChainVerifier(digest, spec.lo, prev)
        if rows and verifier is not None:
            if verifier.feed(rows) is not None:
                return _Checked(False, first_prev, None, b"", None, None)
            first = rows[0][0]
            if spec.prefixes:
                prefixes += b"".join(r[6][:PREFIX_SIZE] for r in rows)
            if spec.watch is not None and first <= spec.watch <= rows[-1][0]:
                watched = rows[spec.watch - first][6]
            if stack is not None:
                _subtrees(digest, stack, rows, spec.cuts or ())
            ends = rows[-1][0] - (rows[-1][0] - spec.base) % spec.batch_size
            if ends >= first:
                mark = (ends, rows[ends - first][6])
        if len(rows) < len(batch):
            break
    count = verifier.count if verifier else 0
    last_hash = verifier.head_hash if verifier else None
    clean = count == spec.hi - spec.lo
    return _Checked(clean, first_prev, last_hash, bytes(prefixes), watched, mark, stack)


def _subtrees(
    digest: Callable[[bytes], bytes],
    stack: list[tuple[int, int, bytes]],
    rows: list[RowTuple],
    cuts: tuple[int, ...],
) -> None:
    """The rows' leaves (RFC 9162 §2.1.1) merged into the largest aligned perfect subtrees
    that do not cross a cut: the range's compact range, split where the parent looks."""
    for row in rows:
        first, level, node = row[0] - 1, 0, digest(b"\x00" + row[6])
        while stack:
            left_first, left_level, left = stack[-1]
            if left_level != level or left_first % (2 << level) or first in cuts:
                break
            stack.pop()
            first, level, node = left_first, level + 1, digest(b"\x01" + left + node)
        stack.append((first, level, node))
