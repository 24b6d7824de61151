"""After a restore: does the restored ledger extend the checkpoint signed before the backup?

``python -m ops.restore_check CHECKPOINT_NOTE PROOF_JSON`` (run by ops/scripts/restore.sh,
docs/operations.md §Backup and restore). ``CHECKPOINT_NOTE`` is the signed checkpoint the
backup script issued and kept beside the dump; ``PROOF_JSON`` is the output of
``govledger prove --consistency --from <its size> --json`` on the restored ledger. The note's
signature is checked against the log's trusted keys, the proof's older root must be the
note's root, and the RFC 9162 §2.1.4.2 proof must hold. Exit 0, or 1 with one line saying why.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ledger.chain import hash_function
from ledger.checkpoint import open_checkpoint
from ledger.checkpoints import load_trusted_keys
from ledger.config import Settings, load_settings
from ledger.errors import LedgerError
from ledger.merkle import verify_consistency
from ledger.store.connect import open_reader


def check_restore(settings: Settings, signed_note: str, proof: dict[str, object]) -> str:
    """A one-line success message, or :class:`LedgerError` naming the failure."""
    keys = load_trusted_keys(settings)
    if not keys.active:
        raise LedgerError("no trusted keys: set GOVLEDGER_TRUSTED_KEYS_FILE")
    checkpoint = open_checkpoint(signed_note, keys.active, retired=keys.retired)
    root1 = base64.b64decode(str(proof["root1"]))
    if int(str(proof["size1"])) != checkpoint.size or root1 != checkpoint.root_hash:
        raise LedgerError(
            f"the restored tree at size {checkpoint.size} does not have the pre-backup "
            "checkpoint's root: the restored ledger differs from the one backed up"
        )
    reader = open_reader(settings)
    try:
        hash_fn = hash_function(reader.genesis().hash_algorithm)
    finally:
        reader.close()
    hashes = [base64.b64decode(str(h)) for h in proof["proof"]]  # type: ignore[attr-defined]
    size2 = int(str(proof["size2"]))
    root2 = base64.b64decode(str(proof["root2"]))
    verify_consistency(checkpoint.size, size2, root1, root2, hashes, hash_fn=hash_fn)
    return (
        f"restored ledger (size {size2}) extends the pre-backup checkpoint (size {checkpoint.size})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m ops.restore_check CHECKPOINT_NOTE PROOF_JSON", file=sys.stderr)
        return 2
    try:
        note_text = Path(args[0]).read_text(encoding="utf-8")
        proof = json.loads(Path(args[1]).read_text(encoding="utf-8"))
        print(check_restore(load_settings(), note_text, proof))
    except (LedgerError, OSError, ValueError, KeyError) as e:
        print(f"restore check failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
