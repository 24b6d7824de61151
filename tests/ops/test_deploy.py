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
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from ledger.config import ENV_PREFIX, Settings
from ops.cli import build_parser
from ops.layout import LAYOUT, OWNER

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "ops" / "deploy"
SETTINGS = {f"{ENV_PREFIX}{f.name.upper()}" for f in fields(Settings)} | {"GOVLEDGER_CONFIG"}


# Each unit (systemd) and service (compose) and the database role it runs as (docs/install.md).
UNIT_ROLES = {
    "govledger-api.service": "govledger_app",
    "govledger-projections.service": "govledger_projector",
    "govledger-checkpoint.service": "govledger_checkpoint",
    "govledger-witness.service": "govledger_witness",
    "govledger-verify.service": "govledger_verifier",
    "govledger-verify-full.service": "govledger_verifier",
    "govledger-backup.service": "govledger_backup",
}
# Units that never reach the ledger's database: a witness over HTTP runs on another
# administration's host with its own key and state (docs/witnesses.md).
DATABASE_FREE_UNITS = {"govledger-witness-server.service"}
SERVICE_ROLES = {
    "init": OWNER,
    "api": "govledger_app",
    "projections": "govledger_projector",
    "checkpoints": "govledger_checkpoint",
    "witness": "govledger_witness",
    "verify": "govledger_verifier",
    "verify-full": "govledger_verifier",
    "backup": "govledger_backup",
    "keys": "govledger_keys",
    "import": "govledger_import",
    "restore": OWNER,
}
LAYOUT_ROLES = {OWNER, *(r.name for r in LAYOUT)}


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


def unit_lines(name: str, key: str) -> list[str]:
    """Every value of ``key`` in unit ``name`` (configparser keeps only the last of repeats)."""
    text = (DEPLOY / "systemd" / name).read_text(encoding="utf-8")
    return re.findall(rf"^{key}=(.*)$", text, re.M)


def environment(name: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in unit_lines(name, "Environment"))


def env_example() -> dict[str, str]:
    text = (DEPLOY / "govledger.env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", text, re.M))


def govledger_commands() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return set(sub.choices)  # type: ignore[arg-type]


def role_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.password is None, f"a password in {url}"
    return unquote(parts.username or "")


def test_compose_runs_every_component_each_as_its_own_role() -> None:
    services = compose()["services"]
    assert set(SERVICE_ROLES) | {"postgres", "prometheus", "alertmanager"} == set(services)
    secrets = compose()["secrets"]
    for name, role in SERVICE_ROLES.items():
        service = services[name]
        env = service["environment"]
        assert role_of(env["GOVLEDGER_DATABASE_URL"]) == role, name
        assert role in LAYOUT_ROLES
        # Its own password file, and no other role's.
        passfiles = [s for s in service["secrets"] if s.startswith("pgpass_")]
        assert passfiles == [env["PGPASSFILE"].removeprefix("/run/secrets/")], name
        assert secrets[passfiles[0]]["file"] == f"./secrets/pgpass/{role}", name
        keys = {s for s in service["secrets"] if s.endswith("_key")}
        assert keys == {
            "checkpoints": {"checkpoint_key"},
            "witness": {"witness_key"},
            "api": {"console_session_key"},
        }.get(name, set()), name
        # The published keys the settings name are mounted where they say.
        assert "./config:/etc/govledger:ro" in service["volumes"], name
    assert env_example()["GOVLEDGER_TRUSTED_KEYS_FILE"].startswith("/etc/govledger/")
    assert env_example()["GOVLEDGER_WITNESS_KEYS_FILE"].startswith("/etc/govledger/")
    # The superuser exists only inside the database container; the owner is not one.
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "postgres"
    api = services["api"]
    workers = int(api["command"][api["command"].index("--workers") + 1])
    assert workers > 1 and api["environment"]["GOVLEDGER_METRICS_DIR"]
    assert api["environment"]["GOVLEDGER_CONSOLE_SESSION_KEY_FILE"]
    for name, service in services.items():
        command = service.get("command", [])
        if command[:1] == ["govledger"]:
            assert command[1] in govledger_commands(), name
        if isinstance(command, list) and command[:2] == ["sh", "-c"]:
            for used in re.findall(r"govledger (\w+)", command[2]):
                assert used in govledger_commands(), name
    assert "verify --full" in services["verify-full"]["command"][2]
    assert "govledger backup" in services["backup"]["command"][2]


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    used = set(re.findall(r"\bGOVLEDGER_[A-Z_]+", (DEPLOY / "compose.yaml").read_text()))
    used |= {k for k in env_example() if k.startswith("GOVLEDGER_")}
    for name in units():
        used |= {k for k in environment(name) if k.startswith("GOVLEDGER_")}
    assert used and used <= SETTINGS, sorted(used - SETTINGS)


