"""ops/grafana/govledger.json reads only what /metrics exposes (issue 6 §4): every metric an
expression names is a sample name of a real exposition with every part of the collector
fed, and every expression is valid PromQL (checked by promtool as recording rules)."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.checkpoints import generate_key_file, issue_checkpoint
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from ops.ledger_cli import cmd_verify
from security.apikeys import open_api_keys
from tests.api.conftest import Api, access, population_resource, setup_departments
from tests.promtext import samples

DASHBOARD = Path(__file__).resolve().parents[2] / "ops" / "grafana" / "govledger.json"
METRIC = re.compile(r"\bgovledger_[a-z_]+\b")


def board() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return found


def panel_expressions() -> list[str]:
    """PromQL of every panel and annotation."""
    exprs = [t["expr"] for p in board()["panels"] for t in p["targets"]]
    return exprs + [a["expr"] for a in board()["annotations"]["list"]]


def variable_queries() -> list[str]:
    """Grafana's own label_values() queries of the template variables."""
    return [v["definition"] for v in board()["templating"]["list"] if "definition" in v]


def full_exposition(tmp: Path) -> str:
    """/metrics after traffic, a verification run and a checkpoint, with every provider."""
    key = tmp / "log.key"
    generate_key_file(str(key), "govledger.test/grafana")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'ledger.db'}",
        state_dir=str(tmp / "state"),
        checkpoint_key_file=str(key),
        checkpoint_origin="govledger.test/grafana",
    )
    init_ledger(settings)
    app = create_app(
        settings,
        findings_summary=lambda: {("F1", "high"): 1},
        anomalies_summary=lambda: {"medium": 1},
        projection_positions=lambda: {"compliance": 0},
    )
    keys = open_api_keys(settings)
    with TestClient(app) as client:
        api = Api(client, keys)
        setup_departments(api)
        api.call("POST", "/resources", Role.DATA_PROVIDER, "gongan", json=population_resource())
        batch = [access("g-1", accessed_at=datetime.now(UTC).isoformat())]
        api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch})
        verify = argparse.Namespace(from_position=None, full=True, json=True)
        assert cmd_verify(settings, verify) == 0
        issue_checkpoint(settings)
        text = client.get("/metrics").text
    keys.close()
    return text


def test_every_dashboard_metric_is_exposed(tmp_path: Path) -> None:
    exposed = {name for name, _ in samples(full_exposition(tmp_path))}
    named = {m for e in panel_expressions() + variable_queries() for m in METRIC.findall(e)}
    assert len(named) >= 15
    assert named <= exposed, f"not exposed: {sorted(named - exposed)}"


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (make rules installs it)")
    rules = [
        {"record": f"dashboard:expr_{i}", "expr": e.replace("$instance", "x")}
        for i, e in enumerate(panel_expressions())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
