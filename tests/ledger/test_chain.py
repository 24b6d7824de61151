"""The format (docs/ledger-format.md) pinned by vectors, and the standalone verifier."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledger import chain
from ledger.chain import (
    ChainFormatError,
    entry_input,
    genesis_hash,
    hash_function,
    verify_export,
)
from ledger.config import Settings
from ledger.export import export_jsonl
from ledger.store.connect import open_reader
from tests.conftest import Ledger, require_shared

LEDGER_ID = "3f0c6c1e-2f0a-4b7e-9d2c-5a1b8e7f6d40"
CREATED_AT = "2026-11-25T00:00:00.000000Z"
GENESIS_SHA256 = "ea6bab37423328d3a453b6da366369566b01ba0663a1103997c44bf4c63e814e"
GENESIS_SM3 = "1d4185e3af934d4d3c4bca86cb26ff7c68484d76b6584e89ac8edda4d3f50b83"
ROW1_HASH = "8e08af49a5c8ae8f6ebb44d952a4b4ffb39d73e52857cb4ad8bd3fd3626804f5"
# By hand from §4: tag, u64 position, prev_hash, lp(id), i64 version, lp(topic), lp(state).
ROW1_INPUT = (
    "474c4531" + "0000000000000001" + GENESIS_SHA256
    + "00000020" + "30313233343536373839616263646566" * 2
    + "0000000000000001"
    + "0000001d" + b"ledger.domain:Access.Recorded".hex()
    + "0000000b" + b'{"rows":12}'.hex()
)  # fmt: skip


def test_genesis_vectors() -> None:
    assert genesis_hash(LEDGER_ID, CREATED_AT, "sha256").hex() == GENESIS_SHA256
    assert genesis_hash(LEDGER_ID, CREATED_AT, "sm3").hex() == GENESIS_SM3


def test_entry_vector() -> None:
    data = entry_input(
        1,
        bytes.fromhex(GENESIS_SHA256),
        "0123456789abcdef0123456789abcdef",
        1,
        "ledger.domain:Access.Recorded",
        b'{"rows":12}',
    )
    assert data.hex() == ROW1_INPUT
    assert hash_function("sha256")(data).hex() == ROW1_HASH


def test_sm3_matches_the_national_standard_vectors() -> None:
    text = require_shared("vectors/gm/README.md").read_text(encoding="utf-8")
    sm3 = hash_function("sm3")
    assert sm3(b"abc").hex() in text
    assert sm3(b"abcd" * 16).hex() in text
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ChainFormatError, match="unknown hash algorithm 'md5'"):
        hash_function("md5")


def test_negative_versions_and_unicode_topics_encode_without_ambiguity() -> None:
    a = entry_input(1, b"\0" * 32, "ab", -1, "主题", b"")
    b = entry_input(1, b"\0" * 32, "a", -1, "b主题", b"")
    assert a != b


# ------------------------------------------------------------ export + standalone


@pytest.fixture
def exported(sqlite_settings: Settings, tmp_path: Path) -> Path:
    ledger = Ledger(sqlite_settings)
    ledger.append(30, per_transaction=4)
    ledger.close()
    path = tmp_path / "ledger.jsonl"
    reader = open_reader(sqlite_settings)
    try:
        with path.open("w", encoding="utf-8") as f:
            assert export_jsonl(reader, f).count == 30
    finally:
        reader.close()
    return path


def run_standalone(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The verifier copied alone into an empty directory, run in isolated mode:
    it cannot import anything of this project."""
    alone = tmp_path / "alone"
    alone.mkdir(exist_ok=True)
    shutil.copy(chain.__file__, alone / "verify_ledger.py")
    return subprocess.run(
        [sys.executable, "-I", "verify_ledger.py", *args],
        cwd=alone,
        capture_output=True,
        text=True,
        check=False,
    )


def test_standalone_verifier_accepts_an_untouched_export(exported: Path, tmp_path: Path) -> None:
    result = run_standalone(tmp_path, str(exported), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["count"] == 30 and report["head_position"] == 30


def _rewrite(path: Path, line: int, **changes: object) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[line])
    row.update(changes)
    lines[line] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_standalone_verifier_names_an_altered_row(exported: Path, tmp_path: Path) -> None:
    _rewrite(exported, 13, state=base64.b64encode(b"tampered").decode())
    result = run_standalone(tmp_path, str(exported))
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL position 13: altered")


