"""eventsourcing's own recorder test cases, run against the chained recorders.

The chained store must remain a correct eventsourcing recorder: contiguous
notification ids, selection, tracking, concurrency. The base classes are
deleted from this module's namespace after use so pytest does not collect
them on their own (as the library's own tests do).
"""

from __future__ import annotations

import os
import uuid
from typing import Any, ClassVar

import pytest
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    ProcessRecorderTestCase,
)

from ledger.config import DatabaseURL
from ledger.store.postgres import ChainedPostgresApplicationRecorder, ChainedPostgresProcessRecorder
from ledger.store.sqlite import ChainedSQLiteApplicationRecorder, ChainedSQLiteProcessRecorder
from tests.conftest import pg_connect

# ---------------------------------------------------------------------- SQLite


class _SQLiteFile:
    db_path: str

    def setUp(self) -> None:
        self.db_path = f"/tmp/govledger-es-suite-{uuid.uuid4().hex}.db"

    def tearDown(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db_path + suffix):
                os.remove(self.db_path + suffix)


class TestChainedSQLiteApplicationRecorder(_SQLiteFile, ApplicationRecorderTestCase[Any]):
    def create_recorder(self) -> ChainedSQLiteApplicationRecorder:
        recorder = ChainedSQLiteApplicationRecorder(SQLiteDatastore(self.db_path))
        recorder.create_table()
        return recorder


class TestChainedSQLiteProcessRecorder(_SQLiteFile, ProcessRecorderTestCase):
    def create_recorder(self) -> ChainedSQLiteProcessRecorder:
        recorder = ChainedSQLiteProcessRecorder(SQLiteDatastore(self.db_path))
        recorder.create_table()
        return recorder


# ------------------------------------------------------------------ PostgreSQL


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_urls")
class _PostgresSchema:
    """A fresh schema per test; the library's own drop_tables helper is not in the wheel."""

    owner_url: ClassVar[str] = ""
    admin_url: ClassVar[str] = ""
    schema: str
    datastores: list[Any]

    @pytest.fixture(autouse=True)
    def _urls(self, postgres_urls: Any) -> None:
        type(self).owner_url = postgres_urls.owner
        type(self).admin_url = postgres_urls.admin

    def setUp(self) -> None:
        self.schema = f"es_{uuid.uuid4().hex[:12]}"
        self.datastores = []

    def datastore(self) -> Any:
        from eventsourcing.postgres import PostgresDatastore  # noqa: PLC0415

        if not self.datastores:
            with pg_connect(self.owner_url) as conn:
                conn.execute(f"CREATE SCHEMA {self.schema}")
        db = DatabaseURL.parse(self.owner_url)
        datastore = PostgresDatastore(
            dbname=db.dbname,
            host=db.host,
            port=db.port,
            user=db.user,
            password=db.password,
            schema=self.schema,
            pool_size=4,
            max_overflow=10,
        )
        self.datastores.append(datastore)
        return datastore

    def tearDown(self) -> None:
        for datastore in self.datastores:
            datastore.close()
        if self.datastores:
            with pg_connect(self.admin_url) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


class TestChainedPostgresApplicationRecorder(_PostgresSchema, ApplicationRecorderTestCase[Any]):
    def create_recorder(self) -> ChainedPostgresApplicationRecorder:
        recorder = ChainedPostgresApplicationRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestChainedPostgresProcessRecorder(_PostgresSchema, ProcessRecorderTestCase):
    def create_recorder(self) -> ChainedPostgresProcessRecorder:
        recorder = ChainedPostgresProcessRecorder(self.datastore())
        recorder.create_table()
        return recorder


del ApplicationRecorderTestCase, ProcessRecorderTestCase
