"""Checking the rows against signed checkpoints (docs/checkpoint-format.md §11).

The log must reach the newest trusted checkpoint's size, and the RFC 9162
§2.1.1 root recomputed from the rows' stored hashes must equal the signed
root, so a tail cut or a history rewritten end to end with recomputed hashes
fails as ``checkpoint``. The roots are recomputed while streaming, from a
compact range (the perfect-subtree roots on the tree's right edge) recorded
beside the verified head, so incremental runs stay incremental.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.chain import ChainBreak, RowTuple
from ledger.errors import ProofError
from ledger.merkle import HashFunction, verify_consistency
from ledger.pins import VerifiedHead
from ledger.store.base import RowReader

__all__ = ["CheckpointSource", "Frontier", "RootTracker", "SignedHead", "newest_checkpoint"]


@dataclass(frozen=True)
class SignedHead:
    """A checkpoint whose signature (and witness quorum) a :class:`CheckpointSource` checked."""

    size: int
    root: bytes
    description: str


class CheckpointSource(Protocol):
    """Where verification finds the newest signed checkpoint (ledger/checkpoints.py)."""

    def newest(self) -> SignedHead | ChainBreak | None:
        """The newest stored checkpoint if trusted, the break naming why not, or ``None``."""
        ...

    def consistency_proof(self, size1: int, size2: int) -> Sequence[bytes] | None:
        """An RFC 9162 §2.1.4 proof between two sizes, or ``None`` if the tree is behind."""
        ...


def newest_checkpoint(
    reader: RowReader, found: SignedHead | ChainBreak | None, recorded: VerifiedHead | None
) -> SignedHead | ChainBreak | None:
    """The newest trusted checkpoint ``found`` (read before the rows' snapshot, so a log that
    grew meanwhile still reaches it); the log must reach it, and it must not go backwards."""
    if isinstance(found, ChainBreak):
        return found
    seen = recorded.checkpoint if recorded else None
    if seen is not None and (found is None or found.size < seen[0]):
        newest = f"of size {found.size}" if found else "none"
        return ChainBreak(
            seen[0],
            "checkpoint",
            f"a checkpoint of size {seen[0]} was verified before, but the newest stored "
            f"checkpoint that meets the configured trust (log keys, witness quorum) is "
            f"{newest}: checkpoints or cosignatures were removed, or the trust changed",
        )
    if seen is not None and found is not None and found.size == seen[0] and found.root != seen[1]:
        return ChainBreak(
            found.size, "checkpoint", f"{found.description} has another root than the one seen"
        )
    if found is None:
        return None
    last = reader.max_position()
    if last < found.size:
        return ChainBreak(
            last + 1,
            "checkpoint",
            f"the log ends at {last}, before the {found.size} rows of signed {found.description}",
        )
    return found


class Frontier:
    """A compact range from leaf 0: the roots of the perfect subtrees on the right edge.

    Appending follows RFC 9162 §2.1.1 incrementally; :meth:`root` folds the
    subtrees right to left, as the RFC's split at the largest power of two does.
    """

    def __init__(self, hash_fn: HashFunction, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ProofError(f"a compact range of {size} leaves needs {size.bit_count()} hashes")
        self.hash_fn = hash_fn
        self.size = size
        self.hashes = list(hashes)

    def extend(self, entry_hashes: Iterable[bytes]) -> None:
        hash_fn, hashes, size = self.hash_fn, self.hashes, self.size
        for entry in entry_hashes:
            node, index = hash_fn(b"\x00" + entry), size
            while index & 1:
                node = hash_fn(b"\x01" + hashes.pop() + node)
                index >>= 1
            hashes.append(node)
            size += 1
        self.size = size

    def extend_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        """Append perfect subtrees ``(first leaf, level, root)`` that follow on, each aligned
        to its size: what appending their leaves one by one would give (ledger.verify_parallel)."""
        hash_fn, hashes = self.hash_fn, self.hashes
        for first, level, subtree in nodes:
            if first != self.size or first % (1 << level):
                raise ProofError(f"a subtree of 2^{level} leaves at {first} after {self.size}")
            node, index = subtree, first >> level
            while index & 1:
                node = hash_fn(b"\x01" + hashes.pop() + node)
                index >>= 1
            hashes.append(node)
            self.size = first + (1 << level)

    def root(self) -> bytes:
        if not self.hashes:
            return self.hash_fn(b"")
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = self.hash_fn(b"\x01" + left + result)
        return result


class RootTracker:
    """Recomputes the tree over the verified rows and compares it with a signed checkpoint."""

    def __init__(self, hash_fn: HashFunction, signed: SignedHead) -> None:
        self.hash_fn = hash_fn
        self.signed = signed
        self.frontier = Frontier(hash_fn)

    def start(
        self, reader: RowReader, anchor: int, recorded: VerifiedHead | None, batch_size: int
    ) -> None:
        """The compact range at the anchor: recorded with the head, or rebuilt from the rows."""
        if recorded and recorded.position == anchor and recorded.frontier is not None:
            self.frontier = Frontier(self.hash_fn, anchor, recorded.frontier)
            return
        self.frontier = _prefix(reader, anchor, self.hash_fn, batch_size)

    def check_behind_anchor(
        self,
        reader: RowReader,
        checkpoints: CheckpointSource | None,
        recorded: VerifiedHead | None,
        batch_size: int,
    ) -> ChainBreak | None:
        """A checkpoint at or before the anchor: compare roots, via a consistency proof if older."""
        signed, anchor = self.signed, self.frontier.size
        if signed.size > anchor:
            return None
        if recorded and recorded.checkpoint == (signed.size, signed.root):
            return None  # checked in an earlier run; the rows up to the head are pinned by its hash
        if signed.size in (0, anchor):  # no consistency proof from size 0 (§4): MTH({}) = H("")
            return self._compare(self.frontier.root() if signed.size else self.hash_fn(b""))
        proof = checkpoints.consistency_proof(signed.size, anchor) if checkpoints else None
        if proof is None:
            return self._compare(_prefix(reader, signed.size, self.hash_fn, batch_size).root())
        try:
            verify_consistency(
                signed.size, anchor, signed.root, self.frontier.root(), proof, hash_fn=self.hash_fn
            )
        except ProofError as e:
            return self._mismatch(f"the verified rows are not consistent with it ({e})")
        return None

    def feed(self, rows: Sequence[RowTuple]) -> ChainBreak | None:
        """Extend over verified rows; compare the root when the checkpoint's size is reached."""
        frontier, target = self.frontier, self.signed.size
        if frontier.size < target <= frontier.size + len(rows):
            split = target - frontier.size
            frontier.extend(row[6] for row in rows[:split])
            if broken := self._compare(frontier.root()):
                return broken
            rows = rows[split:]
        frontier.extend(row[6] for row in rows)
        return None

    def _compare(self, root: bytes) -> ChainBreak | None:
        if root == self.signed.root:
            return None
        return self._mismatch("the root of the rows differs: the history was rewritten")

    def _mismatch(self, why: str) -> ChainBreak:
        signed = self.signed
        return ChainBreak(
            signed.size,
            "checkpoint",
            f"rows 1..{signed.size} vs signed {signed.description}: {why}",
        )


def _prefix(reader: RowReader, size: int, hash_fn: HashFunction, batch_size: int) -> Frontier:
    """The compact range of the first ``size`` rows' stored hashes (one pass over them)."""
    frontier = Frontier(hash_fn)
    if size == 0:
        return frontier
    for batch in reader.iter_batches(0, batch_size):
        frontier.extend(row[6] for row in batch[: size - frontier.size])
        if frontier.size >= size:
            break
    return frontier
