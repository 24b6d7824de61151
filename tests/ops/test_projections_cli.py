"""``govledger projections run|rebuild|status``, ``govledger view`` and ``govledger anomaly``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ops.cli
from ledger.config import Settings
from projections.runner import run_projections
from projections.zone import stable_id
from tests.projections.scenario import Scenario, build_scenario


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch, sqlite_settings: Settings) -> Scenario:
    """The CLI reads the same code on both backends; SQLite keeps this module quick."""
    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.setenv("GOVLEDGER_STATE_DIR", sqlite_settings.state_dir)
    return build_scenario(sqlite_settings)


@pytest.fixture
def projected(zone: Scenario) -> Scenario:
    """The zone with its views written, as the projection worker would (reads never write)."""
    run_projections(zone.settings)
    return zone


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = ops.cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_status_rebuild(zone: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "projections", "status", "--json")
    assert code == 0
    before = json.loads(out)
    assert before["projections"] == {}  # nothing projected yet
    code, out, _ = run(capsys, "projections", "run")
    assert code == 0 and f"position {zone.positions['end']}" in out
    code, out, _ = run(capsys, "projections", "status", "--json")
    status = json.loads(out)
    assert status["head"] == zone.positions["end"]
    assert {p["lag"] for p in status["projections"].values()} == {0}
    code, out, _ = run(capsys, "projections", "rebuild")
    assert code == 0 and f"{zone.positions['end']} rows projected" in out


def test_view_as_of_and_at(projected: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "view", "rights-register", "--as-of", "2026-06-10", "--json")
    assert code == 0
    entry = next(e for e in json.loads(out) if e["resource_code"] == "RK-0001")
    assert [u["holder_department"] for u in entry["use_rights"]] == ["minzheng"]
    code, out, _ = run(capsys, "view", "findings", "--at", str(projected.positions["end"]))
    assert code == 0 and "F3" in out and "F1" in out
    code, out, _ = run(capsys, "view", "audit-trail", "--entity", projected.r1.hex, "--json")
    topics = [line["topic"] for line in json.loads(out)]
    assert code == 0 and len(topics) == 3
    assert all(topic.startswith("SharingRequest.") for topic in topics)
    # The text form reads as the console does: Chinese event names, no class names.
    code, out, _ = run(capsys, "view", "audit-trail", "--entity", projected.r1.hex)
    assert code == 0 and "撤销共享授权" in out and "SharingRequest." not in out


def test_bad_input_is_one_line_and_exit_2(
    projected: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "view", "access-counts")
    assert code == 2 and err.strip().startswith("govledger: error: access-counts needs")
    code, _, err = run(capsys, "view", "zone", "--at", "999999")
    assert code == 2 and "outside" in err and len(err.strip().splitlines()) == 1


def test_anomaly_review_is_recorded(
    projected: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    anomaly = stable_id("off_hours_sensitive", "evt-2")
    code, out, _ = run(
        capsys, "anomaly", "review", anomaly, "--action", "dismiss", "--comment", "值班核查",
        "--actor-id", "cac-officer",
    )  # fmt: skip
    assert code == 0 and "dismiss recorded" in out
    code, out, _ = run(capsys, "view", "anomalies", "--json", "--status", "dismissed")
    assert json.loads(out) == []  # a read answers what the worker wrote: not yet the review
    code, out, _ = run(capsys, "view", "anomalies", "--json", "--status", "dismissed", "--catch-up")
    assert [a["anomaly_id"] for a in json.loads(out)] == [anomaly]
    code, _, err = run(
        capsys, "anomaly", "review", "nope", "--action", "dismiss", "--comment", "x",
        "--actor-id", "cac-officer",
    )  # fmt: skip
    assert code == 2 and "no anomaly nope" in err


def test_follow_stops_on_request(zone: Scenario, tmp_path: Path) -> None:
    from ops.projections_cli import open_projector  # noqa: PLC0415

    calls: list[float] = []
    settings = zone.settings.with_overrides(projection_follow_seconds=1)
    with open_projector(settings) as projector:
        projected = projector.follow(lambda: len(calls) >= 2, sleep=calls.append)
    assert projected == zone.positions["end"] and calls == [1.0, 1.0]
