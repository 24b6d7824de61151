"""Proofs and checkpoints over HTTP: what an auditor fetches can be checked against the note."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.checkpoint import open_checkpoint
from ledger.checkpoints import generate_key_file, issue_checkpoint
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.merkle import verify_consistency, verify_inclusion
from ledger.note import Ed25519Verifier
from ledger.store.connect import init_ledger
from ledger.tree import LedgerTree, TreeConflictError, open_ledger_tree
from security.apikeys import open_api_keys
from tests.api.conftest import Api, setup_departments
from tests.conftest import Ledger


def test_no_checkpoint_yet_is_404(api: Api) -> None:
    reply = api.client.get("/api/v1/checkpoints/latest")
    assert reply.status_code == 404 and reply.json()["error"] == "no_checkpoint"


def test_inclusion_and_consistency_proofs_verify_against_the_signed_checkpoint(
    settings: Settings, tmp_path: Path
) -> None:
    key_file = tmp_path / "log.key"
    vkey = generate_key_file(str(key_file), "govledger.test")
    settings = settings.with_overrides(checkpoint_key_file=str(key_file))
    init_ledger(settings)
    ledger = Ledger(settings)
    ledger.append(20, per_transaction=3)
    issue_checkpoint(settings)
    ledger.append(5)
    issue_checkpoint(settings)
    ledger.close()
    keys = open_api_keys(settings)
    token = keys.create(Role.AUDITOR).token
    keys.close()
    headers = {"Authorization": f"Bearer {token}"}
    # The service issues on its own schedule too; an unchanged tree reuses the newest note.
    with TestClient(create_app(settings)) as client:
        served = client.get("/api/v1/checkpoints/latest")
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/plain")
        checkpoint = open_checkpoint(served.text, [Ed25519Verifier.from_string(vkey)])
        assert checkpoint.size == 25
        proof = client.get("/api/v1/proofs/inclusion?position=7", headers=headers).json()
        assert (proof["leaf_index"], proof["tree_size"]) == (6, 25)
        assert base64.b64decode(proof["root"]) == checkpoint.root_hash
        verify_inclusion(
            base64.b64decode(proof["leaf_hash"]),
            proof["leaf_index"],
            proof["tree_size"],
            [base64.b64decode(h) for h in proof["proof"]],
            checkpoint.root_hash,
        )
        older = client.get("/api/v1/proofs/consistency?from=20", headers=headers).json()
        verify_consistency(
            older["size1"],
            older["size2"],
            base64.b64decode(older["root1"]),
            base64.b64decode(older["root2"]),
            [base64.b64decode(h) for h in older["proof"]],
        )
        assert (
            client.get("/api/v1/proofs/inclusion?position=99", headers=headers).status_code == 422
        )
        assert client.get("/api/v1/proofs/inclusion?position=1").status_code == 401


def test_department_clerk_cannot_fetch_proofs(api: Api) -> None:
    setup_departments(api)
    reply = api.call("GET", "/proofs/inclusion?position=1", Role.DEPARTMENT_CLERK)
    assert reply.status_code == 403


def test_a_lost_integration_race_serves_the_winners_tree_or_is_503(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several workers integrate the tree at once under heavy ingestion; one that keeps
    losing answers from the tree the winners left when it covers the request, else 503 with
    a retry hint (seen once in bench/load.py as a 400 before)."""
    init_ledger(settings)
    ledger = Ledger(settings)
    ledger.append(10)
    with open_ledger_tree(settings) as tree:
        tree.integrate()  # the winners' tree: 10 leaves
    ledger.append(5)  # the head moves on: 15
    ledger.close()

    def always_beaten(self: LedgerTree, **_: Any) -> int:
        raise TreeConflictError("the tree kept moving under this integrator; try again")

    monkeypatch.setattr(LedgerTree, "integrate", always_beaten)
    keys = open_api_keys(settings)
    headers = {"Authorization": f"Bearer {keys.create(Role.AUDITOR).token}"}
    keys.close()
    with TestClient(create_app(settings)) as client:
        covered = client.get("/api/v1/proofs/inclusion?position=7", headers=headers)
        assert covered.status_code == 200 and covered.json()["tree_size"] == 10
        beyond = client.get("/api/v1/proofs/inclusion?position=12", headers=headers)
        assert beyond.status_code == 503 and beyond.headers["retry-after"] == "1"
        assert beyond.json()["error"] == "tree_busy"
        newer = client.get("/api/v1/proofs/consistency?from=4&to=12", headers=headers)
        assert newer.status_code == 503
        older = client.get("/api/v1/proofs/consistency?from=4", headers=headers)
        assert older.status_code == 200 and older.json()["size2"] == 10
