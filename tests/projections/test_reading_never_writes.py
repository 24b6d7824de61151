"""Reading never writes (guide; docs/projections.md §Opening and moments).

Opening the views for a read — ``open_views``, ``GET /api/v1/views/...``, ``govledger
view``, and generating a report (``projections.reports.generate``, ``govledger report``,
``GET /api/v1/reports/...``) — creates no file, table or tracking record and does not
catch the fold up: the projection worker (``govledger projections run [--follow]``), a
rebuild, and the writers that pass ``catch_up``/``--catch-up`` write. A
``view`` of a file that is no ledger fails and leaves no ``*.views.db`` behind. Both
backends: the footprint is the files beside the ledger and the state directory, the
tables of both databases (SQLite) or of the schema (PostgreSQL), and the tracking records.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import ops.cli
from api.app import create_app
from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Role
from ledger.errors import StoreUnavailableError
from ledger.store.connect import application_env, postgres_conninfo
from projections.query import open_views
from projections.reports import ReportKind, generate
from projections.runner import run_projections
from projections.store import ViewStore, views_path
from security.apikeys import open_api_keys
from tests.projections.scenario import ADMIN, build_scenario

Footprint = tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, int], ...]]


def _files(settings: Settings) -> tuple[str, ...]:
    """Every file beside the ledger and in the state directory, but SQLite's shared-memory
    files of the ledger itself: its row reader opens it ``mode=ro`` on purpose (it never
    writes a file that may not be ours), and a read-only connection cannot remove them."""
    places = [Path(settings.state_dir)]
    ledger_wal: set[str] = set()
    if settings.database.backend == "sqlite":
        places.append(Path(settings.database.path).parent)
        ledger_wal = {settings.database.path + "-wal", settings.database.path + "-shm"}
    found = (str(p) for place in places if place.is_dir() for p in place.rglob("*"))
    return tuple(sorted(p for p in found if p not in ledger_wal))


def _tables(settings: Settings) -> tuple[str, ...]:
    if settings.database.backend == "sqlite":
        found: list[str] = []
        for path in (settings.database.path, views_path(settings)):
            if Path(path).is_file():
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                    rows = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
                found += [f"{path}:{r}" for r in rows]
        return tuple(sorted(found))
    import psycopg  # noqa: PLC0415

    with psycopg.connect(**postgres_conninfo(settings.database)) as db:
        rows = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (settings.postgres_schema,),
        ).fetchall()
    return tuple(sorted(str(r[0]) for r in rows))


def _tracking(settings: Settings) -> tuple[tuple[str, int], ...]:
    try:
        store = ViewStore(settings, readonly=True)
    except StoreUnavailableError:
        return ()
    try:
        if not store.has_table("tracking"):
            return ()
        return tuple(sorted((n, t.position) for n, t in store.tracking().items()))
    finally:
        store.close()


def footprint(settings: Settings) -> Footprint:
    return _files(settings), _tables(settings), _tracking(settings)


def _cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *argv: str) -> int:
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GOVLEDGER_POSTGRES_SCHEMA", settings.postgres_schema)
    monkeypatch.setenv("GOVLEDGER_STATE_DIR", settings.state_dir)
    return ops.cli.main(list(argv))


def test_reads_leave_files_tables_and_tracking_as_they_were(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build_scenario(settings)
    run_projections(settings)  # the worker
    keys = open_api_keys(settings)  # the API key table exists before the footprint
    token = keys.create(Role.AUDITOR, None).token
    keys.close()
    app = GovLedger(env=application_env(settings))
    try:  # recorded after the worker's run: a read that caught up would move the tracking
        app.register_department(ADMIN, "caizheng", "区财政局")
        head = app.recorder.max_notification_id()
    finally:
        app.close()
    before = footprint(settings)

    with open_views(settings) as views:
        assert views.position < head  # what the worker wrote, not caught up
        assert views.findings(views.moment(as_of=date(2026, 6, 30)))
        assert views.rights_register(views.moment())
    assert _cli(monkeypatch, settings, "view", "findings", "--json") == 0
    capsys.readouterr()
    with TestClient(create_app(settings)) as client:
        reply = client.get(
            "/api/v1/views/findings",
            params={"as_of": "2026-06-30"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"]
        reply = client.get(
            "/api/v1/reports/risk",
            params={"year": 2026},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["anchor"]["position"] < head  # the kept views' position

    assert footprint(settings) == before


def test_generating_reports_reads_the_kept_views(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    build_scenario(settings)
    run_projections(settings)  # the worker
    app = GovLedger(env=application_env(settings))
    try:  # recorded after the worker's run: a report that caught up would move the tracking
        app.register_department(ADMIN, "caizheng", "区财政局")
        head = app.recorder.max_notification_id()
    finally:
        app.close()
    before = footprint(settings)
    for kind in ReportKind:
        report = generate(settings, kind, 2026)
        assert report.anchor.position < head
    out = tmp_path_factory.mktemp("reports") / "risk.json"
    argv = ("report", "risk", "--year", "2026", "--format", "json", "-o", str(out))
    assert _cli(monkeypatch, settings, *argv) == 0
    capsys.readouterr()
    assert out.is_file()
    assert footprint(settings) == before
    # A writer asks for the catch-up: then, and only then, the views move.
    assert _cli(monkeypatch, settings, *argv, "--catch-up") == 0
    assert dict(footprint(settings)[2])["zone"] == head


def test_a_report_on_views_not_built_yet_creates_nothing(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    build_scenario(settings)
    before = footprint(settings)
    with pytest.raises(StoreUnavailableError, match="projections run"):
        generate(settings, ReportKind.RISK, 2026)
    out = tmp_path_factory.mktemp("reports") / "risk.json"
    argv = ("report", "risk", "--year", "2026", "--format", "json", "-o", str(out))
    assert _cli(monkeypatch, settings, *argv) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("govledger: error:")
    assert not out.exists()
    assert footprint(settings) == before


def test_reading_views_not_built_yet_creates_nothing(settings: Settings) -> None:
    build_scenario(settings)
    before = footprint(settings)
    with pytest.raises(StoreUnavailableError, match="projections run"), open_views(settings):
        pass
    assert footprint(settings) == before


def test_view_of_a_file_that_is_no_ledger_leaves_no_views_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("not a ledger\n" * 100, encoding="utf-8")
    settings = Settings(database_url=f"sqlite:///{notes}", state_dir=str(tmp_path / "state"))
    for argv in (["view", "findings"], ["view", "findings", "--catch-up"]):
        assert _cli(monkeypatch, settings, *argv) != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("govledger: error:")
        assert sorted(p.name for p in tmp_path.iterdir() if p.name != "state") == ["notes.db"]
    assert notes.read_text(encoding="utf-8") == "not a ledger\n" * 100
