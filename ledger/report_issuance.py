"""An issued report's row in an evidence bundle (docs/reports.md "Issuance and
verification"): the file's SHA-256, the issuance's id and topic, and its fields.

A leaf of the format modules: the offline evidence verifier (ledger/evidence_verify.py)
and its zipapp carry it for ``--report FILE``, and ledger/report_evidence.py (the online
check) builds on it, so neither imports the other's side. It imports nothing of the
domain, so the issuance's topic and id are spelled here, and
tests/ops/test_report_verify.py pins them to ledger/domain/report_issue.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from ledger.errors import LedgerError

# ledger.domain.report_issue's topic, and its ids: uuid5(ledger.domain.ids.LEDGER_NAMESPACE,
# "issued_report:<sha256>") (ledger.domain.obligations.natural_id).
ISSUED_TOPIC = "ledger.domain.report_issue:IssuedReport.Issued"
_NAMESPACE = UUID("9d7a003b-6bd7-47fe-8e64-0bc07908a513")


def issued_report_id(sha256: str) -> UUID:
    return uuid5(_NAMESPACE, f"issued_report:{sha256}")


class NotIssuedError(LedgerError):
    """No issuance records this file's hash (or the evidence does not prove one)."""


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
