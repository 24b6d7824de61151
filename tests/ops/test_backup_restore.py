"""``govledger backup`` and ``govledger restore`` in the documented layout (issue 21 items 1, 2):
on a private cluster built with the shipped SQL, the backup runs as ``govledger_backup`` and
the restore as ``govledger_owner`` into a fresh database made by ``database.sql``, schema
``public``. Each is all or nothing: a failure leaves no partial backup and an untouched
target. Backups are private (0700/0600); the anchor is a checkpoint the configured witnesses
cosigned; a row altered after the restore is caught by ``govledger verify``."""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.checkpoints import generate_key_file
from tests.ops.cluster import started
from tests.ops.deployment import Deployment, build

pytestmark = pytest.mark.slow

BACKUP, OWNER = "govledger_backup", "govledger_owner"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with started(auth="debian") as cluster:
        made = build(cluster, tmp_path_factory.mktemp("backup"))
        made.make_keys(witness=True)
        made.append(40)
        made.checkpoint()
        made.witness()
        yield made


def backup(deployment: Deployment, parent: Path, *argv: str, **env: str) -> Path:
    made = deployment.govledger(
        BACKUP, "backup", str(parent), *argv, env=deployment.env(BACKUP, **env)
    )
    assert made.returncode == 0, made.stderr
    return Path(made.stdout.strip())


def restore_env(deployment: Deployment, database: str, state: Path, **env: str) -> dict[str, str]:
    deployment.create_database(database)
    return deployment.env(OWNER, database, GOVLEDGER_STATE_DIR=str(state), **env)


def tables(deployment: Deployment, database: str) -> str:
    return deployment.cluster.psql(
        sql="SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public'",
        dbname=database,
    ).strip()


def test_backup_then_restore_into_a_fresh_database_as_the_documented_roles(
    deployment: Deployment, tmp_path: Path
) -> None:
    made = backup(deployment, tmp_path / "backups")
    assert made.parent == tmp_path / "backups"
    assert sorted(p.name for p in made.iterdir()) == [
        "MANIFEST.json",
        "SHA256SUMS",
        "checkpoint.note",
        "ledger.dump",
        "state.tar.gz",
    ]
    assert made.stat().st_mode & 0o777 == 0o700  # a dump holds accessor ids
    assert {p.stat().st_mode & 0o777 for p in made.iterdir()} == {0o600}
    assert (made / "checkpoint.note").read_text().splitlines()[1] == "40"
    assert "— witness.test/1 " in (made / "checkpoint.note").read_text()  # cosigned

    state = tmp_path / "state-restored"
    env = restore_env(deployment, "restored_ok", state)
    done = deployment.govledger(OWNER, "restore", str(made), env=env)
    assert done.returncode == 0, done.stderr
    assert "restored ledger (size 40) extends the pre-backup checkpoint (size 40)" in done.stdout
    assert (state / "verify-last-run.json").is_file()

    # The restored database serves the layout: the verifier reads it, and tampering shows.
    as_verifier = deployment.env(
        "govledger_verifier", "restored_ok", GOVLEDGER_STATE_DIR=str(state)
    )
    assert deployment.govledger("govledger_verifier", "verify", env=as_verifier).returncode == 0
    deployment.cluster.psql(
        sql="SET session_replication_role = replica; "
        "UPDATE ledger_events SET state = decode('00', 'hex') WHERE notification_id = 20",
        dbname="restored_ok",
    )
    checked = deployment.govledger("govledger_verifier", "verify", "--full", env=as_verifier)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "20" in checked.stdout


def test_a_backup_that_cannot_finish_leaves_nothing(deployment: Deployment, tmp_path: Path) -> None:
    """pg_dump refused (the verifier's role may not read the API keys): no partial backup."""
    parent = tmp_path / "backups"
    env = deployment.env("govledger_verifier")
    failed = deployment.govledger("govledger_verifier", "backup", str(parent), env=env)
    assert failed.returncode == 2
    assert failed.stderr.startswith("govledger: error: pg_dump failed: ")
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert list(parent.iterdir()) == []


