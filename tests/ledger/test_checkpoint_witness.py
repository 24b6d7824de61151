"""Witnesses of the signed checkpoints (docs/ledger-format.md §11): a witness checks
consistency before it cosigns, and a checkpoint not yet witnessed is a state, not a break;
no forged or junk cosignature counts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ledger import note
from ledger.checkpoint import Checkpoint, CosignatureSigner, cosign, sign_checkpoint
from ledger.checkpoints import (
    CheckpointStore,
    StoredCheckpoint,
    Witnessing,
    issue_checkpoint,
    latest_checkpoint,
    load_signer,
    load_witness_keys,
    load_witness_signer,
    witness_checkpoint,
)
from ledger.config import Settings
from ledger.errors import NoteError, ProofError
from ledger.store.connect import open_reader
from ledger.tree import Database, open_ledger_tree
from ledger.verify import HeadRecord, verify_ledger
from tests.conftest import Attacker, Ledger
from tests.ledger._checkpoints import (
    N,
    add_witness,
    append_rows,
    assert_checkpoint_break,
    attack_proof_tables,
    keyed_settings,
    status_of,
    stored_checkpoints,
    verify,
)
from tests.ledger.test_tree import rewrite_history


@pytest.fixture
def keyed(ledger: Ledger, tmp_path: Path) -> Settings:
    """The ledger's settings with a log signer key and a published trusted keys file."""
    return keyed_settings(ledger, tmp_path)


# ---------------------------------------------------------------- witness


def test_witness_refuses_an_inconsistent_checkpoint(
    ledger: Ledger, keyed: Settings, attacker: Attacker, tmp_path: Path
) -> None:
    settings, w1 = add_witness(keyed, tmp_path, "w1")
    state = str(tmp_path / "w1.state")
    ledger.append(20)
    issue_checkpoint(settings)
    witness_checkpoint(settings, w1, state)
    before = Path(state).read_bytes()
    # A different history for the first 20 rows, signed by the log's own (stolen) key.
    signer = load_signer(settings)
    forged = Checkpoint("govledger.local/test", 25, b"\x07" * 32)
    with pytest.raises((ProofError, NoteError)):
        witness_checkpoint(settings, w1, state, sign_checkpoint(forged, signer))
    assert Path(state).read_bytes() == before, "a refused checkpoint changed the state"


def test_witness_checks_consistency_and_cosigns(
    ledger: Ledger, keyed: Settings, tmp_path: Path
) -> None:
    settings, w1 = add_witness(keyed, tmp_path, "w1")
    state = str(tmp_path / "w1.state")
    ledger.append(10)
    issue_checkpoint(settings)
    first = witness_checkpoint(settings, w1, state)
    assert first.new and first.served == latest_checkpoint(settings)
    assert not witness_checkpoint(settings, w1, state).new
    ledger.append(15)
    issue_checkpoint(settings)
    second = witness_checkpoint(settings, w1, state)
    assert second.checkpoint.size == 25 and second.new
    stored = CheckpointStore(Database(settings, readonly=True)).latest()
    assert stored is not None and len(stored.cosignatures) == 1


@pytest.mark.parametrize("integrated", [True, False])
def test_a_new_checkpoint_behind_the_recorded_head_is_checked(
    ledger: Ledger, keyed: Settings, integrated: bool
) -> None:
    ledger.append(N)
    issue_checkpoint(keyed)
    ledger.append(20)
    if integrated:  # the consistency proof N -> N + 20 comes from the tree
        with open_ledger_tree(keyed) as tree:
            tree.integrate()
    reader = open_reader(keyed)
    try:  # an earlier run without checkpoints: a head, no compact range
        assert verify_ledger(reader, HeadRecord(keyed.state_dir)).ok
    finally:
        reader.close()
    report = verify(keyed, record=True, full=False)
    assert report.ok and report.count == 0, report
    recorded = HeadRecord(keyed.state_dir).load(report.ledger_id)
    assert recorded is not None and recorded.checkpoint is not None
    assert recorded.checkpoint[0] == N and recorded.frontier is not None


