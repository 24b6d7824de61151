"""The log, two witnesses and a monitor on four hosts (network namespaces), for real (issue 17).

Each runs in its own network namespace, joined by veth pairs to a bridge
(tests/netns.py): the log (``govledger serve`` for the tiles, its issuer
``govledger checkpoint issue``), two witnesses (``govledger witness serve``,
each with its own key and state, and a database URL that must never be
created) and a monitor (tests/netns_agent.py with the spec-written client).

1. The log issues; both witnesses cosign over HTTP; the monitor audits the
   tiles and finds both witnesses' checkpoints equal to the log's tree.
2. Witness 2 goes away (its link cut): two rounds miss the quorum, the
   checkpoint awaits witnesses, the published tiles stay on the witnessed one;
   the quorum and not-cosigning alerts fire on the round's metrics.
3. Witness 2 comes back and catches up with one consistency proof; the
   monitor checks consistency from what it saw before.
4. A split view: a second tree of the witnessed size, signed with the log key,
   is shown to both witnesses; both refuse it, keep it and count it, and
   WitnessSplitView fires on their metrics.
5. Someone with the log key runs a copy ahead and has witness 1 cosign it; the
   real log's next round finds witness 1 ahead: a conflict, alerted; witness 2
   cosigns the real tree.

Skipped, with the reason, only where namespaces cannot be made and ``CI`` is
not ``true``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.metrics_witness import witness_round_metrics
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.checkpoints import generate_key_file, load_signer
from ledger.config import ENV_PREFIX, Settings
from ledger.merkle import MerkleTree, leaf_hash
from ledger.tree import open_ledger_tree
from ledger.witness_client import RoundOutcome, RoundRecord
from ledger.witness_protocol import AddCheckpoint, origin_hash
from tests.conftest import Ledger
from tests.netns import Host, Network, namespaces_available
from tests.promtext import value
from tests.served import GOVLEDGER, ROOT

pytestmark = pytest.mark.slow

LOG_PORT, WITNESS_PORT = 8000, 8080
RULES = ROOT / "ops" / "prometheus" / "witness_alerts.yml"


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    why = namespaces_available()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"network namespaces are required under CI: {why}")
        pytest.skip(f"network namespaces unavailable: {why}")
    network = Network()
    try:
        yield network
    finally:
        network.close()


def environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update({f"{ENV_PREFIX}{k.upper()}": v for k, v in settings.items()})
    env["GOVLEDGER_LOG_FORMAT"] = "text"
    return env


@dataclass
class Hosts:
    log: Host
    w1: Host
    w2: Host
    monitor: Host
    home: Path
    settings: Settings  # the log's, as its API reads them (no signer key)
    issuer_env: dict[str, str]
    log_vkey: str
    witness_vkeys: dict[str, str]

    def issue(self) -> RoundRecord:
        done = self.log.run([str(GOVLEDGER), "checkpoint", "issue"], env=self.issuer_env, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        record = RoundRecord.load(self.settings.state_dir)
        assert record is not None
        return record

    def agent(self, host: Host, *args: str) -> Any:
        done = host.run(
            [sys.executable, "-m", "tests.netns_agent", *args], env=os.environ.copy(), cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def watch(self) -> dict[str, Any]:
        """The monitor's view: the log's tiles audited, both witnesses compared with them."""
        witnesses = [
            f"{name}={host.url(WITNESS_PORT, '/' + origin_hash(self.origin) + '/checkpoint')}"
            f"={self.witness_vkeys[name]}"
            for name, host in (("w1", self.w1), ("w2", self.w2))
        ]
        seen = self.home / "monitor" / "seen.note"
        return dict(
            self.agent(
                self.monitor,
                "monitor",
                "--log",
                self.log.url(LOG_PORT, "/tlog/"),
                "--log-key",
                self.log_vkey,
                "--previous",
                str(seen),
                "--save",
                str(seen),
                *(arg for w in witnesses for arg in ("--witness", w)),
            )
        )

    def witness_metrics(self, host: Host) -> str:
        answer = self.agent(self.monitor, "get", host.url(WITNESS_PORT, "/metrics"))
        assert answer["status"] == 200
        return str(answer["body"])

    def submit(self, host: Host, request: AddCheckpoint) -> dict[str, Any]:
        """What someone holding the log key sends, from the log's host."""
        body = Path(tempfile.mkstemp(dir=self.home, suffix=".req")[1])
        body.write_bytes(request.format())
        return dict(
            self.agent(self.log, "post", host.url(WITNESS_PORT, "/add-checkpoint"), str(body))
        )

    @property
    def origin(self) -> str:
        return f"{self.log.address}:{LOG_PORT}/tlog"

    def grow(self, rows: int) -> None:
        ledger = Ledger(self.settings)
        try:
            ledger.append(rows, per_transaction=20)
        finally:
            ledger.close()


