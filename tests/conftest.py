"""Fixtures shared by every test package: ledgers on both backends, real PostgreSQL.

PostgreSQL comes from ``make test`` (ops/scripts/test-postgres.sh), which
exports ``GOVLEDGER_TEST_DATABASE_URL`` (owner role),
``GOVLEDGER_TEST_APP_DATABASE_URL`` (least-privileged application role) and
``GOVLEDGER_TEST_ADMIN_DATABASE_URL`` (superuser, playing the attacker). Each
test gets its own schema, dropped afterwards. Without those variables the
PostgreSQL tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.chain import entry_input, genesis_hash, hash_function
from ledger.config import DatabaseURL, Settings
from ledger.store.connect import application_env, init_ledger, postgres_conninfo

# Beside the clone (/work/shared for /work/main); GOVLEDGER_SHARED_DIR for a worktree elsewhere.
SHARED_DIR = Path(
    os.environ.get("GOVLEDGER_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared"
)


def require_shared(path: str) -> Path:
    """A file under ../shared/, or a skip (a failure under CI) when it is absent."""
    target = SHARED_DIR / path
    if not target.exists():
        reason = f"{target} is absent: the shared test vectors are not beside this clone"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return target


@dataclass(frozen=True)
class PostgresURLs:
    owner: str
    app: str
    admin: str


@pytest.fixture(scope="session")
def postgres_urls() -> PostgresURLs:
    owner = os.environ.get("GOVLEDGER_TEST_DATABASE_URL")
    if not owner:
        reason = "GOVLEDGER_TEST_DATABASE_URL is unset: run the suite with `make test`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {reason}")
        pytest.skip(reason)
    urls = PostgresURLs(
        owner=owner,
        app=os.environ.get("GOVLEDGER_TEST_APP_DATABASE_URL", owner),
        admin=os.environ.get("GOVLEDGER_TEST_ADMIN_DATABASE_URL", owner),
    )
    try:
        psycopg.connect(**postgres_conninfo(DatabaseURL.parse(owner)), connect_timeout=5).close()
    except psycopg.OperationalError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI and does not answer: {e}")
        pytest.skip(f"PostgreSQL does not answer: {e}")
    return urls


def pg_connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(**postgres_conninfo(DatabaseURL.parse(url)), autocommit=True)


@contextmanager
def fresh_schema(postgres_urls: PostgresURLs, prefix: str = "t_") -> Iterator[str]:
    """A new schema owned by the owner role, dropped (with all in it) on leaving."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    with pg_connect(postgres_urls.owner) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        with pg_connect(postgres_urls.admin) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def pg_schema(postgres_urls: PostgresURLs) -> Iterator[str]:
    """A fresh schema owned by the owner role, dropped after the test."""
    with fresh_schema(postgres_urls) as name:
        yield name


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", state_dir=str(tmp_path / "state")
    )


@pytest.fixture
def postgres_settings(postgres_urls: PostgresURLs, pg_schema: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=postgres_urls.owner,
        postgres_schema=pg_schema,
        state_dir=str(tmp_path / "state"),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest) -> Settings:
    """A ledger location on each backend; the ledger itself is created by ``ledger``."""
    name = "sqlite_settings" if request.param == "sqlite" else "postgres_settings"
    value: Settings = request.getfixturevalue(name)
    return value


def make_events(count: int, state_size: int = 64) -> list[StoredEvent]:
    """Events of distinct aggregates, like independent reports from the exchange platform."""
    return [
        StoredEvent(
            originator_id=uuid.uuid4(),
            originator_version=1,
            topic="tests.ledger:Access.Recorded",
            state=os.urandom(state_size),
        )
        for _ in range(count)
    ]


class Ledger:
    """A chained recorder opened through the same path the service uses."""

    def __init__(self, settings: Settings) -> None:
        from eventsourcing.persistence import InfrastructureFactory  # noqa: PLC0415
        from eventsourcing.utils import Environment  # noqa: PLC0415

        self.settings = settings
        init_ledger(settings)
        self.factory = InfrastructureFactory.construct(
            Environment(env=application_env(settings, create=False))
        )
        self.recorder: Any = self.factory.application_recorder()

    def append(self, count: int, per_transaction: int = 1) -> None:
        events = make_events(count)
        for i in range(0, count, per_transaction):
            self.recorder.insert_events(events[i : i + per_transaction])

    def close(self) -> None:
        self.factory.close()


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    opened = Ledger(settings)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_ledger(sqlite_settings: Settings) -> Iterator[Ledger]:
    """A ledger on SQLite only: for what only that store does."""
    opened = Ledger(sqlite_settings)
    yield opened
    opened.close()


