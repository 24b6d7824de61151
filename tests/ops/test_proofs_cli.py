"""``govledger prove | checkpoint | witness | evidence | keys public | keys generate``."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

import pytest

import ops.cli
from ledger.config import Settings
from ledger.merkle import verify_consistency, verify_inclusion
from ops.proofs_cli import add_key_commands, register
from tests.conftest import Ledger


def wired_parser() -> argparse.ArgumentParser:
    """ops/cli.py's parser with this module wired in, as the wiring instructions say."""
    parser = _original_build_parser()
    sub: Any = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "prove" not in sub.choices:
        register(sub)
    if "keys" not in sub.choices:
        sub.add_parser("keys").add_subparsers(dest="keys_command", required=True)
    keys: Any = next(
        a for a in sub.choices["keys"]._actions if isinstance(a, argparse._SubParsersAction)
    )
    if "public" not in keys.choices:
        add_key_commands(keys)
    return parser


_original_build_parser = ops.cli.build_parser


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path) -> Settings:
    monkeypatch.setattr(ops.cli, "build_parser", wired_parser)
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GOVLEDGER_POSTGRES_SCHEMA", settings.postgres_schema)
    monkeypatch.setenv("GOVLEDGER_STATE_DIR", settings.state_dir)
    key = tmp_path / "keys" / "log.key"
    key.parent.mkdir()
    monkeypatch.setenv("GOVLEDGER_CHECKPOINT_KEY_FILE", str(key))
    return settings


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = ops.cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_prove_inclusion_and_consistency_json(
    cli: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger(cli)
    ledger.append(30, per_transaction=4)
    ledger.close()
    code, out, _ = run(capsys, "prove", "--position", "7", "--size", "20", "--json")
    body = json.loads(out)
    assert code == 0 and set(body) == {"leaf_index", "tree_size", "leaf_hash", "proof", "root"}
    assert (body["leaf_index"], body["tree_size"]) == (6, 20)
    verify_inclusion(
        b64(body["leaf_hash"]), 6, 20, [b64(p) for p in body["proof"]], b64(body["root"])
    )
    code, out, _ = run(capsys, "prove", "--consistency", "--from", "9", "--to", "30", "--json")
    body = json.loads(out)
    assert code == 0 and set(body) == {"size1", "size2", "root1", "root2", "proof"}
    verify_consistency(
        9, 30, b64(body["root1"]), b64(body["root2"]), [b64(p) for p in body["proof"]]
    )
    code, out, _ = run(capsys, "prove", "--position", "30")
    assert code == 0 and "tree_size: 30" in out


@pytest.mark.parametrize(
    "argv",
    [
        ("prove", "--position", "31", "--json"),
        ("prove", "--position", "5", "--size", "31"),
        ("prove", "--consistency", "--from", "20", "--to", "10"),
        ("prove", "--consistency", "--from", "1", "--to", "99"),
        ("prove",),
    ],
)
def test_prove_bad_input_is_one_line(
    cli: Settings, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    ledger = Ledger(cli)
    ledger.append(30, per_transaction=10)
    ledger.close()
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("govledger: error")


def test_keys_checkpoint_witness_evidence_end_to_end(
    cli: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = str(tmp_path / "keys" / "log.key")
    code, vkey, _ = run(capsys, "keys", "generate", "--name", "log.example", "-o", key)
    assert code == 0 and vkey.startswith("log.example+")
    code, out, _ = run(capsys, "keys", "public")
    assert (code, out) == (0, vkey)
    code, out, err = run(capsys, "keys", "generate", "--name", "log.example", "-o", key)
    assert code == 2 and "already exists" in err and out == ""

    ledger = Ledger(cli)
    ledger.append(25, per_transaction=5)
    ledger.close()
    code, out, err = run(capsys, "checkpoint", "latest")
    assert code == 2 and "no checkpoint" in err
    code, issued, err = run(capsys, "checkpoint", "issue")
    assert code == 0 and "issued checkpoint 1 (size 25)" in err
    code, latest, _ = run(capsys, "checkpoint", "latest")
    assert (code, latest) == (0, issued)

    trusted = tmp_path / "keys" / "trusted"
    trusted.write_text(vkey)
    witness_key = str(tmp_path / "w.key")
    code, wvkey, _ = run(
        capsys, "keys", "generate", "--witness", "--name", "w.example", "-o", witness_key
    )
    (tmp_path / "witnesses").write_text(wvkey)
    monkeypatch.setenv("GOVLEDGER_TRUSTED_KEYS_FILE", str(trusted))
    monkeypatch.setenv("GOVLEDGER_WITNESS_KEYS_FILE", str(tmp_path / "witnesses"))
    monkeypatch.setenv("GOVLEDGER_WITNESS_QUORUM", "1")
    state = str(tmp_path / "w.state")
    code, cosigned, _ = run(capsys, "witness", "--key", witness_key, "--state", state)
    assert code == 0 and cosigned.startswith(issued) and cosigned.count("\u2014 ") == 2
    code, latest, _ = run(capsys, "checkpoint", "latest")
    assert latest == cosigned
    code, out, _ = run(capsys, "verify", "--json")
    assert code == 0 and json.loads(out)["ok"]

    bundle, verifier = tmp_path / "b.json", tmp_path / "v.pyz"
    code, _, err = run(
        capsys, "evidence", "--position", "4", "-o", str(bundle), "--verifier", str(verifier)
    )
    assert code == 0 and bundle.exists() and verifier.exists()
    code, _, err = run(capsys, "evidence", "--position", "26", "-o", str(tmp_path / "no.json"))
    assert code == 2 and "not covered" in err and not (tmp_path / "no.json").exists()


def test_malformed_inputs_write_nothing(
    cli: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ledger = Ledger(cli)
    ledger.append(5)
    ledger.close()
    # Missing key file: nothing issued.
    code, out, err = run(capsys, "checkpoint", "issue")
    assert code == 2 and "does not exist" in err and out == ""
    bad = tmp_path / "bad.note"
    bad.write_text("not a checkpoint\n")
    witness_key = str(tmp_path / "w.key")
    run(capsys, "keys", "generate", "--witness", "--name", "w.example", "-o", witness_key)
    state = tmp_path / "w.state"
    code, out, err = run(
        capsys,
        "witness",
        "--key",
        witness_key,
        "--state",
        str(state),
        "--checkpoint-file",
        str(bad),
    )
    assert code == 2 and err.count("\n") == 1 and not state.exists()


def test_checkpoint_issue_with_a_retired_key_is_refused_before_anything_is_written(
    cli: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rotation done in the trusted keys file, one unit still pointed at the old key (21.4)."""
    old_key = str(tmp_path / "keys" / "log.key")
    _, old, _ = run(capsys, "keys", "generate", "--name", "log.example", "-o", old_key)
    new_key = str(tmp_path / "keys" / "log2.key")
    _, new, _ = run(capsys, "keys", "generate", "--name", "log.example", "-o", new_key)
    ledger = Ledger(cli)
    ledger.append(6)
    ledger.close()
    assert run(capsys, "checkpoint", "issue")[0] == 0
    trusted = tmp_path / "keys" / "trusted"
    trusted.write_text(f"{new}retired {old}")
    monkeypatch.setenv("GOVLEDGER_TRUSTED_KEYS_FILE", str(trusted))
    ledger = Ledger(cli)
    ledger.append(4)
    ledger.close()
    code, out, err = run(capsys, "checkpoint", "issue")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "is retired" in err and "may no longer sign" in err
    code, latest, _ = run(capsys, "checkpoint", "latest")
    assert code == 0 and latest.split("\n")[1] == "6", "a refused issuer stored a checkpoint"
    code, out, _ = run(capsys, "verify", "--json")
    assert code == 0 and json.loads(out)["ok"], "the retired key's checkpoint no longer verifies"
    monkeypatch.setenv("GOVLEDGER_CHECKPOINT_KEY_FILE", new_key)
    code, issued, _ = run(capsys, "checkpoint", "issue")
    assert code == 0 and issued.split("\n")[1] == "10"
    assert run(capsys, "verify")[0] == 0


def test_checkpoint_status_tells_awaiting_witnesses_from_untrusted(
    cli: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = str(tmp_path / "keys" / "log.key")
    _, vkey, _ = run(capsys, "keys", "generate", "--name", "log.example", "-o", key)
    witness_key = str(tmp_path / "w.key")
    _, wvkey, _ = run(
        capsys, "keys", "generate", "--witness", "--name", "w.example", "-o", witness_key
    )
    (tmp_path / "trusted").write_text(vkey)
    (tmp_path / "witnesses").write_text(wvkey)
    monkeypatch.setenv("GOVLEDGER_TRUSTED_KEYS_FILE", str(tmp_path / "trusted"))
    monkeypatch.setenv("GOVLEDGER_WITNESS_KEYS_FILE", str(tmp_path / "witnesses"))
    monkeypatch.setenv("GOVLEDGER_WITNESS_QUORUM", "1")
    ledger = Ledger(cli)
    ledger.append(8)
    ledger.close()
    assert run(capsys, "checkpoint", "status") == (0, "none: newest witnessed: none\n", "")
    run(capsys, "checkpoint", "issue")
    code, out, _ = run(capsys, "checkpoint", "status", "--json")
    body = json.loads(out)
    assert code == 0 and body["state"] == "awaiting-witnesses" and body["awaiting"] == 1
    assert body["witnessed"] is None and body["newest"]["tree_size"] == 8
    assert run(capsys, "verify")[0] == 0  # not yet witnessed is not a break
    code, _, err = run(capsys, "checkpoint", "latest", "--witnessed")
    assert code == 2 and "no checkpoint meets the witness quorum" in err
    run(capsys, "witness", "--key", witness_key, "--state", str(tmp_path / "w.state"))
    code, out, _ = run(capsys, "checkpoint", "status")
    assert (code, out) == (0, "witnessed: newest witnessed: checkpoint 1 (size 8)\n")
    _, witnessed, _ = run(capsys, "checkpoint", "latest", "--witnessed")
    ledger = Ledger(cli)
    ledger.append(2)
    ledger.close()
    run(capsys, "checkpoint", "issue")  # size 10, awaiting its witness
    code, out, _ = run(capsys, "checkpoint", "latest", "--witnessed")
    assert (code, out) == (0, witnessed) and out.split("\n")[1] == "8"
    assert out.count("\u2014 ") == 2  # the log's signature and the witness's
    (tmp_path / "trusted").write_text(f"revoked {vkey}")
    code, out, _ = run(capsys, "checkpoint", "status")
    assert code == 1 and out.startswith("untrusted: checkpoint 2 (size 10) is not trusted")


def test_tiles_write_and_the_witness_commands(
    cli: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``tiles write DIR`` (nothing before a checkpoint, then the files, checkpoint last);
    ``checkpoint collect`` and ``witness serve`` without their settings: one line, exit 2."""
    key = str(tmp_path / "keys" / "log.key")
    run(capsys, "keys", "generate", "--name", "log.example", "-o", key)
    ledger = Ledger(cli)
    ledger.append(300, per_transaction=50)
    ledger.close()
    mirror = tmp_path / "www"
    code, out, err = run(capsys, "tiles", "write", str(mirror))
    assert code == 2 and "no checkpoint to publish" in err and not mirror.exists()
    run(capsys, "checkpoint", "issue")
    code, _, err = run(capsys, "tiles", "write", str(mirror))
    assert code == 0 and "published tree size 300" in err
    assert (mirror / "checkpoint").read_text().split("\n")[1] == "300"
    assert sorted(p.relative_to(mirror).as_posix() for p in mirror.rglob("*") if p.is_file()) == [
        "checkpoint", "tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1",
        "tile/entries/000", "tile/entries/001.p/44",
    ]  # fmt: skip
    for argv, says in (
        (("checkpoint", "collect"), "GOVLEDGER_WITNESS_URLS_FILE"),
        (("witness", "serve"), "GOVLEDGER_WITNESS_KEY_FILE"),
        (("witness",), "--key FILE --state FILE"),
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and err.count("\n") == 1 and says in err, argv
