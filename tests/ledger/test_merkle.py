"""RFC 9162 §2.1 Merkle tree: shared transparency-dev vectors plus properties."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ProofError
from ledger.merkle import (
    HASH_SIZE,
    MemoryNodeStore,
    MerkleTree,
    NodeId,
    leaf_hash,
    mth,
    node_hash,
    sha256,
    sm3,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger._vectors import json_cases, load_json, vector_path

MERKLE_VECTORS = ("rfc9162-merkle",)


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(case: dict[str, Any]) -> list[bytes]:
    # The vectors write an absent proof as null.
    return [_b64(p) for p in case["proof"] or []]


def _leaves(count: int, hash_fn: Callable[[bytes], bytes] = sha256) -> list[bytes]:
    return [leaf_hash(i.to_bytes(8, "big"), hash_fn) for i in range(count)]


def _tree(leaves: Iterable[bytes], **kwargs: Any) -> MerkleTree:
    tree = MerkleTree(**kwargs)
    tree.extend(leaves)
    return tree


# --- RFC 9162 reference definitions, written from the RFC text, for comparison ---


def _rfc_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _rfc_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """§2.1.3.1 PATH(m, D[n])."""
    n = len(leaves)
    if n == 1:
        return []
    k = _rfc_split(n)
    if m < k:
        return [*_rfc_path(m, leaves[:k]), mth(leaves[k:])]
    return [*_rfc_path(m - k, leaves[k:]), mth(leaves[:k])]


def _rfc_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    """§2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = _rfc_split(n)
    if m <= k:
        return [*_rfc_subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*_rfc_subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def _flip(value: bytes, bit: int) -> bytes:
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def _with_one_bit_flipped(proof: list[bytes]) -> Iterable[list[bytes]]:
    for position, element in enumerate(proof):
        for bit in range(len(element) * 8):
            yield [*proof[:position], _flip(element, bit), *proof[position + 1 :]]


class SpyStore(MemoryNodeStore):
    """Counts store calls, to check batching and O(log n) reads."""

    def __init__(self) -> None:
        super().__init__()
        self.put_calls = 0
        self.get_calls = 0
        self.nodes_read = 0

    def put_many(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        self.put_calls += 1
        super().put_many(nodes)

    def get_many(self, ids: Sequence[NodeId]) -> list[bytes]:
        self.get_calls += 1
        self.nodes_read += len(ids)
        return super().get_many(ids)


# --- shared vectors: accept exactly the wantErr=false cases -------------------


@pytest.mark.parametrize("path", json_cases(MERKLE_VECTORS, "inclusion"))
def test_inclusion_vector(path: Path) -> None:
    case = load_json(path)
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args, _b64(case["root"]))
    else:
        verify_inclusion(*args, _b64(case["root"]))


@pytest.mark.parametrize("path", json_cases(MERKLE_VECTORS, "consistency"))
def test_consistency_vector(path: Path) -> None:
    case = load_json(path)
    args = (case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args, _proof(case))
    else:
        verify_consistency(*args, _proof(case))


# --- a consistency proof from size 0 (docs/checkpoint-format.md §4) ----------


def _from_size_zero() -> list[Path]:
    directory = vector_path(*MERKLE_VECTORS, "consistency")
    return [p for p in sorted(directory.rglob("*.json")) if load_json(p)["size1"] == 0]


def test_every_vector_from_size_zero_expects_an_error_and_is_malformed_otherwise() -> None:
    """What the vectors pin: each case from size 0 is refused, and would be refused by a
    verifier that accepted a well-formed proof from size 0 too (so they do not decide it)."""
    cases = [load_json(p) for p in _from_size_zero()]
    assert len(cases) == 9
    empty_root = hashlib.sha256(b"").digest()
    for case in cases:
        assert case["wantErr"], case["desc"]
        root1, root2, proof = _b64(case["root1"]), _b64(case["root2"]), _proof(case)
        well_formed = not proof and root1 == empty_root and len(root2) == HASH_SIZE
        if case["size2"] == 0:
            well_formed = well_formed and root1 == root2
        if case["size2"] == 1:
            well_formed = well_formed and root2 != empty_root  # one leaf is never H("")
        assert not well_formed, case["desc"]


@pytest.mark.parametrize("size2", [0, 1, 5, 8])
def test_a_well_formed_proof_from_size_zero_is_refused(size2: int) -> None:
    """govledger's own choice, which the vectors leave open: a proof from the empty tree
    proves nothing, so it is refused, even empty, with the right roots."""
    tree = _tree(_leaves(8))
    with pytest.raises(ProofError, match=r"empty tree|no consistency proof"):
        verify_consistency(0, size2, tree.root(0), tree.root(size2), [])
    with pytest.raises(ProofError):
        tree.consistency_proof(0, max(size2, 1))


# --- the incremental tree equals the reference MTH ---------------------------


def test_root_after_each_append_equals_reference_mth() -> None:
    leaves = _leaves(70)
    tree = MerkleTree()
    assert tree.root() == hashlib.sha256(b"").digest()
    for size, leaf in enumerate(leaves, start=1):
        assert tree.append(leaf) == size
        assert tree.root() == mth(leaves[:size])


def test_every_past_root_is_rebuilt_from_stored_subtrees() -> None:
    leaves = _leaves(70)
    tree = _tree(leaves)
    for size in range(71):
        assert tree.root(size) == mth(leaves[:size]), size


def test_leaf_and_node_hashes_use_rfc_domain_separation() -> None:
    left, right = _leaves(2)
    assert left == hashlib.sha256(b"\x00" + (0).to_bytes(8, "big")).digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert mth([left, right]) == node_hash(left, right)


def test_batch_append_is_one_store_write_with_the_same_nodes() -> None:
    leaves = _leaves(53)
    batched, single = SpyStore(), SpyStore()
    MerkleTree(batched).extend(leaves)
    one_by_one = MerkleTree(single)
    for leaf in leaves:
        one_by_one.append(leaf)
    assert batched.put_calls == 1
    assert single.put_calls == len(leaves)
    assert batched._nodes == single._nodes
    # Every perfect subtree is stored: 2n - popcount(n) nodes in all.
    assert len(batched._nodes) == 2 * len(leaves) - bin(len(leaves)).count("1")


def test_append_costs_one_node_hash_per_leaf_amortised() -> None:
    calls = 0

    def counting_sha256(data: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return sha256(data)

    tree = MerkleTree(hash_fn=counting_sha256)
    calls = 0
    for size in (1, 7, 64, 1000):
        tree.extend(_leaves(size))
    total = 1 + 7 + 64 + 1000
    # Exactly one hash per completed subtree: n - popcount(n); no reads, no recompute.
    assert calls == total - bin(total).count("1")


def test_appends_never_read_the_store() -> None:
    store = SpyStore()
    tree = MerkleTree(store)
    reads_at_open = store.get_calls
    for leaf in _leaves(100):
        tree.append(leaf)
    assert store.get_calls == reads_at_open


def test_reopened_tree_continues_from_the_store() -> None:
    leaves = _leaves(45)
    store = MemoryNodeStore()
    MerkleTree(store).extend(leaves[:29])
    reopened = MerkleTree(store)
    assert reopened.size == 29
    assert reopened.root() == mth(leaves[:29])
    reopened.extend(leaves[29:])
    assert reopened.root() == mth(leaves)
    assert reopened.inclusion_proof(3, 40) == _rfc_path(3, leaves[:40])


def test_failed_store_write_leaves_the_tree_unchanged() -> None:
    class FailingStore(MemoryNodeStore):
        def put_many(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
            raise RuntimeError("disk full")

    leaves = _leaves(6)
    store = FailingStore()
    tree = MerkleTree(store)
    with pytest.raises(RuntimeError):
        tree.extend(leaves)
    assert tree.size == 0
    assert tree.root() == mth([])


def test_append_rejects_a_leaf_that_is_not_a_hash() -> None:
    tree = _tree(_leaves(3))
    with pytest.raises(ValueError, match="32 bytes"):
        tree.extend([_leaves(4)[3], b"short"])
    assert tree.size == 3


# --- generated proofs ----------------------------------------------------------


def test_inclusion_proofs_match_rfc_path_and_verify() -> None:
    leaves = _leaves(40)
    tree = _tree(leaves)
    for size in range(1, 41):
        root = mth(leaves[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == _rfc_path(index, leaves[:size]), (index, size)
            verify_inclusion(leaves[index], index, size, proof, root)


def test_consistency_proofs_match_rfc_proof_and_verify() -> None:
    leaves = _leaves(40)
    tree = _tree(leaves)
    for size2 in range(1, 41):
        root2 = mth(leaves[:size2])
        for size1 in range(1, size2 + 1):
            proof = tree.consistency_proof(size1, size2)
            assert proof == _rfc_subproof(size1, leaves[:size2], True), (size1, size2)
            verify_consistency(size1, size2, mth(leaves[:size1]), root2, proof)


def test_proofs_read_logarithmically_many_nodes_in_one_call() -> None:
    store = SpyStore()
    tree = MerkleTree(store)
    tree.extend(_leaves(1000))
    bound = 2 * (1000).bit_length()
    for index, size in [(0, 1000), (999, 1000), (500, 777), (513, 999)]:
        store.get_calls = store.nodes_read = 0
        tree.inclusion_proof(index, size)
        assert store.get_calls == 1
        assert store.nodes_read <= bound
    for size1, size2 in [(1, 1000), (999, 1000), (511, 513), (300, 1000)]:
        store.get_calls = store.nodes_read = 0
        tree.consistency_proof(size1, size2)
        assert store.get_calls == 1
        assert store.nodes_read <= bound


FLIP_SIZES = (1, 2, 3, 5, 8, 13, 21)


def test_flipping_any_bit_of_an_inclusion_proof_fails() -> None:
    leaves = _leaves(max(FLIP_SIZES))
    tree = _tree(leaves)
    for size in FLIP_SIZES:
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            for bad in _with_one_bit_flipped(proof):
                with pytest.raises(ProofError):
                    verify_inclusion(leaves[index], index, size, bad, root)


def test_flipping_any_bit_of_a_consistency_proof_fails() -> None:
    tree = _tree(_leaves(max(FLIP_SIZES)))
    for size2 in FLIP_SIZES:
        for size1 in range(1, size2):
            proof = tree.consistency_proof(size1, size2)
            assert proof, (size1, size2)
            for bad in _with_one_bit_flipped(proof):
                with pytest.raises(ProofError):
                    verify_consistency(size1, size2, tree.root(size1), tree.root(size2), bad)


def test_inclusion_fails_for_wrong_leaf_index_size_or_root() -> None:
    leaves = _leaves(21)
    tree = _tree(leaves)
    index, size = 6, 21
    proof, root = tree.inclusion_proof(index, size), tree.root(size)
    verify_inclusion(leaves[index], index, size, proof, root)
    wrong_calls: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (leaves[index + 1], index, size, proof, root),
        (leaves[index], index + 1, size, proof, root),
        (leaves[index], index, size // 2, proof, root),
        (leaves[index], index, size * 2, proof, root),
        (leaves[index], index, size, proof, tree.root(size - 1)),
        (leaves[index], index, size, proof[:-1], root),
        (leaves[index], index, size, [*proof, proof[0]], root),
        (leaves[index], index, size, proof[::-1], root),
    ]
    for call in wrong_calls:
        with pytest.raises(ProofError):
            verify_inclusion(*call)


def test_consistency_fails_for_wrong_sizes_roots_or_lengths() -> None:
    tree = _tree(_leaves(30))
    size1, size2 = 11, 30
    proof = tree.consistency_proof(size1, size2)
    root1, root2 = tree.root(size1), tree.root(size2)
    verify_consistency(size1, size2, root1, root2, proof)
    wrong_calls = [
        (size1 + 1, size2, root1, root2, proof),
        (size1, size2 // 2, root1, root2, proof),
        (size1, size2 * 2, root1, root2, proof),
        (size1, size2, root2, root1, proof),
        (size1, size2, tree.root(size1 - 1), root2, proof),
        (size1, size2, root1, tree.root(size2 - 1), proof),
        (size1, size2, root1, root2, proof[:-1]),
        (size1, size2, root1, root2, [*proof, proof[0]]),
    ]
    for call in wrong_calls:
        with pytest.raises(ProofError):
            verify_consistency(*call)


def test_hashes_of_the_wrong_length_are_refused_even_when_they_match() -> None:
    # In a one-leaf tree the leaf hash is the root: only the length check stops
    # a verifier from accepting any byte string that equals itself.
    for short in (b"", b"short", bytes(31), bytes(33)):
        with pytest.raises(ProofError, match="32 bytes"):
            verify_inclusion(short, 0, 1, [], short)
    leaf, root = bytes(32), bytes(32)
    with pytest.raises(ProofError, match="leaf hash must be 32 bytes"):
        verify_inclusion(b"short", 0, 1, [], root)
    with pytest.raises(ProofError, match="proof element 0 must be 32 bytes"):
        verify_inclusion(leaf, 0, 2, [b"short"], root)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_consistency(1, 2, b"short", root, [leaf])


def test_proofs_bind_the_root_not_the_size() -> None:
    # RFC 9162 proofs do not commit to the size where the path has the same
    # shape (here index 6 in sizes 17..24): only the root does. Verifiers must
    # take size and root from one signed checkpoint, never mix them.
    leaves = _leaves(21)
    tree = _tree(leaves)
    proof, root = tree.inclusion_proof(6, 21), tree.root(21)
    verify_inclusion(leaves[6], 6, 20, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[6], 6, 20, proof, tree.root(20))


def test_tampered_history_is_detected() -> None:
    leaves = _leaves(33)
    honest = _tree(leaves)
    old_size, old_root = 20, honest.root(20)

    tampered_leaves = list(leaves)
    tampered_leaves[7] = leaf_hash(b"rewritten row")
    forged = _tree(tampered_leaves)

    # The forged log cannot prove it extends the checkpoint clients already hold...
    with pytest.raises(ProofError):
        verify_consistency(
            old_size, 33, old_root, forged.root(), forged.consistency_proof(old_size, 33)
        )
    # ...nor that the original row is still in it...
    with pytest.raises(ProofError):
        verify_inclusion(leaves[7], 7, 33, forged.inclusion_proof(7, 33), forged.root())
    # ...and the honest proof does not carry the rewritten row to the honest root.
    with pytest.raises(ProofError):
        verify_inclusion(tampered_leaves[7], 7, 33, honest.inclusion_proof(7, 33), honest.root())


def test_proof_requests_outside_the_tree_are_refused() -> None:
    tree = _tree(_leaves(5))
    refused: list[Callable[[], object]] = [
        lambda: tree.inclusion_proof(5, 5),
        lambda: tree.inclusion_proof(-1, 5),
        lambda: tree.inclusion_proof(0, 0),
        lambda: tree.inclusion_proof(0, 6),
        lambda: tree.consistency_proof(0, 5),
        lambda: tree.consistency_proof(4, 3),
        lambda: tree.consistency_proof(2, 6),
        lambda: tree.root(6),
        lambda: tree.root(-1),
    ]
    for request in refused:
        with pytest.raises(ProofError):
            request()


def test_a_store_missing_nodes_is_reported_not_guessed() -> None:
    store = MemoryNodeStore()
    tree = MerkleTree(store)
    tree.extend(_leaves(8))
    del store._nodes[(1, 1)]
    with pytest.raises(ProofError, match="inconsistent"):
        tree.inclusion_proof(0, 8)


# --- SM3 ----------------------------------------------------------------------


def test_sm3_matches_gbt_32905_example() -> None:
    # GB/T 32905-2016 example 1, from shared/vectors/gm/README.md.
    expected = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abc").hex() == expected
    assert len(sm3(b"")) == HASH_SIZE


def test_sm3_tree_proofs_verify_only_under_sm3() -> None:
    leaves = _leaves(19, sm3)
    tree = _tree(leaves, hash_fn=sm3)
    assert tree.root() == mth(leaves, sm3)
    assert tree.root() != mth(leaves)
    proof = tree.inclusion_proof(4)
    verify_inclusion(leaves[4], 4, 19, proof, tree.root(), hash_fn=sm3)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[4], 4, 19, proof, tree.root())
    consistency = tree.consistency_proof(6)
    verify_consistency(6, 19, tree.root(6), tree.root(), consistency, hash_fn=sm3)
    with pytest.raises(ProofError):
        verify_consistency(6, 19, tree.root(6), tree.root(), consistency)
