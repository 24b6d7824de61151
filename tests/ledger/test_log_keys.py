"""The log's keys out of the box: created by ``init`` outside the database (checkpoint-format §11).

On SQLite an unset key path defaults to ``<state_dir>/keys/`` once the file
exists; on PostgreSQL only configured paths count. Keys are created once and
never overwritten, and rotation keeps working with the default files.
"""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.checkpoint import open_checkpoint
from ledger.checkpoints import (
    CheckpointStore,
    create_log_keys,
    generate_key_file,
    issue_checkpoint,
    load_issuer,
    load_signer,
    load_trusted_keys,
    public_keys,
    signer_key_file,
    trusted_keys_path,
)
from ledger.config import Settings
from ledger.errors import ConfigurationError
from ledger.store.connect import open_reader
from ledger.tree import Database
from tests.conftest import Ledger
from tests.ledger._checkpoints import verify


def ledger_id(settings: Settings) -> str:
    reader = open_reader(settings)
    try:
        return reader.genesis().ledger_id
    finally:
        reader.close()


def test_sqlite_defaults_live_under_the_state_directory(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    ledger = Ledger(sqlite_settings)
    ledger.close()
    assert signer_key_file(sqlite_settings) == "" and trusted_keys_path(sqlite_settings) == ""
    done = create_log_keys(sqlite_settings, ledger_id(sqlite_settings))
    keys = Path(sqlite_settings.state_dir) / "keys"
    assert signer_key_file(sqlite_settings) == str(keys / "checkpoint.key")
    assert trusted_keys_path(sqlite_settings) == str(keys / "trusted-keys.txt")
    assert len(done) == 2 and "checkpoint.key" in done[0] and "trusted-keys.txt" in done[1]
    assert stat.S_IMODE((keys / "checkpoint.key").stat().st_mode) == 0o600
    signer = load_issuer(sqlite_settings)  # active in the trusted keys file: may sign
    assert signer.name == f"govledger.local/{ledger_id(sqlite_settings)}"
    assert load_trusted_keys(sqlite_settings).active == (signer.verifier(),)
    before = (keys / "checkpoint.key").read_bytes(), (keys / "trusted-keys.txt").read_bytes()
    assert create_log_keys(sqlite_settings, ledger_id(sqlite_settings)) == []
    after = (keys / "checkpoint.key").read_bytes(), (keys / "trusted-keys.txt").read_bytes()
    assert after == before


def test_configured_paths_win_and_an_existing_key_is_kept(
    settings: Settings, tmp_path: Path
) -> None:
    """On both backends: a configured key file that exists is used as it is, and the
    trusted keys file is created for it; nothing lands under the state directory."""
    ledger = Ledger(settings)
    ledger.close()
    key = tmp_path / "issuer" / "log.key"
    key.parent.mkdir()
    vkey = generate_key_file(str(key), "district.example/log")
    configured = replace(
        settings, checkpoint_key_file=str(key), trusted_keys_file=str(tmp_path / "pub.txt")
    )
    done = create_log_keys(configured, ledger_id(configured))
    assert done == [f"wrote the trusted keys file {tmp_path / 'pub.txt'} (publish it to verifiers)"]
    assert public_keys(configured) == [vkey]
    assert not (Path(settings.state_dir) / "keys").exists()


def test_postgresql_has_no_default_key(postgres_settings: Settings) -> None:
    """Production points only the issuer at its key: init makes none, the API signs nothing."""
    ledger = Ledger(postgres_settings)
    ledger.close()
    assert create_log_keys(postgres_settings, ledger_id(postgres_settings)) == []
    assert signer_key_file(postgres_settings) == ""
    with pytest.raises(ConfigurationError, match="no checkpoint signer key"):
        load_signer(postgres_settings)


def test_a_key_not_listed_as_active_is_reported_not_trusted(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    ledger = Ledger(sqlite_settings)
    ledger.close()
    trusted = tmp_path / "published.txt"
    other = generate_key_file(str(tmp_path / "other.key"), "someone.else")
    trusted.write_text(other + "\n", encoding="utf-8")
    configured = replace(sqlite_settings, trusted_keys_file=str(trusted))
    done = create_log_keys(configured, ledger_id(configured))
    assert "not listed as active" in done[-1]
    assert trusted.read_text(encoding="utf-8") == other + "\n"  # never rewritten
    with pytest.raises(ConfigurationError, match="not listed as an active key"):
        load_issuer(configured)


def test_rotation_with_the_default_files(sqlite_settings: Settings, tmp_path: Path) -> None:
    """§11 Rotation on the newcomer's files: the old key retired in the default trusted keys
    file keeps verifying what it signed and never signs again; the new key signs."""
    ledger = Ledger(sqlite_settings)
    ledger.append(10)
    create_log_keys(sqlite_settings, ledger_id(sqlite_settings))
    first = issue_checkpoint(sqlite_settings).checkpoint
    old = load_signer(sqlite_settings).verifier().encode()
    new_key = str(tmp_path / "new.key")
    new = generate_key_file(new_key, load_signer(sqlite_settings).name)
    Path(trusted_keys_path(sqlite_settings)).write_text(f"{new}\nretired {old}\n")
    # A unit still pointed at the old (default) key refuses to sign.
    ledger.append(3)
    with pytest.raises(ConfigurationError, match="is retired"):
        issue_checkpoint(sqlite_settings)
    rotated = replace(sqlite_settings, checkpoint_key_file=new_key)
    assert verify(rotated, record=True, full=False).ok  # newest still by the retired key
    second = issue_checkpoint(rotated).checkpoint
    assert second.tree_size == 13
    assert verify(rotated, record=True, full=False).ok
    keys = load_trusted_keys(rotated)
    for stored in (first, second):
        open_checkpoint(stored.note, keys.active, retired=keys.retired)
    database = Database(rotated, readonly=True)
    try:
        assert [c.id for c in CheckpointStore(database).newest_first()] == [second.id, first.id]
    finally:
        database.close()
    ledger.close()
