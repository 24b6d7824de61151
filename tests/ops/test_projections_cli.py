"""``govledger projections run|rebuild|check|status``, ``govledger view`` and
``govledger anomaly``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import ops.cli
from ledger.config import Settings
from ledger.store.connect import ledger_head
from projections.runner import run_projections
from projections.zone import stable_id
from tests.projections.scenario import Scenario, build_scenario
from tests.projections.tampered_views import delete_finding, soften_finding


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


@pytest.mark.parametrize("tamper", [delete_finding, soften_finding], ids=["deleted", "altered"])
def test_check_names_the_row_the_views_changed_and_passes_after_a_rebuild(
    projected: Scenario, capsys: pytest.CaptureFixture[str], tamper: Callable[[Settings], str]
) -> None:
    """``projections check``: what report issue does first (projections/view_check.py), on
    demand: exit 0 on the views as folded, one line naming the row and exit 1 once someone
    changed it, and the ledger never written."""
    end = projected.positions["end"]
    code, out, _ = run(capsys, "projections", "check")
    assert (code, out.strip()) == (0, f"the views match the ledger at position {end}")
    finding = tamper(projected.settings, "F3")
    code, out, err = run(capsys, "projections", "check")
    line = err.strip().splitlines()[-1]
    assert code == 1 and out == ""
    assert line.startswith(f"the views differ from the ledger at position {end}: views_findings:")
    assert finding in line and "projections rebuild" in line
    assert ledger_head(projected.settings) == end
    assert run(capsys, "projections", "rebuild")[0] == 0
    assert run(capsys, "projections", "check")[0] == 0


def test_check_at_a_position_the_views_have_not_reached_is_a_one_line_error(
    projected: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    end = projected.positions["end"]
    code, out, _ = run(capsys, "projections", "check", "--at", str(end - 5))
    assert (code, out.strip()) == (0, f"the views match the ledger at position {end - 5}")
    code, out, err = run(capsys, "projections", "check", "--at", str(end + 1))
    assert code == 2 and out == ""
    assert err.strip() == (
        f"govledger: error: the views are at position {end}, before {end + 1}: run "
        "`govledger projections run` first, or check at a position they have reached"
    )
