"""docs/security.md stays true: every test it names exists, every threat names a test."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
NODE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")
THREATS = ("Outsider", "Malicious clerk", "Malicious operator", "Compromised checkpoint signing")


def test_every_named_test_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = NODE.findall(text)
    assert len(named) >= 40, "the threat table lost its tests"
    missing = []
    for path, function in named:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        if function and not callable(getattr(module, function, None)):
            missing.append(f"{path}::{function}")
    assert not missing, missing


def test_every_threat_row_names_a_test() -> None:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    for threat in THREATS:
        (row,) = [r for r in rows if threat in r.split("|")[1]]
        assert NODE.search(row.split("|")[-2]), f"{threat}: no test in its row"
