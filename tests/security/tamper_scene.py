"""The stage of the tamper suite (issue 13, docs/security.md): a ledger verified before the
attack, then tampered with, then verified three ways.

The scene: 40 rows, a signed checkpoint of them cosigned by one witness, verified by two
verifiers (each with its own state directory: one with no keys, one trusting the log key
and requiring the witness), then 10 more rows nobody verified yet. An attacker with the
whole database (tests/conftest.py ``Attacker``, the one way tests tamper) acts, and
``govledger verify`` runs:

- ``plain``: incremental, as the deployment's timer runs it, from the pinned head;
- ``full``: ``--full``, from genesis, with the same pin;
- ``pinned``: incremental, with trusted log keys, a witness quorum of 1 and the pin
  that recorded the checkpoint.

Each run starts from a copy of its verifier's state as it was before the attack.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from ledger import verify, verify_parallel
from ledger.checkpoints import generate_key_file, issue_checkpoint, witness_checkpoint
from ledger.config import Settings
from ledger.verify_job import run_verify
from ops import ledger_cli
from tests.conftest import Attacker, Ledger, PostgresURLs

VERIFIED = 40  # rows verified, checkpointed and cosigned before the attack
HEAD = 50  # rows when the attacker comes
MODES = ("plain", "full", "pinned")


@dataclass(frozen=True)
class Found:
    """What one ``govledger verify --json`` run answered."""

    exit: int
    kind: str | None = None
    position: int | None = None

    def __str__(self) -> str:
        return f"exit {self.exit}" + (f", {self.kind} at {self.position}" if self.kind else "")


OK = Found(0)


def brk(kind: str, position: int) -> Found:
    """A break: exit 1, its kind and its exact first bad position."""
    return Found(1, kind, position)


@dataclass(frozen=True)
class Expect:
    plain: Found
    full: Found
    pinned: Found

    @classmethod
    def every(cls, found: Found) -> Expect:
        return cls(found, found, found)

    @classmethod
    def full_only(cls, found: Found) -> Expect:
        """A change below the verified head that keeps the stored hashes: incremental runs
        do not re-read those rows by design (ledger-format §5); the scheduled full run names it."""
        return cls(OK, found, OK)

    def of(self, mode: str) -> Found:
        return getattr(self, mode)  # type: ignore[no-any-return]


@dataclass
class Scene:
    settings: Settings  # no keys: the plain and full verifier
    trusted: Settings  # trusted log key, one witness, quorum 1: the pinned verifier
    attacker: Attacker
    tmp: Path

    @property
    def backend(self) -> str:
        return self.settings.database.backend

    def verify(self, mode: str, jobs: int = 1) -> Found:
        """``govledger verify --json`` in ``mode``, from a copy of the state before the attack."""
        base = self.trusted if mode == "pinned" else self.settings
        state = self.tmp / f"run-{mode}"
        shutil.rmtree(state, ignore_errors=True)
        shutil.copytree(base.state_dir, state)
        settings = replace(base, state_dir=str(state))
        args = argparse.Namespace(
            from_position=None, full=mode == "full", adopt=False, json=True, jobs=jobs
        )
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = ledger_cli.cmd_verify(settings, args)
        body: dict[str, Any] = json.loads(out.getvalue())
        assert body["status"] == {0: "ok", 1: "failed"}.get(code, "error"), body
        return Found(code, body["kind"], body["first_bad_position"])


def stage(settings: Settings, admin_url: str | None, tmp: Path) -> Scene:
    """Build the scene up to the attacker's arrival."""
    log_key, witness_key = str(tmp / "log.key"), str(tmp / "witness.key")
    origin = "govledger.local/tamper"
    (tmp / "trusted.keys").write_text(generate_key_file(log_key, origin) + "\n")
    (tmp / "witness.keys").write_text(
        generate_key_file(witness_key, "witness.example/w1", witness=True) + "\n"
    )
    trusted = replace(
        settings,
        state_dir=str(tmp / "state-trusted"),
        checkpoint_key_file=log_key,
        trusted_keys_file=str(tmp / "trusted.keys"),
        checkpoint_origin=origin,
        witness_keys_file=str(tmp / "witness.keys"),
        witness_quorum=1,
    )
    ledger = Ledger(settings)
    try:
        ledger.append(VERIFIED, per_transaction=3)
        issue_checkpoint(trusted)
        witness_checkpoint(trusted, witness_key, str(tmp / "witness.state"))
        for verifier in (settings, trusted):
            outcome = run_verify(verifier)
            assert outcome.exit_code == 0, outcome.run
        ledger.append(HEAD - VERIFIED, per_transaction=2)
    finally:
        ledger.close()
    return Scene(settings, trusted, Attacker(settings, admin_url), tmp)


@dataclass(frozen=True)
class Tamper:
    """One kind of tampering and what each mode must answer."""

    name: str
    act: Callable[[Scene], None]
    expect: Expect | Callable[[Scene], Expect]
    backends: tuple[str, ...] = ("sqlite", "postgresql")

    def expected(self, scene: Scene) -> Expect:
        return self.expect(scene) if callable(self.expect) else self.expect


@pytest.fixture
def scene_for(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Scene]]:
    """``scene_for(backend)``: a staged scene on that backend (its attacker closed after)."""
    made: list[Scene] = []

    def make(backend: str) -> Scene:
        name = "sqlite_settings" if backend == "sqlite" else "postgres_settings"
        admin = None
        if backend == "postgresql":
            urls: PostgresURLs = request.getfixturevalue("postgres_urls")
            admin = urls.admin
        made.append(stage(request.getfixturevalue(name), admin, tmp_path))
        return made[-1]

    yield make
    for scene in made:
        scene.attacker.close()


def check_every_mode(scene: Scene, expected: Expect) -> None:
    """Every mode answers as expected, and ``--jobs 2`` answers as one process (issue 20)."""
    found = {mode: scene.verify(mode) for mode in MODES}
    assert found == {mode: expected.of(mode) for mode in MODES}, {
        m: str(f) for m, f in found.items()
    }
    with split_finely():
        in_parallel = {mode: scene.verify(mode, jobs=2) for mode in MODES}
    assert in_parallel == found, {m: str(f) for m, f in in_parallel.items()}


@contextlib.contextmanager
def split_finely() -> Iterator[None]:
    """Parallel verification over ranges of 2 batches of 3 rows, even on 50 rows: every range
    end and every resume of the serial stream falls among the scene's tampered rows."""
    saved = (verify.DEFAULT_BATCH_SIZE, verify_parallel.MIN_ROWS, verify_parallel.CHUNK_BATCHES)
    verify.DEFAULT_BATCH_SIZE, verify_parallel.MIN_ROWS, verify_parallel.CHUNK_BATCHES = 3, 1, 2
    try:
        yield
    finally:
        verify.DEFAULT_BATCH_SIZE, verify_parallel.MIN_ROWS, verify_parallel.CHUNK_BATCHES = saved


def cases(tampers: list[Tamper]) -> list[Any]:
    """pytest params: each tamper on each backend it applies to."""
    return [
        pytest.param(tamper, backend, id=f"{backend}: {tamper.name}")
        for tamper in tampers
        for backend in tamper.backends
    ]


def check_tamper(tamper: Tamper, scene: Scene) -> None:
    """The attacker acts, then every mode answers what the tamper expects."""
    tamper.act(scene)
    check_every_mode(scene, tamper.expected(scene))
