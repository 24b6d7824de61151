"""ops/scripts/backup.sh and restore.sh for real (issue 6 §5): a ledger on a scratch PostgreSQL
database, a checkpoint, a backup, a restore into a fresh database, then `govledger verify`
and the consistency proof against the pre-backup checkpoint; tampering is caught."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.checkpoints import generate_key_file
from ledger.config import Settings
from tests.conftest import Ledger, PostgresURLs, pg_connect
from tests.ops.conftest import BIN, child_env

SCRIPTS = Path(__file__).resolve().parents[2] / "ops" / "scripts"
SCHEMA = "ledger"
ORIGIN = "govledger.test/backup"


@pytest.fixture
def scratch_databases(postgres_urls: PostgresURLs) -> Iterator[tuple[str, str]]:
    """Two fresh databases owned by the owner role: the original and the restore target."""
    names = [f"gl_ops_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    base, _, _ = postgres_urls.owner.rpartition("/")
    with pg_connect(postgres_urls.admin) as conn:
        for name in names:
            conn.execute(f"CREATE DATABASE {name} OWNER govledger_owner")
    yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    with pg_connect(postgres_urls.admin) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(argv: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    env = child_env(settings, GOVLEDGER_CHECKPOINT_ORIGIN=ORIGIN, GOVLEDGER_BIN_DIR=str(BIN))
    return subprocess.run(argv, check=False, env=env, capture_output=True, text=True, timeout=120)


def test_backup_restore_verify_and_prove(
    scratch_databases: tuple[str, str], postgres_urls: PostgresURLs, tmp_path: Path
) -> None:
    original_url, target_url = scratch_databases
    key = tmp_path / "log.key"
    generate_key_file(str(key), ORIGIN)
    original = Settings(
        database_url=original_url,
        postgres_schema=SCHEMA,
        state_dir=str(tmp_path / "state-original"),
        checkpoint_key_file=str(key),
    )
    with pg_connect(original_url) as conn:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
    ledger = Ledger(original)
    ledger.append(40, per_transaction=8)
    ledger.close()

    backup = tmp_path / "backup"
    made = run([str(SCRIPTS / "backup.sh"), str(backup)], original)
    assert made.returncode == 0, made.stderr
    assert (backup / "checkpoint.note").read_text().splitlines()[1] == "40"

    restored = original.with_overrides(
        database_url=target_url, state_dir=str(tmp_path / "state-restored")
    )
    done = run([str(SCRIPTS / "restore.sh"), str(backup)], restored)
    assert done.returncode == 0, done.stderr
    assert "extends the pre-backup checkpoint (size 40)" in done.stdout

    # Tampering after the restore: a row's payload changes, verification names it.
    admin_target = postgres_urls.admin.rpartition("/")[0] + "/" + target_url.rpartition("/")[2]
    with pg_connect(admin_target) as conn:
        conn.execute(f"SET search_path TO {SCHEMA}")
        conn.execute("SET session_replication_role = replica")  # past the append-only trigger
        conn.execute(
            "UPDATE ledger_events SET state = decode('00', 'hex') WHERE notification_id = 20"
        )
    checked = run([str(BIN / "govledger"), "verify", "--full"], restored)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "20" in checked.stdout


def test_restore_refuses_a_damaged_backup(
    scratch_databases: tuple[str, str], tmp_path: Path
) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    for name in ("checkpoint.note", "ledger.dump", "state.tar.gz", "MANIFEST"):
        (backup / name).write_text("original\n")
    subprocess.run("sha256sum * > SHA256SUMS", shell=True, cwd=backup, check=True)
    (backup / "ledger.dump").write_text("altered\n")
    target = Settings(database_url=scratch_databases[1], state_dir=str(tmp_path / "state"))
    done = run([str(SCRIPTS / "restore.sh"), str(backup)], target)
    assert done.returncode == 1
    assert "damaged" in done.stderr
