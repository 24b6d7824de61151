"""From settings to a store: the eventsourcing environment, recorders and row readers.

The only place that maps ``GOVLEDGER_DATABASE_URL`` onto eventsourcing's own
environment keys, so every command and the service open the same store the
same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from ledger.chain import Genesis
from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from ledger.store.base import HASH_ALGORITHM_KEY, VerifiableReader
from ledger.store.conninfo import postgres_conninfo
from ledger.tree_nodes import ensure_tree_guards

__all__ = ["application_env", "init_ledger", "ledger_head", "open_reader", "postgres_conninfo"]


def application_env(settings: Settings, *, create: bool | None = None) -> dict[str, str]:
    """Every eventsourcing key the chained store needs, set explicitly.

    Explicit values win over the process environment, which eventsourcing
    also reads: a stray ``POSTGRES_ENABLE_DB_FUNCTIONS`` cannot leak in.
    """
    db = settings.database
    create_schema = settings.create_schema if create is None else create
    env = {
        HASH_ALGORITHM_KEY: settings.hash_algorithm,
        "CREATE_TABLE": "y" if create_schema else "n",
        "APPLICATION_RECORDER_TOPIC": "",
        "PROCESS_RECORDER_TOPIC": "",
    }
    if db.backend == "sqlite":
        if db.path != ":memory:" and create_schema:
            Path(db.path).parent.mkdir(parents=True, exist_ok=True)
        env.update(PERSISTENCE_MODULE="ledger.store.sqlite", SQLITE_DBNAME=db.path)
    else:
        env.update(
            PERSISTENCE_MODULE="ledger.store.postgres",
            POSTGRES_DBNAME=db.dbname,
            POSTGRES_HOST=db.host_list,
            POSTGRES_PORT=db.port_list,
            POSTGRES_TARGET_SESSION_ATTRS=db.target_session_attrs,
            POSTGRES_USER=db.user,
            POSTGRES_PASSWORD=db.password,
            POSTGRES_SCHEMA=settings.postgres_schema,
            POSTGRES_POOL_SIZE=str(settings.postgres_pool_size),
            # How long a request waits for a pooled connection (then 503, docs/security.md);
            # pre-ping replaces connections a database restart broke instead of failing on them.
            POSTGRES_CONNECT_TIMEOUT=str(settings.postgres_timeout_seconds),
            POSTGRES_PRE_PING="y",
            POSTGRES_ENABLE_DB_FUNCTIONS="n",
        )
    return env


def open_reader(settings: Settings) -> VerifiableReader:
    """A read-only view of the chain; never creates or changes anything."""
    db = settings.database
    if db.backend == "sqlite":
        from ledger.store.sqlite import SQLiteRowReader  # noqa: PLC0415 - one backend per run

        return SQLiteRowReader(db.path)
    from ledger.store.postgres_reader import PostgresRowReader  # noqa: PLC0415

    return PostgresRowReader(postgres_conninfo(db), settings.postgres_schema)


def ledger_head(settings: Settings) -> int:
    """The ledger's newest position (0 when empty), read and the reader closed again."""
    reader = open_reader(settings)
    try:
        return reader.max_position()
    finally:
        reader.close()


def init_ledger(settings: Settings, app_role: str = "") -> Genesis:
    """Create the schema and genesis record if absent (idempotent); grant the app role."""
    factory = InfrastructureFactory.construct(
        Environment(env=application_env(settings, create=True))
    )
    try:
        recorder: Any = factory.application_recorder()
        role = app_role or settings.postgres_app_role
        if role:
            if settings.database.backend != "postgresql":
                raise StoreUnavailableError("an application role applies to PostgreSQL only")
            recorder.grant_append_role(role)
        ensure_tree_guards(settings)  # a ledger made before the tree's guards gets them here
        genesis: Genesis = recorder.genesis
        return genesis
    finally:
        factory.close()
