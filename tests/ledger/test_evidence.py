"""Evidence bundles verify offline, with no database, and any altered byte fails them.

Trust comes only from keys the auditor pins (checkpoint-format §13): without pinned log keys
the verdict is "self-consistent" and never OK; a quorum counts pinned witnesses only.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ledger import evidence_verify
from ledger.checkpoints import generate_key_file, issue_checkpoint, witness_checkpoint
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.evidence import build_bundle
from ledger.evidence_verify import BundleError, verify_bundle, write_zipapp
from tests.conftest import Ledger
from tests.ledger._checkpoints import append_rows


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


# ---------------------------------------------------------------- trust comes from pinned keys


def _keys(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").split()


def _forged_bundle(directory: Path, origin: str) -> str:
    """A whole ledger of the forger's own, under the real log's origin and key name, signed
    and cosigned by keys the forger made: internally consistent in every byte."""
    directory.mkdir()
    settings = Settings(
        database_url=f"sqlite:///{directory / 'forged.db'}",
        state_dir=str(directory / "state"),
        checkpoint_origin=origin,
        checkpoint_key_file=str(directory / "log.key"),
        witness_keys_file=str(directory / "witness.keys"),
        witness_quorum=1,
    )
    generate_key_file(settings.checkpoint_key_file, origin)
    witness = generate_key_file(str(directory / "w.key"), "witness.example", witness=True)
    Path(settings.witness_keys_file).write_text(witness + "\n", encoding="utf-8")
    append_rows(settings, 40)
    issue_checkpoint(settings)
    witness_checkpoint(settings, str(directory / "w.key"), str(directory / "w.state"))
    return build_bundle(settings, [9])


def run_verifier(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = evidence_verify.main(list(argv), out=out)
    return code, out.getvalue(), err.getvalue()


def test_without_a_pinned_log_key_the_verdict_is_self_consistent_only(
    witnessed: Settings, tmp_path: Path
) -> None:
    text = build_bundle(witnessed, [5])
    report = verify_bundle(text)
    assert (report.verdict, report.ok) == ("self-consistent", False)
    pinned = verify_bundle(text, trusted_log_keys=_keys(witnessed.trusted_keys_file))
    assert (pinned.verdict, pinned.ok) == ("verified", True)
    bundle = tmp_path / "b.json"
    bundle.write_text(text, encoding="utf-8")
    code, out, _ = run_verifier(str(bundle))
    assert code == evidence_verify.EXIT_SELF_CONSISTENT == 3
    assert out.startswith("SELF-CONSISTENT ONLY — not verified against a trusted key")
    code, out, _ = run_verifier(str(bundle), "--self-consistent-only")
    assert code == 0 and out.startswith("SELF-CONSISTENT ONLY") and "OK" not in out.split()[0]
    code, out, _ = run_verifier(str(bundle), "--json")
    assert code == 3 and json.loads(out)["ok"] is False
    assert json.loads(out)["verdict"] == "self-consistent"
    keys = witnessed.trusted_keys_file
    code, _, err = run_verifier(str(bundle), "--log-keys-file", keys, "--self-consistent-only")
    assert code == 2 and "cannot be combined" in err


def test_a_quorum_counts_only_pinned_witness_keys(witnessed: Settings, tmp_path: Path) -> None:
    text = build_bundle(witnessed, [5])
    log_keys = _keys(witnessed.trusted_keys_file)
    with pytest.raises(BundleError, match="pinned witness keys"):
        verify_bundle(text, trusted_log_keys=log_keys, quorum=1)
    stranger = generate_key_file(str(tmp_path / "stranger.key"), "witness.example", witness=True)
    with pytest.raises(BundleError, match="quorum not met"):
        verify_bundle(text, trusted_log_keys=log_keys, trusted_witness_keys=[stranger], quorum=1)
    report = verify_bundle(text, trusted_log_keys=log_keys, trusted_witness_keys=[stranger])
    assert report.ok and report.cosigned_by == () and len(report.unpinned_witnesses) == 1
    bundle = tmp_path / "b.json"
    bundle.write_text(text, encoding="utf-8")
    code, _, err = run_verifier(
        str(bundle), "--log-keys-file", witnessed.trusted_keys_file, "--quorum", "1"
    )
    assert code == 2 and "--witness-keys-file" in err
    code, out, _ = run_verifier(
        str(bundle),
        "--log-keys-file",
        witnessed.trusted_keys_file,
        "--witness-keys-file",
        witnessed.witness_keys_file,
        "--quorum",
        "1",
    )
    assert code == 0 and out.startswith("OK ") and "cosigned by witness.example" in out


def test_a_wholly_forged_bundle_never_prints_ok(witnessed: Settings, tmp_path: Path) -> None:
    """Another ledger, same origin and key name, its own keys: self-consistent, never OK; against
    the real published keys it fails, by the library, the command and the zipapp alike."""
    origin = "govledger.local/forged-look-alike"
    forged = _forged_bundle(tmp_path / "forger", origin)
    (tmp_path / "forged.json").write_text(forged, encoding="utf-8")
    with pytest.raises(BundleError, match="not among the keys you trust"):
        verify_bundle(forged, trusted_log_keys=_keys(witnessed.trusted_keys_file))
    write_zipapp(tmp_path / "verify.pyz")
    zipapp = [sys.executable, "-I", str(tmp_path / "verify.pyz"), str(tmp_path / "forged.json")]
    for extra, code in (
        ([], 3),
        (["--self-consistent-only"], 0),
        (["--log-keys-file", witnessed.trusted_keys_file], 1),
        (["--log-keys-file", witnessed.trusted_keys_file, "--origin", origin], 1),
    ):
        done = subprocess.run([*zipapp, *extra], capture_output=True, text=True, check=False)
        assert done.returncode == code, (extra, done.stdout, done.stderr)
        assert not done.stdout.startswith("OK"), (extra, done.stdout)


def test_a_bundle_of_another_ledger_signed_by_this_ledgers_key_fails_on_origin(
    witnessed: Settings, tmp_path: Path
) -> None:
    """The same log key on two ledgers (a copy, a test zone): the origin names the ledger."""
    other = replace(
        witnessed,
        database_url=f"sqlite:///{tmp_path / 'other.db'}",
        state_dir=str(tmp_path / "other-state"),
        witness_quorum=0,
    )
    append_rows(other, 12)
    issue_checkpoint(other)
    text = build_bundle(other, [3])
    ours = verify_bundle(
        build_bundle(witnessed, [3]), trusted_log_keys=_keys(other.trusted_keys_file)
    )
    with pytest.raises(BundleError, match="origin"):
        verify_bundle(text, trusted_log_keys=_keys(other.trusted_keys_file), origin=ours.origin)


def test_retired_keys_verify_and_revoked_keys_fail(witnessed: Settings, tmp_path: Path) -> None:
    """A bundle of a checkpoint signed before a rotation verifies with the key file published
    after it (the old key ``retired``); with the key ``revoked`` it fails."""
    bundle = tmp_path / "b.json"
    bundle.write_text(build_bundle(witnessed, [2]), encoding="utf-8")
    old = _keys(witnessed.trusted_keys_file)[0]
    new = generate_key_file(str(tmp_path / "new.key"), "log.example")
    for standing, code, word in (("retired", 0, "OK "), ("revoked", 1, "FAIL log key")):
        published = tmp_path / f"{standing}.keys"
        published.write_text(f"{new}\n{standing} {old}\n", encoding="utf-8")
        got, out, _ = run_verifier(str(bundle), "--log-keys-file", str(published))
        assert (got, out.startswith(word)) == (code, True), out


@pytest.mark.parametrize(
    "text",
    ['{"format": ' + "9" * 5_000 + "}", "[" * 100_000 + "]" * 100_000],
    ids=["5000 digits", "100k-deep nesting"],
)
def test_json_python_cannot_read_is_a_bundle_error(text: str) -> None:
    """Not a crash: the verifier names it (the console's upload and the offline zipapp)."""
    with pytest.raises(BundleError, match="not readable JSON"):
        verify_bundle(text)
