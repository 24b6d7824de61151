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

Like the evidence verifier, this module imports only the format modules (it is
carried in the verifier's zipapp: ``python3 verify.pyz BUNDLE --log-keys-file KEYS
--report FILE``); so the issuance's topic and id are spelled here, and
tests/ledger/test_report_evidence.py pins them to ledger/domain/report_issue.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from ledger.errors import LedgerError
from ledger.evidence_verify import BundleError, BundleReport, verify_bundle

# ledger.domain.report_issue's topic, and its ids: uuid5(ledger.domain.ids.LEDGER_NAMESPACE,
# "issued_report:<sha256>") (ledger.domain.obligations.natural_id).
ISSUED_TOPIC = "ledger.domain.report_issue:IssuedReport.Issued"
_NAMESPACE = UUID("9d7a003b-6bd7-47fe-8e64-0bc07908a513")


def issued_report_id(sha256: str) -> UUID:
    return uuid5(_NAMESPACE, f"issued_report:{sha256}")


class NotIssuedError(LedgerError):
    """No issuance records this file's hash (or the evidence does not prove one)."""


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


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise LedgerError(f"cannot read {path}: {e.strerror}") from None


def issuance_in_bundle(bundle_text: str, sha256: str) -> tuple[int, dict[str, Any]]:
    """The issuance row of ``sha256`` in a bundle (already verified): (position, fields)."""
    wanted = issued_report_id(sha256).hex
    for event in json.loads(bundle_text)["events"]:
        row = event["row"]
        if row["topic"] != ISSUED_TOPIC or str(row["originator_id"]).replace("-", "") != wanted:
            continue
        state = json.loads(base64.b64decode(row["state"]))
        if state.get("sha256") == sha256:
            return int(row["position"]), _fields(state)
    raise NotIssuedError(f"the evidence holds no issuance of a file with SHA-256 {sha256}")


def _fields(state: dict[str, Any]) -> dict[str, Any]:
    """The issuance as stored (docs/facts.md encodings), in plain JSON."""
    actor = state["actor"]["_data_"] if isinstance(state.get("actor"), dict) else {}
    issued_at = state["issued_at"]
    return {
        "kind": state["kind"],
        "year": state["year"],
        "format": state["format"],
        "size": state["size"],
        "as_of_position": state["as_of_position"],
        "issue_id": state["issue_id"],
        "issued_at": issued_at["_data_"] if isinstance(issued_at, dict) else issued_at,
        "actor": f"{actor.get('actor_id')} ({actor.get('role')})",
    }


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
