"""The spec-written client's RFC 9162 verifiers against the shared transparency-dev vectors.

tests/tlog_client.py shares no code with the server, so it is pinned on its
own: it must accept exactly the cases the vectors accept (``wantErr: false``).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests import tlog_client
from tests.ledger._vectors import json_cases, load_json

VECTORS = ("rfc9162-merkle",)


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(p) for p in case["proof"] or []]


@pytest.mark.parametrize("path", json_cases(VECTORS, "inclusion"))
def test_inclusion_vector(path: Path) -> None:
    case = load_json(path)
    leaf, root = base64.b64decode(case["leafHash"]), base64.b64decode(case["root"])
    args = (tlog_client.sha256, leaf, case["leafIdx"], case["treeSize"], _proof(case), root)
    if case["wantErr"]:
        with pytest.raises(tlog_client.InvalidError):
            tlog_client.verify_inclusion(*args)
    else:
        tlog_client.verify_inclusion(*args)


@pytest.mark.parametrize("path", json_cases(VECTORS, "consistency"))
def test_consistency_vector(path: Path) -> None:
    case = load_json(path)
    roots = base64.b64decode(case["root1"]), base64.b64decode(case["root2"])
    args = (tlog_client.sha256, case["size1"], case["size2"], *roots, _proof(case))
    if case["wantErr"]:
        with pytest.raises(tlog_client.InvalidError):
            tlog_client.verify_consistency(*args)
    else:
        tlog_client.verify_consistency(*args)
