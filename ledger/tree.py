"""The RFC 9162 Merkle tree kept beside the ledger, and the follower that integrates it.

Design (docs/checkpoint-format.md §10): the tree is **integrated by a follower**,
as Tessera splits sequencing from integration. Appending an event does not
touch the tree: the chained recorders stay exactly as they are, and
:meth:`LedgerTree.integrate` later reads the rows after ``tree.size`` from a
:class:`ledger.store.base.RowReader`, checks that they chain onto the leaf it
integrated last, and extends the tree in batches, one
:meth:`DatabaseNodeStore.put_many` transaction per batch. It never recomputes
from scratch.

Nodes are stored in *strips* (``ledger/tree_nodes.py``) through one connection to the
ledger's database (``ledger/tree_database.py``); this module keeps the public names of
both. The strips are derived data: tampering with them can make a proof fail, never
make a rewritten log verify, because ``verify`` recomputes the roots from the rows
(ledger/verify.py).

Leaves (docs/checkpoint-format.md §2): leaf index ``p − 1`` is the row at
position ``p``; the leaf data is its 32-byte entry hash; the leaf hash is
``H(0x00 || entry hash)`` (RFC 9162 §2.1.1).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ledger.chain import ChainVerifier, Genesis, hash_function
from ledger.config import Settings
from ledger.errors import ProofError, VerificationError
from ledger.merkle import MerkleTree, verify_consistency, verify_inclusion
from ledger.store.base import VerifiableReader
from ledger.store.connect import open_reader
from ledger.tree_database import Database
from ledger.tree_nodes import (
    STRIP_WIDTH,
    DatabaseNodeStore,
    TreeConflictError,
    ensure_tree_guards,
    tree_guard_statements,
)

__all__ = [
    "STRIP_WIDTH",
    "ConsistencyProof",
    "Database",
    "DatabaseNodeStore",
    "InclusionProof",
    "LedgerTree",
    "TreeConflictError",
    "TreeDivergedError",
    "b64",
    "ensure_tree_guards",
    "open_ledger_tree",
    "tree_guard_statements",
]

DEFAULT_BATCH_SIZE = 10_000

Progress = Callable[[int], None]


class TreeDivergedError(VerificationError):
    """The rows no longer match the leaves already integrated: the chain was rewritten or cut."""


def b64(value: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as in the RFC 9162 vector files."""
    return base64.b64encode(value).decode("ascii")


