"""Tracking: a killed run resumes to the same views; rebuild equals incremental; demo counts."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ledger.application import GovLedger
from ledger.chain import FORMAT_VERSION
from ledger.config import Settings
from ledger.store.connect import application_env, init_ledger, ledger_head
from ops.cli import main
from ops.demo import DemoSummary, load_demo
from ops.terminal import EXIT_VERSION
from projections import runner, view_rows
from projections.query import open_views
from projections.runner import PROJECTIONS, Projector, open_projector, tracked_position
from projections.store import ProjectionError, ViewStore, ViewsVersionError
from tests.conftest import Attacker
from tests.projections.scenario import build_scenario, scenario_settings
from tests.served import settings_env

ROOT = Path(__file__).resolve().parents[2]
VIEW_TABLES = (
    "events", "facts", "access_blocks", "access_totals", "findings",
    "anomalies", "reviews", "clock", "snapshots", "fact_snapshots",
)  # fmt: skip


def dump(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view table, sorted: two equal dumps are the same views."""
    store = ViewStore(settings)
    try:
        tables = {
            name: sorted(
                tuple(str(v) for v in row)
                for row in store.query(f"SELECT * FROM {store.table(name)}")
            )
            for name in VIEW_TABLES
        }
        tables["tracking"] = sorted(
            (t.name, str(t.position), t.hash.hex() if t.hash else "")
            for t in store.tracking().values()
        )
        return tables
    finally:
        store.close()


def views_position(settings: Settings) -> int:
    store = ViewStore(settings)
    try:
        return tracked_position(store) if store.has_table("tracking") else 0
    finally:
        store.close()


def test_rebuild_equals_incremental(settings: Settings) -> None:
    small = scenario_settings(settings)
    build_scenario(small)
    last = ledger_head(small)
    with open_projector(small) as projector:
        for until in range(3, last + 1, 4):  # many small runs, ending mid-batch
            projector.run(until=until)
        projector.run()
        assert tracked_position(projector.store) == last
    incremental = dump(small)
    with open_projector(small) as projector:
        assert projector.rebuild() == last
    assert dump(small) == incremental
    assert incremental["snapshots"], "the scenario crosses snapshot boundaries"


