"""Every test the docs cite by node id (``tests/….py::test_…``) exists where they say.

The threat tables (docs/security.md) and the format docs name the test that proves each
control: a test moved or renamed would leave the claim citing nothing. Read from the
syntax tree, so a name in a comment or a string does not count.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITATION = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def _cited() -> set[tuple[str, str]]:
    texts = [path.read_text(encoding="utf-8") for path in sorted(ROOT.glob("docs/**/*.md"))]
    texts.append((ROOT / "README.md").read_text(encoding="utf-8"))
    return {(path, name) for text in texts for path, name in CITATION.findall(text)}


def _defined(path: Path) -> set[str]:
    """The test functions of a module, at its top level or in its classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        body = node.body if isinstance(node, ast.ClassDef) else [node]
        found |= {n.name for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    return found


def test_the_docs_cite_tests() -> None:
    assert len(_cited()) > 100  # the threat tables alone cite more: the pattern still matches


def test_every_test_the_docs_cite_exists_where_they_say() -> None:
    missing = sorted(
        f"{path}::{name}"
        for path, name in _cited()
        if not (ROOT / path).is_file() or name not in _defined(ROOT / path)
    )
    assert missing == [], "docs cite tests that are not there (moved or renamed?)"
