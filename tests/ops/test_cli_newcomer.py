"""What a newcomer meets on the command line (issue #16): help with examples and no reST
markup, a pipe closed early is no error, import messages that point at the problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.errors import LedgerError
from ops import cli
from ops.cli import build_parser
from ops.importer import ImportFormatError, import_file
from tests.ledger.domain.builders import FakeClock


def test_help_shows_examples_and_no_markup(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "examples:" in out and "govledger demo --tokens" in out


def test_a_reader_closing_the_pipe_gets_no_traceback(sqlite_settings: Settings) -> None:
    env = {
        **os.environ,
        "GOVLEDGER_DATABASE_URL": sqlite_settings.database_url,
        "GOVLEDGER_STATE_DIR": sqlite_settings.state_dir,
    }
    run = [sys.executable, "-m", "ops.cli"]
    subprocess.run(
        [*run, "demo", "--accesses", "300", "--requests", "40"],
        env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    # Far more than a pipe buffer: the writer is still writing when the reader leaves.
    writer = subprocess.Popen(
        [*run, "export", "-o", "-"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert writer.stdout is not None and writer.stderr is not None
    writer.stdout.readline()
    writer.stdout.close()
    stderr = writer.stderr.read().decode()
    assert writer.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_main_treats_a_broken_pipe_as_the_reader_stopping(
    monkeypatch: pytest.MonkeyPatch, sqlite_settings: Settings
) -> None:
    def broken(settings: Settings, args: object) -> int:
        raise BrokenPipeError

    parser = cli.build_parser()
    real_parse = parser.parse_args

    def parse(argv: object = None) -> object:
        args = real_parse(["status"])
        args.func = broken
        return args

    monkeypatch.setattr(parser, "parse_args", parse)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    saved = os.dup(sys.stdout.fileno())
    try:
        assert cli.main(["status"]) == cli.EXIT_OK
    finally:
        os.dup2(saved, sys.stdout.fileno())
        os.close(saved)


def test_import_messages_point_at_the_problem(tmp_path: Path) -> None:
    app = GovLedger(clock=FakeClock())
    unclosed = tmp_path / "unclosed.jsonl"
    unclosed.write_bytes(b'\xef\xbb\xbf{"platform_event_id": "x1", "accessor_id": "a"\n')
    with pytest.raises(ImportFormatError) as caught:
        import_file(app, unclosed)
    message = str(caught.value)
    assert ":1: " in message and "column 47" in message and "missing }" in message
    with pytest.raises(LedgerError, match="no such file"):
        import_file(app, tmp_path / "absent.jsonl")