def test_access_blocks_from_memory_equal_those_from_sql(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block the fold saw whole is aggregated from its rows in memory, one begun before
    the run by SQL over the events table: the two give the same rows."""
    block = 64
    monkeypatch.setattr(runner, "BLOCK", block)  # many blocks in a small ledger
    monkeypatch.setattr(view_rows, "BLOCK", block)
    paths: Counter[str] = Counter()
    in_memory, by_sql = view_rows.block_rows, Projector._aggregate_block_sql

    def memory_spy(*args: Any) -> list[tuple[Any, ...]]:
        paths["memory"] += 1
        return in_memory(*args)

    def sql_spy(self: Projector, number: int) -> None:
        paths["sql"] += 1
        by_sql(self, number)

    monkeypatch.setattr(view_rows, "block_rows", memory_spy)
    monkeypatch.setattr(Projector, "_aggregate_block_sql", sql_spy)
    small = settings.with_overrides(projection_batch_size=9, projection_snapshot_interval=50)
    load_small_demo(small)
    last = ledger_head(small)
    for until in range(50, last + 50, 50):  # a fresh runner every 50 rows: no block seen whole
        with open_projector(small) as projector:
            projector.run(until=min(until, last))
    incremental, blocks = dump(small), last // block
    assert paths == {"sql": blocks}
    with open_projector(small) as projector:
        projector.rebuild()
    assert paths == {"sql": blocks, "memory": blocks}
    assert dump(small) == incremental
    rows = incremental["access_blocks"]
    assert len(rows) > 7 * blocks and any(row[5] != "0" for row in rows), "refused accesses"


def test_a_run_collects_young_garbage_less_often_and_restores_the_threshold(
    settings: Settings,
) -> None:
    small = scenario_settings(settings)
    build_scenario(small)
    before, during = gc.get_threshold(), []
    with open_projector(small) as projector:
        projector.run(progress=lambda _: during.append(gc.get_threshold()[0]))
    assert during and min(during) >= 50_000
    assert gc.get_threshold() == before


def test_a_rewritten_ledger_is_refused(request: pytest.FixtureRequest, settings: Settings) -> None:
    small = scenario_settings(settings)
    build_scenario(small)
    with open_projector(small) as projector:
        projector.run()
        position = tracked_position(projector.store)
    admin = None
    if small.database.backend == "postgresql":
        admin = request.getfixturevalue("postgres_urls").admin
    attacker = Attacker(small, admin)
    try:
        attacker.execute("UPDATE {t} SET hash = ? WHERE {pos} = ?", (b"\x00" * 32, position))
    finally:
        attacker.close()
    with open_projector(small) as projector, pytest.raises(ProjectionError, match="rebuild"):
        projector.run()


# ---------------------------------------------------------------- the demo zone


def load_small_demo(settings: Settings) -> DemoSummary:
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        return load_demo(app, accesses=700, seed=7, violation_rate=0.3, requests=300)
    finally:
        app.close()


def environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOVLEDGER_DATABASE_URL=settings.database_url,
        GOVLEDGER_POSTGRES_SCHEMA=settings.postgres_schema,
        GOVLEDGER_STATE_DIR=settings.state_dir,
        GOVLEDGER_PROJECTION_BATCH_SIZE=str(settings.projection_batch_size),
        GOVLEDGER_PROJECTION_SNAPSHOT_INTERVAL=str(settings.projection_snapshot_interval),
    )
    return env


def test_a_run_killed_mid_way_resumes_to_what_an_uninterrupted_run_gives(
    settings: Settings,
) -> None:
    """One demo ledger per backend serves both checks: the kill, then the planted counts."""
    small = settings.with_overrides(projection_batch_size=5, projection_snapshot_interval=50)
    summary = load_small_demo(small)
    last = ledger_head(small)
    runner = subprocess.Popen(
        [sys.executable, "-c", "from ops.cli import main; main(['projections', 'run'])"],
        cwd=ROOT,
        env=environment(small),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while views_position(small) == 0 and runner.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the views' own progress, not waiting for it
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    killed_at = views_position(small)
    assert 0 < killed_at < last, f"killed at {killed_at} of {last}: not mid-way"
    # Resume (in larger batches: batch ends must not matter) and finish.
    larger = small.with_overrides(projection_batch_size=1000)
    with open_projector(larger) as projector:
        assert projector.run() == last - killed_at  # each row exactly once
    resumed = dump(larger)
    with open_projector(larger) as projector:
        projector.rebuild()
    assert dump(larger) == resumed
    check_planted_counts(larger, summary)


def check_planted_counts(settings: Settings, summary: DemoSummary) -> None:
    """The views find what ops/demo.py says it planted."""
    with open_views(settings, catch_up=True) as views:
        m = views.moment(as_of=date(2026, 12, 31))
        found = Counter(f.rule for f in views.findings(m))
        kinds = Counter(a.kind for a in views.anomalies(m))
    v = summary.violations
    # Each planted access has exactly one reason; purpose mismatch is S4, or P1 on
    # sensitive personal items.
    assert found["S1"] == v.get("resource_not_shareable", 0)
    assert found["S2"] == v.get("no_grant", 0) + v.get("grant_expired", 0) + v.get(
        "grant_revoked", 0
    )
    assert found["S3"] == v.get("items_beyond_grant", 0)
    assert found["S4"] + found["P1"] == v.get("purpose_mismatch", 0)
    assert found["S5"] == v.get("unknown_resource", 0)
    for rule in ("S7", "S9", "S10", "F1", "F2", "F3", "F4", "F5", "I2"):
        assert found[rule] == summary.findings.get(rule, 0), rule
    # S6 as of the year's end also counts requests due in December (the demo counts
    # those due before 12-01 only).
    assert found["S6"] >= summary.findings.get("S6", 0) > 0
    assert kinds["off_hours_sensitive"] == summary.anomalies["off_hours_sensitive"]
    assert kinds["after_revocation"] == v.get("grant_revoked", 0)
    assert kinds["after_expiry"] == v.get("grant_expired", 0)
    assert kinds["items_beyond_grant"] == v.get("items_beyond_grant", 0)
    assert sum(v.values()) > 0 and set(PROJECTIONS) == {"audit_trail", "accesses", "zone"}


def test_views_of_another_schema_version_are_rebuilt(settings: Settings) -> None:
    """An upgrade whose fold or tables changed (SCHEMA_VERSION) rebuilds the views once,
    to exactly what a fresh rebuild gives; nothing of the old views is kept."""
    small = scenario_settings(settings)
    build_scenario(small)
    with open_projector(small) as projector:
        projector.run()
    fresh = dump(small)
    store = ViewStore(small)
    try:
        with store.transaction():
            store.set_meta("schema_version", str(runner.SCHEMA_VERSION - 1))
            store.query(f"DELETE FROM {store.table('findings')}")  # the old views' own rows
    finally:
        store.close()
    with open_projector(small) as projector:
        projector.run()
    assert dump(small) == fresh


def test_the_schema_is_ensured_once_per_projector_and_again_after_a_drop(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle worker's poll runs no DDL; views dropped elsewhere are created again."""
    small = scenario_settings(settings)
    build_scenario(small)
    ensured: list[bool] = []
    original = runner.ensure_schema

    def counted(store: ViewStore, *, indexes: bool = True) -> None:
        ensured.append(indexes)
        original(store, indexes=indexes)

    monkeypatch.setattr(runner, "ensure_schema", counted)
    with open_projector(small) as projector:
        projector.run()
        fresh = dump(small)
        for _ in range(3):
            assert projector.run() == 0
        assert len(ensured) == 1
        other = ViewStore(small)
        try:
            runner.drop_views(other)
        finally:
            other.close()
        assert projector.run() == ledger_head(small)
        assert len(ensured) == 2
    assert dump(small) == fresh


def set_version(settings: Settings, version: int) -> None:
    """Views as another govledger left them: its schema version, in meta and tracking."""
    store = ViewStore(settings)
    try:
        with store.transaction():
            store.set_meta("schema_version", str(version))
            store.query(f"UPDATE {store.table('tracking')} SET version = ?", (version,))
    finally:
        store.close()


def test_a_rebuild_builds_beside_the_views_and_swaps_them_in(settings: Settings) -> None:
    """Readers see the whole old views until the swap, never a missing table nor a partial
    count; then the whole new ones. Nothing of the side build is left behind."""
    small = scenario_settings(settings)
    build_scenario(small)
    last = ledger_head(small)
    with open_projector(small) as projector:
        projector.run()
        fresh = dump(small)
        seen: list[int] = []

        def during(rows: int) -> None:
            seen.append(rows)
            assert dump(small) == fresh  # the current views, whole, while the side fills

        assert projector.rebuild(progress=during) == last
        assert sum(seen) == last
    assert dump(small) == fresh
    store = ViewStore(small)
    try:
        assert runner.stored_version(store) == runner.SCHEMA_VERSION
        if store.backend == "postgresql":
            left = store.query(
                "SELECT tablename FROM pg_tables WHERE schemaname = ? AND tablename LIKE ?",
                (small.postgres_schema, "views\\_next\\_%"),
            )
            assert left == []
            names = store.query(
                "SELECT indexname FROM pg_indexes WHERE schemaname = ? AND indexname LIKE ?",
                (small.postgres_schema, "views\\_%"),
            )
            assert names and not [n for (n,) in names if n.startswith("views_next_")], names
        else:
            assert Path(store.path).name == "ledger.views.2.db"
    finally:
        store.close()
    with open_projector(small) as projector:  # again: the swapped-in names are reusable
        projector.rebuild()
    assert dump(small) == fresh
    if small.database.backend == "sqlite":  # the next rebuild freed the generation before
        names = sorted(p.name for p in Path(small.database.path).parent.glob("ledger.views*.db"))
        assert names == ["ledger.views.2.db", "ledger.views.3.db"]


def test_a_worker_goes_on_in_the_views_a_rebuild_swapped_in(settings: Settings) -> None:
    """The worker's open store follows the swap: it writes into the new views, not the old."""
    small = scenario_settings(settings)
    build_scenario(small)
    last = ledger_head(small)
    with open_projector(small) as worker:
        worker.run(until=last - 5)
        with open_projector(small) as other:
            assert other.rebuild() == last
        assert worker.run() == 0  # the rebuilt views are at the head already
        assert tracked_position(worker.store) == last
    with open_projector(small) as projector:
        projector.run()
        fresh = dump(small)
        projector.rebuild()
    assert dump(small) == fresh


def test_an_older_govledger_refuses_newer_views_and_keeps_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither a running worker, nor a new one, nor a rebuild writes into or drops views of
    a newer schema version; the CLI says so in one line and exits 4 (EXIT_VERSION)."""
    small = scenario_settings(settings)
    build_scenario(small)
    last = ledger_head(small)
    with open_projector(small) as worker:
        worker.run(until=last - 5)
        set_version(small, runner.SCHEMA_VERSION + 1)
        newer = dump(small)
        with pytest.raises(ViewsVersionError, match="newer than this govledger"):
            worker.run()
        with pytest.raises(ViewsVersionError):
            worker.rebuild()
    with open_projector(small) as fresh_worker, pytest.raises(ViewsVersionError):
        fresh_worker.run()
    for name, value in settings_env(small).items():
        monkeypatch.setenv(name, value)
    for argv in (["projections", "run"], ["projections", "rebuild"]):
        assert main(argv) == EXIT_VERSION
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "schema version" in err, err
    assert dump(small) == newer
    status = json.loads(run_status(capsys, "--json"))
    assert status["views"]["schema_version"] == runner.SCHEMA_VERSION + 1
    assert status["views"]["match"] is False and status["match"] is False
    assert status["views"]["lag"] == 5


def test_status_says_which_versions_run_and_how_far_the_worker_is(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small = scenario_settings(settings)
    build_scenario(small)
    last = ledger_head(small)
    for name, value in settings_env(small).items():
        monkeypatch.setenv(name, value)
    before = json.loads(run_status(capsys, "--json"))
    assert before["views"]["schema_version"] is None and before["views"]["lag"] == last
    assert before["match"] is False
    with open_projector(small) as projector:
        projector.run(until=last - 3)
    body = json.loads(run_status(capsys, "--json"))
    assert body["code_version"] == runner.code_version() != "unknown"
    assert body["ledger"] == {
        "format_version": FORMAT_VERSION, "code_format_version": FORMAT_VERSION,
        "match": True, "head": last,
    }  # fmt: skip
    assert body["views"] == {
        "schema_version": runner.SCHEMA_VERSION, "code_schema_version": runner.SCHEMA_VERSION,
        "written_by": runner.code_version(), "match": True, "position": last - 3, "lag": 3,
    }  # fmt: skip
    assert body["match"] is True
    text = run_status(capsys)
    assert f"schema version {runner.SCHEMA_VERSION} (this code: " in text
    assert f"position {last - 3} of {last} (lag 3)" in text


def run_status(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["status", *argv]) == 0
    return capsys.readouterr().out