def test_a_newest_checkpoint_not_yet_witnessed_anchors_on_the_last_witnessed_one(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.append(5)
    deployment.checkpoint()  # size 45, not cosigned yet
    try:
        parent = tmp_path / "backups"
        made = deployment.govledger(
            BACKUP, "backup", str(parent), "--witness-wait", "0", env=deployment.env(BACKUP)
        )
        assert made.returncode == 0, made.stderr
        assert "anchored on checkpoint 1 (size 40): the newest, 2, is not trusted yet" in (
            made.stderr
        )
        assert (Path(made.stdout.strip()) / "checkpoint.note").read_text().splitlines()[1] == "40"
    finally:
        deployment.witness()
    again = backup(deployment, tmp_path / "after", "--witness-wait", "0")
    assert (again / "checkpoint.note").read_text().splitlines()[1] == "45"


def test_a_backup_refuses_when_no_checkpoint_is_witnessed(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Witness keys of a witness that never cosigned: nothing to anchor on; nothing written."""
    stranger = tmp_path / "witness-keys.txt"
    other = tmp_path / "other-witness.key"
    stranger.write_text(generate_key_file(str(other), "witness.test/2", witness=True) + "\n")
    parent = tmp_path / "backups"
    env = deployment.env(BACKUP, GOVLEDGER_WITNESS_KEYS_FILE=str(stranger))
    failed = deployment.govledger(BACKUP, "backup", str(parent), "--witness-wait", "0", env=env)
    assert failed.returncode != 0 and failed.stderr.count("\n") == 1, failed.stderr
    assert "quorum not met" in failed.stderr and "witness.test/2" in failed.stderr
    assert not parent.exists() or list(parent.iterdir()) == []


def test_restore_of_a_damaged_backup_touches_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    made = backup(deployment, tmp_path / "backups")
    dump = made / "ledger.dump"
    dump.write_bytes(dump.read_bytes()[:-10] + b"\0" * 10)
    state = tmp_path / "state"
    env = restore_env(deployment, "restored_damaged", state)
    done = deployment.govledger(OWNER, "restore", str(made), env=env)
    assert done.returncode == 2
    assert "the backup is damaged: ledger.dump does not match SHA256SUMS" in done.stderr
    assert tables(deployment, "restored_damaged") == "0" and not state.exists()


def test_a_restore_that_does_not_verify_is_undone(deployment: Deployment, tmp_path: Path) -> None:
    """The dump restores, but it is not the ledger the anchor signed: exit 1, target emptied."""
    made = backup(deployment, tmp_path / "backups")
    with tarfile.open(made / "state.tar.gz") as tar:
        assert tar.getnames()  # the verifier's state went into the backup
    note = made / "checkpoint.note"
    lines = note.read_text().splitlines(keepends=True)
    lines[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"  # another root hash
    note.write_text("".join(lines))
    sums = "".join(
        f"{hashlib.sha256((made / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("checkpoint.note", "ledger.dump", "state.tar.gz", "MANIFEST.json")
    )
    (made / "SHA256SUMS").write_text(sums)
    state = tmp_path / "state"
    env = restore_env(deployment, "restored_forged", state)
    done = deployment.govledger(OWNER, "restore", str(made), env=env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("govledger restore: refused: ")
    assert tables(deployment, "restored_forged") == "0" and not state.exists()


def test_restore_as_a_service_role_is_refused_and_touches_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    made = backup(deployment, tmp_path / "backups")
    state = tmp_path / "state"
    deployment.create_database("restored_by_app")
    env = deployment.env("govledger_app", "restored_by_app", GOVLEDGER_STATE_DIR=str(state))
    done = deployment.govledger("govledger_app", "restore", str(made), env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "pg_restore failed" in done.stderr and "permission denied" in done.stderr
    assert tables(deployment, "restored_by_app") == "0" and not state.exists()


def test_restore_refuses_a_state_directory_in_use_and_touches_neither(
    deployment: Deployment, tmp_path: Path
) -> None:
    made = backup(deployment, tmp_path / "backups")
    state = tmp_path / "state"
    state.mkdir()
    (state / "verified-heads.json").write_text("{}")
    env = restore_env(deployment, "restored_state_in_use", state)
    done = deployment.govledger(OWNER, "restore", str(made), env=env)
    assert done.returncode == 2 and "is not empty: move it aside first" in done.stderr
    assert (state / "verified-heads.json").read_text() == "{}"
    assert tables(deployment, "restored_state_in_use") == "0"


def test_restore_refuses_a_target_that_holds_a_ledger(
    deployment: Deployment, tmp_path: Path
) -> None:
    made = backup(deployment, tmp_path / "backups")
    before = tables(deployment, "govledger")
    env = deployment.env(OWNER, GOVLEDGER_STATE_DIR=str(tmp_path / "state"))
    done = deployment.govledger(OWNER, "restore", str(made), env=env)
    assert done.returncode == 2
    assert "the target's schema public is not empty" in done.stderr
    assert tables(deployment, "govledger") == before


def test_backups_are_never_world_readable_whatever_the_umask(
    deployment: Deployment, tmp_path: Path
) -> None:
    old = os.umask(0)
    try:
        made = backup(deployment, tmp_path / "backups")
    finally:
        os.umask(old)
    modes = {p.stat().st_mode & 0o777 for p in made.iterdir()}
    assert modes == {0o600} and made.stat().st_mode & 0o077 == 0
