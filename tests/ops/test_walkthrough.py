"""The operator's path, end to end as documented (issue 21 "Done when").

On a private PostgreSQL cluster with Debian's pg_hba, a host built step by step as
docs/install.md says (tests/ops/host.py): the roles and database from the shipped SQL, the
password files, the keys, ``govledger init`` as the owner, then every component started from
its systemd unit as its own role. Then, as docs/operations.md says: ingest, check, back up,
restore into a fresh database as the owner, sign in to the console, rotate the log's key,
back up again, restore a backup older than the rotation, rebuild the read models under
load. Throughout: no 5xx, and never a verification status of "failed" (the input of
LedgerVerificationFailed) for a ledger nobody tampered with.

The steps run in order on one host (one module-scoped fixture); each is its own test so a
step that waits for another engineer's piece is marked as such while the rest still runs.
"""

from __future__ import annotations

import itertools
import json
import secrets
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import PROVIDER, USER, access, population_resource
from tests.ops.cluster import started
from tests.ops.deployment import SQL
from tests.ops.host import ORIGIN, Host
from tests.ops.test_console_workers import sign_in
from tests.promtext import samples

pytestmark = pytest.mark.slow


@dataclass
class District:
    host: Host
    tokens: dict[str, str] = field(default_factory=dict)
    backups: list[Path] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # every API answer's status code
    rebuild_statuses: list[int] = field(default_factory=list)  # those during the rebuild
    failed_seen: list[str] = field(default_factory=list)  # scrapes that said "failed"
    accesses: int = 0

    def call(self, method: str, path: str, role: str, **kw: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        reply = httpx.request(
            method,
            f"{self.host.api}/api/v1{path}",
            headers=headers,
            timeout=30,
            **kw,  # type: ignore[arg-type]
        )
        self.statuses.append(reply.status_code)
        return reply

    def ingest(self, count: int, prefix: str) -> None:
        """Accesses as the exchange platform reports them: half under no grant (S2)."""
        now = datetime.now(UTC).isoformat()
        batch = [
            access(f"{prefix}-{i}", accessed_at=now, accessor_id=f"clerk-{i % 7}")
            for i in range(count)
        ]
        reply = self.call("POST", "/accesses/batch", "platform", json={"accesses": batch})
        assert reply.status_code == 200, reply.text
        self.accesses += count

    def scrape(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        found = samples(httpx.get(f"{self.host.api}/metrics", timeout=30).text)
        failed = [
            str(dict(labels))
            for (name, labels), value in found.items()
            if name == "govledger_verification_status"
            and dict(labels)["status"] == "failed"
            and value
        ]
        self.failed_seen += failed
        return found

    def unit(self, name: str) -> str:
        done = self.host.run_unit(name)
        assert done.returncode == 0, f"{name}: {done.stderr[-1500:]}"
        return done.stdout


def key_token(host: Host, *argv: str) -> str:
    made = host.govledger_as("govledger_keys", "keys", "create", *argv)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[District]:
    """install.md §1-§6: the cluster, directories, roles, passwords, keys, init, units."""
    with started(auth="debian") as cluster:
        host = Host(cluster, tmp_path_factory.mktemp("host"))
        host.make_directories()  # §2
        cluster.psql(sql=(SQL / "roles.sql").read_text(encoding="utf-8"))  # §3
        cluster.psql(sql=(SQL / "database.sql").read_text(encoding="utf-8"))
        passwords = host.govledger("pgpass", "--dir", str(host.etc / "pgpass"))
        assert passwords.returncode == 0, passwords.stderr
        cluster.psql(sql=passwords.stdout)
        keys = host.etc / "keys"  # §4
        log_key = host.govledger(
            "keys", "generate", "--name", ORIGIN, "-o", str(keys / "checkpoint.key")
        )
        assert log_key.returncode == 0, log_key.stderr
        (host.etc / "trusted-keys.txt").write_text(log_key.stdout, encoding="utf-8")
        witness = host.govledger(
            "keys",
            "generate",
            "--witness",
            "--name",
            "witness.test/1",
            "-o",
            str(keys / "witness.key"),
        )
        assert witness.returncode == 0, witness.stderr
        (host.etc / "witness-keys.txt").write_text(witness.stdout, encoding="utf-8")
        session = keys / "console-session.key"
        session.write_text(secrets.token_urlsafe(48) + "\n", encoding="ascii")
        session.chmod(0o600)
        init = host.govledger_as("govledger_owner", "init")  # §5
        assert init.returncode == 0, init.stderr
        assert "granted the role layout" in init.stderr
        with (  # §6
            host.serving("govledger-api.service", f"{host.api}/healthz"),
            host.serving("govledger-projections.service"),
        ):
            yield District(host)


def test_01_keys_for_the_district_as_the_key_role(district: District) -> None:
    """install.md §7: keys from the key role; a department key only once it is registered."""
    host = district.host
    district.tokens["admin"] = key_token(host, "--role", "admin", "--label", "系统管理员")
    district.tokens["platform"] = key_token(host, "--role", "exchange_platform")
    district.tokens["auditor"] = key_token(host, "--role", "auditor")
    refused = host.govledger_as(
        "govledger_keys", "keys", "create", "--role", "data_provider", "--department", PROVIDER
    )
    assert refused.returncode == 2 and "is registered" in refused.stderr
    for code, name in ((PROVIDER, "区公安分局"), (USER, "区民政局")):
        reply = district.call("POST", "/departments", "admin", json={"code": code, "name": name})
        assert reply.status_code == 201, reply.text
    district.tokens["provider"] = key_token(
        host, "--role", "data_provider", "--department", PROVIDER
    )


def test_02_ingest_through_the_api(district: District) -> None:
    reply = district.call("POST", "/resources", "provider", json=population_resource())
    assert reply.status_code == 201, reply.text
    for round_ in range(4):
        district.ingest(50, f"first-{round_}")
    district.scrape()


def test_03_checkpoint_witness_and_both_verifications_as_their_roles(district: District) -> None:
    for unit in (
        "govledger-checkpoint.service",
        "govledger-witness.service",
        "govledger-verify.service",
        "govledger-verify-full.service",
    ):
        district.unit(unit)
    found = district.scrape()
    key = ("govledger_verification_status", frozenset({("mode", "incremental"), ("status", "ok")}))
    assert found[key] == 1
    assert found["govledger_checkpoint_cosignatures", frozenset()] == 1


def test_03b_the_full_run_has_its_own_status_and_freshness(district: District) -> None:
    found = district.scrape()
    key = ("govledger_verification_status", frozenset({("mode", "full"), ("status", "ok")}))
    assert found[key] == 1
    assert found["govledger_verification_finished_timestamp_seconds", frozenset({("mode", "full")})]


def test_04_backup_as_the_backup_role(district: District) -> None:
    printed = district.unit("govledger-backup.service").strip()
    made = Path(printed)
    assert made.parent == district.host.backups
    assert made.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in made.iterdir()} == {0o600}
    district.backups.append(made)


def restore_drill(district: District, backup: Path, database: str) -> None:
    """operations.md §Backup and restore: a fresh database, the owner restores into it."""
    host = district.host
    host.cluster.psql("-v", f"dbname={database}", sql=(SQL / "database.sql").read_text())
    state = host.var / f"drill-{database}"
    done = host.govledger_as(
        "--database", database, "--state-dir", str(state), "govledger_owner", "restore", str(backup)
    )
    assert done.returncode == 0, done.stderr
    assert "extends the pre-backup checkpoint" in done.stdout
    checked = host.govledger_as(
        "--database", database, "--state-dir", str(state), "govledger_verifier", "verify", "--full"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_05_restore_into_a_fresh_database_as_the_owner(district: District) -> None:
    restore_drill(district, district.backups[0], "govledger_drill_first")


def test_06_the_console_signs_in_with_the_shipped_api_unit(district: District) -> None:
    answers = [sign_in(district.host.api, district.tokens["auditor"]) for _ in range(8)]
    assert [a.status_code for a in answers] == [303] * 8


def test_07_rotate_the_log_key_as_operations_md_says(district: District) -> None:
    host = district.host
    keys = host.etc / "keys"
    new = host.govledger(
        "keys", "generate", "--name", ORIGIN, "-o", str(keys / "checkpoint.key.new")
    )
    assert new.returncode == 0, new.stderr
    trusted = host.etc / "trusted-keys.txt"
    old_lines = trusted.read_text(encoding="utf-8").splitlines()
    trusted.write_text(
        "".join(f"retired {line}\n" for line in old_lines) + new.stdout, encoding="utf-8"
    )
    (keys / "checkpoint.key.new").replace(keys / "checkpoint.key")
    district.ingest(30, "after-rotation")
    for unit in (
        "govledger-checkpoint.service",
        "govledger-witness.service",
        "govledger-verify.service",
    ):
        district.unit(unit)
    found = district.scrape()
    key = ("govledger_verification_status", frozenset({("mode", "incremental"), ("status", "ok")}))
    assert found[key] == 1


def test_08_backup_again_and_restore_it(district: District) -> None:
    district.backups.append(Path(district.unit("govledger-backup.service").strip()))
    restore_drill(district, district.backups[1], "govledger_drill_second")


def test_09_restore_a_backup_older_than_the_rotation(district: District) -> None:
    restore_drill(district, district.backups[0], "govledger_drill_before_rotation")


def test_10_import_as_the_import_role(district: District) -> None:
    host = district.host
    reports = host.var / "import.jsonl"
    now = datetime.now(UTC).isoformat()
    lines = [access(f"import-{i}", accessed_at=now) for i in range(20)]
    reports.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    done = host.govledger_as("govledger_import", "import", str(reports))
    assert done.returncode == 0, done.stderr


def open_findings(found: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    return sum(v for (name, _), v in found.items() if name == "govledger_compliance_findings_open")


def test_11_rebuild_the_read_models_under_load(district: District) -> None:
    """operations.md §Upgrading: the worker's rebuild (its role) while the platform ingests
    and auditors read. The views are rebuilt beside the current ones and swapped in: no 5xx,
    and /metrics never reports the partial counts of a half-built view (the open findings,
    which this load only adds to, never go down)."""
    host = district.host
    stop = threading.Event()
    before = len(district.statuses)
    counts: list[float] = [open_findings(district.scrape())]

    def load() -> None:
        round_ = 0
        while not stop.is_set():
            round_ += 1
            district.ingest(20, f"rebuild-{round_}")
            for path in ("/views/anomalies", "/views/findings", "/views/zone", "/ledger"):
                district.call("GET", path, "auditor")
            counts.append(open_findings(district.scrape()))

    worker = threading.Thread(target=load)
    worker.start()
    try:
        argv, env = host.unit("govledger-projections.service")
        rebuild = [*argv[:-2], "rebuild"]  # `projections rebuild`, as the worker's role
        done = subprocess.run(
            rebuild, env=env, capture_output=True, text=True, timeout=600, check=False
        )
    finally:
        stop.set()
        worker.join()
    # Kept apart: the last step judges every other request.
    district.rebuild_statuses = district.statuses[before:]
    del district.statuses[before:]
    assert done.returncode == 0, done.stderr
    errors = [line[:300] for line in server_errors(host)]
    assert not [c for c in district.rebuild_statuses if c >= 500], errors
    assert counts[0] > 0, counts
    assert all(a <= b for a, b in itertools.pairwise(counts)), counts
    status = subprocess.run(
        [*argv[:-3], "status", "--json"], env=env, capture_output=True, text=True, check=False
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["match"] is True


def server_errors(host: Host) -> list[str]:
    log = host.root / "govledger-api.service.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if '"status": 5' in line or "exception" in line]


def test_12_every_step_verified_and_no_false_break(district: District) -> None:
    for unit in ("govledger-checkpoint.service", "govledger-witness.service"):
        district.unit(unit)
    district.unit("govledger-verify-full.service")
    district.scrape()
    assert district.failed_seen == []
    assert not [c for c in district.statuses if c >= 500], Counter(district.statuses)
