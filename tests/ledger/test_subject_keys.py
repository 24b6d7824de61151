"""The subjects' key table, access index and erasure generation (ledger/subject_keys.py;
docs/ledger-format.md §9.1), with the vault's kept key ids, on each backend.

What could go wrong: a lookup missing an access or listing another subject's; the index
missing what ingest stored since it was last caught up; an older row's sealed form not
read; a key destroyed in one process named again from another process's memory; a
restored key-table backup leaving a process with keys the table no longer has."""

from __future__ import annotations

import json
import os
import uuid
from datetime import date
from typing import Any

import msgspec
import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.erasure import Erased
from ledger.store.connect import application_env
from ledger.subject_keys import SubjectKeys, subject_key_ids
from ledger.subjects import (
    SubjectVault,
    _Blinder,
    blind_index,
    normalise,
    open_sealed,
    sealed_json,
)
from ledger.tree_database import Database
from tests.ledger import test_subjects as subjects_tests
from tests.ledger.commands.test_access_batch import _judged, access_report
from tests.ledger.domain.builders import CAC, PLATFORM, FakeClock
from tests.ledger.test_subjects import ALICE, BOB, SECRET, _database_bytes, _verified

vault_settings, app = subjects_tests.vault_settings, subjects_tests.app  # the fixtures

CAROL = "440301199912120022"
MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def _kids(app: GovLedger, event_id: str) -> list[str]:
    (stored,) = app.recorder.select_events(app.access(event_id).id, limit=1)
    return subject_key_ids(json.loads(bytes(stored.state))["subjects"])


def _lookup(app: GovLedger, identifier: str) -> list[tuple[str, bool]]:
    answer = app.subject_accesses(CAC, identifier, *MARCH)
    return [(a.platform_event_id, a.subject_erased) for a in answer.accesses]


def _with_keys(settings: Settings, work: Any) -> Any:
    database = Database(settings)
    try:
        return work(SubjectKeys(database))
    finally:
        database.close()


def test_the_blinder_is_the_documented_hmac() -> None:
    for secret in (SECRET, os.urandom(32), os.urandom(64), os.urandom(80)):
        blinder = _Blinder(secret)
        for identifier in (ALICE, BOB, "张三-0001", " x "):
            assert blinder.blind(normalise(identifier)) == blind_index(secret, identifier)