# ---------------------------------------------------------------- not yet witnessed


def test_a_checkpoint_not_yet_witnessed_is_a_state_not_a_break(
    ledger: Ledger, keyed: Settings, attacker: Attacker, tmp_path: Path
) -> None:
    """checkpoint-format §11 Verify and Witnessing state, under a quorum of two."""
    settings, w1 = add_witness(keyed, tmp_path, "w1")
    settings, w2 = add_witness(settings, tmp_path, "w2")
    settings = replace(settings, witness_quorum=2)
    assert status_of(settings).state is Witnessing.NONE
    ledger.append(N)
    issue_checkpoint(settings)
    status = status_of(settings)
    assert (status.state, status.trusted, status.awaiting) == (
        Witnessing.AWAITING_WITNESSES,
        None,
        1,
    )
    assert verify(settings, record=True, full=False).ok  # issued, not yet cosigned: no break
    for key in (w1, w2):
        witness_checkpoint(settings, key, str(tmp_path / f"{Path(key).stem}.state"))
    witnessed = status_of(settings)
    assert witnessed.state is Witnessing.WITNESSED and witnessed.trusted is not None
    assert witnessed.trusted.size == N
    ledger.append(10)
    issue_checkpoint(settings)
    ledger.append(10)
    issue_checkpoint(settings)
    status = status_of(settings)
    assert status.state is Witnessing.AWAITING_WITNESSES and status.awaiting == 2
    assert status.trusted is not None and status.trusted.size == N
    assert status.newest is not None and status.newest.tree_size == N + 20
    assert status.newest_signed is not None and status.newest_signed.size == N + 20
    oldest_waiting = sorted(stored_checkpoints(settings))[1][0]
    assert status.awaiting_since == next(
        c.issued_at for c in _all(settings) if c.id == oldest_waiting
    )
    assert verify(settings, record=True, full=False).ok
    # The rows are still checked against the witnessed checkpoint: a rewrite below it fails.
    rewrite_history(attacker, settings)
    assert_checkpoint_break(verify(settings, full=True), "rewritten")


def test_a_newer_checkpoint_without_a_valid_log_signature_is_a_break(
    ledger: Ledger, keyed: Settings, tmp_path: Path
) -> None:
    """Above the witnessed checkpoint, each one must still carry a valid log signature."""
    settings, w1 = add_witness(keyed, tmp_path, "w1")
    settings = replace(settings, witness_quorum=1)
    ledger.append(N)
    issue_checkpoint(settings)
    witness_checkpoint(settings, w1, str(tmp_path / "w1.state"))
    ledger.append(5)
    with open_ledger_tree(settings) as tree:
        tree.integrate()
        root = tree.tree.root(N + 5)
    forger = note.Ed25519Signer.generate("govledger.local/test")
    forged = sign_checkpoint(Checkpoint("govledger.local/test", N + 5, root), forger)
    database = Database(settings)
    try:
        CheckpointStore(database).append(Checkpoint("govledger.local/test", N + 5, root), forged)
    finally:
        database.close()
    status = status_of(settings)
    assert status.state is Witnessing.UNTRUSTED and status.failure is not None
    assert_checkpoint_break(verify(settings), "no valid signature from a known key")


