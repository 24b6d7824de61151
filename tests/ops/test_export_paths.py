"""``govledger export -o`` with hostile paths (issue #7 item 4; docs/security.md).

The path is the operator's: it is used literally (no shell, no expansion, no
template), a bad one is a one-line error with exit 2 and no partial file, and
the ledger is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.config import Settings
from ledger.store.connect import open_reader
from ops.cli import EXIT_ERROR, EXIT_OK, main
from tests.conftest import Ledger


@pytest.fixture
def exporting(monkeypatch: pytest.MonkeyPatch, sqlite_settings: Settings, tmp_path: Path) -> Path:
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.setenv("GOVLEDGER_STATE_DIR", sqlite_settings.state_dir)
    ledger = Ledger(sqlite_settings)
    ledger.append(5)
    ledger.close()
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    return out


def head(settings: Settings) -> int:
    reader = open_reader(settings)
    try:
        return reader.max_position()
    finally:
        reader.close()


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    "name",
    [
        "$(touch pwned); rm -rf ..",
        "' OR '1'='1 --.jsonl",
        "`id`.jsonl",
        "%2e%2e%2fetc%2fpasswd",
        "~root.jsonl",
        "中文 文件名.jsonl",
    ],
)
def test_metacharacters_name_a_literal_file(
    exporting: Path, sqlite_settings: Settings, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    before = head(sqlite_settings)
    assert main(["export", "-o", name]) == EXIT_OK
    assert files_under(exporting) == {name}
    assert (
        len((exporting / name).read_text(encoding="utf-8").splitlines()) == 1 + 5
    )  # genesis + rows
    assert head(sqlite_settings) == before


def test_dot_dot_goes_exactly_where_it_says(
    exporting: Path, sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (exporting / "sub").mkdir()
    assert main(["export", "-o", "sub/../../escaped.jsonl"]) == EXIT_OK
    assert (exporting.parent / "escaped.jsonl").is_file()
    assert files_under(exporting) == {"sub"}


@pytest.mark.parametrize(
    "path",
    [
        ".",
        "..",
        "missing-dir/x.jsonl",
        "../../../../../../nonexistent-root-dir/x.jsonl",
        "a\x00b.jsonl",
        "x" * 5000,
    ],
    ids=["dot", "dotdot", "missing-dir", "traversal-to-missing", "nul-byte", "too-long"],
)
def test_bad_paths_are_one_line_errors_without_partials(
    exporting: Path, sqlite_settings: Settings, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    before = head(sqlite_settings)
    assert main(["export", "-o", path]) == EXIT_ERROR
    _, err = capsys.readouterr()
    assert err.startswith("govledger: error: ") and err.count("\n") == 1, err
    assert files_under(exporting) == set()
    assert not any(p.name.endswith(".partial") for p in exporting.parent.rglob("*"))
    assert head(sqlite_settings) == before
    assert os.getcwd() == str(exporting)