def test_a_lookup_reads_exactly_the_subjects_accesses(
    app: GovLedger, vault_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = [
        access_report("s-1", subjects=(ALICE, BOB)),
        access_report("s-2", subjects=(BOB,)),
        access_report("s-3"),
        access_report("s-4", subjects=(CAROL, normalise(ALICE))),
    ]
    app.record_accesses(PLATFORM, _judged(app, reports))
    app.record_accesses(PLATFORM, _judged(app, reports))  # a retry: nothing new, no twins
    # Ingest wrote nothing to the index: the lookup catches it up from the chain.
    assert _with_keys(
        vault_settings, lambda keys: (keys.head(), keys.accesses_of(_kids(app, "s-1")))
    ) == (0, [])
    # A row an earlier version wrote before a batch that then failed (an access never stored).
    never = uuid.uuid4().hex
    _with_keys(vault_settings, lambda keys: keys.add_index([(never, _kids(app, "s-4"))]))
    monkeypatch.setattr("ledger.subject_keys._SCAN", 2)  # several stretches of the chain
    assert _lookup(app, ALICE) == [("s-1", False), ("s-4", False)]
    assert _lookup(app, BOB) == [("s-1", False), ("s-2", False)]
    assert _lookup(app, CAROL) == [("s-4", False)]
    indexed = _with_keys(
        vault_settings, lambda keys: (keys.head(), keys.accesses_of(_kids(app, "s-1")))
    )
    ids = sorted([never, *(app.access(event).id.hex for event in ("s-1", "s-2", "s-4"))])
    assert (indexed[0], sorted(indexed[1])) == (app.recorder.max_notification_id(), ids)
    assert _lookup(app, "110000000000000000") == []
    app.record_accesses(PLATFORM, _judged(app, [access_report("s-5", subjects=(CAROL,))]))
    assert _lookup(app, CAROL) == [("s-4", False), ("s-5", False)]
    # An index and head lost (or a ledger older than them): filled from the chain.
    _drop(vault_settings, "subject_index", "subject_index_head")
    assert _lookup(app, ALICE) == [("s-1", False), ("s-4", False)]
    assert _lookup(app, CAROL) == [("s-4", False), ("s-5", False)]
    stored = _database_bytes(vault_settings)
    for identifier in (ALICE, normalise(ALICE), BOB, CAROL):
        assert identifier.encode() not in stored


def test_an_index_written_by_ingest_before_is_not_read_again(
    app: GovLedger, vault_settings: Settings
) -> None:
    """A ledger whose index earlier versions wrote with every batch gets a head at the
    chain's end: its rows are not indexed twice, what comes after is."""
    app.record_accesses(PLATFORM, _judged(app, [access_report("w-1", subjects=(ALICE,))]))
    assert _lookup(app, ALICE) == [("w-1", False)]  # indexed (as ingest used to)
    _drop(vault_settings, "subject_index_head")
    assert (
        _with_keys(vault_settings, lambda keys: keys.head()) == app.recorder.max_notification_id()
    )
    app.record_accesses(PLATFORM, _judged(app, [access_report("w-2", subjects=(ALICE,))]))
    assert _lookup(app, ALICE) == [("w-1", False), ("w-2", False)]
    rows = _with_keys(vault_settings, lambda keys: keys.accesses_of(_kids(app, "w-1")))
    assert sorted(rows) == sorted([app.access("w-1").id.hex, app.access("w-2").id.hex])


def test_an_older_rows_sealed_subjects_are_read_and_erased(
    app: GovLedger, vault_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written before the key-id form hold sealed values (ledger-format §9.1): a
    lookup lists them beside the newer rows, and erasure reads both as erased."""
    vault = app.subjects
    assert vault is not None
    monkeypatch.setattr(vault, "subjects_json", lambda entries, _: _sealed_form(vault, entries))
    app.record_accesses(PLATFORM, _judged(app, [access_report("o-1", subjects=(ALICE, BOB))]))
    monkeypatch.undo()
    app.record_accesses(PLATFORM, _judged(app, [access_report("o-2", subjects=(ALICE,))]))
    (stored,) = app.recorder.select_events(app.access("o-1").id, limit=1)
    old = json.loads(bytes(stored.state))["subjects"]
    assert [list(value) for value in old] == [["sealed", "kid", "n", "ct"]] * 2
    assert _kids(app, "o-2") == [old[0]["kid"]]  # one subject, one key, either form
    assert _lookup(app, ALICE) == [("o-1", False), ("o-2", False)]
    app.erase_subject(CAC, ALICE, "处理目的已实现", "个人信息保护法第四十七条")
    assert _lookup(app, ALICE) == [("o-1", True), ("o-2", True)]
    assert _lookup(app, BOB) == [("o-1", False)]
    with vault.keys() as keys:
        found = keys.keys_by_id([value["kid"] for value in old])
    assert open_sealed(old[0], found[old[0]["kid"]]) == Erased(old[0]["kid"])
    assert open_sealed(old[1], found[old[1]["kid"]]) == BOB
    _verified(vault_settings)


def _sealed_form(vault: SubjectVault, entries: Any) -> tuple[dict[uuid.UUID, msgspec.Raw], str]:
    """What versions before the key-id form stored: each subject sealed under its key."""
    with vault.keys() as keys:
        live = keys.live_keys([vault.blind(s) for _, subjects in entries for s in subjects])
    sealed = {
        s: sealed_json(*live[vault.blind(s)], normalise(s), os.urandom(12))
        for _, subjects in entries
        for s in subjects
    }
    arrays = {
        access_id: msgspec.Raw(b"[" + b",".join(sealed[s] for s in subjects) + b"]")
        for access_id, subjects in entries
    }
    return arrays, ""


def _drop(settings: Settings, *suffixes: str) -> None:
    database = Database(settings)
    try:
        for suffix in suffixes:
            database.query(f"DROP TABLE {database.table(suffix)}")
        SubjectKeys(database).create()
    finally:
        database.close()


def test_an_erasure_elsewhere_is_never_undone_by_a_kept_key(
    app: GovLedger, vault_settings: Settings
) -> None:
    """Another worker (its own vault and connections) erases a subject this one keeps in
    memory: this one's next access names a new key, the destroyed one stays destroyed."""
    vault = app.subjects
    assert vault is not None
    app.record_accesses(PLATFORM, _judged(app, [access_report("e-1", subjects=(ALICE, BOB))]))
    app.record_accesses(PLATFORM, _judged(app, [access_report("e-2", subjects=(ALICE,))]))
    first = _kids(app, "e-1")[0]
    assert _kids(app, "e-2") == [first]  # from memory or the table, the same live key
    assert ALICE in vault._cache
    other = GovLedger(
        env=application_env(vault_settings),
        clock=FakeClock(),
        subjects=SubjectVault.configured(vault_settings),
    )
    try:
        other.erase_subject(CAC, ALICE, "处理目的已实现", "个人信息保护法第四十七条")
    finally:
        other.close()
    app.record_accesses(PLATFORM, _judged(app, [access_report("e-3", subjects=(ALICE, BOB))]))
    fresh, bob = _kids(app, "e-3")
    assert fresh != first and bob == _kids(app, "e-1")[1]
    found = _with_keys(vault_settings, lambda keys: keys.keys_by_id([first, fresh]))
    assert found[first] is None and found[fresh] is not None
    assert _lookup(app, ALICE) == [("e-1", True), ("e-2", True), ("e-3", False)]
    _verified(vault_settings)


def test_a_restored_backup_makes_every_process_forget(
    app: GovLedger, vault_settings: Settings
) -> None:
    """Keys created after a backup are gone once it is restored: no process may keep
    sealing under them (the accesses would name keys the table cannot find)."""
    vault = app.subjects
    assert vault is not None
    backup = _with_keys(vault_settings, lambda keys: keys.all_rows())
    before = _with_keys(vault_settings, lambda keys: keys.generation())
    app.record_accesses(PLATFORM, _judged(app, [access_report("r-1", subjects=(ALICE,))]))
    lost = _kids(app, "r-1")[0]
    _with_keys(vault_settings, lambda keys: keys.restore(backup))
    assert _with_keys(vault_settings, lambda keys: keys.generation()) != before
    app.record_accesses(PLATFORM, _judged(app, [access_report("r-2", subjects=(ALICE,))]))
    (kept,) = _kids(app, "r-2")
    assert kept != lost
    rows = _with_keys(vault_settings, lambda keys: keys.rows_of(vault.blind(ALICE)))
    assert [row.key_id for row in rows] == [kept]


@pytest.mark.parametrize("size", [0, 1])
def test_a_small_or_no_cache_names_the_same(vault_settings: Settings, size: int) -> None:
    vault = SubjectVault(vault_settings, SECRET, cache_size=size)
    try:
        one, two = uuid.uuid4(), uuid.uuid4()
        first, generation = vault.subjects_json([(one, (ALICE, BOB))])
        again, _ = vault.subjects_json([(two, (BOB, normalise(ALICE)))], generation)
        kids = json.loads(bytes(first[one]))
        assert json.loads(bytes(again[two])) == kids[::-1]
        assert len(vault._cache) == size
    finally:
        vault.close()


def test_a_new_postgresql_connection_forgets_the_kept_keys(vault_settings: Settings) -> None:
    """Keys commit without their own flush: a PostgreSQL server that restarted may have lost
    the newest, so what was kept through the old connection is not used through a new one."""
    vault = SubjectVault(vault_settings, SECRET)
    try:
        vault.subjects_json([(uuid.uuid4(), (ALICE,))])
        assert len(vault._cache) == 1
        vault.close()
        with vault.keys():
            pass
        assert len(vault._cache) == (0 if vault_settings.database.backend == "postgresql" else 1)
    finally:
        vault.close()


def test_a_batch_reads_the_erasure_generation_once(
    app: GovLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a batch, not a chunk (ledger/subjects.py): the batch is the unit an erasure
    precedes or not."""
    reads = []
    generation = SubjectKeys.generation
    monkeypatch.setattr(SubjectKeys, "generation", lambda keys: reads.append(1) or generation(keys))
    monkeypatch.setattr("ledger.commands.accesses.STREAM_CHUNK", 1)
    batch = [access_report(f"g-{i}", subjects=(ALICE,)) for i in range(3)]
    app.record_accesses(PLATFORM, _judged(app, batch))
    assert len(reads) == 1 and _kids(app, "g-0") == _kids(app, "g-2")
    app.record_accesses(PLATFORM, _judged(app, [access_report("g-3", subjects=(BOB,))]))
    assert len(reads) == 2
