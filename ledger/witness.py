"""The witness: check a checkpoint, then cosign it (docs/checkpoint-format.md §7, §12).

:func:`witness_checkpoint` verifies the log's signature with the log's trusted
keys and origin, checks that the checkpoint was issued by this ledger, checks
RFC 9162 §2.1.4 consistency with the last checkpoint it cosigned (kept in its
own state file), then adds its ``cosignature/v1`` line (c2sp.org/tlog-cosignature)
through the cosignature write path and only then rewrites its state file.

It writes nothing else: the tree is read, and where it has not been integrated
up to the checkpoint yet, the missing part is computed in memory from the rows
(the proof is checked against the signed root, so the rows are not trusted).
So a witness's database role needs read access and
:func:`ledger.checkpoint_store.grant_checkpoint_witness` only (§11 *Privileges*).
The checks stand apart from the database, so a witness reached over the network
(C2SP tlog-witness) can reuse them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ledger import note
from ledger.checkpoint import Checkpoint, cosign
from ledger.checkpoint_keys import load_trusted_keys, load_witness_keys, load_witness_signer
from ledger.checkpoint_store import CheckpointStore
from ledger.checkpoint_trust import CheckpointPolicy, ledger_origin
from ledger.config import Settings
from ledger.errors import ConfigurationError, NoteError, ProofError
from ledger.merkle import MemoryNodeStore, MerkleTree, verify_consistency
from ledger.tree import LedgerTree, b64, open_ledger_tree

__all__ = ["WitnessResult", "witness_checkpoint"]

_ROWS_PER_READ = 10_000


@dataclass(frozen=True)
class WitnessResult:
    checkpoint: Checkpoint
    line: str
    new: bool  # False: a valid line of this witness was already stored
    served: str  # the checkpoint with the verified cosignatures of the known witnesses


def witness_checkpoint(
    settings: Settings, key_file: str, state_file: str, checkpoint_text: str | None = None
) -> WitnessResult:
    """Verify, check consistency with the last checkpoint seen, cosign (tlog-cosignature §Format).

    Every check runs before anything is written: the cosignature row first,
    then the state file (write-then-rename).
    """
    signer = load_witness_signer(key_file)
    state = _WitnessState.load(state_file)
    with open_ledger_tree(settings) as tree:  # read only: never integrated here
        keys = load_trusted_keys(settings)
        if not keys.counted:
            raise ConfigurationError("no trusted log keys: set GOVLEDGER_TRUSTED_KEYS_FILE")
        policy = CheckpointPolicy(ledger_origin(settings, tree.genesis.ledger_id), keys)
        store = CheckpointStore(tree.database)
        served = checkpoint_text if checkpoint_text is not None else _latest_note(store)
        checkpoint = policy.open_signed(served)
        stored = store.find(note.parse(served).text)
        if stored is None:
            raise NoteError("this checkpoint was not issued by this ledger (not in its store)")
        _check_consistent(tree, state, checkpoint)
        cosigned = note.parse(cosign(stored.note, signer))
        mine = next(s for s in cosigned.signatures if s.key == (signer.name, signer.key_id))
        line = mine.line()
        new = store.add_cosignature(stored.id, line, signer.verifier())
        _WitnessState.save(state_file, checkpoint, served)
        witnesses = tuple(dict.fromkeys((*load_witness_keys(settings), signer.verifier())))
        after = store.find(checkpoint.format())
        return WitnessResult(checkpoint, line, new, (after or stored).cosigned(witnesses))


def _latest_note(store: CheckpointStore) -> str:
    latest = store.latest()
    if latest is None:
        raise NoteError("the ledger has issued no checkpoint yet")
    return latest.note


def _check_consistent(tree: LedgerTree, state: _WitnessState | None, new: Checkpoint) -> None:
    """RFC 9162 §2.1.4: the new checkpoint must extend the last one this witness saw."""
    if state is None or state.size == 0:
        return
    if state.origin != new.origin:
        raise NoteError(f"checkpoint origin {new.origin!r} is not {state.origin!r} seen before")
    if new.size < state.size:
        raise ProofError(
            f"checkpoint size {new.size} is smaller than size {state.size} seen before"
        )
    proof = _consistency_proof(tree, state.size, new.size)
    verify_consistency(state.size, new.size, state.root, new.root_hash, proof, hash_fn=tree.hash_fn)


def _consistency_proof(tree: LedgerTree, size1: int, size2: int) -> list[bytes]:
    """From the stored tree if it reaches ``size2``, else computed in memory from the rows."""
    if size2 <= tree.refresh():
        return list(tree.consistency(size1, size2).proof)
    memory = MerkleTree(MemoryNodeStore(), hash_fn=tree.hash_fn)
    for batch in tree.reader.iter_batches(0, _ROWS_PER_READ):
        memory.extend(tree.leaf_hash(row[6]) for row in batch[: size2 - memory.size])
        if memory.size >= size2:
            break
    if memory.size < size2:
        raise ProofError(f"the log has {memory.size} rows, fewer than the checkpoint's {size2}")
    return memory.consistency_proof(size1, size2)


@dataclass(frozen=True)
class _WitnessState:
    """The witness's memory: the last checkpoint it cosigned (a file only it writes)."""

    origin: str
    size: int
    root: bytes

    @classmethod
    def load(cls, path: str) -> _WitnessState | None:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                str(data["origin"]), int(data["size"]), note.decode_base64(data["root"], "root")
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, NoteError) as e:
            raise ConfigurationError(
                f"witness state {path} is unreadable: {e.__class__.__name__}"
            ) from None

    @staticmethod
    def save(path: str, checkpoint: Checkpoint, served: str) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": b64(checkpoint.root_hash),
            "note": served,
        }
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, target)
