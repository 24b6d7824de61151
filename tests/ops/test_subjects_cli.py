"""``govledger erase`` (ops/subjects_cli.py) on each backend: init makes the index secret,
erasure keeps ``verify --full``, checkpoints and evidence bundles valid, and a restored
key-table backup is erased again by ``erase --reapply`` (docs/ledger-format.md §9.1)."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest

import ops.cli
from ledger.config import Settings
from ledger.configured import open_ledger
from ledger.evidence_verify import main as verify_bundle
from ledger.subject_keys import SubjectKeys
from ledger.tree_database import Database
from tests.ledger.commands.test_access_batch import _judged, access_report
from tests.ledger.domain.builders import (
    NDRC,
    PLATFORM,
    PROVIDER,
    PROVIDER_DEPT,
    USER_DEPT,
    population_entry,
)

ALICE = "11010519491231002X"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path) -> Settings:
    keys = tmp_path / "keys"
    env = {
        "GOVLEDGER_DATABASE_URL": settings.database_url,
        "GOVLEDGER_POSTGRES_SCHEMA": settings.postgres_schema,
        "GOVLEDGER_STATE_DIR": settings.state_dir,
        "GOVLEDGER_CHECKPOINT_KEY_FILE": str(keys / "log.key"),
        "GOVLEDGER_TRUSTED_KEYS_FILE": str(keys / "trusted"),
        "GOVLEDGER_SUBJECT_INDEX_KEY_FILE": str(keys / "index.key"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings.with_overrides(
        checkpoint_key_file=env["GOVLEDGER_CHECKPOINT_KEY_FILE"],
        trusted_keys_file=env["GOVLEDGER_TRUSTED_KEYS_FILE"],
        subject_index_key_file=env["GOVLEDGER_SUBJECT_INDEX_KEY_FILE"],
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = ops.cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_erase_keeps_every_proof_and_follows_the_log(
    cli: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    code, _, err = run(capsys, "init")
    assert code == 0 and "subject index secret" in err
    index_key = Path(cli.subject_index_key_file)
    assert stat.S_IMODE(os.stat(index_key).st_mode) == 0o600
    app = open_ledger(cli)
    try:
        assert app.subjects is not None
        app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
        app.register_department(NDRC, USER_DEPT, "区人社局")
        app.register_resource(PROVIDER, population_entry())
        reports = [access_report("c-1", subjects=(ALICE,)), access_report("c-2")]
        app.record_accesses(PLATFORM, _judged(app, reports))
        position = app.recorder.max_notification_id() - 1
    finally:
        app.close()
    code, _, err = run(capsys, "checkpoint", "issue")
    assert code == 0, err
    bundle = tmp_path / "bundle.json"
    code, _, err = run(capsys, "evidence", "--position", str(position), "-o", str(bundle))
    assert code == 0, err
    before = bundle.read_bytes()
    database = Database(cli)
    try:
        backup = SubjectKeys(database).all_rows()
    finally:
        database.close()

    code, _, err = run(capsys, "erase", "--subject", "-")
    assert code == 2 and "--reason" in err  # one line, nothing done
    monkeypatch.setattr("sys.stdin", io.StringIO(ALICE.lower() + "\n"))
    code, out, err = run(
        capsys, "erase", "--subject", "-", "--reason", "处理目的已实现",
        "--legal-basis", "个人信息保护法第四十七条",
    )  # fmt: skip
    assert code == 0, err
    assert "1 key(s) destroyed" in out and ALICE not in out + err
    code, out, _ = run(capsys, "verify", "--full", "--json")
    assert code == 0 and json.loads(out)["ok"]
    code, _, err = run(capsys, "checkpoint", "issue")
    assert code == 0, err
    trusted = Path(cli.trusted_keys_file).read_text().split()
    assert verify_bundle([str(bundle), "--log-key", trusted[-1]], io.StringIO()) == 0
    code, _, err = run(capsys, "evidence", "--position", str(position), "-o", str(bundle))
    assert code == 0, err
    after = json.loads(bundle.read_bytes())
    assert [e["row"] for e in after["events"]] == [e["row"] for e in json.loads(before)["events"]]

    database = Database(cli)
    try:
        SubjectKeys(database).restore(backup)  # the pre-erasure backup
        assert all(row.key is not None for row in SubjectKeys(database).all_rows())
        code, out, err = run(capsys, "erase", "--reapply")
        assert code == 0 and "1 key(s) destroyed now" in out, err
        assert all(row.key is None for row in SubjectKeys(database).all_rows())
    finally:
        database.close()
