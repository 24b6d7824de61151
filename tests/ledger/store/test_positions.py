"""Positions exactly 1..head, each row linked to the one before (docs/ledger-format.md §2, §6.1):
enforced by the database itself, against the owner and the service's role alike.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from ledger.chain import chain_rows, hash_function
from ledger.config import Settings
from ledger.store.connect import application_env, init_ledger, open_reader
from tests.conftest import Attacker, Ledger, PostgresURLs, pg_connect
from tests.ledger._rows import full_report


def _next_row(reader_settings: Settings, **changes: Any) -> list[Any]:
    """The row a writer would append next, then ``changes`` applied (by field name)."""
    reader = open_reader(reader_settings)
    try:
        genesis, head = reader.genesis(), reader.max_position()
        head_hash = reader.row_at(head)[6] if head else genesis.genesis_hash  # type: ignore[index]
    finally:
        reader.close()
    digest = hash_function(genesis.hash_algorithm)
    row = chain_rows(digest, head, head_hash, [(uuid.uuid4().hex, 1, "t:T", b"{}")])[0]
    fields = dict(zip(_ROW_FIELDS, row, strict=True)) | changes
    return [fields[name] for name in _ROW_FIELDS]


_ROW_FIELDS = ("position", "originator_id", "originator_version", "topic", "state", "prev", "hash")
_OUT_OF_PLACE = [
    ("at 0", {"position": 0}),
    ("at -1", {"position": -1}),
    ("after a gap", {"position": 5}),
    ("not linked", {"prev": b"\x01" * 32}),
    ("NULL topic", {"topic": None}),
    ("TEXT state", {"state": "{}"}),
    ("31-byte hash", {"hash": b"\x02" * 31}),
    ("text version", {"originator_version": "one"}),
]


@pytest.mark.parametrize(("what", "changes"), _OUT_OF_PLACE, ids=[w for w, _ in _OUT_OF_PLACE])
def test_sqlite_accepts_a_row_only_at_the_head_linked_and_typed(
    sqlite_settings: Settings, what: str, changes: dict[str, Any]
) -> None:
    ledger = Ledger(sqlite_settings)
    ledger.append(3)
    ledger.close()
    conn = sqlite3.connect(sqlite_settings.database.path)
    insert = "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state, "
    insert += "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
    with pytest.raises(sqlite3.IntegrityError, match="a row goes at the head"):
        conn.execute(insert, _next_row(sqlite_settings, **changes))
    with pytest.raises(sqlite3.IntegrityError, match="a row goes at the head"):
        conn.execute(  # no position at all: the library's own insert
            insert.replace("rowid, ", "").replace("?, ?, ?, ?, ?, ?, ?", "?, ?, ?, ?, ?, ?"),
            _next_row(sqlite_settings)[1:],
        )
    conn.execute(insert, _next_row(sqlite_settings))  # the right row is accepted
    conn.commit()
    conn.close()
    report = full_report(sqlite_settings)
    assert report.ok and report.count == 4


_PG_OUT_OF_PLACE = [
    c for c in _OUT_OF_PLACE if c[0] in {"at 0", "at -1", "NULL topic", "31-byte hash"}
]


@pytest.mark.parametrize(
    ("what", "changes"), _PG_OUT_OF_PLACE, ids=[w for w, _ in _PG_OUT_OF_PLACE]
)
def test_postgres_refuses_rows_out_of_place_even_from_the_owner(
    postgres_settings: Settings, postgres_urls: PostgresURLs, what: str, changes: dict[str, Any]
) -> None:
    ledger = Ledger(postgres_settings)
    ledger.append(3)
    ledger.close()
    row = _next_row(postgres_settings, **changes)
    row[1] = uuid.UUID(row[1])
    with pg_connect(postgres_urls.owner) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        with pytest.raises(psycopg.errors.CheckViolation, match="ledger_events_chain_fields"):
            conn.execute(
                "INSERT INTO ledger_events (notification_id, originator_id, originator_version, "
                "topic, state, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                row,
            )


def _as_app(settings: Settings, postgres_urls: PostgresURLs) -> Ledger:
    init_ledger(settings, app_role="govledger_app")
    as_app = settings.with_overrides(database_url=postgres_urls.app, create_schema=False)
    ledger = Ledger.__new__(Ledger)
    ledger.settings = as_app
    ledger.factory = InfrastructureFactory.construct(Environment(env=application_env(as_app)))
    ledger.recorder = ledger.factory.application_recorder()
    return ledger


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO ledger_events SELECT * FROM ledger_events LIMIT 1",
        "UPDATE ledger_events_head SET position = position + 1",
        "SELECT * FROM ledger_events_head FOR UPDATE",
        "INSERT INTO ledger_events_genesis SELECT * FROM ledger_events_genesis",
        "CREATE TABLE ledger_events_shadow (x int)",
        "CREATE FUNCTION ledger_events_shadow() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ],
)
def test_the_service_role_cannot_choose_a_position_or_move_the_head(
    postgres_settings: Settings, postgres_urls: PostgresURLs, statement: str
) -> None:
    """ledger-format §6.2: it appends through the append function and nothing else."""
    ledger = _as_app(postgres_settings, postgres_urls)
    ledger.append(2)
    ledger.close()
    with pg_connect(postgres_urls.app) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    assert full_report(postgres_settings).count == 2


def test_the_append_function_refuses_a_batch_that_does_not_chain_onto_the_head(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    ledger = _as_app(postgres_settings, postgres_urls)
    ledger.append(2)
    ledger.close()
    reader = open_reader(postgres_settings)
    head, head_hash = reader.max_position(), reader.row_at(2)[6]  # type: ignore[index]
    reader.close()
    ids = [uuid.uuid4(), uuid.uuid4()]
    rows = chain_rows(
        hash_function("sha256"), head, head_hash, [(i.hex, 1, "t:T", b"{}") for i in ids]
    )
    call = (
        "SELECT inserted FROM ledger_events_append(%s, %s, %s::uuid[], %s, %s, %s, %s, %s, false)"
    )

    def args(position: int, expected: bytes, prevs: list[bytes]) -> tuple[Any, ...]:
        states = [b"{}"] * 2
        return (position, expected, ids, [1, 1], ["t:T"] * 2, states, prevs, [r[6] for r in rows])

    with pg_connect(postgres_urls.app) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        with pytest.raises(psycopg.errors.CheckViolation, match="does not chain onto the head"):
            conn.execute(call, args(head, head_hash, [rows[0][5], b"\x03" * 32]))
        with pytest.raises(psycopg.errors.CheckViolation, match="does not chain onto the head"):
            conn.execute(call, args(head, head_hash, [b"\x03" * 32, rows[1][5]]))
        # A stale expectation writes nothing and says so.
        assert conn.execute(call, args(head - 1, head_hash, [r[5] for r in rows])).fetchone() == (
            0,
        )
        assert conn.execute(call, args(head, head_hash, [r[5] for r in rows])).fetchone() == (2,)
    report = full_report(postgres_settings)
    assert report.ok and report.head_position == 4


def test_nobody_but_the_granted_role_may_call_the_append_function(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    Ledger(postgres_settings).close()
    stranger = "govledger_chain_test_stranger"
    with pg_connect(postgres_urls.admin) as conn:
        conn.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{stranger}') "
            f"THEN CREATE ROLE {stranger} LOGIN; END IF; END $$"
        )
        conn.execute(f"GRANT USAGE ON SCHEMA {postgres_settings.postgres_schema} TO {stranger}")
    url = postgres_urls.admin.replace("postgres@", f"{stranger}@")
    with pg_connect(url) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        empty = ", ".join(["'{}'"] * 6)
        for call in (
            "SELECT * FROM ledger_events_lock_head()",
            f"SELECT * FROM ledger_events_append(0, '', {empty}, false)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(call)


def test_the_domain_model_never_reads_a_row_below_position_1(
    ledger: Ledger, attacker: Attacker
) -> None:
    """A row at 0 for a live aggregate (a forged revocation) is not read: §2."""
    oid = uuid.uuid4()
    events = [StoredEvent(oid, v, "t:T", b"{}") for v in (1, 2)]
    ledger.recorder.insert_events(events)
    forged = (oid if attacker.backend == "postgresql" else oid.hex, 3, "t:Revoked", b"{}")
    attacker.insert(0, (*forged, b"\x00" * 32, b"\x00" * 32))
    assert [e.originator_version for e in ledger.recorder.select_events(oid)] == [1, 2]
    assert [n.id for n in ledger.recorder.select_notifications(None, 10)] == [1, 2]
    assert [n.id for n in ledger.recorder.select_notifications(-5, 10)] == [1, 2]
    assert [
        n.id for n in ledger.recorder.select_notifications(0, 10, inclusive_of_start=False)
    ] == [1, 2]
    assert ledger.recorder.existing_originators([oid]) == {oid}


def test_an_older_ledger_gets_the_guards_from_init_and_keeps_its_rows(
    settings: Settings, postgres_urls_or_none: Any
) -> None:
    """Upgrading adds the trigger (SQLite) or the constraint and functions (PostgreSQL)."""
    ledger = Ledger(settings)
    ledger.append(5, per_transaction=2)
    ledger.close()
    before = _all_rows(settings)
    if settings.database.backend == "sqlite":
        conn = sqlite3.connect(settings.database.path)
        conn.execute("DROP TRIGGER stored_events_append_at_head")
        conn.close()
    else:
        with pg_connect(postgres_urls_or_none.admin) as conn:
            conn.execute(f"SET search_path TO {settings.postgres_schema}")
            conn.execute("ALTER TABLE ledger_events DROP CONSTRAINT ledger_events_chain_fields")
            conn.execute("DROP FUNCTION ledger_events_lock_head()")
    init_ledger(settings)
    assert _all_rows(settings) == before
    if settings.database.backend == "sqlite":
        conn = sqlite3.connect(settings.database.path)
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'stored_events_append_at_head'"
        ).fetchall()
        conn.close()
        assert found
    else:
        with pg_connect(postgres_urls_or_none.owner) as conn:
            conn.execute(f"SET search_path TO {settings.postgres_schema}")
            assert conn.execute(
                "SELECT count(*) FROM pg_constraint WHERE conname = 'ledger_events_chain_fields'"
                " AND connamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s)",
                (settings.postgres_schema,),
            ).fetchone() == (1,)
            conn.execute("SELECT to_regprocedure('ledger_events_lock_head()')")
    Ledger(settings).append(1)
    assert full_report(settings).count == 6


def _all_rows(settings: Settings) -> list[Any]:
    reader = open_reader(settings)
    try:
        return [row for batch in reader.iter_batches(None, 100) for row in batch]
    finally:
        reader.close()


@pytest.fixture
def postgres_urls_or_none(request: pytest.FixtureRequest, settings: Settings) -> Any:
    if settings.database.backend == "postgresql":
        return request.getfixturevalue("postgres_urls")
    return None


# ------------------------------------------------------------ grants per role (§6.2, C2)


def _test_role(postgres_urls: PostgresURLs, name: str) -> str:
    """A login role for this test file only, made once for the cluster; its URL."""
    with pg_connect(postgres_urls.admin) as conn:
        conn.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') "
            f"THEN CREATE ROLE {name} LOGIN; END IF; END $$"
        )
    return postgres_urls.admin.replace("postgres@", f"{name}@")


def test_the_reader_role_reads_the_chain_and_the_tree_and_writes_nothing(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    from ledger.grants import grant_reader_role  # noqa: PLC0415
    from ledger.tree import open_ledger_tree  # noqa: PLC0415

    ledger = Ledger(postgres_settings)
    ledger.append(5)
    ledger.close()
    with open_ledger_tree(postgres_settings) as tree:
        tree.integrate()
    url = _test_role(postgres_urls, "govledger_chain_test_reader")
    grant_reader_role(postgres_settings, "govledger_chain_test_reader")
    with pg_connect(url) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        for table in ("ledger_events", "ledger_events_genesis", "ledger_events_head",
                      "ledger_events_tree"):  # fmt: skip
            conn.execute(f"SELECT * FROM {table} LIMIT 1")
        for statement in (
            "INSERT INTO ledger_events SELECT * FROM ledger_events LIMIT 1",
            "UPDATE ledger_events_head SET position = 0",
            "INSERT INTO ledger_events_tree VALUES (9, 9, '')",
            "SELECT * FROM ledger_events_lock_head()",
            "CREATE TABLE ledger_events_mine (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    reader_settings = postgres_settings.with_overrides(database_url=url, create_schema=False)
    assert full_report(reader_settings).count == 5, "the verifier needs nothing more"


def test_the_service_role_integrates_the_tree_but_cannot_change_it(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    from ledger.grants import grant_service_role  # noqa: PLC0415
    from ledger.tree import open_ledger_tree  # noqa: PLC0415

    ledger = _as_app(postgres_settings, postgres_urls)
    ledger.append(5)
    ledger.close()
    grant_service_role(postgres_settings, "govledger_app")
    as_app = postgres_settings.with_overrides(database_url=postgres_urls.app, create_schema=False)
    with open_ledger_tree(as_app) as tree:
        assert tree.integrate() == 5
    with pg_connect(postgres_urls.app) as conn:
        conn.execute(f"SET search_path TO {postgres_settings.postgres_schema}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM ledger_events_tree")
        with pytest.raises(psycopg.errors.CheckViolation, match="never change"):
            conn.execute("UPDATE ledger_events_tree SET hashes = substring(hashes from 2)")
        with pytest.raises(psycopg.errors.CheckViolation, match="do not follow from the rows"):
            conn.execute("INSERT INTO ledger_events_tree VALUES (0, 7, %s)", (b"\x01" * 32,))


def test_sqlite_bounds_without_count_probe_the_key_only(sqlite_settings: Settings) -> None:
    """The tree's check before each integration (every proof page) asks the bounds without a
    count: the same low and high, read by two key probes, not a scan of the whole log."""
    ledger = Ledger(sqlite_settings)
    ledger.append(5)
    ledger.close()
    reader: Any = open_reader(sqlite_settings)
    traced: list[str] = []
    try:
        full, quick = reader.bounds(), reader.bounds(count=False)
        reader.conn.set_trace_callback(traced.append)
        reader.bounds(count=False)
        plan = [
            row[-1]
            for sql in traced
            for row in reader.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        ]
    finally:
        reader.close()
    assert (quick.low, quick.high) == (full.low, full.high) == (1, 5)
    assert full.count == 5
    assert plan and not [step for step in plan if step.startswith("SCAN stored_events")], plan