@pytest.fixture(scope="module")
def hosts(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    home = tmp_path_factory.mktemp("hosts")
    for name in ("log", "w1", "w2", "monitor"):
        (home / name).mkdir()
    log, w1, w2, monitor = (network.host(n) for n in ("log", "w1", "w2", "monitor"))
    origin = f"{log.address}:{LOG_PORT}/tlog"
    logs = home / "log"
    witness_vkeys = {
        name: generate_key_file(
            str(home / name / "witness.key"), f"{name}.witness.example", witness=True
        )
        for name in ("w1", "w2")
    }
    (logs / "witness-keys.txt").write_text("".join(v + "\n" for v in witness_vkeys.values()))
    (logs / "witness-urls.txt").write_text(
        f"w1.witness.example {w1.url(WITNESS_PORT)}\nw2.witness.example {w2.url(WITNESS_PORT)}\n"
    )
    common = {
        "database_url": f"sqlite:///{logs / 'ledger.db'}",
        "state_dir": str(logs / "state"),
        "checkpoint_origin": origin,
        "trusted_keys_file": str(logs / "trusted-keys.txt"),
        "witness_keys_file": str(logs / "witness-keys.txt"),
        "witness_quorum": "2",
        "checkpoint_interval_seconds": "3600",
    }
    issuer_env = environment(
        **common,
        checkpoint_key_file=str(logs / "checkpoint.key"),
        witness_urls_file=str(logs / "witness-urls.txt"),
        witness_timeout_seconds="2",
    )
    init = subprocess.run(
        [str(GOVLEDGER), "init"],
        env=issuer_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    log_vkey = (logs / "trusted-keys.txt").read_text().strip().splitlines()[-1]
    for name in ("w1", "w2"):
        (home / name / "logs.txt").write_text(f"{origin} {log_vkey}\n")
    settings = Settings(
        database_url=common["database_url"],
        state_dir=common["state_dir"],
        checkpoint_origin=origin,
        trusted_keys_file=common["trusted_keys_file"],
        witness_keys_file=common["witness_keys_file"],
        witness_quorum=2,
    )
    logfile = (home / "services.log").open("wb")
    for name, host in (("w1", w1), ("w2", w2)):
        env = environment(
            database_url=f"sqlite:///{home / name / 'never-created.db'}",
            state_dir=str(home / name / "state"),
            witness_key_file=str(home / name / "witness.key"),
            witness_logs_file=str(home / name / "logs.txt"),
        )
        host.start(
            [str(GOVLEDGER), "witness", "serve", "--host", "0.0.0.0", "--port", str(WITNESS_PORT)],
            env=env,
            cwd=ROOT,
            log=logfile,
        )
    log.start(
        [str(GOVLEDGER), "serve", "--host", "0.0.0.0", "--port", str(LOG_PORT)],
        env=environment(**common),
        cwd=ROOT,
        log=logfile,
    )
    hosts = Hosts(log, w1, w2, monitor, home, settings, issuer_env, log_vkey, witness_vkeys)
    ready = hosts.agent(
        monitor,
        "wait",
        log.url(LOG_PORT, "/healthz"),
        w1.url(WITNESS_PORT, "/healthz"),
        w2.url(WITNESS_PORT, "/healthz"),
    )
    assert ready["ok"], f"{ready}: {(home / 'services.log').read_text(errors='replace')[-3000:]}"
    yield hosts
    logfile.close()
    for name in ("w1", "w2"):
        assert not (home / name / "never-created.db").exists(), "a witness opened a database"


def outcomes(record: RoundRecord) -> dict[str, RoundOutcome]:
    return {w.witness.split(".")[0]: w.outcome for w in record.witnesses}


def alert_fires(alert: str, series: list[tuple[str, str]], at: str, labels: dict[str, str]) -> None:
    """promtool evaluates ``alert`` of witness_alerts.yml on ``series`` (name{labels}, values)
    and must find it firing with ``labels`` at ``at`` (annotations left out of the check)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is required under CI (make test installs it)")
        pytest.skip("promtool not installed: alert evaluation not run")
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "rules.yml").write_text(yaml.safe_dump(rules))
        test = {
            "rule_files": ["rules.yml"],
            "evaluation_interval": "15s",
            "tests": [
                {
                    "interval": "1m",
                    "input_series": [{"series": s, "values": v} for s, v in series],
                    "alert_rule_test": [
                        {
                            "eval_time": at,
                            "alertname": alert,
                            "exp_alerts": [{"exp_labels": labels}],
                        }
                    ],
                }
            ],
        }
        (Path(scratch) / "test.yml").write_text(yaml.safe_dump(test, allow_unicode=True))
        done = subprocess.run(
            [promtool, "test", "rules", "test.yml"],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr


def round_series(settings: Settings, repeat: int) -> list[tuple[str, str]]:
    """The log-side gauges of the last round, as promtool input held for ``repeat`` minutes."""
    series = []
    for family in witness_round_metrics(settings):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            name = (
                f'{sample.name}{{job="govledger",{labels}}}'
                if labels
                else (f'{sample.name}{{job="govledger"}}')
            )
            series.append((name, f"{sample.value:g}x{repeat}"))
    return series


def test_log_witnesses_and_monitor_on_four_hosts(hosts: Hosts) -> None:
    # 1. Both witnesses cosign; the monitor finds one tree everywhere.
    hosts.grow(40)
    first = hosts.issue()
    assert first.quorum_met and set(outcomes(first).values()) == {RoundOutcome.COSIGNED}
    seen = hosts.watch()
    assert seen["published"]["size"] == 40 and not seen["split_view"]
    assert {w["size"] for w in seen["witnesses"].values()} == {40}
    assert all(w["matches_log"] for w in seen["witnesses"].values())

    # 2. Witness 2 goes away: the quorum is missed, the published log stays witnessed.
    hosts.w2.cut()
    for rows in (25, 300):
        hosts.grow(rows)
        away = hosts.issue()
        assert not away.quorum_met and outcomes(away) == {
            "w1": RoundOutcome.COSIGNED,
            "w2": RoundOutcome.UNREACHABLE,
        }
    status = hosts.log.run(
        [str(GOVLEDGER), "checkpoint", "status", "--json"], env=hosts.issuer_env, cwd=ROOT
    )
    assert json.loads(status.stdout)["state"] == "awaiting-witnesses"
    seen = hosts.watch()
    assert seen["published"]["size"] == 40  # what verifiers trust, not 365
    assert seen["witnesses"]["w1"]["size"] == 365 and "unreachable" in seen["witnesses"]["w2"]
    series = round_series(hosts.settings, 40)
    alert_fires(
        "CheckpointWitnessQuorumMissing", series, "20m", {"severity": "warning", "job": "govledger"}
    )
    alert_fires(
        "CheckpointWitnessNotCosigning",
        series,
        "35m",
        {"severity": "warning", "witness": "w2.witness.example"},
    )

    # 3. Witness 2 comes back and catches up from 40 to 365 with one consistency proof.
    hosts.w2.mend()
    back = hosts.issue()
    assert back.quorum_met and back.tree_size == 365
    assert outcomes(back)["w2"] is RoundOutcome.COSIGNED
    seen = hosts.watch()  # consistency from 40, as the monitor saw it before
    assert seen["published"]["size"] == 365 and seen["entries"] == 365
    assert {w["size"] for w in seen["witnesses"].values()} == {365}
    assert not seen["split_view"]

    # 4. A split view: another tree of size 365 signed with the log's key.
    signer = load_signer(
        hosts.settings.with_overrides(
            checkpoint_key_file=str(hosts.home / "log" / "checkpoint.key")
        )
    )
    fork = sign_checkpoint(Checkpoint(hosts.origin, 365, bytes(range(32))), signer)
    before = {name: hosts.witness_metrics(h) for name, h in (("w1", hosts.w1), ("w2", hosts.w2))}
    assert hosts.submit(hosts.w1, AddCheckpoint(365, (), fork))["status"] == 422
    assert hosts.submit(hosts.w2, AddCheckpoint(40, (), fork))["status"] == 409
    for name, host in (("w1", hosts.w1), ("w2", hosts.w2)):
        metric = "govledger_witness_split_views_total"
        was = value(before[name], metric, log=hosts.origin)
        now = value(hosts.witness_metrics(host), metric, log=hosts.origin)
        assert (was, now) == (0, 1), name
        alert_fires(
            "WitnessSplitView",
            [(f'{metric}{{job="witness",log="{hosts.origin}"}}', f"{was:g} {now:g}x5")],
            "2m",
            {"severity": "critical", "log": hosts.origin},
        )
    seen = hosts.watch()  # the witnesses kept the real tree
    assert {w["size"] for w in seen["witnesses"].values()} == {365} and not seen["split_view"]

    # 5. A copy run ahead with the log's key, cosigned by witness 1: the real log's next
    #    checkpoint finds witness 1 ahead of it, a conflict; witness 2 cosigns the real one.
    with open_ledger_tree(hosts.settings) as tree:
        real = tree.store.get_many([(0, i) for i in range(365)])
    copy = MerkleTree()
    copy.extend([*real, *(leaf_hash(bytes([i]) * 32) for i in range(20))])
    ahead = sign_checkpoint(Checkpoint(hosts.origin, 385, copy.root()), signer)
    proof = tuple(copy.consistency_proof(365, 385))
    assert hosts.submit(hosts.w1, AddCheckpoint(365, proof, ahead))["status"] == 200
    hosts.grow(5)
    conflict = hosts.issue()
    assert outcomes(conflict) == {"w1": RoundOutcome.CONFLICT, "w2": RoundOutcome.COSIGNED}
    assert not conflict.quorum_met
    alert_fires(
        "CheckpointWitnessConflict",
        round_series(hosts.settings, 5),
        "1m",
        {"severity": "critical", "witness": "w1.witness.example"},
    )
    seen = hosts.watch()  # the monitor sees witness 1 on a tree the log never published
    assert seen["witnesses"]["w1"]["size"] == 385 and seen["witnesses"]["w1"]["matches_log"] is None
    assert seen["witnesses"]["w2"]["size"] == 370 and seen["published"]["size"] == 365
