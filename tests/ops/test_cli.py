"""The ``govledger`` command line: exit codes, one-line errors, JSON, both backends."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory, PersistenceError
from eventsourcing.utils import Environment

from ledger.checkpoints import generate_key_file
from ledger.config import Settings
from ledger.store.connect import application_env
from ops import ledger_cli
from ops.cli import main
from tests.conftest import Attacker, Ledger, PostgresURLs, make_events, pg_connect


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """Point the CLI at the test ledger the way an operator would: with variables."""
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GOVLEDGER_POSTGRES_SCHEMA", settings.postgres_schema)
    monkeypatch.setenv("GOVLEDGER_STATE_DIR", settings.state_dir)
    return settings


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_json_then_incremental(
    cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger(cli_env)
    ledger.append(12, per_transaction=5)
    code, out, _ = run(capsys, "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["count"] == 12 and report["head_position"] == 12
    ledger.append(3)
    ledger.close()
    code, out, _ = run(capsys, "verify", "--json")
    report = json.loads(out)
    assert (code, report["from_position"], report["count"]) == (0, 13, 3)
    code, out, _ = run(capsys, "verify", "--from", "10")
    assert code == 0 and out.startswith("OK 6 rows verified (positions 10..15)")


def test_verify_names_the_first_bad_position(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    ledger = Ledger(cli_env)
    ledger.append(9)
    admin = None
    if cli_env.database.backend == "postgresql":
        admin = request.getfixturevalue("postgres_urls").admin
    attacker = Attacker(cli_env, admin)
    attacker.execute("DELETE FROM {t} WHERE {pos} = ?", (4,))
    attacker.close()
    ledger.close()
    code, out, _ = run(capsys, "verify")
    assert code == 1
    assert out.strip() == "FAIL position 4: missing: position 4 is absent; next is 5"


def test_export_then_standalone_verify(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ledger = Ledger(cli_env)
    ledger.append(7, per_transaction=2)
    ledger.close()
    target = tmp_path / "out.jsonl"
    code, _, err = run(capsys, "export", "-o", str(target))
    assert code == 0 and "exported 7 rows" in err
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 and json.loads(lines[0])["type"] == "genesis"
    from ledger.chain import main as standalone_main  # noqa: PLC0415

    assert standalone_main([str(target)]) == 0


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"GOVLEDGER_DATABASE_URL": "mysql://x/y"}, "scheme must be sqlite:/// or postgresql://"),
        ({"GOVLEDGER_HASH_ALGORITHM": "md5"}, "is not one of: sha256, sm3"),
        ({"GOVLEDGER_DATABASE_URL": "sqlite:///var/none/absent.db"}, "no ledger database at"),
        (
            {"GOVLEDGER_DATABASE_URL": "postgresql://u:secret-pw@127.0.0.1:1/x"},
            "cannot connect to PostgreSQL",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    variables: dict[str, str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    code, out, err = run(capsys, "verify")
    assert code == 2 and out == ""
    assert err.startswith("govledger: error: ") and err.count("\n") == 1
    assert message in err
    assert "secret-pw" not in err
    assert list(tmp_path.iterdir()) == [], "a refused command wrote something"


class _BugError(RuntimeError):
    """Stands in for a bug deep in a command."""


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [
        (
            _BugError("boom\nsecond line"),
            3,
            "unexpected _BugError: boom (a bug: run with --debug",
        ),
        (
            psycopg.errors.InsufficientPrivilege("permission denied for table ledger_events"),
            2,
            "the database refused: permission denied for table ledger_events (this command's "
            "PostgreSQL role lacks that privilege",
        ),
        (
            PersistenceError("couldn't get a connection after 5.00 sec"),
            2,
            "the database refused or did not answer: couldn't get a connection",
        ),
        (PermissionError(13, "Permission denied", "/var/backups/x"), 2, "Permission denied (/var/"),
    ],
    ids=["bug", "privilege", "database", "file"],
)
def test_every_failure_is_one_line_with_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    raised: Exception,
    code: int,
    message: str,
) -> None:
    """No traceback, whatever a command raises; 1 stays "a break was found" (issue 21)."""
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'l.db'}")

    def failing(settings: Settings, args: object) -> int:
        raise raised

    monkeypatch.setattr(ledger_cli, "cmd_export", failing)
    got, out, err = run(capsys, "export", "-o", "-")
    assert (got, out) == (code, "")
    assert err.startswith("govledger: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err


def test_debug_shows_the_traceback_of_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'l.db'}")

    def failing(settings: Settings, args: object) -> int:
        raise _BugError("boom")

    monkeypatch.setattr(ledger_cli, "cmd_export", failing)
    with pytest.raises(_BugError):
        main(["--debug", "export", "-o", "-"])


def test_console_script_is_installed(tmp_path: Path) -> None:
    env = dict(os.environ, GOVLEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}")
    env["GOVLEDGER_STATE_DIR"] = str(tmp_path / "state")
    script = Path(sys.executable).parent / "govledger"
    init = subprocess.run([script, "init"], env=env, capture_output=True, text=True, check=False)
    assert init.returncode == 0 and "(sha256, created" in init.stdout
    done = subprocess.run(
        [script, "verify", "--json"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and json.loads(done.stdout)["head_position"] == 0


def test_least_privileged_role_runs_the_service_path(
    postgres_settings: Settings,
    postgres_urls: PostgresURLs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The owner inits and grants; the app role appends and verifies, and no more."""
    key = tmp_path / "log.key"
    generate_key_file(str(key), "govledger.test")
    monkeypatch.setenv("GOVLEDGER_POSTGRES_SCHEMA", postgres_settings.postgres_schema)
    monkeypatch.setenv("GOVLEDGER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GOVLEDGER_CHECKPOINT_KEY_FILE", str(key))
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", postgres_urls.owner)
    assert run(capsys, "init", "--app-role", "govledger_app")[0] == 0
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", postgres_urls.app)
    monkeypatch.setenv("GOVLEDGER_CREATE_SCHEMA", "false")
    # The projection worker keeps its read models (creates, rebuilds) under the same role.
    for command in (["projections", "run"], ["projections", "rebuild"]):
        code, _, err = run(capsys, *command)
        assert code == 0, err
    as_app = postgres_settings.with_overrides(database_url=postgres_urls.app, create_schema=False)
    factory = InfrastructureFactory.construct(Environment(env=application_env(as_app)))
    factory.application_recorder().insert_events(make_events(6))
    factory.close()
    # Issuing is the issuer's, not the service's (issue 13.6): refused as the app role, then
    # done by the owner, and the app role verifies against it.
    assert run(capsys, "checkpoint", "issue")[0] == 2
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", postgres_urls.owner)
    assert run(capsys, "checkpoint", "issue")[0] == 0
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", postgres_urls.app)
    code, out, err = run(capsys, "verify", "--json")
    assert code == 0, err
    assert json.loads(out)["head_position"] == 6
    with pg_connect(postgres_urls.app) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM ledger_events_checkpoints")
    with pg_connect(postgres_urls.app) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE ledger_events SET topic = 'x'")


def test_serve_runs_on_the_c_http_parser_and_event_loop() -> None:
    """``govledger serve`` leaves uvicorn's choice on auto; with httptools and uvloop
    installed (pyproject.toml) auto picks them, which bench/ingest.py measured faster."""
    import uvicorn  # noqa: PLC0415
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415

    async def app(scope: object, receive: object, send: object) -> None:
        """Stands in for the service: only uvicorn's own choices are looked at."""

    config = uvicorn.Config(app, http="auto", loop="auto")
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    assert importlib.util.find_spec("uvloop") is not None
