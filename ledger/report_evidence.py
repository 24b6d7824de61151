"""Was this exact file issued, and where: the check behind ``govledger report verify``
and ``POST /reports/verify`` (docs/reports.md "Issuance and verification").

A file is hashed (SHA-256) and its issuance looked up by the hash
(ledger/domain/report_issue.py). Online, the answer comes with an evidence
bundle of the issuance event against the newest signed checkpoint that covers
it (ledger/evidence.py), checked with this ledger's trusted keys and written
with ``--evidence-out`` for whoever must check it later. Offline (``--evidence
BUNDLE --log-keys-file KEYS``), no database is opened: the bundle is verified
against the published log keys (ledger/evidence_verify.py) and must hold the
issuance row of this hash. A file with one byte changed has another hash: no
issuance names it, and it is refused (exit 1).

The issuance's row in a bundle is found by ``ledger/report_issuance.py``, the leaf the
offline verifier's zipapp carries (``python3 verify.pyz BUNDLE --log-keys-file KEYS
--report FILE``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError
from ledger.evidence_verify import BundleError, BundleReport, verify_bundle
from ledger.report_issuance import (
    ISSUED_TOPIC,
    NotIssuedError,
    file_sha256,
    issuance_in_bundle,
    issued_report_id,
)

__all__ = [
    "ISSUED_TOPIC",
    "FileVerification",
    "NotIssuedError",
    "file_sha256",
    "issuance_in_bundle",
    "issued_report_id",
    "verify_bytes",
    "verify_offline",
]


@dataclass(frozen=True)
class FileVerification:
    """Where and how the file was issued, and what proves it."""

    sha256: str
    position: int  # the issuance event's ledger position
    issuance: dict[str, Any]  # kind, year, format, size, as_of_position, issued_at, actor
    proof: BundleReport

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "sha256": self.sha256,
            "position": self.position,
            "issuance": self.issuance,
            "checkpoint": self.proof.to_json(),
        }

    def summary(self) -> str:
        i = self.issuance
        return (
            f"OK issued: {i['kind']} report {i['year']} ({i['format']}, {i['size']:,} bytes), "
            f"as of ledger position {i['as_of_position']}, issued {i['issued_at']} by "
            f"{i['actor']}; recorded at position {self.position}, proved in the tree of size "
            f"{self.proof.tree_size} signed by {', '.join(self.proof.signed_by)}"
        )


def verify_offline(
    path: Path,
    bundle_text: str,
    *,
    trusted_log_keys: list[str],
    revoked_log_keys: Sequence[str] = (),
    origin: str | None = None,
) -> FileVerification:
    """Verify with no database: the bundle against pinned keys, then the file's row in it."""
    try:
        content = path.read_bytes()
    except OSError as e:
        raise LedgerError(f"cannot read {path}: {e.strerror}") from None
    return verify_bytes(
        content,
        bundle_text,
        trusted_log_keys=trusted_log_keys,
        revoked_log_keys=revoked_log_keys,
        origin=origin,
    )


def verify_bytes(
    content: bytes,
    bundle_text: str,
    *,
    trusted_log_keys: list[str],
    revoked_log_keys: Sequence[str] = (),
    origin: str | None = None,
) -> FileVerification:
    """:func:`verify_offline` of a file's bytes."""
    sha = hashlib.sha256(content).hexdigest()
    if not trusted_log_keys:
        raise NotIssuedError("no trusted log key: pass the log's published keys (--log-keys-file)")
    try:
        report = verify_bundle(
            bundle_text,
            trusted_log_keys=trusted_log_keys,
            revoked_log_keys=revoked_log_keys,
            origin=origin,
        )
    except BundleError as e:
        raise NotIssuedError(f"the evidence does not verify: {e}") from None
    position, fields = issuance_in_bundle(bundle_text, sha)
    return FileVerification(sha, position, fields, report)