def test_standalone_verifier_names_a_missing_row(exported: Path, tmp_path: Path) -> None:
    lines = exported.read_text(encoding="utf-8").splitlines()
    del lines[7]
    exported.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_standalone(tmp_path, str(exported))
    assert result.returncode == 1 and "position 7: missing" in result.stdout


def test_standalone_verifier_names_swapped_lines(exported: Path, tmp_path: Path) -> None:
    lines = exported.read_text(encoding="utf-8").splitlines()
    lines[5], lines[9] = lines[9], lines[5]
    exported.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not verify_export(str(exported)).ok
    result = run_standalone(tmp_path, str(exported))
    assert result.returncode == 1 and "position 5" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("not json\n", "not JSON"),
        ('{"type": "row"}\n', "not a genesis record"),
    ],
)
def test_a_file_that_is_no_export_is_an_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    result = run_standalone(tmp_path, str(path))
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_a_malformed_genesis_record_is_a_genesis_break(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "genesis", "ledger_id": "x"}\n', encoding="utf-8")
    result = run_standalone(tmp_path, str(path), "--json")
    assert result.returncode == 1
    failure = json.loads(result.stdout)["failure"]
    assert (failure["kind"], failure["position"]) == ("genesis", 0)
    assert "lacks" in failure["detail"]


def _replace_line(path: Path, index: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[index] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"position": "11"}, "position"),
        ({"position": 11.0}, "position"),
        ({"position": None}, "position"),
        ({"topic": None}, "topic"),
        ({"originator_version": "1"}, "originator_version"),
        ({"originator_version": True}, "originator_version"),
        ({"state": "not base64!"}, "state"),
        ({"hash": "ab" * 31}, "hash"),
        ({"prev_hash": None}, "prev_hash"),
    ],
)
def test_a_malformed_row_is_named_at_its_position(
    exported: Path, tmp_path: Path, changes: dict[str, object], field: str
) -> None:
    """docs/ledger-format.md §5 rule 2: never a traceback, never an error: a break at 11."""
    _rewrite(exported, 11, **changes)
    result = run_standalone(tmp_path, str(exported), "--json")
    assert result.returncode == 1, result.stderr
    failure = json.loads(result.stdout)["failure"]
    assert (failure["kind"], failure["position"]) == ("malformed", 11), failure
    assert field in failure["detail"]


@pytest.mark.parametrize("text", ["not json at all", "[1, 2]", '{"type": "genesis"}', "{"])
def test_a_line_that_is_no_row_is_malformed_at_its_place(
    exported: Path, tmp_path: Path, text: str
) -> None:
    _replace_line(exported, 9, text)
    report = verify_export(str(exported))
    assert report.failure is not None
    assert (report.failure.kind, report.failure.position) == ("malformed", 9)


@pytest.mark.parametrize("position", [0, -1])
def test_a_row_before_row_1_is_below_genesis(exported: Path, tmp_path: Path, position: int) -> None:
    lines = exported.read_text(encoding="utf-8").splitlines()
    forged = json.loads(lines[1]) | {"position": position}
    lines.insert(1, json.dumps(forged))
    exported.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_standalone(tmp_path, str(exported))
    assert result.returncode == 1
    assert result.stdout.startswith(f"FAIL position {position}: below_genesis")


def test_a_second_row_at_a_position_is_a_duplicate(exported: Path) -> None:
    lines = exported.read_text(encoding="utf-8").splitlines()
    lines.insert(15, lines[14])
    exported.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_export(str(exported))
    assert report.failure is not None
    assert (report.failure.kind, report.failure.position) == ("duplicate", 14)


def test_the_verifier_names_malformed_stored_rows_it_is_fed() -> None:
    """Rows as a database hands them over: NULLs, TEXT for BLOB, a hash of 31 bytes."""
    digest = hash_function("sha256")
    genesis = bytes(32)
    good = chain.chain_rows(digest, 0, genesis, [("a" * 32, 1, "t:T", b"{}")] * 3)
    for bad_field, value in [(3, None), (4, "{}"), (2, "1"), (2, 1.0), (6, b"\0" * 31), (1, None)]:
        rows = list(good)
        rows[1] = tuple(value if i == bad_field else v for i, v in enumerate(rows[1]))  # type: ignore[assignment]
        verifier = chain.ChainVerifier(digest, 0, genesis)
        index = verifier.feed(rows)
        assert index == 1, bad_field
        found = verifier.classify(rows[1], _NoLookup())
        assert (found.kind, found.position) == ("malformed", 2), (bad_field, found)


class _NoLookup:
    def row_at(self, position: int) -> None:
        return None

    def position_of_hash(self, stored_hash: bytes, after: int) -> None:
        return None
