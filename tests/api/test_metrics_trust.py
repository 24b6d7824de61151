"""The verification and checkpoint gauges of ``/metrics`` (api/metrics_trust.py) that the
alerts read (docs/operations.md §Alerts, issue 21 item 3): a break, a run that could not run
and a checkpoint not yet witnessed are three different states, each in its own series."""

from __future__ import annotations

import argparse
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.checkpoints import generate_key_file, issue_checkpoint, witness_checkpoint
from ledger.config import Settings
from ops.ledger_cli import cmd_verify
from tests.conftest import Attacker, Ledger
from tests.promtext import samples, value

ORIGIN = "govledger.test/metrics"


def scrape(settings: Settings) -> str:
    with TestClient(create_app(settings.with_overrides(create_schema=False))) as client:
        return client.get("/metrics").text


def verify(settings: Settings) -> int:
    return cmd_verify(settings, argparse.Namespace(from_position=None, full=False, json=True))


def statuses(text: str) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["mode"], dict(labels)["status"]): v
        for (name, labels), v in samples(text).items()
        if name == "govledger_verification_status"
    }


def test_no_run_recorded_means_no_status_and_no_freshness(ledger: Ledger) -> None:
    text = scrape(ledger.settings)
    assert statuses(text) == {}
    assert (
        value(text, "govledger_verification_finished_timestamp_seconds", mode="incremental") is None
    )
    assert value(text, "govledger_collector_up", part="verification") == 1


def test_a_passing_run_then_a_break_each_in_its_own_status(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(12)
    assert verify(ledger.settings) == 0
    passed = scrape(ledger.settings)
    assert statuses(passed) == {
        ("incremental", "ok"): 1,
        ("incremental", "failed"): 0,
        ("incremental", "error"): 0,
    }
    fresh = value(passed, "govledger_verification_finished_timestamp_seconds", mode="incremental")
    assert fresh and fresh > 0
    assert value(passed, "govledger_verification_last_run_ok") == 1

    ledger.append(3)  # an incremental run checks what came after the head it verified
    state = bytearray(attacker.row(14)[3])
    state[0] ^= 1
    attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (bytes(state), 14))
    assert verify(ledger.settings) == 1
    failed = scrape(ledger.settings)
    assert statuses(failed)["incremental", "failed"] == 1
    assert statuses(failed)["incremental", "ok"] == 0
    assert value(failed, "govledger_verification_last_run_ok") == 0


def test_cosignatures_and_quorum_of_the_newest_checkpoint(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    key, witness = tmp_path / "log.key", tmp_path / "witness.key"
    generate_key_file(str(key), ORIGIN)
    witness_vkey = generate_key_file(str(witness), "witness.test/1", witness=True)
    (tmp_path / "witnesses.txt").write_text(witness_vkey + "\n")
    settings = sqlite_settings.with_overrides(
        checkpoint_key_file=str(key),
        checkpoint_origin=ORIGIN,
        witness_keys_file=str(tmp_path / "witnesses.txt"),
        witness_quorum=1,
    )
    opened = Ledger(settings)
    try:
        opened.append(3)
    finally:
        opened.close()
    issue_checkpoint(settings)
    unwitnessed = scrape(settings)
    assert value(unwitnessed, "govledger_checkpoint_cosignatures") == 0
    assert value(unwitnessed, "govledger_checkpoint_witness_quorum") == 1
    assert value(unwitnessed, "govledger_checkpoint_tree_size") == 3
    witness_checkpoint(settings, str(witness), str(tmp_path / "witness-state.json"))
    witnessed = scrape(settings)
    assert value(witnessed, "govledger_checkpoint_cosignatures") == 1