@pytest.fixture
def pg_ledger(postgres_settings: Settings) -> Iterator[Ledger]:
    """A ledger on PostgreSQL only (skips as ``postgres_urls`` does)."""
    opened = Ledger(postgres_settings)
    yield opened
    opened.close()


class Attacker:
    """Someone with full database access who bypasses the database's guards: the
    append-only and append-at-head triggers, and on PostgreSQL the constraints on the
    chain's fields (ledger-format §6.1). The one way tests tamper with a ledger."""

    def __init__(self, settings: Settings, admin_url: str | None) -> None:
        db = settings.database
        self.settings = settings
        self.backend = db.backend
        if db.backend == "sqlite":
            self.sqlite = sqlite3.connect(db.path, isolation_level=None)
            for (name,) in self.sqlite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).fetchall():
                self.sqlite.execute(f"DROP TRIGGER {name}")
            self.table, self.pos = "stored_events", "rowid"
        else:
            assert admin_url is not None
            self.pg = pg_connect(admin_url)
            self.pg.execute(f"SET search_path TO {settings.postgres_schema}")
            # Replica mode skips user triggers: what a superuser can always do.
            self.pg.execute("SET session_replication_role = replica")
            self.pg.execute(
                "ALTER TABLE ledger_events DROP CONSTRAINT IF EXISTS ledger_events_chain_fields"
            )
            self.table, self.pos = "ledger_events", "notification_id"

    def execute(
        self, sql: str, params: tuple[Any, ...] = (), *, cover_head: bool = True
    ) -> list[tuple[Any, ...]]:
        """Run ``sql`` ({t}: the event table, {pos}: its position column). On PostgreSQL the
        attacker then also moves the head record onto the last row, as anyone rewriting the
        table would (``cover_head=False`` leaves it, to tamper with it on its own)."""
        sql = sql.format(t=self.table, pos=self.pos)
        if self.backend == "sqlite":
            return self.sqlite.execute(sql, params).fetchall()
        cursor = self.pg.execute(sql.replace("?", "%s"), params)
        found = cursor.fetchall() if cursor.description else []
        if cover_head and not sql.lstrip().upper().startswith("SELECT"):
            self.pg.execute(
                "UPDATE ledger_events_head SET "
                "position = coalesce((SELECT max(notification_id) FROM ledger_events), 0), "
                "hash = coalesce((SELECT hash FROM ledger_events ORDER BY notification_id DESC "
                "LIMIT 1), (SELECT genesis_hash FROM ledger_events_genesis))"
            )
        return found

    def row(self, position: int) -> tuple[Any, ...]:
        rows = self.execute(
            "SELECT originator_id, originator_version, topic, state, prev_hash, hash "
            "FROM {t} WHERE {pos} = ?",
            (position,),
        )
        return tuple(bytes(v) if isinstance(v, memoryview) else v for v in rows[0])

    def insert(self, position: int, fields: tuple[Any, ...], *, cover_head: bool = True) -> None:
        self.execute(
            "INSERT INTO {t} ({pos}, originator_id, originator_version, topic, state, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (position, *fields),
            cover_head=cover_head,
        )

    def allow_duplicate_positions(self) -> None:
        """Drop what keeps one row a position (PostgreSQL's unique index; SQLite has none)."""
        assert self.backend == "postgresql", "an SQLite rowid is the table's key"
        self.execute("DROP INDEX IF EXISTS ledger_events_notification_id_idx")

    def shift_up_from(self, position: int) -> None:
        # Through negative positions: a direct +1 would collide with the unique index.
        self.execute("UPDATE {t} SET {pos} = -({pos} + 1) WHERE {pos} >= ?", (position,))
        self.execute("UPDATE {t} SET {pos} = -{pos} WHERE {pos} < 0")

    def genesis_table(self) -> str:
        return f"{self.table}_genesis"

    def chain_of(self) -> tuple[Any, bytes]:
        """The ledger's digest function and genesis hash, as an attacker reads them."""
        algorithm, genesis = self.execute(
            f"SELECT hash_algorithm, genesis_hash FROM {self.genesis_table()}"
        )[0]
        return hash_function(algorithm), bytes(genesis)

    def rows_from(self, position: int) -> list[tuple[Any, ...]]:
        """Rows at ``position`` and after, ``(position, oid text, version, topic, state,
        prev, hash)``, as stored."""
        found = self.execute(
            "SELECT {pos}, originator_id, originator_version, topic, state, prev_hash, hash "
            "FROM {t} WHERE {pos} >= ? ORDER BY {pos}",
            (position,),
        )
        return [
            tuple(
                v.hex if isinstance(v, uuid.UUID) else bytes(v) if isinstance(v, memoryview) else v
                for v in row
            )
            for row in found
        ]

    def rechain_from(self, position: int) -> None:
        """Recompute ``prev_hash`` and ``hash`` of every row from ``position`` on, so the
        chain agrees with itself again: a forger who knows the format (§4)."""
        digest, genesis = self.chain_of()
        before = self.rows_from(position - 1)[0][6] if position > 1 else genesis
        rows = self.rows_from(position)
        for row in rows:
            new = digest(entry_input(row[0], before, row[1], row[2], row[3], row[4]))
            self.execute(
                "UPDATE {t} SET prev_hash = ?, hash = ? WHERE {pos} = ?", (before, new, row[0])
            )
            before = new

    def replace_tail(self, position: int, count: int | None = None) -> None:
        """Cut the rows from ``position`` on and append ``count`` forged rows (as many as were
        cut by default), chained onto the row before: the tail replaced, every hash valid."""
        cut = self.rows_from(position)
        self.execute("DELETE FROM {t} WHERE {pos} >= ?", (position,))
        digest, genesis = self.chain_of()
        before = self.rows_from(position - 1)[0][6] if position > 1 else genesis
        for offset in range(len(cut) if count is None else count):
            oid = uuid.uuid4()
            state = b'{"forged":' + str(offset).encode() + b"}"
            new = digest(entry_input(position + offset, before, oid.hex, 1, "t:Forged", state))
            stored_oid: Any = oid if self.backend == "postgresql" else oid.hex
            self.insert(position + offset, (stored_oid, 1, "t:Forged", state, before, new))
            before = new

    def rewrite_genesis(self, created_at: str) -> None:
        """A new, self-consistent genesis record (same ledger id, another time), the whole
        chain recomputed onto it: nothing in the database disagrees."""
        table = self.genesis_table()
        ledger_id, algorithm = self.execute(f"SELECT ledger_id, hash_algorithm FROM {table}")[0]
        new = genesis_hash(ledger_id, created_at, algorithm)
        self.execute(f"UPDATE {table} SET created_at = ?, genesis_hash = ?", (created_at, new))
        self.rechain_from(1)

    def replace_ledger(self, rows: int) -> None:
        """Another ledger at the same place: everything dropped (the proof tables too) and a
        new ledger, with a new id and ``rows`` rows of valid hashes, made in its stead."""
        if self.backend == "sqlite":
            names = self.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            for (name,) in names:
                self.execute(f'DROP TABLE "{name}"')
        else:
            for (name,) in self.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ):
                self.execute(f'DROP TABLE "{name}" CASCADE', cover_head=False)
        replacement = Ledger(self.settings)
        replacement.append(rows)
        replacement.close()

    def empty_proof_tables(self) -> None:
        """Delete every checkpoint, cosignature and tree node."""
        for suffix in ("cosignatures", "checkpoints", "tree"):
            self.execute(f"DELETE FROM {self.table}_{suffix}", cover_head=False)

    def set_head_record(self, position: int, head_hash: bytes) -> None:
        assert self.backend == "postgresql", "SQLite keeps no head record"
        self.execute(
            "UPDATE ledger_events_head SET position = ?, hash = ?",
            (position, head_hash),
            cover_head=False,
        )

    def close(self) -> None:
        if self.backend == "sqlite":
            self.sqlite.close()
        else:
            self.pg.close()


@pytest.fixture
def attacker(request: pytest.FixtureRequest, ledger: Ledger) -> Iterator[Attacker]:
    admin = None
    if ledger.settings.database.backend == "postgresql":
        admin = request.getfixturevalue("postgres_urls").admin
    who = Attacker(ledger.settings, admin)
    yield who
    who.close()
