"""The tree kept beside the ledger: incremental integration, proofs, divergence, both backends."""

from __future__ import annotations

import random

import pytest

from ledger.chain import chain_rows, hash_function
from ledger.config import Settings
from ledger.errors import ProofError
from ledger.merkle import leaf_hash, mth
from ledger.store.connect import open_reader
from ledger.tree import (
    STRIP_WIDTH,
    Database,
    DatabaseNodeStore,
    LedgerTree,
    TreeConflictError,
    TreeDivergedError,
    open_ledger_tree,
)
from tests.conftest import Attacker, Ledger, PostgresURLs


def row_hashes(settings: Settings) -> list[bytes]:
    reader = open_reader(settings)
    try:
        return [row[6] for batch in reader.iter_batches(0, 1000) for row in batch]
    finally:
        reader.close()


def reference_root(settings: Settings, size: int) -> bytes:
    hashes = row_hashes(settings)[:size]
    return mth([leaf_hash(h) for h in hashes])


def rewrite_history(attacker: Attacker, settings: Settings, from_position: int = 1) -> None:
    """Change every row from ``from_position`` and recompute the whole chain after it."""
    reader = open_reader(settings)
    try:
        genesis = reader.genesis()
        rows = [row for batch in reader.iter_batches(0, 1000) for row in batch]
    finally:
        reader.close()
    head = rows[from_position - 2][6] if from_position > 1 else genesis.genesis_hash
    events = [(r[1], r[2], r[3], r[4] + b"!") for r in rows[from_position - 1 :]]
    forged = chain_rows(hash_function(genesis.hash_algorithm), from_position - 1, head, events)
    for position, _, _, _, state, prev, new_hash in forged:
        attacker.execute(
            "UPDATE {t} SET state = ?, prev_hash = ?, hash = ? WHERE {pos} = ?",
            (state, prev, new_hash, position),
        )


def test_integration_is_incremental_and_matches_the_rfc(ledger: Ledger) -> None:
    sizes = []
    with open_ledger_tree(ledger.settings) as tree:
        for count in (1, 2, STRIP_WIDTH - 3, STRIP_WIDTH + 5, 40):
            ledger.append(count, per_transaction=9)
            sizes.append(tree.integrate(batch_size=37))
        assert sizes == [1, 3, 256, 517, 557]
        for size in sizes:
            assert tree.tree.root(size) == reference_root(ledger.settings, size)
    # A fresh process sees the same tree without recomputing it.
    with open_ledger_tree(ledger.settings) as again:
        assert again.size == 557
        assert again.integrate() == 557
        assert again.tree.root() == reference_root(ledger.settings, 557)


def test_every_sampled_proof_verifies(ledger: Ledger) -> None:
    ledger.append(600, per_transaction=100)
    rng = random.Random(5)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()
        hashes = row_hashes(ledger.settings)
        for _ in range(40):
            size = rng.randint(1, 600)
            position = rng.randint(1, size)
            proof = tree.inclusion(position, size)
            assert proof.leaf_hash == leaf_hash(hashes[position - 1])
            proof.verify(tree.hash_fn)
            size1 = rng.randint(1, size)
            tree.consistency(size1, size).verify(tree.hash_fn)
        assert tree.inclusion(600).to_json()["tree_size"] == 600


@pytest.mark.parametrize(("position", "size"), [(0, None), (601, None), (5, 4), (1, 601)])
def test_positions_and_sizes_outside_the_tree_are_refused(
    ledger: Ledger, position: int, size: int | None
) -> None:
    ledger.append(600, per_transaction=100)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()
        with pytest.raises(ProofError):
            tree.inclusion(position, size)


def test_consistency_outside_the_tree_is_refused(ledger: Ledger) -> None:
    ledger.append(10, per_transaction=10)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()
        for size1, size2 in ((0, 5), (6, 5), (3, 11)):
            with pytest.raises(ProofError):
                tree.consistency(size1, size2)


