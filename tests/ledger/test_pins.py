"""The verifier's trust outside the database (docs/ledger-format.md §8) and its last-run
record (contract C1): pins per location, adoption, the older state files, every outcome
recorded, and a run that never crashes."""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoints import generate_key_file, issue_checkpoint
from ledger.config import Settings
from ledger.pins import HeadRecord, PinStore, ledger_location
from ledger.store.connect import init_ledger, open_reader
from ledger.verify import verify_ledger
from ledger.verify_job import VerifyOutcome, run_verify
from ledger.verify_record import LastRunRecord
from ops import ledger_cli
from tests.conftest import Attacker, Ledger

N = 30


def rebuild_elsewhere(settings: Settings) -> None:
    """Another ledger at the same location: every row rewritten under a new ledger id with
    recomputed hashes (what an attacker with the whole database can do)."""
    if settings.database.backend == "sqlite":
        path = Path(settings.database.path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        from tests.conftest import pg_connect  # noqa: PLC0415

        url = settings.database_url
        with pg_connect(url) as conn:
            schema = settings.postgres_schema
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
    replacement = Ledger(settings)
    replacement.append(N)
    replacement.close()


def with_log_key(settings: Settings, tmp_path: Path, origin: str) -> Settings:
    """``settings`` signing checkpoints with a fresh log key, and trusting it."""
    key, trusted = str(tmp_path / "log.key"), tmp_path / "trusted.keys"
    trusted.write_text(generate_key_file(key, origin) + "\n", encoding="utf-8")
    return replace(
        settings, checkpoint_key_file=key, trusted_keys_file=str(trusted), checkpoint_origin=origin
    )


def outcome_of(settings: Settings, **kwargs: Any) -> VerifyOutcome:
    return run_verify(settings, **kwargs)


# ------------------------------------------------------------ pins per location


def test_the_first_run_pins_the_ledger_at_its_location(ledger: Ledger) -> None:
    ledger.append(N)
    outcome = outcome_of(ledger.settings)
    assert outcome.exit_code == 0, outcome.run
    pin = PinStore(ledger.settings.state_dir).load(ledger_location(ledger.settings))
    reader = open_reader(ledger.settings)
    genesis = reader.genesis()
    reader.close()
    assert pin is not None and pin.identity.ledger_id == genesis.ledger_id
    assert pin.identity.genesis_hash == genesis.genesis_hash and pin.head.position == N
    memory = PinStore(ledger.settings.state_dir).memory(pin)
    assert len(memory) == 8 * N, "eight bytes of each verified row"


def test_another_ledger_at_the_location_fails_until_adopted(ledger: Ledger) -> None:
    """Issue 13 item 2: the verifier does not take the database's word for which ledger it is."""
    ledger.append(N)
    assert outcome_of(ledger.settings).exit_code == 0
    ledger.close()
    rebuild_elsewhere(ledger.settings)
    for full in (False, True):
        outcome = outcome_of(ledger.settings, full=full)
        assert outcome.exit_code == 1 and outcome.run.status == "failed"
        assert (outcome.run.kind, outcome.run.first_bad_position) == ("pin", 0)
        assert "--adopt" in outcome.run.detail
    adopted = outcome_of(ledger.settings, adopt=True)
    assert adopted.exit_code == 0 and adopted.run.mode == "full"
    assert "adopted ledger" in adopted.adopted and "in place of ledger" in adopted.adopted
    assert outcome_of(ledger.settings).exit_code == 0
    data = json.loads((Path(ledger.settings.state_dir) / "ledger-pins.json").read_text())
    assert len(data["retired"]) == 1, "the old pin is kept, retired"


def test_adopt_adopts_nothing_when_the_new_ledger_does_not_verify(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    assert outcome_of(ledger.settings).exit_code == 0
    before = (Path(ledger.settings.state_dir) / "ledger-pins.json").read_text()
    attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (b"x", 3))
    table = "stored_events_genesis" if attacker.backend == "sqlite" else "ledger_events_genesis"
    attacker.execute(f"UPDATE {table} SET ledger_id = ?", ("00000000-0000-4000-8000-000000000000",))
    assert outcome_of(ledger.settings).run.kind == "genesis"
    refused = outcome_of(ledger.settings, adopt=True)
    assert refused.exit_code == 1 and refused.adopted == ""
    assert (Path(ledger.settings.state_dir) / "ledger-pins.json").read_text() == before


def test_a_ledger_gone_from_a_pinned_location_is_a_break(sqlite_settings: Settings) -> None:
    ledger = Ledger(sqlite_settings)
    ledger.append(3)
    ledger.close()
    assert outcome_of(sqlite_settings).exit_code == 0
    import sqlite3  # noqa: PLC0415

    conn = sqlite3.connect(sqlite_settings.database.path)
    conn.execute("DROP TABLE stored_events_genesis")
    conn.close()
    outcome = outcome_of(sqlite_settings)
    assert (outcome.exit_code, outcome.run.kind, outcome.run.first_bad_position) == (
        1,
        "genesis",
        0,
    )


def test_trusted_keys_require_a_checkpoint_at_or_beyond_the_pinned_one(
    ledger: Ledger, attacker: Attacker, tmp_path: Path
) -> None:
    keyed = with_log_key(ledger.settings, tmp_path, "govledger.local/pins")
    ledger.append(N)
    issue_checkpoint(keyed)
    assert outcome_of(keyed).exit_code == 0
    prefix = "stored_events" if attacker.backend == "sqlite" else "ledger_events"
    if attacker.backend == "sqlite":
        for (name,) in attacker.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            attacker.execute(f"DROP TRIGGER {name}")
    attacker.execute(f"DELETE FROM {prefix}_cosignatures")
    attacker.execute(f"DELETE FROM {prefix}_checkpoints")
    outcome = outcome_of(keyed)
    assert (outcome.run.kind, outcome.run.first_bad_position) == ("checkpoint", N)
    assert "checkpoints or cosignatures were removed" in outcome.run.detail


def test_a_checkpoint_of_the_empty_tree_verifies(ledger: Ledger, tmp_path: Path) -> None:
    """checkpoint-format §4: no consistency proof from size 0 is asked for, none is needed."""
    keyed = with_log_key(ledger.settings, tmp_path, "govledger.local/empty")
    issue_checkpoint(keyed)
    assert outcome_of(keyed).exit_code == 0
    ledger.append(5)
    assert outcome_of(keyed).exit_code == 0, "the size-0 checkpoint lies behind the anchor"
    assert outcome_of(keyed, full=True).exit_code == 0


# ------------------------------------------------------------ the older state files


def test_verified_heads_json_is_read_and_its_memory_kept(
    ledger: Ledger, attacker: Attacker
) -> None:
    """An upgraded deployment neither fails nor forgets: the legacy head becomes the pin."""
    ledger.append(N)
    reader = open_reader(ledger.settings)
    try:
        genesis = reader.genesis()
        assert verify_ledger(reader, HeadRecord(ledger.settings.state_dir)).ok
    finally:
        reader.close()
    state = Path(ledger.settings.state_dir)
    assert (state / "verified-heads.json").exists() and not (state / "ledger-pins.json").exists()
    ledger.append(4)
    first = outcome_of(ledger.settings)
    assert first.exit_code == 0 and first.report is not None
    assert first.report.count == N + 4, "no row memory yet: the first run rebuilds it in full"
    pin = PinStore(state).load(ledger_location(ledger.settings))
    assert pin is not None and pin.identity.ledger_id == genesis.ledger_id
    assert pin.head.position == N + 4
    # The legacy head still binds: a history rewritten below it is found.
    attacker.replace_tail(10)
    assert outcome_of(ledger.settings).run.kind == "rewritten"


def test_a_legacy_head_that_the_log_no_longer_holds_fails_the_upgrade_run(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    reader = open_reader(ledger.settings)
    try:
        assert verify_ledger(reader, HeadRecord(ledger.settings.state_dir)).ok
    finally:
        reader.close()
    attacker.replace_tail(N - 5)
    outcome = outcome_of(ledger.settings)
    assert (outcome.run.kind, outcome.run.first_bad_position) == ("rewritten", N)


def test_head_record_readers_see_the_pinned_head(ledger: Ledger) -> None:
    """/metrics and the console's health page read heads by ledger id."""
    ledger.append(7)
    assert outcome_of(ledger.settings).exit_code == 0
    reader = open_reader(ledger.settings)
    ledger_id = reader.genesis().ledger_id
    reader.close()
    head = HeadRecord(ledger.settings.state_dir).load(ledger_id)
    assert head is not None and head.position == 7


def test_a_lost_row_memory_is_rebuilt_by_a_full_run(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    assert outcome_of(ledger.settings).exit_code == 0
    for found in Path(ledger.settings.state_dir).glob("ledger-rows-*.bin"):
        found.unlink()
    rebuilt = outcome_of(ledger.settings)
    assert rebuilt.exit_code == 0 and rebuilt.report is not None and rebuilt.report.count == N
    attacker.replace_tail(20)
    assert outcome_of(ledger.settings).run.first_bad_position == 20


# ------------------------------------------------------------ the last-run record (C1)


def test_each_mode_keeps_its_newest_run_and_every_outcome_is_recorded(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    assert outcome_of(ledger.settings).exit_code == 0
    assert outcome_of(ledger.settings, full=True).exit_code == 0
    attacker.execute("UPDATE {t} SET topic = NULL WHERE {pos} = ?", (N,))
    assert outcome_of(ledger.settings, full=True).exit_code == 1
    runs = LastRunRecord(ledger.settings.state_dir).load()
    assert runs is not None and runs.incremental is not None and runs.full is not None
    assert runs.incremental.status == "ok" and runs.incremental.rows_checked == N
    assert runs.full.status == "failed" and runs.full.kind == "malformed"
    assert runs.full.first_bad_position == N and runs.full.mode == "full"
    assert runs.newest() is runs.full and (runs[0], runs[1]) == (False, runs.full.finished_at)
    raw = json.loads((Path(ledger.settings.state_dir) / "verify-last-run.json").read_text())
    assert raw["ok"] is False and raw["head_position"] == runs.full.head_position  # older readers


def test_a_run_that_cannot_run_is_recorded_as_an_error(sqlite_settings: Settings) -> None:
    ledger = Ledger(sqlite_settings)
    ledger.append(3)
    ledger.close()
    assert outcome_of(sqlite_settings).exit_code == 0
    missing = sqlite_settings.with_overrides(
        database_url=f"sqlite:///{Path(sqlite_settings.database.path).parent / 'gone.db'}"
    )
    outcome = outcome_of(missing)
    assert outcome.exit_code == 2 and outcome.report is None
    runs = LastRunRecord(sqlite_settings.state_dir).load()
    assert runs is not None and runs.incremental is not None
    assert runs.incremental.status == "error" and "no ledger database" in runs.incremental.detail
    assert runs.incremental.ledger_id == ""


def test_the_record_written_before_modes_is_read_as_an_incremental_run(tmp_path: Path) -> None:
    (tmp_path / "verify-last-run.json").write_text(
        json.dumps(
            {
                "ledger_id": "L",
                "ok": False,
                "head_position": 9,
                "finished_at": "2026-11-30T10:00:00+00:00",
            }
        )
    )
    runs = LastRunRecord(tmp_path).load("L")
    assert runs is not None and runs.full is None and runs.incremental is not None
    assert (runs.incremental.status, runs.incremental.head_position) == ("failed", 9)
    assert (runs[0], runs[1]) == (False, "2026-11-30T10:00:00+00:00")
    assert LastRunRecord(tmp_path).load("another ledger") is None


# ------------------------------------------------------------ the command


def _args(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(
        **({"from_position": None, "full": False, "adopt": False, "json": False} | values)
    )


def test_verify_never_crashes_a_bug_is_an_error_run(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger.append(3)
    assert ledger_cli.cmd_verify(ledger.settings, _args()) == 0

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("ledger.verify_job._verify_location", broken)
    capsys.readouterr()
    assert ledger_cli.cmd_verify(ledger.settings, _args()) == 2
    err = capsys.readouterr().err
    assert err.startswith("govledger: error: ") and err.count("\n") == 1
    runs = LastRunRecord(ledger.settings.state_dir).load()
    assert runs is not None and runs.incremental is not None
    assert runs.incremental.status == "error" and "ZeroDivisionError" in runs.incremental.detail


def test_verify_json_names_the_break_and_the_run(
    ledger: Ledger, attacker: Attacker, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger.append(N)
    attacker.execute("UPDATE {t} SET topic = NULL WHERE {pos} = ?", (11,))
    assert ledger_cli.cmd_verify(ledger.settings, _args(json=True)) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "failed" and body["mode"] == "incremental"
    assert body["failure"] == {"position": 11, "kind": "malformed",
                               "detail": body["failure"]["detail"]}  # fmt: skip
    assert (body["kind"], body["first_bad_position"]) == ("malformed", 11)


def test_two_ledgers_in_one_state_directory_keep_their_own_pins(
    tmp_path: Path, sqlite_settings: Settings
) -> None:
    other = sqlite_settings.with_overrides(database_url=f"sqlite:///{tmp_path / 'other.db'}")
    for settings in (sqlite_settings, other):
        init_ledger(settings)
        ledger = Ledger(settings)
        ledger.append(4)
        ledger.close()
        assert outcome_of(settings).exit_code == 0
    shutil.copy(tmp_path / "other.db", tmp_path / "ledger.db")  # the same file, moved over
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"ledger.db{suffix}").unlink(missing_ok=True)
    assert outcome_of(sqlite_settings).run.kind == "pin"
    assert outcome_of(other).exit_code == 0


def test_a_checkpoint_issued_while_verify_starts_is_reached_by_its_snapshot(
    ledger: Ledger, tmp_path: Path
) -> None:
    """The rows are read in one snapshot, taken after the newest checkpoint is read: rows and
    a checkpoint added meanwhile never look like a log shorter than its checkpoint."""
    from ledger.checkpoints import checkpoint_source  # noqa: PLC0415
    from ledger.verify import PinnedLocation  # noqa: PLC0415

    keyed = with_log_key(ledger.settings, tmp_path, "govledger.local/race")
    ledger.append(N)
    issue_checkpoint(keyed)

    class Racing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def newest(self) -> Any:
            ledger.append(6)  # another writer and the checkpoint issuer, just now
            issue_checkpoint(keyed)
            return self.inner.newest()

        def consistency_proof(self, size1: int, size2: int) -> Any:
            return self.inner.consistency_proof(size1, size2)

    reader = open_reader(keyed)
    try:
        with checkpoint_source(keyed, reader.genesis()) as checkpoints:
            report = verify_ledger(
                reader, PinnedLocation.of(keyed), checkpoints=Racing(checkpoints)
            )
    finally:
        reader.close()
    assert report.ok, report.failure
    assert report.head_position == N + 6
