"""The tamper suite, identity and trust (issue 13 items 1 and 2; docs/security.md): the
genesis record, another ledger at the same place, the proof tables, and a row below genesis
that would make a live grant read as revoked. Each on both backends, for plain, full and
pinned-trust ``govledger verify`` (tests/security/tamper_scene.py).

Where the rows agree with themselves, what fails is the verifier's pin or the trusted
checkpoint: the kinds ``pin``, ``genesis`` and ``checkpoint``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.domain import RequestStatus
from ledger.note import Ed25519Signer
from ledger.store.connect import application_env
from ledger.tree import open_ledger_tree
from tests.ledger.domain.builders import (
    INVENTORY,
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)
from tests.security.tamper_scene import (
    HEAD,
    OK,
    VERIFIED,
    Expect,
    Found,
    Scene,
    Tamper,
    brk,
    cases,
    check_every_mode,
    check_tamper,
)


def edit_genesis(s: Scene) -> None:
    table = s.attacker.genesis_table()
    s.attacker.execute(f"UPDATE {table} SET created_at = ?", ("2019-01-01T00:00:00.000000Z",))


def remake_genesis(s: Scene) -> None:
    s.attacker.rewrite_genesis("2019-01-01T00:00:00.000000Z")


def delete_genesis(s: Scene) -> None:
    s.attacker.execute(f"DELETE FROM {s.attacker.genesis_table()}")


def another_ledger(s: Scene) -> None:
    """Issue 13 item 2: every row rewritten under a new ledger id with recomputed hashes, the
    proof tables emptied, with the same state directory, a trusted key and a witness quorum."""
    s.attacker.replace_ledger(HEAD)


def same_ledger_rewritten(s: Scene) -> None:
    s.attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (b'{"rows":0}', 5))
    s.attacker.rechain_from(5)
    s.attacker.empty_proof_tables()


def checkpoints_removed(s: Scene) -> None:
    s.attacker.execute(f"DELETE FROM {s.attacker.table}_cosignatures", cover_head=False)
    s.attacker.execute(f"DELETE FROM {s.attacker.table}_checkpoints", cover_head=False)


def cosignature_removed(s: Scene) -> None:
    s.attacker.execute(f"DELETE FROM {s.attacker.table}_cosignatures", cover_head=False)


def checkpoint_forged(s: Scene) -> None:
    """A checkpoint of the real rows, signed by a key of the attacker's with the log's name."""
    with open_ledger_tree(s.settings) as tree:
        tree.integrate()
        root = tree.tree.root(HEAD)
    forger = Ed25519Signer.generate("govledger.local/tamper")
    note = sign_checkpoint(Checkpoint("govledger.local/tamper", HEAD, root), forger)
    s.attacker.execute(
        f"INSERT INTO {s.attacker.table}_checkpoints (tree_size, root_hash, note, issued_at) "
        "VALUES (?, ?, ?, ?)",
        (HEAD, root, note, "2030-01-01T00:00:00.000000Z"),
        cover_head=False,
    )


every = Expect.every

TAMPERS = [
    Tamper("genesis record edited", edit_genesis, every(brk("genesis", 0))),
    Tamper(
        "genesis record re-made with its hash, the whole chain recomputed onto it",
        remake_genesis,
        every(brk("pin", 0)),
    ),
    Tamper("genesis record deleted", delete_genesis, every(brk("genesis", 0))),
    Tamper(
        "another ledger under a new id, hashes recomputed, proof tables emptied",
        another_ledger,
        every(brk("pin", 0)),
    ),
    Tamper(
        "history rewritten from row 5 under the same id, proof tables emptied",
        same_ledger_rewritten,
        every(brk("rewritten", 5)),
    ),
    Tamper(
        "checkpoints and cosignatures deleted",
        checkpoints_removed,
        Expect(OK, OK, brk("checkpoint", VERIFIED)),
    ),
    Tamper(
        "the witness's cosignature deleted",
        cosignature_removed,
        Expect(OK, OK, brk("checkpoint", VERIFIED)),
    ),
    Tamper(
        "a checkpoint signed by a key of the attacker's",
        checkpoint_forged,
        Expect(OK, OK, brk("checkpoint", HEAD)),
    ),
]

CASES = cases(TAMPERS)


@pytest.mark.parametrize(("tamper", "backend"), CASES)
def test_tampering_with_identity_and_trust_is_named_by_every_mode(
    tamper: Tamper, backend: str, scene_for: Callable[[str], Scene]
) -> None:
    check_tamper(tamper, scene_for(backend))


# ------------------------------------------ a row below genesis that revokes a live grant


def _granting_app(env: dict[str, str], clock: FakeClock) -> tuple[GovLedger, uuid.UUID]:
    app = GovLedger(env, clock=clock)
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    app.register_department(NDRC, USER_DEPT, "区人社局")
    app.register_system(PROVIDER, PROVIDER_DEPT, INVENTORY, holds_personal_data=True)
    app.register_resource(PROVIDER, population_entry())
    request_id = app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name"],
        purpose="social insurance eligibility",
        legal_basis="社会保险法 §4",
        period_start=datetime(2026, 3, 1, tzinfo=UTC).date(),
        period_end=datetime(2026, 12, 31, tzinfo=UTC).date(),
    )
    app.approve_request(PROVIDER, request_id, ["name"], clock.now + timedelta(days=300))
    return app, request_id


def _forged_revocation(tmp_path: Path) -> tuple[str, bytes]:
    """A revocation event exactly as the application stores one (topic, state)."""
    scratch = {
        "PERSISTENCE_MODULE": "ledger.store.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "scratch.db"),
        "CREATE_TABLE": "y",
    }
    app, request_id = _granting_app(scratch, FakeClock())
    app.revoke_grant(PROVIDER, request_id, "forged")
    stored = app.recorder.select_events(request_id)[-1]
    app.close()
    return stored.topic, stored.state


@pytest.mark.parametrize("position", [0, -1])
def test_a_row_below_genesis_never_revokes_a_live_grant(
    scene_for: Callable[[str], Scene], ledger_backend: str, tmp_path: Path, position: int
) -> None:
    """Issue 13 item 1: such a row used to be read by the domain model and by nothing else."""
    scene = scene_for(ledger_backend)
    env = application_env(scene.settings, create=False)
    app, request_id = _granting_app(env, FakeClock())
    version = app.request(request_id).version
    topic, state = _forged_revocation(tmp_path)
    oid = request_id if ledger_backend == "postgresql" else request_id.hex
    scene.attacker.insert(position, (oid, version + 1, topic, state, b"\0" * 32, b"\0" * 32))
    assert app.request(request_id).status is RequestStatus.APPROVED
    app.close()
    expected = brk("below_genesis", position)
    check_every_mode(scene, Expect.every(expected))


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_suites_cover_every_kind_of_break_named_in_the_format() -> None:
    """Every kind of ledger-format §5 is the answer of at least one tamper."""
    from ledger.chain import BREAK_KINDS  # noqa: PLC0415
    from tests.security import test_tamper_rows  # noqa: PLC0415

    named = {
        found.kind
        for tamper in [*TAMPERS, *test_tamper_rows.TAMPERS]
        if isinstance(tamper.expect, Expect)
        for found in (tamper.expect.plain, tamper.expect.full, tamper.expect.pinned)
        if isinstance(found, Found) and found.kind
    }
    assert set(BREAK_KINDS) <= named, set(BREAK_KINDS) - named
    assert len({t.name for t in [*TAMPERS, *test_tamper_rows.TAMPERS]}) >= 30
