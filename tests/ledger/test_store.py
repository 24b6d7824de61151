"""The chained store: append-only in the database, one algorithm per chain, no foreign writes."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import hashes
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    StoredEvent,
    Tracking,
)
from eventsourcing.utils import Environment

from ledger.chain import entry_input
from ledger.config import Settings
from ledger.errors import ConfigurationError, ForeignStoreError, StoreUnavailableError
from ledger.store.connect import application_env, init_ledger, open_reader
from ledger.verify import verify_ledger
from tests.conftest import Ledger, PostgresURLs, make_events, pg_connect
from tests.ledger._rows import full_report

# ------------------------------------------------------------ append-only: SQLite


@pytest.mark.parametrize(
    "statement", ["UPDATE stored_events SET topic = 'x'", "DELETE FROM stored_events"]
)
def test_sqlite_triggers_refuse_update_and_delete(
    sqlite_settings: Settings, statement: str
) -> None:
    ledger = Ledger(sqlite_settings)
    ledger.append(3)
    ledger.close()
    conn = sqlite3.connect(sqlite_settings.database.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)
    conn.close()
    assert full_report(sqlite_settings).count == 3


def test_sqlite_genesis_record_refuses_update(sqlite_settings: Settings) -> None:
    init_ledger(sqlite_settings)
    conn = sqlite3.connect(sqlite_settings.database.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE stored_events_genesis SET hash_algorithm = 'sm3'")
    conn.close()


# -------------------------------------------------------- append-only: PostgreSQL


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_events SET topic = 'x'",
        "DELETE FROM ledger_events",
        "TRUNCATE ledger_events",
        "UPDATE ledger_events_genesis SET hash_algorithm = 'sm3'",
        "TRUNCATE ledger_events_genesis",
    ],
)
def test_postgres_trigger_refuses_changes_even_for_the_owner(
    postgres_settings: Settings, postgres_urls: PostgresURLs, statement: str
) -> None:
    ledger = Ledger(postgres_settings)
    ledger.append(3)
    ledger.close()
    with pg_connect(postgres_urls.owner) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
    assert full_report(postgres_settings).count == 3


def test_postgres_application_role_appends_through_the_function_and_reads_only(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    init_ledger(postgres_settings, app_role="govledger_app")
    as_app = postgres_settings.with_overrides(database_url=postgres_urls.app, create_schema=False)
    ledger = Ledger.__new__(Ledger)
    ledger.settings = as_app
    ledger.factory = InfrastructureFactory.construct(Environment(env=application_env(as_app)))
    ledger.recorder = ledger.factory.application_recorder()
    ledger.append(4, per_transaction=2)
    ledger.close()
    with pg_connect(postgres_urls.app) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        assert conn.execute("SELECT count(*) FROM ledger_events").fetchone() == (4,)
        for statement in (
            "UPDATE ledger_events SET topic = 'x'",
            "DELETE FROM ledger_events",
            "TRUNCATE ledger_events",
            "INSERT INTO ledger_events_genesis SELECT * FROM ledger_events_genesis",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(statement)
    assert full_report(postgres_settings).count == 4


# ------------------------------------------------------------------ algorithms


def test_sm3_ledger_chains_with_sm3(settings: Settings) -> None:
    sm3 = settings.with_overrides(hash_algorithm="sm3")
    ledger = Ledger(sm3)
    assert ledger.recorder.genesis.hash_algorithm == "sm3"
    ledger.append(5, per_transaction=2)
    ledger.close()
    reader = open_reader(sm3)
    try:
        first = reader.row_at(1)
        report = verify_ledger(reader, full=True)
    finally:
        reader.close()
    assert first is not None and report.ok and report.count == 5
    position, oid, version, topic, state, prev, stored = first
    h = hashes.Hash(hashes.SM3())
    h.update(entry_input(position, prev, oid, version, topic, state))
    assert stored == h.finalize()
    assert (
        stored != hashlib.sha256(entry_input(position, prev, oid, version, topic, state)).digest()
    )


def test_configured_algorithm_must_match_the_genesis(sqlite_settings: Settings) -> None:
    init_ledger(sqlite_settings.with_overrides(hash_algorithm="sm3"))
    with pytest.raises(ConfigurationError, match="created with sm3"):
        init_ledger(sqlite_settings.with_overrides(hash_algorithm="sha256"))
    # Unset means "whatever the genesis says".
    assert init_ledger(sqlite_settings).hash_algorithm == "sm3"


# ------------------------------------------------------------- foreign stores


def test_foreign_sqlite_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE citizens (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    foreign = Settings(database_url=f"sqlite:///{path}")
    with pytest.raises(ForeignStoreError, match="other tables"):
        init_ledger(foreign)
    with pytest.raises(ForeignStoreError):
        open_reader(foreign)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_file_that_is_not_a_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("这不是数据库\n" * 100, encoding="utf-8")
    before = path.read_bytes()
    settings = Settings(database_url=f"sqlite:///{path}")
    with pytest.raises((StoreUnavailableError, ForeignStoreError), match="not"):
        init_ledger(settings)
    with pytest.raises(ForeignStoreError, match="not an SQLite database"):
        open_reader(settings)
    assert path.read_bytes() == before


def test_plain_eventsourcing_table_in_postgres_is_refused(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    with pg_connect(postgres_urls.owner) as conn:
        conn.execute(
            f"CREATE TABLE {postgres_settings.postgres_schema}.ledger_events (originator_id uuid)"
        )
    with pytest.raises(ForeignStoreError, match="without a genesis record"):
        init_ledger(postgres_settings)


def test_refused_postgres_connection_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreUnavailableError, match="cannot connect to PostgreSQL"):
        open_reader(settings)


def test_database_insert_functions_are_refused(postgres_settings: Settings) -> None:
    env = application_env(postgres_settings) | {"POSTGRES_ENABLE_DB_FUNCTIONS": "y"}
    factory = InfrastructureFactory.construct(Environment(env=env))
    try:
        with pytest.raises(ConfigurationError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
            factory.application_recorder()
    finally:
        factory.close()


def test_unchained_recorder_topic_is_refused(settings: Settings) -> None:
    plain = (
        "eventsourcing.sqlite:SQLiteApplicationRecorder"
        if settings.database.backend == "sqlite"
        else "eventsourcing.postgres:PostgresApplicationRecorder"
    )
    env = application_env(settings) | {"APPLICATION_RECORDER_TOPIC": plain}
    factory = InfrastructureFactory.construct(Environment(env=env))
    try:
        with pytest.raises(ConfigurationError, match="not a chained recorder"):
            factory.application_recorder()
    finally:
        factory.close()


# --------------------------------------------------------- atomicity of a batch


def test_failure_after_the_insert_rolls_back_the_events(settings: Settings) -> None:
    """eventsourcing-notes pitfall 1: an error late in the transaction must not commit events."""
    Ledger(settings).close()
    factory = InfrastructureFactory.construct(Environment(env=application_env(settings)))
    try:
        recorder: Any = factory.process_recorder()
        recorder.insert_events(make_events(2), tracking=Tracking("upstream", 5))
        with pytest.raises(IntegrityError):
            # Events insert first, then the stale tracking record fails the transaction.
            recorder.insert_events(make_events(3), tracking=Tracking("upstream", 4))
        assert recorder.max_notification_id() == 2
        recorder.insert_events(make_events(1), tracking=Tracking("upstream", 6))
    finally:
        factory.close()
    report = full_report(settings)
    assert report.ok and report.count == 3


def test_duplicate_event_is_refused_and_nothing_of_its_batch_is_stored(ledger: Ledger) -> None:
    ledger.append(2)
    oid = uuid.uuid4()
    first = StoredEvent(originator_id=oid, originator_version=1, topic="t:T", state=b"{}")
    ledger.recorder.insert_events([first])
    batch = [*make_events(2), first]
    with pytest.raises(IntegrityError):
        ledger.recorder.insert_events(batch)
    assert ledger.recorder.max_notification_id() == 3
    ledger.append(1)
    assert full_report(ledger.settings).count == 4


def test_existing_originators_answers_for_a_whole_batch(ledger: Ledger) -> None:
    stored = make_events(1200)
    ledger.recorder.insert_events(stored)
    absent = [uuid.uuid4() for _ in range(5)]
    asked = [e.originator_id for e in stored[::2]] + absent
    assert ledger.recorder.existing_originators(asked) == {e.originator_id for e in stored[::2]}
    assert ledger.recorder.existing_originators([]) == set()


def test_rows_at_reads_the_rows_row_at_reads_in_one_query(settings: Settings) -> None:
    ledger = Ledger(settings)
    ledger.append(1000, per_transaction=250)
    ledger.close()
    reader = open_reader(settings)
    try:
        wanted = [3, 1000, 7, 3, 950, 1001, 0]  # a repeat, absent positions, out of order
        found = reader.rows_at(wanted)
        every = reader.rows_at(range(1, 1001))  # over SQLite's chunk of bound parameters
        assert found == {p: reader.row_at(p) for p in (3, 7, 950, 1000)}
        assert sorted(every) == list(range(1, 1001)) and every[500] == reader.row_at(500)
        assert reader.rows_at([]) == {}
    finally:
        reader.close()