def test_systemd_units_each_run_a_known_command_as_their_own_role() -> None:
    found = units()
    services = {n for n in found if n.endswith(".service")}
    assert services == set(UNIT_ROLES) | DATABASE_FREE_UNITS
    address = "{PGHOST}:{PGPORT}/{PGDATABASE}".format(**env_example())
    assert "GOVLEDGER_DATABASE_URL" not in env_example()  # it would override every unit's
    for name, role in UNIT_ROLES.items():
        service = found[name]["Service"]
        assert service["User"] == "govledger" and service["UMask"] == "0077", name
        assert unit_lines(name, "EnvironmentFile") == ["/etc/govledger/govledger.env"], name
        env = environment(name)
        url = env["GOVLEDGER_DATABASE_URL"]
        assert role_of(url) == role and url.endswith(f"@{address}"), name
        assert env["PGPASSFILE"] == "%d/pgpass", name
        credentials = dict(line.split(":", 1) for line in unit_lines(name, "LoadCredential"))
        assert credentials["pgpass"] == f"/etc/govledger/pgpass/{role}", name
        holds_key = "checkpoint.key" in credentials
        assert holds_key == (name == "govledger-checkpoint.service"), name
        argv = service["ExecStart"].split()
        assert argv[0] == "/opt/govledger/.venv/bin/govledger", name
        assert argv[1] in govledger_commands(), name
    api = found["govledger-api.service"]["Service"]
    assert "--workers" in api["ExecStart"]
    assert environment("govledger-api.service")["GOVLEDGER_METRICS_DIR"]
    assert environment("govledger-api.service")["GOVLEDGER_CONSOLE_SESSION_KEY_FILE"] == (
        "%d/console-session.key"
    )
    assert found["govledger-verify-full.service"]["Service"]["ExecStart"].endswith("verify --full")
    assert found["govledger-verify.service"]["Service"]["ExecStart"].endswith("govledger verify")
    backup = found["govledger-backup.service"]["Unit"]
    for before in ("govledger-checkpoint.service", "govledger-witness.service"):
        assert before in backup["Wants"] and before in backup["After"]


def test_the_witness_server_needs_no_database_only_its_key_logs_and_state() -> None:
    (name,) = DATABASE_FREE_UNITS
    service = units()[name]["Service"]
    env = environment(name)
    assert not {"GOVLEDGER_DATABASE_URL", "PGPASSFILE"} & set(env)
    assert unit_lines(name, "EnvironmentFile") == []  # not the district's settings
    assert service["User"] != "govledger" and service["UMask"] == "0077"
    credentials = dict(line.split(":", 1) for line in unit_lines(name, "LoadCredential"))
    assert set(credentials) == {"witness.key"}
    assert env["GOVLEDGER_WITNESS_KEY_FILE"] == "%d/witness.key"
    assert env["GOVLEDGER_WITNESS_LOGS_FILE"] and env["GOVLEDGER_WITNESS_STATE_FILE"]
    argv = service["ExecStart"].split()
    assert argv[1:3] == ["witness", "serve"] and argv[1] in govledger_commands()


def test_every_timer_starts_a_unit_that_exists_and_says_when() -> None:
    found = units()
    timers = {n for n in found if n.endswith(".timer")}
    assert {t.removesuffix(".timer") + ".service" for t in timers} <= set(found)
    assert {
        "govledger-checkpoint.timer",
        "govledger-witness.timer",
        "govledger-verify.timer",
        "govledger-verify-full.timer",
        "govledger-backup.timer",
    } == timers
    verify = found["govledger-verify.timer"]
    assert verify["Timer"]["OnUnitActiveSec"] == "15min"
    assert "full" not in verify["Unit"]["Description"]  # the full run is its own timer
    assert found["govledger-verify-full.timer"]["Timer"]["OnCalendar"].startswith("*-*-* ")


def test_every_role_of_the_layout_has_a_way_to_run() -> None:
    assert set(SERVICE_ROLES.values()) == LAYOUT_ROLES
    assert set(UNIT_ROLES.values()) | {OWNER, "govledger_keys", "govledger_import"} == LAYOUT_ROLES


def test_prometheus_config_loads_the_shipped_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make rules installs it)")
    (tmp_path / "rules").mkdir()  # the compose layout: rules mounted beside the config
    for rules in ("alerts.yml", "witness_alerts.yml"):
        shutil.copy(ROOT / "ops" / "prometheus" / rules, tmp_path / "rules" / rules)
    shutil.copy(DEPLOY / "prometheus.yml", tmp_path / "prometheus.yml")
    checked = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # every alert of each shipped file is loaded (counted from the files, not by hand)
    for rules in ("alerts.yml", "witness_alerts.yml"):
        groups = yaml.safe_load((ROOT / "ops" / "prometheus" / rules).read_text())["groups"]
        count = sum(len(group["rules"]) for group in groups)
        assert count and f"{rules}\n  SUCCESS: {count} rules found" in checked.stdout


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
