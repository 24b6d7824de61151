"""ops/deploy and docs/configuration.md (issue 6 §5): the compose file and systemd units run
what the issue lists with settings that exist, Prometheus's config loads the shipped rules,
and the configuration reference lists every setting with its default."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledger.config import ENV_PREFIX, Settings
from ops.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "ops" / "deploy"
SETTINGS = {f"{ENV_PREFIX}{f.name.upper()}" for f in fields(Settings)} | {"GOVLEDGER_CONFIG"}
# From the projections branch (merged beside this one): the worker's command.
PROJECTIONS_WORKER = ["govledger", "projections", "run", "--follow"]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def units() -> dict[str, configparser.ConfigParser]:
    found = {}
    for path in sorted((DEPLOY / "systemd").iterdir()):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(path)
        found[path.name] = parser
    return found


def govledger_commands() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return set(sub.choices)  # type: ignore[arg-type]


def test_compose_runs_postgres_workers_projections_prometheus_alertmanager() -> None:
    services = compose()["services"]
    assert {"postgres", "api", "projections", "prometheus", "alertmanager"} <= set(services)
    assert services["projections"]["command"] == PROJECTIONS_WORKER
    api = services["api"]
    workers = int(api["command"][api["command"].index("--workers") + 1])
    assert workers > 1 and api["environment"]["GOVLEDGER_METRICS_DIR"]
    for name, service in services.items():
        command = service.get("command", [])
        if command[:1] == ["govledger"] and command != PROJECTIONS_WORKER:
            assert command[1] in govledger_commands(), name


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    used = set(re.findall(r"\bGOVLEDGER_[A-Z_]+", (DEPLOY / "compose.yaml").read_text()))
    used |= set(
        re.findall(r"^(GOVLEDGER_[A-Z_]+)=", (DEPLOY / "govledger.env.example").read_text(), re.M)
    )
    for unit in units().values():
        for section in unit.sections():
            for key, value in unit.items(section):
                if key == "Environment":
                    used |= set(re.findall(r"\b(GOVLEDGER_[A-Z_]+)=", value))
    used -= {"GOVLEDGER_BIN_DIR"}  # read by ops/scripts/backup.sh, not a service setting
    assert used and used <= SETTINGS, sorted(used - SETTINGS)


def test_systemd_units_run_known_commands() -> None:
    found = units()
    assert {"govledger-api.service", "govledger-projections.service"} <= set(found)
    for name, unit in found.items():
        if not name.endswith(".service"):
            continue
        argv = unit["Service"]["ExecStart"].split()
        if argv[0].endswith("/govledger"):
            assert argv[1] in govledger_commands() or argv[1:] == PROJECTIONS_WORKER[1:], name
    api = found["govledger-api.service"]["Service"]
    assert "--workers" in api["ExecStart"] and "GOVLEDGER_METRICS_DIR" in api["Environment"]
    assert "CHECKPOINT_KEY_FILE" not in api.get("Environment", "")  # one issuer: the timer


def test_prometheus_config_loads_the_shipped_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make rules installs it)")
    (tmp_path / "rules").mkdir()  # the compose layout: rules mounted beside the config
    shutil.copy(ROOT / "ops" / "prometheus" / "alerts.yml", tmp_path / "rules" / "alerts.yml")
    shutil.copy(DEPLOY / "prometheus.yml", tmp_path / "prometheus.yml")
    checked = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "9 rules found" in checked.stdout


def test_alertmanager_routes_critical_alerts_to_a_receiver() -> None:
    config = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    receivers = {r["name"] for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    (critical,) = [r for r in config["route"]["routes"] if 'severity="critical"' in r["matchers"]]
    assert critical["receiver"] in receivers


def test_configuration_reference_lists_every_setting_with_its_default() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {
        cells[0].strip("` "): cells
        for line in doc.splitlines()
        if line.startswith("| `GOVLEDGER_")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    defaults = Settings()
    for f in fields(Settings):
        variable = f"{ENV_PREFIX}{f.name.upper()}"
        assert variable in rows, f"{variable} is not in docs/configuration.md"
        _, key, default, _ = rows[variable]
        assert key == f"`{f.name}`", variable
        value = getattr(defaults, f.name)
        if isinstance(value, bool):
            assert default == f"`{str(value).lower()}`", variable
        elif value != "":
            assert default.startswith(f"`{value}`"), f"{variable}: {default} is not {value!r}"