# ---------------------------------------------------------------- proofs


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3 inclusion proof of one ledger row in the tree of ``tree_size`` leaves."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    root: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": b64(self.leaf_hash),
            "proof": [b64(p) for p in self.proof],
            "root": b64(self.root),
        }

    def verify(self, hash_fn: Callable[[bytes], bytes]) -> None:
        """RFC 9162 §2.1.3.2; raises :class:`ProofError`."""
        verify_inclusion(
            self.leaf_hash, self.leaf_index, self.tree_size, self.proof, self.root, hash_fn=hash_fn
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4 proof that the tree of ``size1`` leaves is a prefix of ``size2``."""

    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "size1": self.size1,
            "size2": self.size2,
            "root1": b64(self.root1),
            "root2": b64(self.root2),
            "proof": [b64(p) for p in self.proof],
        }

    def verify(self, hash_fn: Callable[[bytes], bytes]) -> None:
        """RFC 9162 §2.1.4.2; raises :class:`ProofError`."""
        verify_consistency(
            self.size1, self.size2, self.root1, self.root2, self.proof, hash_fn=hash_fn
        )


# ---------------------------------------------------------------- the ledger's tree


class LedgerTree(AbstractContextManager["LedgerTree"]):
    """The tree over one ledger: its node store, its rows, and the integrator."""

    def __init__(self, reader: VerifiableReader, database: Database) -> None:
        self.reader = reader
        self.database = database
        self.genesis: Genesis = reader.genesis()
        self.hash_fn = hash_function(self.genesis.hash_algorithm)
        self.store = DatabaseNodeStore(database)
        self.tree = MerkleTree(self.store, hash_fn=self.hash_fn)

    @property
    def size(self) -> int:
        return self.tree.size

    def refresh(self) -> int:
        """Re-read the stored tree (what other integrators have added); its size."""
        self.tree.refresh()
        return self.tree.size

    def leaf_hash(self, entry_hash: bytes) -> bytes:
        """RFC 9162 §2.1.1 leaf hash of a row: ``H(0x00 || entry hash)`` (checkpoint-format §2)."""
        return self.hash_fn(b"\x00" + entry_hash)

    def integrate(
        self, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
    ) -> int:
        """Bring the tree up to the chain's head; return the new tree size.

        Raises :class:`TreeDivergedError` if the rows no longer extend the
        leaves already integrated. Another integrator winning a race is retried.
        """
        for _ in range(5):
            try:
                return self._integrate_once(batch_size, progress)
            except TreeConflictError:
                self.tree.refresh()
        raise TreeConflictError("the tree kept moving under this integrator; try again")

    def _integrate_once(self, batch_size: int, progress: Progress | None) -> int:
        self.tree.refresh()
        self._check_bounds()
        size, anchor_hash = self._check_last_leaf()
        verifier = ChainVerifier(self.genesis.digest(), size, anchor_hash)
        leaf = self.leaf_hash
        for batch in self.reader.iter_batches(size, batch_size):
            index = verifier.feed(batch)
            if index is not None:
                found = verifier.classify(batch[index], self.reader)
                raise TreeDivergedError(
                    f"cannot integrate: position {found.position}: {found.kind}: {found.detail}"
                )
            self.tree.extend([leaf(row[6]) for row in batch])
            if progress:
                progress(len(batch))
        return self.tree.size

    def _check_bounds(self) -> None:
        """The tree covers what the domain model reads: nothing at 0 or below, nothing after
        PostgreSQL's head record (ledger-format §2). Index lookups only."""
        bounds = self.reader.bounds(count=False)
        if bounds.low is not None and bounds.low < 1:
            raise TreeDivergedError(
                f"cannot integrate: position {bounds.low}: below_genesis: a row before row 1"
            )
        head = self.reader.head_record()
        if head is not None and bounds.high > head[0]:
            raise TreeDivergedError(
                f"cannot integrate: position {head[0] + 1}: beyond_head: "
                f"a row after the head record's position {head[0]}"
            )

    def _check_last_leaf(self) -> tuple[int, bytes]:
        """The last integrated row must still be the leaf the tree holds (no silent divergence)."""
        size = self.tree.size
        if size == 0:
            return 0, self.genesis.genesis_hash
        row = self.reader.row_at(size)
        if row is None:
            raise TreeDivergedError(
                f"the tree holds {size} leaves but the log has no row {size}: the log was cut"
            )
        if self.leaf_hash(row[6]) != self.store.get_many([(0, size - 1)])[0]:
            raise TreeDivergedError(
                f"row {size} is not the leaf {size - 1} integrated earlier: the log was rewritten"
            )
        return size, row[6]

    def inclusion(self, position: int, size: int | None = None) -> InclusionProof:
        """Inclusion proof for the row at ``position`` in the tree of ``size`` leaves."""
        tree_size = self.tree.size if size is None else size
        self._check_tree_size(tree_size)
        if not 1 <= position <= tree_size:
            raise ProofError(f"position {position} is not in the tree of size {tree_size}")
        leaf = self.store.get_many([(0, position - 1)])[0]
        path = self.tree.inclusion_proof(position - 1, tree_size)
        return InclusionProof(position - 1, tree_size, leaf, tuple(path), self.tree.root(tree_size))

    def consistency(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        """Consistency proof between two tree sizes (default: up to the current size)."""
        second = self.tree.size if size2 is None else size2
        self._check_tree_size(second)
        if not 0 < size1 <= second:
            raise ProofError(f"no consistency proof from size {size1} to size {second}")
        path = self.tree.consistency_proof(size1, second)
        return ConsistencyProof(
            size1, second, self.tree.root(size1), self.tree.root(second), tuple(path)
        )

    def _check_tree_size(self, size: int) -> None:
        if not 0 <= size <= self.tree.size:
            raise ProofError(f"tree size {size} is beyond the tree (size {self.tree.size})")

    def close(self) -> None:
        self.database.close()
        self.reader.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_ledger_tree(settings: Settings) -> LedgerTree:
    """The ledger's tree (creating its table if absent); use as a context manager."""
    reader = open_reader(settings)
    try:
        database = Database(settings)
    except BaseException:
        reader.close()
        raise
    try:
        return LedgerTree(reader, database)
    except BaseException:
        database.close()
        reader.close()
        raise
