"""Issuing and serving signed checkpoints (docs/checkpoint-format.md §5-§12).

* :func:`issue_checkpoint` refuses a signer key that the trusted keys file does
  not list as active, before anything is written; then integrates the tree
  (ledger/tree.py), signs a c2sp.org/tlog-checkpoint body (origin, integrated
  tree size, root) as a c2sp.org/signed-note and appends the note to
  ``<events>_checkpoints`` (ledger/checkpoint_store.py).
* :func:`latest_checkpoint` serves the newest note exactly as stored, followed
  by the ``cosignature/v1`` lines (c2sp.org/tlog-cosignature) of the log's
  witnesses that verify.
* :func:`prepare_proof_tables` creates the tables at ``govledger init``, and
  :func:`create_log_keys` the log's signer key and trusted keys file (outside
  the database, never overwritten), so a new ledger signs from its first minute.

This module is also the one name the rest of the code imports from: keys
(ledger/checkpoint_keys.py), storage and grants (ledger/checkpoint_store.py),
trust and the witnessing state (ledger/checkpoint_trust.py) and the witness
(ledger/witness.py) are re-exported here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger import note
from ledger.checkpoint import ACTIVE, Checkpoint, sign_checkpoint
from ledger.checkpoint_keys import (
    TrustedKeys,
    default_key_paths,
    generate_key_file,
    load_issuer,
    load_signer,
    load_trusted_keys,
    load_witness_keys,
    load_witness_signer,
    parse_trusted_keys,
    public_keys,
    read_signer_file,
    signer_key_file,
    trusted_keys_path,
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
from ledger.errors import ConfigurationError, ProofError
from ledger.merkle import verify_consistency
from ledger.tiles import TilesWritten, write_tiles
from ledger.tree import Database, LedgerTree, open_ledger_tree
from ledger.witness import WitnessResult, witness_checkpoint
from ledger.witness_client import Post, RoundRecord, collect_cosignatures, http_post

__all__ = [
    "CheckpointPolicy",
    "CheckpointRound",
    "CheckpointStatus",
    "CheckpointStore",
    "IssuedCheckpoint",
    "StoredCheckpoint",
    "StoredCheckpoints",
    "TrustedKeys",
    "WitnessResult",
    "Witnessing",
    "checkpoint_round",
    "checkpoint_source",
    "checkpoint_status",
    "collect_cosignatures",
    "create_log_keys",
    "default_key_paths",
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
    "signer_key_file",
    "trusted_keys_path",
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


@dataclass(frozen=True)
class CheckpointRound:
    """One round of the issuer: the checkpoint, what its witnesses did, the tiles written."""

    issued: IssuedCheckpoint
    witnesses: RoundRecord | None  # None: no witness URL configured
    tiles: TilesWritten | None  # None: no tiles_dir, or nothing published yet


def checkpoint_round(
    settings: Settings, *, progress: Progress | None = None, post: Post = http_post
) -> CheckpointRound:
    """Issue a checkpoint, ask the witnesses of ``witness_urls_file`` to cosign it over
    C2SP tlog-witness (§16), then write the published tiles to ``tiles_dir`` (§15).

    What the service's schedule and ``govledger checkpoint issue`` run. A witness
    that does not answer is its outcome in the round's record, not an error.
    """
    issued = issue_checkpoint(settings, progress=progress)
    record = collect_cosignatures(settings, post=post)
    tiles = write_tiles(settings, settings.tiles_dir) if settings.tiles_dir else None
    return CheckpointRound(issued, record, tiles)


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


def create_log_keys(settings: Settings, ledger_id: str) -> list[str]:
    """``govledger init``: the log's signer key and its trusted keys file, where absent (§11).

    Paths: ``checkpoint_key_file`` and ``trusted_keys_file``, or on SQLite
    ``<state_dir>/keys/`` (:func:`ledger.checkpoint_keys.default_key_paths`). A key
    is created (mode 0600, named after the origin) only where no file exists, and
    never overwritten; the trusted keys file is created listing it as active, and
    left alone if it exists (rotation edits it, §11 *Rotation*). Without a path
    (PostgreSQL, nothing configured) nothing is created. Returns one line per
    thing done or to be done by hand.
    """
    defaults = default_key_paths(settings) or ("", "")
    signer_path = settings.checkpoint_key_file or defaults[0]
    trusted_path = settings.trusted_keys_file or defaults[1]
    if not signer_path:
        return []
    done: list[str] = []
    if not Path(signer_path).exists():
        Path(signer_path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        vkey = generate_key_file(signer_path, ledger_origin(settings, ledger_id))
        done.append(f"created the log's checkpoint signer key {signer_path}: {vkey}")
    verifier = read_signer_file(signer_path).verifier()
    if trusted_path and not Path(trusted_path).exists():
        _write_new(trusted_path, _trusted_keys_text(verifier.encode()))
        done.append(f"wrote the trusted keys file {trusted_path} (publish it to verifiers)")
    elif trusted_path:
        settings_now = settings.with_overrides(
            checkpoint_key_file=signer_path, trusted_keys_file=trusted_path
        )
        if load_trusted_keys(settings_now).standing(verifier) != ACTIVE:
            done.append(
                f"the key in {signer_path} is not listed as active in {trusted_path}: "
                "it will not sign until it is (docs/checkpoint-format.md §11 Rotation)"
            )
    return done


def _trusted_keys_text(vkey: str) -> str:
    return (
        "# The log's checkpoint verifier keys (docs/checkpoint-format.md §6): publish this file.\n"
        "# A bare key is active; 'retired <key>' still verifies, never signs; 'revoked <key>'\n"
        "# never counts.\n"
        f"{vkey}\n"
    )


def _write_new(path: str, text: str) -> None:
    """Create ``path`` with ``text`` (mode 0644), refusing to replace an existing file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as e:
        raise ConfigurationError(f"cannot create {path}: {e.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


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
