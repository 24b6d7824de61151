"""``govledger import``: verdicts, idempotent re-import, all-or-nothing on a bad line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import AccessReason
from ledger.errors import LedgerError
from ledger.store.connect import application_env, init_ledger
from ops.importer import ImportFormatError, import_file, register
from tests.ledger.domain.builders import (
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)

PURPOSE = "最低生活保障家庭经济状况核对"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Iterator[GovLedger]:
    """A catalogue of one conditional resource and one grant to the user department."""
    init_ledger(settings)
    opened = GovLedger(env=application_env(settings), clock=clock)
    opened.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    opened.register_department(NDRC, USER_DEPT, "区人社局")
    opened.register_resource(PROVIDER, population_entry())
    yield opened
    opened.close()


@pytest.fixture
def grant(app: GovLedger, clock: FakeClock) -> UUID:
    request = app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name", "address", "id_no"],
        purpose=PURPOSE,
        legal_basis="《社会救助暂行办法》",
        period_start=clock.now.date(),
        period_end=clock.now.date() + timedelta(days=90),
    )
    app.approve_request(PROVIDER, request, ["name", "address"], clock.now + timedelta(days=90))
    return request


def line(event_id: str, grant: UUID | None, **change: Any) -> dict[str, Any]:
    access: dict[str, Any] = {
        "platform_event_id": event_id,
        "accessor_id": "hrb-staff-01",
        "department": USER_DEPT,
        "system": None,
        "resource_code": "R-POP",
        "items": ["name", "address"],
        "row_count": 12,
        "purpose": PURPOSE,
        "grant_id": str(grant) if grant else None,
        "client_address": "10.2.3.4",
        "accessed_at": "2026-03-05T09:15:00+08:00",
    }
    access.update(change)
    return access


def write(path: Path, *rows: dict[str, Any] | str) -> Path:
    text = "\n".join(
        row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows
    )
    path.write_text(text + "\n", encoding="utf-8")
    return path


def good_file(tmp_path: Path, grant: UUID) -> Path:
    return write(
        tmp_path / "accesses.jsonl",
        line("e-1", grant),
        line("e-2", grant, items=["name", "id_no"]),  # S3
        line("e-3", grant, purpose="统计分析"),  # S4
        "",  # blank lines are skipped
        line("e-4", None, resource_code="R-NONE"),  # S5
        line("e-5", grant, accessed_at="2026-07-01T01:00:00Z"),  # after expiry: S2
        line("e-6", grant, department=PROVIDER_DEPT, grant_id=None, items=["id_no"], purpose=None),
        line("e-1", grant),  # an exact retry of line 1: skipped
    )


def test_import_records_each_access_with_its_verdict(
    app: GovLedger, grant: UUID, tmp_path: Path
) -> None:
    advanced: list[int] = []
    summary = import_file(app, good_file(tmp_path, grant), progress=advanced.append)
    assert (summary.lines, summary.recorded, summary.already_recorded) == (7, 6, 1)
    assert summary.unauthorized == 4
    assert summary.by_reason == {
        "items_beyond_grant": 1,
        "purpose_mismatch": 1,
        "unknown_resource": 1,
        "grant_expired": 1,
    }
    assert sum(advanced) == 7
    verdicts = {f"e-{n}": app.access(f"e-{n}").verdict.reasons for n in range(1, 7)}
    assert verdicts == {
        "e-1": (),
        "e-2": (AccessReason.ITEMS_BEYOND_GRANT,),
        "e-3": (AccessReason.PURPOSE_MISMATCH,),
        "e-4": (AccessReason.UNKNOWN_RESOURCE,),
        "e-5": (AccessReason.GRANT_EXPIRED,),
        "e-6": (),  # the provider reads its own resource
    }
    report = app.access("e-5").report
    assert report.accessed_at.utcoffset() == timedelta(0) and report.grant_id == grant


def test_importing_the_same_file_twice_records_nothing_the_second_time(
    app: GovLedger, grant: UUID, tmp_path: Path
) -> None:
    path = good_file(tmp_path, grant)
    import_file(app, path)
    head = app.recorder.max_notification_id()
    again = import_file(app, path)
    assert (again.recorded, again.already_recorded, again.unauthorized) == (0, 7, 0)
    assert app.recorder.max_notification_id() == head


def test_many_batches(app: GovLedger, grant: UUID, tmp_path: Path) -> None:
    rows = [line(f"bulk-{n}", grant) for n in range(2_500)]
    summary = import_file(app, write(tmp_path / "bulk.jsonl", *rows))
    assert (summary.recorded, summary.unauthorized) == (2_500, 0)


BAD_LINES = {
    "not JSON": ('{"platform_event_id": "x",', "not JSON"),
    "not an object": ("[1, 2]", "expected a JSON object"),
    "missing field": (
        json.dumps({k: v for k, v in line("x", None).items() if k != "department"}),
        "department: missing",
    ),
    "wrong type": (json.dumps(line("x", None, row_count="12")), "row_count"),
    "bool as count": (json.dumps(line("x", None, row_count=True)), "row_count"),
    "items not a list": (json.dumps(line("x", None, items="name")), "items"),
    "bad timestamp": (
        json.dumps(line("x", None, accessed_at="2026-13-45T09:00:00+08:00")),
        "accessed_at",
    ),
    "naive timestamp": (
        json.dumps(line("x", None, accessed_at="2026-03-05T09:15:00")),
        "with an offset",
    ),
    "bad grant id": (json.dumps(line("x", None, grant_id="grant-7")), "grant_id"),
    "unknown field": (
        json.dumps({**line("x", None), "purpse": "typo"}),
        "unknown field(s): purpse",
    ),
    "blank id": (json.dumps(line("  ", None)), "platform_event_id"),
    "conflicting repeat": (json.dumps(line("e-1", None, row_count=99)), "already on line 1"),
}


@pytest.mark.parametrize("bad", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_malformed_line_is_named_and_nothing_is_written(
    app: GovLedger, grant: UUID, tmp_path: Path, bad: tuple[str, str]
) -> None:
    text, problem = bad
    path = write(
        tmp_path / "bad.jsonl", line("e-1", None), line("e-2", grant), text, line("e-4", grant)
    )
    head = app.recorder.max_notification_id()
    with pytest.raises(ImportFormatError) as caught:
        import_file(app, path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: ") and problem in message and "\n" not in message
    assert caught.value.line_no == 3
    assert app.recorder.max_notification_id() == head


def test_bad_utf8_is_pinned_to_its_line(app: GovLedger, tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(line("e-1", None)).encode() + b"\n" + "é".encode("latin-1") + b"\n")
    with pytest.raises(ImportFormatError, match=r":2: not UTF-8"):
        import_file(app, path)


def test_command_imports_and_reports(
    sqlite_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    path = write(tmp_path / "a.jsonl", line("e-1", None, resource_code="R-NONE"))
    args = parser.parse_args(["import", str(path), "--json"])
    assert args.func(sqlite_settings, args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "lines": 1,
        "recorded": 1,
        "already_recorded": 0,
        "unauthorized": 1,
        "by_reason": {"unknown_resource": 1},
        "dated_in_future": 0,
        "refreshes_recorded": 0,
        "refreshes_flagged": 0,
    }
    write(path, "not json")
    args = parser.parse_args(["import", str(path)])
    # A LedgerError: `govledger` prints it as one line and exits 2.
    with pytest.raises(LedgerError, match=r"a\.jsonl:1: not JSON"):
        args.func(sqlite_settings, args)
    with pytest.raises(LedgerError, match="not a regular file"):
        args.func(sqlite_settings, parser.parse_args(["import", str(tmp_path)]))


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ('{"accessor_id": "\\ud800"}', "U+D800"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (json.dumps(line("x", None, row_count=2**63)), "row_count"),
        (json.dumps(line("x", None, accessed_at="0001-01-01T00:00:00+14:00")), "accessed_at"),
        (json.dumps(line("x", None, accessor_id="x" * 20_000_000)), "longer than"),
        (json.dumps(line("x", None, accessor_id="x" * 3_000)), "longer than 512"),
        ('{"platform_event_id": "x", "row_count": ' + "9" * 5_000 + "}", "more than 4,300 digits"),
    ],
    ids=[
        "lone surrogate",
        "100k-deep nesting",
        "rows 2**63",
        "year 1 at +14:00",
        "20 MB id",
        "3k id",
        "5000 digits",
    ],
)
def test_a_bad_line_1500_of_2500_writes_nothing_and_names_its_line(
    app: GovLedger, grant: UUID, tmp_path: Path, bad: str, problem: str
) -> None:
    """Issue 13 item 8: the whole file is checked before a single batch is written."""
    rows: list[dict[str, Any] | str] = [line(f"bulk-{n}", grant) for n in range(2_500)]
    if "accessor_id" in bad and "ud800" in bad:
        bad = json.dumps(line("x", None, accessor_id="\ud800"))  # the escape, as JSON sends it
    rows[1_499] = bad
    path = write(tmp_path / "bulk.jsonl", *rows)
    head = app.recorder.max_notification_id()
    with pytest.raises(ImportFormatError) as caught:
        import_file(app, path)
    message = str(caught.value)
    assert message.startswith(f"{path}:1500: ") and problem in message and "\n" not in message
    assert app.recorder.max_notification_id() == head


def test_the_command_exits_2_with_one_line_and_no_traceback(
    sqlite_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.cli import main  # noqa: PLC0415

    path = write(tmp_path / "deep.jsonl", line("e-1", None), "[" * 100_000 + "]" * 100_000)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GOVLEDGER_DATABASE_URL", sqlite_settings.database_url)
        patch.setenv("GOVLEDGER_STATE_DIR", sqlite_settings.state_dir)
        assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "deep.jsonl:2: not JSON: nested too deeply" in err
    assert "Traceback" not in err


def test_a_utf8_byte_order_mark_opening_the_file_is_skipped(app: GovLedger, tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(line("bom-1", None)).encode() + b"\n")
    assert import_file(app, path).recorded == 1


def test_an_access_dated_ahead_of_the_clock_is_recorded_and_counted(
    app: GovLedger, clock: FakeClock, tmp_path: Path
) -> None:
    ahead = (clock.now + timedelta(hours=8)).isoformat()
    path = write(tmp_path / "ahead.jsonl", line("ahead-1", None, accessed_at=ahead))
    summary = import_file(app, path)
    assert (summary.recorded, summary.dated_in_future) == (1, 1)
