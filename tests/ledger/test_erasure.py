"""An erased subject's events still verify; their personal fields no longer open."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.config import Settings
from ledger.erasure import Erased, ErasureError, MemoryKeyStore, SQLiteKeyStore, seal, unseal
from ledger.export import export_jsonl
from ledger.store.connect import application_env, init_ledger, open_reader
from ledger.verify import verify_ledger

TOPIC = "tests.ledger.test_erasure:CitizenLookup.Recorded"


class CitizenLookup(Aggregate):
    """A stand-in for a data-access event carrying the data subject's identity."""

    @event("Recorded")
    def __init__(self, actor: str, subject: dict[str, str]) -> None:
        self.actor = actor
        self.subject = subject


def export_text(settings: Settings, tmp_path: Path) -> str:
    target = tmp_path / "export.jsonl"
    reader = open_reader(settings)
    try:
        with target.open("w", encoding="utf-8") as f:
            export_jsonl(reader, f)
        return target.read_text(encoding="utf-8")
    finally:
        reader.close()


def test_erased_subject_still_verifies(sqlite_settings: Settings, tmp_path: Path) -> None:
    init_ledger(sqlite_settings)
    keys = SQLiteKeyStore(sqlite_settings.database.path)
    app = Application(env=application_env(sqlite_settings))
    lookups = {}
    for subject in ("320500199001011234", "320500198512124321"):
        sealed = seal(keys, subject, TOPIC, "subject", subject)
        lookup = CitizenLookup(actor="clerk-7", subject=sealed)
        app.save(lookup)
        lookups[subject] = lookup.id
    before = export_text(sqlite_settings, tmp_path)
    assert "320500199001011234" not in before, "a personal field was stored in clear"

    assert keys.erase("320500199001011234")

    reader = open_reader(sqlite_settings)
    try:
        report = verify_ledger(reader, full=True)
    finally:
        reader.close()
    assert report.ok and report.count == 2
    assert export_text(sqlite_settings, tmp_path) == before, "erasure changed stored bytes"
    erased = app.repository.get(lookups["320500199001011234"])
    kept = app.repository.get(lookups["320500198512124321"])
    assert isinstance(unseal(keys, erased.subject, TOPIC, "subject"), Erased)
    assert unseal(keys, kept.subject, TOPIC, "subject") == "320500198512124321"
    app.close()


def test_a_sealed_value_cannot_be_moved_to_another_field() -> None:
    keys = MemoryKeyStore()
    sealed = seal(keys, "subject-1", TOPIC, "subject", "张三")
    assert unseal(keys, sealed, TOPIC, "subject") == "张三"
    with pytest.raises(ErasureError, match="does not open"):
        unseal(keys, sealed, TOPIC, "actor")
