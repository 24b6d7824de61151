"""Signed checkpoints: issue, store, serve, witness; verify the log against them (both backends).

The four attacks of issue 5 are each detected and named ``checkpoint``: a cut
tail, a history rewritten end to end with recomputed hashes, a checkpoint forged
with an unpublished key, and a witness cosignature dropped under a quorum rule.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from ledger import note
from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.checkpoints import (
    CheckpointStore,
    Witnessing,
    generate_key_file,
    issue_checkpoint,
    latest_checkpoint,
    load_signer,
    load_trusted_keys,
    public_keys,
    witness_checkpoint,
)
from ledger.config import Settings
from ledger.errors import ConfigurationError
from ledger.merkle import mth
from ledger.store.connect import open_reader
from ledger.tree import Database, LedgerTree, open_ledger_tree
from ledger.verify import verify_ledger
from tests.conftest import Attacker, Ledger
from tests.ledger._checkpoints import (
    N,
    add_witness,
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


# ---------------------------------------------------------------- issuing and serving


def test_issue_signs_the_integrated_tree_and_serves_it_as_stored(
    ledger: Ledger, keyed: Settings
) -> None:
    assert latest_checkpoint(keyed) is None
    ledger.append(N, per_transaction=7)
    issued = issue_checkpoint(keyed)
    assert issued.new and issued.checkpoint.tree_size == N
    served = latest_checkpoint(keyed)
    assert served == issued.checkpoint.note
    keys = load_trusted_keys(keyed)
    checkpoint = open_checkpoint(served, keys.active, origin="govledger.local/test")
    with open_ledger_tree(keyed) as tree:
        assert checkpoint.root_hash == tree.tree.root(N)
    # Nothing new: no duplicate row. New rows: a new, larger checkpoint.
    assert not issue_checkpoint(keyed).new
    ledger.append(5)
    assert issue_checkpoint(keyed).checkpoint.tree_size == N + 5
    assert verify(keyed).ok


def test_default_origin_names_the_ledger(ledger: Ledger, keyed: Settings) -> None:
    settings = replace(keyed, checkpoint_origin="")
    ledger.append(3)
    body = note.parse(issue_checkpoint(settings).checkpoint.note).text
    reader = open_reader(settings)
    try:
        assert body.startswith(f"govledger.local/{reader.genesis().ledger_id}\n3\n")
    finally:
        reader.close()


def test_checkpoint_tables_are_append_only(
    ledger: Ledger, keyed: Settings, attacker: Attacker
) -> None:
    ledger.append(5)
    issue_checkpoint(keyed)
    database = Database(keyed)
    try:
        table = database.table("checkpoints")
        for sql in (f"UPDATE {table} SET tree_size = 1", f"DELETE FROM {table}"):
            with pytest.raises(Exception, match="append-only"):
                database.query(sql)
    finally:
        database.close()


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k"
    vkey = generate_key_file(str(path), "log.example")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert vkey.startswith("log.example+") and "PRIVATE" not in vkey
    with pytest.raises(ConfigurationError, match="already exists"):
        generate_key_file(str(path), "log.example")


def test_bad_key_files_are_refused_without_quoting_them(ledger: Ledger, tmp_path: Path) -> None:
    secretish = tmp_path / "bad.key"
    secretish.write_text("PRIVATE+KEY+not-a-key+SECRETSECRET\n", encoding="utf-8")
    for path in (str(tmp_path / "absent.key"), str(secretish)):
        settings = replace(ledger.settings, checkpoint_key_file=path)
        with pytest.raises(ConfigurationError) as found:
            load_signer(settings)
        assert "SECRETSECRET" not in str(found.value)


def test_rotation_retires_the_old_key(ledger: Ledger, keyed: Settings, tmp_path: Path) -> None:
    ledger.append(5)
    issue_checkpoint(keyed)
    old = load_signer(keyed).verifier().encode()
    new_key = str(tmp_path / "log2.key")
    new = generate_key_file(new_key, "govledger.local/test")
    trusted = Path(keyed.trusted_keys_file)
    trusted.write_text(f"{new}\nretired {old}\n", encoding="utf-8")
    rotated = replace(keyed, checkpoint_key_file=new_key)
    # The newest checkpoint is signed by the retired key only: it still verifies.
    assert verify(rotated, record=True, full=False).ok
    issue_checkpoint(rotated)  # same size, new key: a fresh checkpoint
    assert verify(rotated, record=True, full=False).ok
    assert public_keys(rotated) == [new, f"retired {old}"]
    # The old checkpoint, as a backup kept it, still verifies with the published keys.
    first = min(stored_checkpoints(rotated))[0]
    database = Database(rotated, readonly=True)
    try:
        old_note = next(c for c in CheckpointStore(database).newest_first() if c.id == first).note
    finally:
        database.close()
    keys = load_trusted_keys(rotated)
    open_checkpoint(old_note, keys.active, retired=keys.retired, origin="govledger.local/test")


@pytest.mark.parametrize("standing", ["retired", "unlisted", "revoked"])
def test_a_key_that_is_not_active_never_signs(
    ledger: Ledger, keyed: Settings, tmp_path: Path, standing: str
) -> None:
    """checkpoint-format §11 Issue: refused with one line before anything is written."""
    ledger.append(5)
    issue_checkpoint(keyed)
    old = load_signer(keyed).verifier().encode()
    new = generate_key_file(str(tmp_path / "log2.key"), "govledger.local/test")
    listed = {"retired": f"retired {old}\n", "unlisted": "", "revoked": f"revoked {old}\n"}
    Path(keyed.trusted_keys_file).write_text(f"{new}\n{listed[standing]}", encoding="utf-8")
    ledger.append(7)
    before = stored_checkpoints(keyed)
    with open_ledger_tree(keyed) as tree:
        tree_before = tree.size
    with pytest.raises(ConfigurationError) as refused:
        issue_checkpoint(keyed)  # still pointed at the old key
    message = str(refused.value)
    assert "\n" not in message and "may no longer sign" in message
    assert ("not listed as an active key" if standing == "unlisted" else standing) in message
    assert stored_checkpoints(keyed) == before
    with open_ledger_tree(keyed) as tree:
        assert tree.size == tree_before == 5, "the tree was integrated by a refused issuer"


def test_a_revoked_key_stops_counting_until_the_new_key_signs(
    ledger: Ledger, keyed: Settings, tmp_path: Path
) -> None:
    ledger.append(5)
    issue_checkpoint(keyed)
    old = load_signer(keyed).verifier().encode()
    new_key = str(tmp_path / "log2.key")
    new = generate_key_file(new_key, "govledger.local/test")
    Path(keyed.trusted_keys_file).write_text(f"{new}\nrevoked {old}\n", encoding="utf-8")
    rotated = replace(keyed, checkpoint_key_file=new_key)
    assert_checkpoint_break(verify(rotated), "signed only by revoked key")
    issue_checkpoint(rotated)
    assert verify(rotated).ok


# ---------------------------------------------------------------- the four attacks


def test_a_cut_tail_is_detected(ledger: Ledger, keyed: Settings, attacker: Attacker) -> None:
    ledger.append(N, per_transaction=4)
    issue_checkpoint(keyed)
    attacker.execute("DELETE FROM {t} WHERE {pos} > ?", (N - 10,))
    # The chain alone sees nothing wrong with a shorter log...
    reader = open_reader(keyed)
    try:
        assert verify_ledger(reader, full=True).ok
    finally:
        reader.close()
    # ...the signed checkpoint does.
    report = verify(keyed)
    assert_checkpoint_break(report, f"ends at {N - 10}", f"the {N} rows")
    assert report.failure is not None and report.failure.position == N - 9


def test_a_history_rewritten_with_recomputed_hashes_is_detected(
    ledger: Ledger, keyed: Settings, attacker: Attacker
) -> None:
    ledger.append(N, per_transaction=4)
    issue_checkpoint(keyed)
    rewrite_history(attacker, keyed)
    reader = open_reader(keyed)
    try:
        assert verify_ledger(reader, full=True).ok, "the chain alone cannot see this"
    finally:
        reader.close()
    report = verify(keyed)
    assert_checkpoint_break(report, "rewritten")
    assert report.failure is not None and report.failure.position == N


def test_a_rewrite_behind_an_earlier_verification_is_detected(
    ledger: Ledger, keyed: Settings, attacker: Attacker
) -> None:
    ledger.append(N, per_transaction=4)
    assert verify(keyed, record=True, full=False).ok  # records head and compact range
    ledger.append(10)
    issue_checkpoint(keyed)  # size N + 10: past the recorded head
    rewrite_history(attacker, keyed, from_position=N + 1)
    report = verify(keyed, record=True, full=False)
    assert_checkpoint_break(report, "rewritten")


def test_a_checkpoint_forged_with_an_unpublished_key_is_detected(
    ledger: Ledger, keyed: Settings, attacker: Attacker
) -> None:
    ledger.append(N)
    issue_checkpoint(keyed)
    # The attacker cuts the tail, writes a longer one of their own, and signs a checkpoint
    # of it with a key of their own under the log's name.
    attacker.execute("DELETE FROM {t} WHERE {pos} > ?", (N - 10,))
    ledger.append(15)
    forger = note.Ed25519Signer.generate("govledger.local/test")
    with open_ledger_tree(keyed) as tree:
        root = Checkpoint("govledger.local/test", N + 5, _root_of_rows(tree, N + 5)).root_hash
    forged = Checkpoint("govledger.local/test", N + 5, root)
    database = Database(keyed)
    try:
        database.query(
            f"INSERT INTO {database.table('checkpoints')} (tree_size, root_hash, note, issued_at) "
            "VALUES (?, ?, ?, ?)",
            (N + 5, root, sign_checkpoint(forged, forger), "2030-01-01T00:00:00.000000Z"),
        )
    finally:
        database.close()
    assert_checkpoint_break(verify(keyed), "no valid signature from a known key")
    # A forged checkpoint of the cut (smaller) log cannot even become the newest (§11).


def _root_of_rows(tree: LedgerTree, size: int) -> bytes:
    leaves = []
    for batch in tree.reader.iter_batches(0, 100):
        leaves += [tree.leaf_hash(row[6]) for row in batch]
    return mth(leaves[:size], tree.hash_fn)


def test_a_dropped_cosignature_is_detected_under_a_quorum(
    ledger: Ledger, keyed: Settings, attacker: Attacker, tmp_path: Path
) -> None:
    settings, w1 = add_witness(keyed, tmp_path, "w1")
    settings, w2 = add_witness(settings, tmp_path, "w2")
    settings = replace(settings, witness_quorum=2)
    ledger.append(N)
    issue_checkpoint(settings)
    for key in (w1, w2):
        witness_checkpoint(settings, key, str(tmp_path / f"{Path(key).stem}.state"))
    assert verify(settings, record=True, full=False).ok  # pins the witnessed checkpoint
    attack_proof_tables(
        attacker, "DELETE FROM {p}_cosignatures WHERE witness LIKE ?", ("witness.example/w2+%",)
    )
    assert status_of(settings).state is Witnessing.AWAITING_WITNESSES
    assert_checkpoint_break(verify(settings, record=True, full=False), "removed")


def test_removed_checkpoints_are_detected_by_the_verifiers_record(
    ledger: Ledger, keyed: Settings, attacker: Attacker
) -> None:
    ledger.append(N)
    issue_checkpoint(keyed)
    assert verify(keyed, record=True, full=False).ok
    attack_proof_tables(attacker, "DELETE FROM {p}_checkpoints")
    assert_checkpoint_break(verify(keyed, record=True, full=False), "removed")


def test_incremental_verify_checks_an_older_checkpoint_by_consistency(
    ledger: Ledger, keyed: Settings
) -> None:
    ledger.append(N)
    assert verify(keyed, record=True, full=False).ok
    ledger.append(20)
    assert verify(keyed, record=True, full=False).ok  # head N + 20
    issue_checkpoint(keyed)  # size N + 20 == head: compared directly
    assert verify(keyed, record=True, full=False).ok
    ledger.append(5)
    assert verify(keyed, record=True, full=False).ok