def test_a_junk_cosignature_never_blocks_the_real_witness(
    ledger: Ledger, keyed: Settings, tmp_path: Path
) -> None:
    """The store keeps a second, different line of one witness; readers pick the valid one."""
    settings, w1 = add_witness(keyed, tmp_path, "w1")
    settings = replace(settings, witness_quorum=1)
    ledger.append(N)
    stored = issue_checkpoint(settings).checkpoint
    witness = load_witness_keys(settings)[0]
    junk = note.NoteSignature(witness.name, witness.key_id, bytes(72)).line()
    database = Database(settings)
    try:
        store = CheckpointStore(database)
        assert store.add_cosignature(stored.id, junk, witness)  # a first, junk line
        assert not store.add_cosignature(stored.id, junk, witness)  # an identical one: once
    finally:
        database.close()
    served = latest_checkpoint(settings)
    assert served == stored.note, "a line that does not verify was served"
    result = witness_checkpoint(settings, w1, str(tmp_path / "w1.state"))
    assert result.new and result.line in result.served
    assert latest_checkpoint(settings) == stored.note + result.line
    assert verify(settings).ok
    # Run again: its valid line is there, so nothing more is stored.
    assert not witness_checkpoint(settings, w1, str(tmp_path / "w1.state")).new
    assert len(_all(settings)[0].cosignatures) == 2


def test_a_row_with_a_far_future_id_cannot_shadow_a_larger_checkpoint(
    ledger: Ledger, keyed: Settings, attacker: Attacker
) -> None:
    """The newest checkpoint is the largest tree (§11): a replayed small note does not hide it."""
    ledger.append(10)
    first = issue_checkpoint(keyed).checkpoint
    ledger.append(10)
    second = issue_checkpoint(keyed).checkpoint
    assert verify(keyed, record=True, full=False).ok
    override = "" if attacker.backend == "sqlite" else " OVERRIDING SYSTEM VALUE"
    attack_proof_tables(
        attacker,
        "INSERT INTO {p}_checkpoints (id, tree_size, root_hash, note, issued_at)"
        + override
        + " VALUES (?, ?, ?, ?, ?)",
        (10**15, first.tree_size, first.root_hash, first.note, "2099-01-01T00:00:00.000000Z"),
    )
    latest = latest_checkpoint(keyed)
    assert latest is not None and latest.startswith(second.note)
    assert verify(keyed, record=True, full=False).ok


def test_a_cosignature_line_must_name_its_witness(ledger: Ledger, keyed: Settings) -> None:
    """The write path's checks (§11 Store): a known checkpoint, one line of the witness."""
    ledger.append(3)
    stored = issue_checkpoint(keyed).checkpoint
    witness = note.Ed25519Signer.generate("w.example")  # any shape: the checks are textual
    other = CosignatureSigner.generate("w.example")
    line = note.parse(cosign(stored.note, other)).signatures[-1].line()
    database = Database(keyed)
    try:
        store = CheckpointStore(database)
        with pytest.raises(ProofError, match="no checkpoint"):
            store.add_cosignature(stored.id + 99, line, other.verifier())
        too_short = note.NoteSignature(witness.name, witness.key_id, bytes(64)).line()
        with pytest.raises(ProofError, match="not one cosignature"):
            store.add_cosignature(stored.id, too_short, other.verifier())
    finally:
        database.close()


def test_a_smaller_checkpoint_is_refused_by_the_store(ledger: Ledger, keyed: Settings) -> None:
    ledger.append(8)
    issue_checkpoint(keyed)
    signer = load_signer(keyed)
    with open_ledger_tree(keyed) as tree:
        smaller = Checkpoint("govledger.local/test", 4, tree.tree.root(4))
    database = Database(keyed)
    try:
        with pytest.raises(ProofError, match="newest stored has size 8"):
            CheckpointStore(database).append(smaller, sign_checkpoint(smaller, signer))
        lying = Checkpoint("govledger.local/test", 9, b"\x01" * 32)
        with pytest.raises(ProofError, match="does not state this tree size"):
            CheckpointStore(database).append(lying, sign_checkpoint(smaller, signer))
    finally:
        database.close()


def _all(settings: Settings) -> list[StoredCheckpoint]:
    database = Database(settings, readonly=True)
    try:
        return list(CheckpointStore(database).newest_first())
    finally:
        database.close()


