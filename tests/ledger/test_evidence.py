"""Evidence bundles verify offline, with no database, and any altered byte fails them."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.checkpoints import generate_key_file, issue_checkpoint, witness_checkpoint
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.evidence import build_bundle
from ledger.evidence_verify import BundleError, verify_bundle, write_zipapp
from tests.conftest import Ledger


@pytest.fixture
def witnessed(ledger: Ledger, tmp_path: Path) -> Settings:
    """A ledger of 40 rows, a checkpoint signed by the log and cosigned by one witness."""
    key_file = str(tmp_path / "log.key")
    trusted = tmp_path / "trusted.keys"
    trusted.write_text(generate_key_file(key_file, "log.example") + "\n", encoding="utf-8")
    witness_key = str(tmp_path / "w.key")
    witnesses = tmp_path / "witness.keys"
    witnesses.write_text(
        generate_key_file(witness_key, "witness.example", witness=True) + "\n", encoding="utf-8"
    )
    settings = replace(
        ledger.settings,
        checkpoint_key_file=key_file,
        trusted_keys_file=str(trusted),
        witness_keys_file=str(witnesses),
        witness_quorum=1,
    )
    ledger.append(40, per_transaction=6)
    issue_checkpoint(settings)
    witness_checkpoint(settings, witness_key, str(tmp_path / "w.state"))
    return settings


def test_bundle_verifies_and_names_its_contents(witnessed: Settings) -> None:
    text = build_bundle(witnessed, [17, 3])
    bundle = json.loads(text)
    assert [e["row"]["position"] for e in bundle["events"]] == [1, 3, 17]
    assert bundle["genesis"]["type"] == "genesis"
    report = verify_bundle(
        text,
        trusted_log_keys=Path(witnessed.trusted_keys_file).read_text().split(),
        trusted_witness_keys=Path(witnessed.witness_keys_file).read_text().split(),
        quorum=1,
    )
    assert report.positions == (1, 3, 17) and report.tree_size == 40
    assert report.cosigned_by and report.signed_by


def test_positions_outside_the_checkpoint_are_refused(witnessed: Settings) -> None:
    with pytest.raises(LedgerError, match="not covered"):
        build_bundle(witnessed, [41])


def test_an_unpinned_key_is_refused(witnessed: Settings) -> None:
    text = build_bundle(witnessed, [5])
    other = generate_key_file(str(Path(witnessed.state_dir).parent / "other.key"), "log.example")
    with pytest.raises(BundleError, match="not among the keys you trust"):
        verify_bundle(text, trusted_log_keys=[other])


def test_the_standalone_verifier_runs_with_no_database_and_no_checkout(
    witnessed: Settings, tmp_path: Path
) -> None:
    away = tmp_path / "auditor"
    away.mkdir()
    (away / "bundle.json").write_text(build_bundle(witnessed, [9]), encoding="utf-8")
    write_zipapp(away / "verify.pyz")
    keys = Path(witnessed.trusted_keys_file).read_text()
    (away / "published.keys").write_text(keys, encoding="utf-8")
    argv = [sys.executable, "-I", "verify.pyz", "bundle.json", "--log-keys-file", "published.keys"]
    done = subprocess.run(argv, cwd=away, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK 2 events (positions 1, 9)")
    raw = (away / "bundle.json").read_bytes()
    (away / "bundle.json").write_bytes(raw.replace(b'"position": 9', b'"position": 8'))
    done = subprocess.run([*argv, "--json"], cwd=away, capture_output=True, text=True, check=False)
    assert done.returncode == 1 and json.loads(done.stdout)["ok"] is False


def _fails(data: bytes) -> bool:
    try:
        verify_bundle(data.decode("utf-8"))
    except (BundleError, UnicodeDecodeError):
        return True
    return False


def test_altering_any_byte_fails(sqlite_settings: Settings, tmp_path: Path) -> None:
    ledger = Ledger(sqlite_settings)
    try:
        key_file = str(tmp_path / "log.key")
        settings = replace(sqlite_settings, checkpoint_key_file=key_file)
        generate_key_file(key_file, "log.example")
        ledger.append(12, per_transaction=5)
        issue_checkpoint(settings)
        data = build_bundle(settings, [7]).encode("utf-8")
    finally:
        ledger.close()
    assert not _fails(data)
    rng = random.Random(9)
    offsets = sorted(set(range(0, len(data), 3)) | set(rng.sample(range(len(data)), 200)))
    survivors = []
    for offset in offsets:
        for new in {data[offset] ^ 0x01, ord(" "), ord("0")} - {data[offset]}:
            altered = data[:offset] + bytes([new]) + data[offset + 1 :]
            if not _fails(altered):
                survivors.append((offset, chr(data[offset]), chr(new)))
    assert survivors == [], f"alterations that still verify: {survivors[:5]}"
    for cut in (1, len(data) // 2, len(data) - 1):
        assert _fails(data[:cut] + data[cut + 1 :]), f"deleting byte {cut} still verifies"