def test_rewritten_history_is_not_integrated(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(30, per_transaction=5)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()
    ledger.append(5)
    rewrite_history(attacker, ledger.settings)
    with open_ledger_tree(ledger.settings) as tree, pytest.raises(TreeDivergedError) as found:
        tree.integrate()
    assert "rewritten" in str(found.value)


def test_cut_log_is_not_integrated(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(30, per_transaction=5)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()
    attacker.execute("DELETE FROM {t} WHERE {pos} > ?", (25,))
    with open_ledger_tree(ledger.settings) as tree, pytest.raises(TreeDivergedError) as found:
        tree.integrate()
    assert "cut" in str(found.value)


def test_broken_chain_after_the_tree_is_not_integrated(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(20, per_transaction=5)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()
        ledger.append(10)
        attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (b"forged", 25))
        with pytest.raises(TreeDivergedError) as found:
            tree.integrate()
        assert "position 25: altered" in str(found.value)
        assert tree.size == 20  # nothing past the last good batch boundary was kept


def test_two_integrators_never_interleave(ledger: Ledger) -> None:
    ledger.append(50, per_transaction=10)
    with open_ledger_tree(ledger.settings) as first, open_ledger_tree(ledger.settings) as second:
        assert first.integrate() == 50
        ledger.append(20, per_transaction=10)
        assert first.integrate() == 70
        # ``second`` still believes the tree has 0 leaves: its writes conflict, it catches up.
        with pytest.raises(TreeConflictError):
            second.tree.extend([b"\x00" * 32])
        assert second.integrate() == 70
        assert second.tree.root() == first.tree.root() == reference_root(ledger.settings, 70)


def test_store_refuses_gaps(ledger: Ledger) -> None:
    ledger.append(3)
    leaves = [leaf_hash(h) for h in row_hashes(ledger.settings)]
    database = Database(ledger.settings)
    try:
        store = DatabaseNodeStore(database)
        store.put_many([(0, 0, leaves[0])])
        with pytest.raises(TreeConflictError):
            store.put_many([(0, 2, leaves[2])])
        with pytest.raises(KeyError):
            store.get_many([(0, 1)])
        assert store.size() == 1
        # Creating the table again is a no-op.
        assert DatabaseNodeStore(database).size() == 1
    finally:
        database.close()


# ------------------------------------------ who may write the tree (checkpoint-format §10)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {tree} SET hashes = ? WHERE level = 0",
        "UPDATE {tree} SET level = 7 WHERE level = 0",
        "DELETE FROM {tree} WHERE level = 1",
    ],
)
def test_stored_tree_nodes_never_change(ledger: Ledger, statement: str) -> None:
    ledger.append(40, per_transaction=8)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()
        root = tree.tree.root()
    database = Database(ledger.settings)
    try:
        sql = statement.format(tree=database.table("tree"))
        params = (b"\x05" * 32 * 40,) if "?" in sql else ()
        with pytest.raises(Exception, match="stored tree nodes never change"):
            database.query(sql, params)
    finally:
        database.close()
    ledger.append(3)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()  # growing is what a strip may do
        assert tree.tree.root(40) == root and tree.size == 43


@pytest.mark.parametrize("level", [0, 1])
def test_postgres_tree_takes_only_nodes_that_follow_from_the_rows(
    postgres_settings: Settings, level: int
) -> None:
    ledger = Ledger(postgres_settings)
    ledger.append(4)
    ledger.close()
    leaves = [leaf_hash(h) for h in row_hashes(postgres_settings)]
    database = Database(postgres_settings)
    try:
        store = DatabaseNodeStore(database)
        wrong = [(0, 0, leaves[0]), (0, 1, leaves[1]), (1, 0, b"\x07" * 32)]
        if level == 0:
            wrong = [(0, 0, b"\x07" * 32)]
        with pytest.raises(Exception, match="do not follow from the rows"):
            store.put_many(wrong)
        assert store.size() == 0
        store.put_many([(0, i, leaf) for i, leaf in enumerate(leaves)])
        store.put_many([(1, 0, mth(leaves[:2])), (1, 1, mth(leaves[2:])), (2, 0, mth(leaves))])
    finally:
        database.close()
    with open_ledger_tree(postgres_settings) as tree:
        assert tree.tree.root() == reference_root(postgres_settings, 4)


def test_integration_stops_at_a_row_below_genesis(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(10)
    with open_ledger_tree(ledger.settings) as tree:
        tree.integrate()
    oid, version, topic, state, prev, stored = attacker.row(3)
    attacker.insert(0, (oid, version + 100, topic, state, prev, stored))
    ledger.append(2)
    with open_ledger_tree(ledger.settings) as tree, pytest.raises(TreeDivergedError) as found:
        tree.integrate()
    assert "position 0: below_genesis" in str(found.value)


def test_integration_stops_at_a_row_after_the_head_record(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    ledger = Ledger(postgres_settings)
    ledger.append(10)
    ledger.close()
    attacker = Attacker(postgres_settings, postgres_urls.admin)
    try:
        oid, version, topic, state, _, stored = attacker.row(10)
        attacker.insert(11, (oid, version + 1, topic, state, stored, stored), cover_head=False)
    finally:
        attacker.close()
    with open_ledger_tree(postgres_settings) as tree, pytest.raises(TreeDivergedError) as found:
        tree.integrate()
    assert "position 11: beyond_head" in str(found.value)


def test_tree_sizes_survive_reopen(settings: Settings, ledger: Ledger) -> None:
    ledger.append(3)
    with open_ledger_tree(settings) as tree:
        assert isinstance(tree, LedgerTree)
        assert tree.integrate() == 3
