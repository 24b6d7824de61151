"""Issuing and serving signed checkpoints (docs/checkpoint-format.md §5-§12).

* :func:`issue_checkpoint` refuses a signer key that the trusted keys file does
  not list as active, before anything is written; then integrates the tree
  (ledger/tree.py), signs a c2sp.org/tlog-checkpoint body (origin, integrated
  tree size, root) as a c2sp.org/signed-note and appends the note to
  ``<events>_checkpoints`` (ledger/checkpoint_store.py).
* :func:`latest_checkpoint` serves the newest note exactly as stored, followed
  by the ``cosignature/v1`` lines (c2sp.org/tlog-cosignature) of the log's
  witnesses that verify.
* :func:`prepare_proof_tables` creates the tables at ``govledger init``.

This module is also the one name the rest of the code imports from: keys
(ledger/checkpoint_keys.py), storage and grants (ledger/checkpoint_store.py),
trust and the witnessing state (ledger/checkpoint_trust.py) and the witness
(ledger/witness.py) are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger import note
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.checkpoint_keys import (
    TrustedKeys,
    generate_key_file,
    load_issuer,
    load_signer,
    load_trusted_keys,
    load_witness_keys,
    load_witness_signer,
    parse_trusted_keys,
    public_keys,
)
from ledger.checkpoint_store import (
    CheckpointStore,
    StoredCheckpoint,
    grant_checkpoint_issuer,
    grant_checkpoint_reader,
    grant_checkpoint_witness,
)
from ledger.checkpoint_trust import (
    CheckpointPolicy,
    CheckpointStatus,
    StoredCheckpoints,
    Witnessing,
    checkpoint_source,
    checkpoint_status,
    default_origin,
    ledger_origin,
    policy_from_settings,
)
from ledger.config import Settings
from ledger.errors import ProofError
from ledger.merkle import verify_consistency
from ledger.tree import Database, LedgerTree, open_ledger_tree
from ledger.witness import WitnessResult, witness_checkpoint

__all__ = [
    "CheckpointPolicy",
    "CheckpointStatus",
    "CheckpointStore",
    "IssuedCheckpoint",
    "StoredCheckpoint",
    "StoredCheckpoints",
    "TrustedKeys",
    "WitnessResult",
    "Witnessing",
    "checkpoint_source",
    "checkpoint_status",
    "default_origin",
    "generate_key_file",
    "grant_checkpoint_issuer",
    "grant_checkpoint_reader",
    "grant_checkpoint_witness",
    "issue_checkpoint",
    "latest_checkpoint",
    "ledger_origin",
    "load_issuer",
    "load_signer",
    "load_trusted_keys",
    "load_witness_keys",
    "load_witness_signer",
    "parse_trusted_keys",
    "policy_from_settings",
    "prepare_proof_tables",
    "public_keys",
    "witness_checkpoint",
]

Progress = Callable[[int], None]


@dataclass(frozen=True)
class IssuedCheckpoint:
    checkpoint: StoredCheckpoint
    new: bool  # False: the newest stored checkpoint already covered this tree, same key


def issue_checkpoint(settings: Settings, *, progress: Progress | None = None) -> IssuedCheckpoint:
    """Integrate the tree, then sign and store a checkpoint of it (tlog-checkpoint §Note text).

    The signer key must be active in the trusted keys file (:func:`load_issuer`):
    otherwise nothing is written. Refuses to sign a tree that is not consistent
    (RFC 9162 §2.1.4) with the newest checkpoint stored. If that checkpoint
    already has this size and was signed by the same key, it is returned
    instead of a duplicate.
    """
    signer = load_issuer(settings)
    with open_ledger_tree(settings) as tree:
        store = CheckpointStore(tree.database)
        store.create()
        tree.integrate(progress=progress)
        size, root = tree.size, tree.tree.root()
        checkpoint = Checkpoint(ledger_origin(settings, tree.genesis.ledger_id), size, root)
        previous = store.latest()
        if previous is not None:
            _check_extends(tree, previous, checkpoint)
            if previous.tree_size == size and _signed_by(previous.note, signer):
                return IssuedCheckpoint(previous, new=False)
        stored = store.append(checkpoint, sign_checkpoint(checkpoint, signer))
        return IssuedCheckpoint(stored, new=True)


def _check_extends(tree: LedgerTree, previous: StoredCheckpoint, new: Checkpoint) -> None:
    if previous.tree_size > new.size:
        raise ProofError(
            f"the tree (size {new.size}) is smaller than checkpoint {previous.id} "
            f"(size {previous.tree_size}): refusing to sign a shorter log"
        )
    if previous.tree_size == 0:
        return
    proof = tree.consistency(previous.tree_size, new.size).proof
    verify_consistency(
        previous.tree_size, new.size, previous.root_hash, new.root_hash, proof, hash_fn=tree.hash_fn
    )


def _signed_by(signed: str, signer: note.Ed25519Signer) -> bool:
    return any(s.key == (signer.name, signer.key_id) for s in note.parse(signed).signatures)


def prepare_proof_tables(settings: Settings, app_role: str = "") -> None:
    """Create the tree, checkpoint and cosignature tables now (``govledger init``).

    With ``app_role`` (PostgreSQL): the service keeps the tree (select, insert,
    update: the chain's tables, ledger/tree.py) and may only read checkpoints and
    cosignatures (:func:`grant_checkpoint_reader`); the issuer and the witnesses
    get their own roles (:func:`grant_checkpoint_issuer`, :func:`grant_checkpoint_witness`).
    """
    with open_ledger_tree(settings) as tree:
        CheckpointStore(tree.database).create()
        if app_role and tree.database.backend == "postgresql":
            role = '"' + app_role.replace('"', '""') + '"'
            tree.database.create(
                [f"GRANT SELECT, INSERT, UPDATE ON {tree.database.table('tree')} TO {role}"]
            )
    if app_role and settings.database.backend == "postgresql":
        grant_checkpoint_reader(settings, app_role)


def latest_checkpoint(settings: Settings) -> str | None:
    """The newest signed checkpoint with its witnesses' valid cosignatures; ``None`` if none.

    The note exactly as stored, then for each witness of ``witness_keys_file``
    its first stored line that verifies (§11 *Serve*). Read-only: never creates
    a table. For ``GET /api/v1/checkpoints/latest`` and ``checkpoint latest``.
    """
    database = Database(settings, readonly=True)
    try:
        latest = CheckpointStore(database).latest()
    finally:
        database.close()
    return latest.cosigned(load_witness_keys(settings)) if latest else None
