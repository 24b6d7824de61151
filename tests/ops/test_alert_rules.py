"""ops/prometheus/alerts.yml as the issues ask (issue 6 §2, issue 21 item 3, issue 18): the
alerts, each with a severity, Chinese summary and description, a runbook that exists
and says what it means, how to check and how to respond, and promtool unit tests that see it
both fire and stay quiet. (`make rules` runs promtool itself.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "ops" / "prometheus"
ALERTS = {
    "UnauthorizedSharing",
    "UnauthorizedSharingSpike",
    "LedgerCountsUnavailable",
    "LedgerVerificationFailed",
    "LedgerVerificationNotRunning",
    "CheckpointStale",
    "CheckpointNotWitnessed",
    "ProjectionLagging",
    "SharingRequestOverdue",
    "FundingToNonCompliantSystem",
    "ProjectionFactSetAside",
    "LedgerRowUnreadable",
    "ReplicationLagging",
    "NoSynchronousStandby",
}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def test_every_alert_has_severity_chinese_text_and_a_runbook() -> None:
    found = rules()
    assert set(found) == ALERTS
    for name, rule in found.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        notes = rule["annotations"]
        assert CHINESE.search(notes["summary"]) and CHINESE.search(notes["description"]), name
        assert notes["runbook_url"] == f"docs/runbooks/{name}.md"
        runbook = (ROOT / notes["runbook_url"]).read_text(encoding="utf-8")
        for heading in ("## What it means", "## How to check", "## How to respond"):
            assert heading in runbook, f"{name}: {heading}"


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    suite = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text(encoding="utf-8"))
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in suite["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fires == ALERTS
    assert quiet == ALERTS
