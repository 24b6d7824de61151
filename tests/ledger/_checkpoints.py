"""What the checkpoint tests share (tests/ledger/test_checkpoints.py, test_checkpoint_witness.py
and the tests of what serves checkpoints): a keyed ledger, rows appended, a verification
against the signed checkpoints, and the attacker's hand on the proof tables."""

from dataclasses import replace
from pathlib import Path

from ledger.chain import ChainReport
from ledger.checkpoints import (
    CheckpointStatus,
    CheckpointStore,
    checkpoint_source,
    checkpoint_status,
    generate_key_file,
)
from ledger.config import Settings
from ledger.store.connect import open_reader
from ledger.tree import Database
from ledger.verify import HeadRecord, verify_ledger
from tests.conftest import Attacker, Ledger

N = 60


def keyed_settings(ledger: Ledger, tmp_path: Path) -> Settings:
    """The ledger's settings with a log signer key and a published trusted keys file."""
    key_file = str(tmp_path / "log.key")
    vkey = generate_key_file(key_file, "govledger.local/test")
    trusted = tmp_path / "trusted.keys"
    trusted.write_text(vkey + "\n", encoding="utf-8")
    settings = replace(
        ledger.settings,
        checkpoint_key_file=key_file,
        trusted_keys_file=str(trusted),
        checkpoint_origin="govledger.local/test",
    )
    ledger.settings = settings
    return settings


def append_rows(settings: Settings, count: int) -> None:
    """``count`` more rows, written through the service's path and closed again."""
    ledger = Ledger(settings)
    try:
        ledger.append(count)
    finally:
        ledger.close()


def verify(settings: Settings, *, record: bool = False, full: bool = True) -> ChainReport:
    reader = open_reader(settings)
    try:
        with checkpoint_source(settings, reader.genesis()) as checkpoints:
            return verify_ledger(
                reader,
                HeadRecord(settings.state_dir) if record else None,
                full=full,
                batch_size=7,
                checkpoints=checkpoints,
            )
    finally:
        reader.close()


def status_of(settings: Settings) -> CheckpointStatus:
    reader = open_reader(settings)
    try:
        status = checkpoint_status(settings, reader.genesis())
    finally:
        reader.close()
    assert status is not None
    return status


def assert_checkpoint_break(report: ChainReport, *words: str) -> None:
    assert report.failure is not None, "verification passed against a signed checkpoint"
    assert report.failure.kind == "checkpoint", report.failure
    for word in words:
        assert word in report.failure.detail, report.failure


def attack_proof_tables(attacker: Attacker, sql: str, params: tuple[object, ...] = ()) -> None:
    """Run ``sql`` on ``{p}_<suffix>`` tables, past the triggers created after the attacker came."""
    prefix = "stored_events" if attacker.backend == "sqlite" else "ledger_events"
    if attacker.backend == "sqlite":
        for (name,) in attacker.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            attacker.execute(f"DROP TRIGGER {name}")
    attacker.execute(sql.replace("{p}", prefix), params)


def add_witness(settings: Settings, tmp_path: Path, name: str) -> tuple[Settings, str]:
    key = str(tmp_path / f"{name}.key")
    vkey = generate_key_file(key, f"witness.example/{name}", witness=True)
    path = tmp_path / "witnesses.keys"
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(existing + vkey + "\n", encoding="utf-8")
    return replace(settings, witness_keys_file=str(path)), key


def stored_checkpoints(settings: Settings) -> list[tuple[int, int]]:
    database = Database(settings, readonly=True)
    try:
        return [(c.id, c.tree_size) for c in CheckpointStore(database).newest_first()]
    finally:
        database.close()
