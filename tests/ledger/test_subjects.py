"""Data subjects of accesses (ledger/subjects.py; docs/ledger-format.md §9.1): the pinned
vectors (the key-id form accesses are written in, the sealed form of older rows), the key
table on each backend, and accesses recorded naming subjects by key id."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import AccessReport, DomainError
from ledger.domain.errors import ErrorCode
from ledger.erasure import Erased, ErasureError
from ledger.errors import ConfigurationError
from ledger.store.connect import application_env, init_ledger, open_reader
from ledger.subjects import (
    SubjectVault,
    associated_data,
    blind_index,
    create_index_key,
    normalise,
    open_sealed,
    prepare_subject_keys,
    read_index_key,
    sealed_json,
)
from ledger.tree_database import Database
from ledger.verify import verify_ledger
from tests.ledger.commands.test_access_batch import _judged, access_report
from tests.ledger.domain.builders import (
    NDRC,
    PLATFORM,
    PROVIDER,
    PROVIDER_DEPT,
    USER_DEPT,
    FakeClock,
    population_entry,
)

SECRET = bytes(range(32))
KEY = bytes(range(32, 64))
NONCE = bytes(range(12))
ALICE, BOB = "11010519491231002x", "320102198001010011"


def test_pinned_vector() -> None:
    """docs/ledger-format.md §9.1, byte for byte: the blind index, and the sealed form
    older rows hold."""
    assert blind_index(SECRET, ALICE) == (
        "df10dc081691f35d6348728736fad32ebd0c3fbb839c996eac500cf562f88b88"
    )
    assert blind_index(SECRET, " 11010519491231002X ") == blind_index(SECRET, ALICE)
    sealed = sealed_json("kid-1", KEY, normalise(ALICE), NONCE)
    assert sealed == (
        b'{"sealed":"v1","kid":"kid-1","n":"AAECAwQFBgcICQoL",'
        b'"ct":"bWNtlnoA2tWIwPj0FUJuDCEoEKfEopsPOo+PrmyjwwNufw=="}'
    )
    assert associated_data() == (
        b"govledger-seal-v1\nledger.domain.access:DataAccess.Recorded\nsubjects"
    )
    value = json.loads(sealed)
    assert open_sealed(value, KEY) == "11010519491231002X"
    assert open_sealed(value, None) == Erased("kid-1")
    moved = dict(value, ct=base64.b64encode(AESGCM(KEY).encrypt(NONCE, b"x", b"other")).decode())
    with pytest.raises(ErasureError):
        open_sealed(moved, KEY)


def test_index_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "index.key"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'l.db'}", subject_index_key_file=str(path)
    )
    assert create_index_key(settings)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = read_index_key(str(path))
    assert len(secret) == 32
    assert create_index_key(settings) == []  # never overwritten
    assert read_index_key(str(path)) == secret
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        read_index_key(str(path))


@pytest.fixture
def vault_settings(settings: Settings, tmp_path: Path) -> Settings:
    configured = settings.with_overrides(subject_index_key_file=str(tmp_path / "index.key"))
    init_ledger(configured)
    prepare_subject_keys(configured)
    return configured


def test_key_table_creates_once_and_erases(vault_settings: Settings) -> None:
    vault = SubjectVault.configured(vault_settings)
    assert vault is not None
    a, b = vault.blind(ALICE), vault.blind(BOB)
    with vault.keys() as keys:
        first = keys.live_keys([a, b, a])
        again = keys.live_keys([b, a])
        assert first == again and first[a] != first[b]
        (row,) = keys.rows_of(a)
        assert row.key == first[a][1] and row.erased_at is None
        backup = keys.all_rows()
        assert keys.erase([first[a][0]]) == 1
        assert keys.erase([first[a][0]]) == 0
        assert keys.keys_by_id([first[a][0], first[b][0]]) == {
            first[a][0]: None,
            first[b][0]: first[b][1],
        }
        fresh = keys.live_keys([a])  # named again after erasure: a new key, the old stays
        assert fresh[a][0] != first[a][0]
        assert {r.key_id for r in keys.rows_of(a)} == {first[a][0], fresh[a][0]}
        keys.restore(backup)
        assert keys.keys_by_id([first[a][0]])[first[a][0]] == first[a][1]


@pytest.fixture
def app(vault_settings: Settings) -> Iterator[GovLedger]:
    ledger = GovLedger(
        env=application_env(vault_settings),
        clock=FakeClock(),
        subjects=SubjectVault.configured(vault_settings),
    )
    ledger.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    ledger.register_department(NDRC, USER_DEPT, "区人社局")
    ledger.register_resource(PROVIDER, population_entry())
    yield ledger
    ledger.close()


def _state(app: GovLedger, report: AccessReport) -> bytes:
    (stored,) = app.recorder.select_events(app.access(report.platform_event_id).id, limit=1)
    return bytes(stored.state)


def _verified(settings: Settings) -> None:
    reader = open_reader(settings)
    try:
        report = verify_ledger(reader, full=True)
        assert report.ok, report.failure
    finally:
        reader.close()


def _database_bytes(settings: Settings) -> bytes:
    """Every value of every table of the ledger's database, as bytes."""
    db = Database(settings)
    try:
        if db.backend == "sqlite":
            names = [r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")]
            tables = [f'"{n}"' for n in names]
        else:
            schema = settings.postgres_schema
            names = [
                r[0]
                for r in db.query(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                    (schema,),
                )
            ]
            tables = [f'"{schema}"."{n}"' for n in names]
        out = b""
        for table in tables:
            for row in db.query(f"SELECT * FROM {table}"):
                out += repr(row).encode() + b"".join(v for v in row if isinstance(v, bytes))
        return out
    finally:
        db.close()


def test_pinned_key_id_form(app: GovLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/ledger-format.md §9.1: the key-id form, byte for byte (key ids drawn from a
    pinned "random" source: the first two subjects get KID_1 and KID_2)."""
    report = access_report("v-1", subjects=(ALICE, BOB))
    judged = _judged(app, [report])
    monkeypatch.setattr(os, "urandom", lambda n: bytes(i % 256 for i in range(n)))
    app.record_accesses(PLATFORM, judged)
    monkeypatch.undo()
    state = _state(app, report)
    assert state.endswith(  # the verdict's object closes, then the subjects
        b'}},"subjects":["000102030405060708090a0b0c0d0e0f","101112131415161718191a1b1c1d1e1f"]}'
    )


def test_accesses_name_subjects_by_key_id(app: GovLedger, vault_settings: Settings) -> None:
    plain = access_report("x-1")
    named = access_report("x-2", subjects=(ALICE, BOB))
    also = access_report("x-3", subjects=(BOB,))
    app.record_accesses(PLATFORM, _judged(app, [plain, named, also]))
    assert b"subjects" not in _state(app, plain)  # §12 bytes, unchanged
    state = json.loads(_state(app, named))
    assert list(state)[-1] == "subjects" and list(state)[-2] == "verdict"
    kids = state["subjects"]
    assert [len(kid) for kid in kids] == [32, 32] and kids[0] != kids[1]
    assert all(int(kid, 16) >= 0 for kid in kids)
    vault = app.subjects
    assert vault is not None
    with vault.keys() as keys:
        assert [row.key_id for row in keys.rows_of(vault.blind(ALICE))] == [kids[0]]
        assert [row.key_id for row in keys.rows_of(vault.blind(BOB))] == [kids[1]]
        assert all(key is not None for key in keys.keys_by_id(kids).values())
    assert json.loads(_state(app, also))["subjects"] == [kids[1]]
    # The aggregate still loads (the library skips the extra key) and the chain verifies.
    assert app.access("x-2").report.platform_event_id == "x-2"
    _verified(vault_settings)
    stored = _database_bytes(vault_settings)
    for identifier in (ALICE, normalise(ALICE), BOB):
        assert identifier.encode() not in stored
        assert vault.blind(identifier).encode() in stored  # in the key table only
    assert vault.blind(BOB).encode() not in _state(app, named)


def test_library_path_writes_the_same_bytes(app: GovLedger) -> None:
    """An event the fast writer does not take (a str subclass) gets the same layout."""

    class Text(str):
        pass

    report = access_report("x-9", subjects=(ALICE,), purpose=Text("核查"))
    app.record_accesses(PLATFORM, _judged(app, [report]))
    state = _state(app, report)
    assert list(json.loads(state))[-1] == "subjects"
    (kid,) = json.loads(state)["subjects"]
    assert state.endswith(b',"subjects":["' + kid.encode() + b'"]}')


def test_refused_without_a_secret_and_when_malformed(vault_settings: Settings) -> None:
    ledger = GovLedger(env=application_env(vault_settings), clock=FakeClock())
    try:
        ledger.register_department(NDRC, PROVIDER_DEPT, "区公安局")
        ledger.register_department(NDRC, USER_DEPT, "区人社局")
        ledger.register_resource(PROVIDER, population_entry())
        head = ledger.recorder.max_notification_id()
        report = access_report("x-1", subjects=(ALICE,))
        with pytest.raises(DomainError) as refused:
            ledger.record_accesses(PLATFORM, _judged(ledger, [report]))
        assert refused.value.code is ErrorCode.SUBJECTS_UNAVAILABLE
        for bad in ((ALICE, ALICE), ("",), (" ",), ("a\x00b",), ("x" * 513,)):
            with pytest.raises(DomainError) as refused:
                ledger.record_accesses(
                    PLATFORM, _judged(ledger, [msgspec.structs.replace(report, subjects=bad)])
                )
            assert refused.value.code is ErrorCode.MALFORMED_ACCESS
            assert "subjects" in refused.value.detail
        assert ledger.recorder.max_notification_id() == head
    finally:
        ledger.close()
