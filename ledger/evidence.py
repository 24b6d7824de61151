"""Evidence bundles: rows with their proofs against a signed checkpoint (checkpoint-format §13).

A bundle is one canonical JSON file (:func:`ledger.evidence_verify.canonical_json`)::

    {"format": "govledger-evidence/1",
     "genesis": {...the genesis record as exported...},
     "checkpoint": "<the newest checkpoint note, its log signature and cosignatures>",
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
from ledger.checkpoints import CheckpointStore, load_trusted_keys, load_witness_keys
from ledger.config import Settings
from ledger.errors import LedgerError, NoteError, ProofError
from ledger.evidence_verify import BUNDLE_FORMAT, canonical_json, verify_bundle
from ledger.tree import b64, open_ledger_tree

__all__ = ["build_bundle"]

Progress = Callable[[int], None]


def build_bundle(
    settings: Settings, positions: Iterable[int], *, progress: Progress | None = None
) -> str:
    """The canonical bundle text for ``positions`` against the newest stored checkpoint.

    The bundle is verified (as the offline verifier would) before it is returned.
    """
    wanted = sorted({1, *positions})
    with open_ledger_tree(settings) as tree:
        latest = CheckpointStore(tree.database).latest()
        if latest is None:
            raise LedgerError("no checkpoint issued yet: run `govledger checkpoint issue` first")
        if wanted[0] < 1 or wanted[-1] > latest.tree_size:
            bad = next(p for p in wanted if not 1 <= p <= latest.tree_size)
            raise ProofError(
                f"position {bad} is not covered by the newest checkpoint (size {latest.tree_size})"
            )
        signed, log_keys, witness_keys = _signed_note(settings, latest.served)
        events = []
        for position in wanted:
            row = tree.reader.row_at(position)
            if row is None:
                raise ProofError(f"the log has no row {position}")
            proof = tree.tree.inclusion_proof(position - 1, latest.tree_size)
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
    verify_bundle(text)
    return text


def _signed_note(settings: Settings, served: str) -> tuple[str, list[str], list[str]]:
    """The note with only the lines of keys that verify on it, and those keys."""
    parsed = note.parse(served)
    trusted = load_trusted_keys(settings)
    log_ok, _ = note.verify_signatures(parsed, trusted.active)
    if not log_ok:
        raise NoteError("the newest checkpoint has no signature by an active trusted key")
    witnesses = load_witness_keys(settings)
    witness_ok, _ = note.verify_signatures(parsed, witnesses)
    used = {s.key for s in (*log_ok, *witness_ok)}
    kept = note.Note(parsed.text, tuple(s for s in parsed.signatures if s.key in used))
    log_keys = [k.encode() for k in trusted.active if (k.name, k.key_id) in used]
    witness_keys = [k.encode() for k in witnesses if (k.name, k.key_id) in used]
    return kept.format(), log_keys, witness_keys
