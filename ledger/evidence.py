"""Evidence bundles: rows with their proofs against a signed checkpoint (checkpoint-format §13).

A bundle is one canonical JSON file (:func:`ledger.evidence_verify.canonical_json`)::

    {"format": "govledger-evidence/1",
     "genesis": {...the genesis record as exported...},
     "checkpoint": "<a checkpoint note, its log signature and cosignatures>",
     "log_keys": ["<vkey>", ...], "witness_keys": ["<vkey>", ...],
     "events": [{"row": {...the row as exported...}, "proof": ["<base64>", ...]}, ...]}

Row 1 always comes first: it links the genesis record (its ``prev_hash``) to
the signed tree. Only keys whose signature on the note verifies are listed, and
the note keeps only their lines, so every byte of the bundle is checked by
:mod:`ledger.evidence_verify`, which needs no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ledger import note
from ledger.chain import row_to_json
from ledger.checkpoints import (
    CheckpointPolicy,
    StoredCheckpoint,
    StoredCheckpoints,
    policy_from_settings,
)
from ledger.config import Settings
from ledger.errors import ConfigurationError, LedgerError, NoteError, ProofError
from ledger.evidence_verify import BUNDLE_FORMAT, canonical_json, verify_bundle
from ledger.tree import b64, open_ledger_tree

__all__ = ["build_bundle"]

Progress = Callable[[int], None]


def build_bundle(
    settings: Settings, positions: Iterable[int], *, progress: Progress | None = None
) -> str:
    """The canonical bundle text for ``positions``.

    Against the newest checkpoint that meets this ledger's witness quorum if it
    covers every position, else the newest checkpoint (§13). The bundle is
    verified, as the offline verifier would with this ledger's keys pinned,
    before it is returned.
    """
    wanted = sorted({1, *positions})
    with open_ledger_tree(settings) as tree:
        policy = policy_from_settings(settings, tree.genesis.ledger_id)
        if policy is None:
            raise ConfigurationError(
                "no trusted log key: set GOVLEDGER_TRUSTED_KEYS_FILE (or the signer key file)"
            )
        chosen = _checkpoint_for(StoredCheckpoints(tree.database, policy, tree.hash_fn), wanted)
        signed, log_keys, witness_keys = _signed_note(policy, chosen)
        events = []
        for position in wanted:
            row = tree.reader.row_at(position)
            if row is None:
                raise ProofError(f"the log has no row {position}")
            proof = tree.tree.inclusion_proof(position - 1, chosen.tree_size)
            events.append({"row": row_to_json(row), "proof": [b64(p) for p in proof]})
            if progress:
                progress(1)
        bundle: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "genesis": tree.genesis.to_json(),
            "checkpoint": signed,
            "log_keys": log_keys,
            "witness_keys": witness_keys,
            "events": events,
        }
    text = canonical_json(bundle)
    verify_bundle(
        text,
        trusted_log_keys=[k.encode() for k in policy.keys.counted],
        revoked_log_keys=[k.encode() for k in policy.keys.revoked],
        trusted_witness_keys=[k.encode() for k in policy.witnesses] or None,
        origin=policy.origin,
    )
    return text


def _checkpoint_for(source: StoredCheckpoints, wanted: list[int]) -> StoredCheckpoint:
    status = source.status()
    if status.failure is not None:
        raise NoteError(f"no evidence against an untrusted checkpoint: {status.failure.detail}")
    witnessed, newest = status.trusted_checkpoint, status.newest
    if newest is None:
        raise LedgerError("no checkpoint issued yet: run `govledger checkpoint issue` first")
    chosen = witnessed if witnessed and wanted[-1] <= witnessed.tree_size else newest
    if wanted[0] < 1 or wanted[-1] > chosen.tree_size:
        bad = next(p for p in wanted if not 1 <= p <= chosen.tree_size)
        raise ProofError(
            f"position {bad} is not covered by the newest checkpoint (size {chosen.tree_size})"
        )
    return chosen


def _signed_note(
    policy: CheckpointPolicy, stored: StoredCheckpoint
) -> tuple[str, list[str], list[str]]:
    """The note with only the lines of keys that verify on it, and those keys."""
    parsed = note.parse(stored.cosigned(policy.witnesses))
    log_ok, _ = note.verify_signatures(parsed, policy.keys.counted)
    if not log_ok:
        raise NoteError("the checkpoint has no signature by a trusted log key")
    witness_ok, _ = note.verify_signatures(parsed, policy.witnesses)
    used = {s.key for s in (*log_ok, *witness_ok)}
    kept = note.Note(parsed.text, tuple(s for s in parsed.signatures if s.key in used))
    log_keys = [k.encode() for k in policy.keys.counted if (k.name, k.key_id) in used]
    witness_keys = [k.encode() for k in policy.witnesses if (k.name, k.key_id) in used]
    return kept.format(), log_keys, witness_keys
