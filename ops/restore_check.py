"""Does the restored ledger extend the checkpoint signed before the backup?

``govledger restore`` runs :func:`check_anchor` after ``verify --full``
(docs/operations.md §Backup and restore); ``python -m ops.restore_check CHECKPOINT_NOTE``
runs it alone, e.g. against the copy of a backup's ``checkpoint.note`` kept away from the
dumps. The note must open under the configured policy: the log's trusted keys
(``GOVLEDGER_TRUSTED_KEYS_FILE``, retired keys included for checkpoints they signed) and,
with ``GOVLEDGER_WITNESS_QUORUM``, that many of the configured witnesses' cosignatures.
Then the restored tree at the note's size must have the note's root, and the RFC 9162
§2.1.4 consistency proof from that size to the restored head must hold.
Exit 0, or 1 with one line saying why (2: the check could not run).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ledger.checkpoints import policy_from_settings
from ledger.config import Settings, load_settings
from ledger.errors import ConfigurationError, LedgerError, VerificationError
from ledger.merkle import verify_consistency
from ledger.tree import open_ledger_tree


class AnchorMismatchError(VerificationError):
    """The restored ledger is not the one the anchor checkpoint signed."""


def check_anchor(settings: Settings, signed_note: str) -> str:
    """A one-line success message; :class:`VerificationError` if the ledger does not extend
    the note, :class:`ConfigurationError` if no trust is configured to check it with."""
    with open_ledger_tree(settings) as tree:
        policy = policy_from_settings(settings, tree.genesis.ledger_id)
        if policy is None:
            raise ConfigurationError(
                "no trusted keys to check the backup's checkpoint: set GOVLEDGER_TRUSTED_KEYS_FILE"
            )
        checkpoint = policy.open(signed_note)
        tree.integrate()
        head = tree.size
        if checkpoint.size > head:
            raise AnchorMismatchError(
                f"the restored ledger has {head} rows, fewer than the {checkpoint.size} "
                "of the pre-backup checkpoint"
            )
        if checkpoint.size > 0:
            proof = tree.consistency(checkpoint.size, head)
            if proof.root1 != checkpoint.root_hash:
                raise AnchorMismatchError(
                    f"the restored tree at size {checkpoint.size} does not have the pre-backup "
                    "checkpoint's root: the restored ledger differs from the one backed up"
                )
            verify_consistency(
                checkpoint.size,
                head,
                proof.root1,
                proof.root2,
                list(proof.proof),
                hash_fn=tree.hash_fn,
            )
    return (
        f"restored ledger (size {head}) extends the pre-backup checkpoint (size {checkpoint.size})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m ops.restore_check CHECKPOINT_NOTE", file=sys.stderr)
        return 2
    try:
        note_text = Path(args[0]).read_text(encoding="utf-8")
        print(check_anchor(load_settings(), note_text))
    except VerificationError as e:
        print(f"restore check failed: {e}", file=sys.stderr)
        return 1
    except (LedgerError, OSError, ValueError) as e:
        print(f"restore check could not run: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
