"""A small ledger with a signed, witnessed checkpoint, and console users of every role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import GovLedger
from ledger.checkpoints import generate_key_file, issue_checkpoint, witness_checkpoint
from ledger.config import Settings
from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Role
from ledger.store.connect import application_env, init_ledger
from ops.demo import load_demo
from projections.query import open_views
from security.apikeys import open_api_keys
from tests.conftest import Ledger

ROWS = 40
DEMO_ACCESSES = 300


def witnessed_ledger(settings: Settings, tmp_path: Path, rows: int = ROWS) -> Settings:
    """``rows`` events, a checkpoint over them signed by the log and cosigned by one witness;
    the settings returned trust the log's key (``trusted_keys_file``) and hold no signer."""
    log_key, witness_key = tmp_path / "log.key", tmp_path / "witness.key"
    log_vkey = generate_key_file(str(log_key), "govledger.test")
    (tmp_path / "log-keys.txt").write_text(log_vkey + "\n", encoding="utf-8")
    witness_vkey = generate_key_file(str(witness_key), "witness.audit.test", witness=True)
    (tmp_path / "witnesses.txt").write_text(witness_vkey + "\n", encoding="utf-8")
    settings = settings.with_overrides(
        checkpoint_key_file=str(log_key),
        witness_keys_file=str(tmp_path / "witnesses.txt"),
        witness_quorum=1,
    )
    init_ledger(settings)
    ledger = Ledger(settings)
    try:
        ledger.append(rows, per_transaction=4)
    finally:
        ledger.close()
    issue_checkpoint(settings)
    witness_checkpoint(settings, str(witness_key), str(tmp_path / "witness.state"))
    # The service under test trusts the published key and signs nothing itself: no checkpoint
    # thread races the test's requests.
    return settings.with_overrides(
        checkpoint_key_file="", trusted_keys_file=str(tmp_path / "log-keys.txt")
    )


def mint(settings: Settings, role: Role) -> str:
    department = "minzheng" if role in DEPARTMENT_BOUND_ROLES else None
    with open_api_keys(settings) as keys:
        return keys.create(role, department, label=f"console test {role.value}").token


@dataclass
class Console:
    client: TestClient
    settings: Settings
    tokens: dict[Role, str] = field(default_factory=dict)

    def token(self, role: Role) -> str:
        if role not in self.tokens:
            self.tokens[role] = mint(self.settings, role)
        return self.tokens[role]

    def login(self, role: Role) -> None:
        """Sign in through the form, as a browser does (nonce cookie, then POST)."""
        form = self.client.get("/console/login")
        nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
        reply = self.client.post(
            "/console/login",
            data={"credential": self.token(role), "nonce": nonce},
            follow_redirects=False,
        )
        assert reply.status_code == 303, reply.text

    def csrf(self, path: str = "/console/ledger") -> str:
        page = self.client.get(path)
        return page.text.split('name="csrf" value="')[1].split('"')[0]


def _console(settings: Settings, tmp_path: Path) -> Iterator[Console]:
    zone = witnessed_ledger(settings, tmp_path)
    with TestClient(create_app(zone), base_url="http://127.0.0.1") as client:
        yield Console(client, zone)


@pytest.fixture(scope="session")
def witnessed_template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """``witnessed_ledger`` on SQLite, built once: read only, each test copies it."""
    root = tmp_path_factory.mktemp("witnessed")
    settings = Settings(
        database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "state")
    )
    return witnessed_ledger(settings, root)


def copy_witnessed(template: Settings, directory: Path) -> Settings:
    """The template's directory (ledger, views, state, keys) copied into ``directory``: the
    same files at the same names a ``witnessed_ledger`` built there would have."""
    shutil.copytree(Path(template.database.path).parent, directory, dirs_exist_ok=True)
    return template.with_overrides(
        database_url=f"sqlite:///{directory / 'ledger.db'}",
        state_dir=str(directory / "state"),
        trusted_keys_file=str(directory / "log-keys.txt"),
        witness_keys_file=str(directory / "witnesses.txt"),
    )


@pytest.fixture
def console(witnessed_template: Settings, tmp_path: Path) -> Iterator[Console]:
    """Session and page logic does not depend on the backend: SQLite keeps these tests quick."""
    zone = copy_witnessed(witnessed_template, tmp_path)
    with TestClient(create_app(zone), base_url="http://127.0.0.1") as client:
        yield Console(client, zone)


@pytest.fixture
def any_console(settings: Settings, tmp_path: Path) -> Iterator[Console]:
    """On each backend: for what reads the ledger, its checkpoints or the key store."""
    yield from _console(settings, tmp_path)


# ---------------------------------------------------------------- a small demo zone


def demo_zone(directory: Path) -> Settings:
    """A small demo year (ops/demo.py) with its read models caught up: anomalies to review,
    findings to mark, rights and an audit trail. Built once per session, then copied."""
    settings = Settings(
        database_url=f"sqlite:///{directory / 'ledger.db'}", state_dir=str(directory / "state")
    )
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        load_demo(app, accesses=DEMO_ACCESSES, seed=7, violation_rate=0.3, requests=120)
    finally:
        app.close()
    with open_views(settings, catch_up=True):  # the first catch-up, paid once
        pass
    return settings


def copy_zone(template: Settings, directory: Path) -> Settings:
    """The template's ledger and its views file (projections/store.py ``views_path``)."""
    source = Path(template.database.path)
    for name in ("ledger.db", "ledger.views.db"):
        for suffix in ("", "-wal", "-shm"):
            if (source.parent / f"{name}{suffix}").exists():
                shutil.copyfile(source.parent / f"{name}{suffix}", directory / f"{name}{suffix}")
    return template.with_overrides(
        database_url=f"sqlite:///{directory / 'ledger.db'}", state_dir=str(directory / "state")
    )


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Read only: every test works on its own copy (``copy_zone``), so six modules share
    one build instead of paying for one each."""
    return demo_zone(tmp_path_factory.mktemp("demo-zone"))


@pytest.fixture
def demo_console(demo_template: Settings, tmp_path: Path) -> Iterator[Console]:
    zone = copy_zone(demo_template, tmp_path)
    with TestClient(create_app(zone), base_url="http://127.0.0.1") as client:
        yield Console(client, zone)