def test_the_witness_never_writes_the_tree(
    ledger: Ledger, keyed: Settings, attacker: Attacker, tmp_path: Path
) -> None:
    """A tree behind the checkpoint (its rows are derived data, lost in a crash or removed) is
    completed in memory from the rows; the witness writes its cosignature and nothing else."""
    settings, w1 = add_witness(keyed, tmp_path, "w1")
    state = str(tmp_path / "w1.state")
    ledger.append(20)
    issue_checkpoint(settings)
    witness_checkpoint(settings, w1, state)
    ledger.append(13)
    issue_checkpoint(settings)
    attack_proof_tables(attacker, "DELETE FROM {p}_tree")
    result = witness_checkpoint(settings, w1, state)
    assert result.new and result.checkpoint.size == 33
    with open_ledger_tree(settings) as tree:
        assert tree.refresh() == 0, "the witness integrated the tree"
    assert verify(settings).ok


def test_tables_of_an_older_version_are_brought_up_to_date(
    ledger: Ledger, keyed: Settings, tmp_path: Path
) -> None:
    """Tables made before the write paths (one line per witness, no functions) keep their
    rows and take the new shape at the next create (as `govledger init` runs it)."""
    settings, w1 = add_witness(keyed, tmp_path, "w1")
    settings = replace(settings, witness_quorum=1)
    append_rows(settings, 9)
    with open_ledger_tree(settings) as tree:
        tree.integrate()
        old = Checkpoint("govledger.local/test", 9, tree.tree.root(9))
        database = tree.database
        sqlite = database.backend == "sqlite"
        pk = (
            "INTEGER PRIMARY KEY AUTOINCREMENT"
            if sqlite
            else "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        )
        blob = "BLOB" if sqlite else "bytea"
        checkpoints, cosignatures = database.table("checkpoints"), database.table("cosignatures")
        database.create(
            [
                f"CREATE TABLE {checkpoints} (id {pk}, tree_size bigint NOT NULL, "
                f"root_hash {blob} NOT NULL, note text NOT NULL, issued_at text NOT NULL)",
                f"CREATE TABLE {cosignatures} (id {pk}, checkpoint_id bigint NOT NULL, "
                "witness text NOT NULL, line text NOT NULL, added_at text NOT NULL, "
                "UNIQUE (checkpoint_id, witness))",
                *database.append_only_statements("checkpoints"),
                *database.append_only_statements("cosignatures"),
            ]
        )
        signed = sign_checkpoint(old, load_signer(settings))
        database.query(
            f"INSERT INTO {checkpoints} (tree_size, root_hash, note, issued_at) "
            "VALUES (?, ?, ?, ?)",
            (9, old.root_hash, signed, "2025-01-01T00:00:00.000000Z"),
        )
        line = note.parse(cosign(signed, load_witness_signer(w1))).signatures[-1].line()
        database.query(
            f"INSERT INTO {cosignatures} (checkpoint_id, witness, line, added_at) "
            "VALUES (1, ?, ?, ?)",
            (note.NoteSignature.parse_line(line[:-1]).label(), line, "2025-01-01T00:00:01Z"),
        )
        assert not CheckpointStore(database).ready()
    append_rows(settings, 3)
    issue_checkpoint(settings)  # create() brings the tables up to date first
    database = Database(settings)
    try:
        assert CheckpointStore(database).ready()
    finally:
        database.close()
    assert [c.tree_size for c in _all(settings)] == [12, 9]
    assert _all(settings)[1].cosignatures, "a migrated row lost its cosignature"
    assert _junk_then_real(settings, tmp_path, w1)
    assert verify(settings).ok


def _junk_then_real(settings: Settings, tmp_path: Path, key: str) -> bool:
    """A junk line of the witness first, then the witness itself: is its line stored?"""
    newest = _all(settings)[0]
    witness = load_witness_keys(settings)[0]
    junk = note.NoteSignature(witness.name, witness.key_id, bytes(72)).line()
    database = Database(settings)
    try:
        CheckpointStore(database).add_cosignature(newest.id, junk, witness)
    finally:
        database.close()
    return witness_checkpoint(settings, key, str(tmp_path / "w1.state")).new
