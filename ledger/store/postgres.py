"""Chained recorders on PostgreSQL (docs/ledger-format.md §2, §6).

The position is the ``notification_id`` column, assigned by the writer. The
head lives in a one-row table ``<events>_head``; one statement both moves the
head *if it is still where the writer expected* and inserts the rows *only if*
it moved (a data-modifying CTE). The head row's lock serialises writers, so
insert order is commit order; a stale expectation inserts nothing and is
retried after re-reading the head. A writer that is alone never reads the head:
it remembers where its own last batch ended.

Any exception inside the transaction propagates through ``conn.transaction()``
and rolls it back at the database: no event is stored without its chain
fields (eventsourcing-notes pitfall 1). Database-side insert functions are
refused (pitfall 2): they would bypass the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing import postgres as es_postgres
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
)
from eventsourcing.utils import resolve_topic, retry
from psycopg import Connection, Cursor
from psycopg.errors import UniqueViolation
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger.chain import Digest, Genesis, RowTuple, chain_rows, hash_function
from ledger.errors import (
    ChainWriteError,
    ConfigurationError,
    ForeignStoreError,
    StoreUnavailableError,
)
from ledger.store.base import (
    HASH_ALGORITHM_KEY,
    NewAggregates,
    NotificationsFromOne,
    chain_input,
    check_requested_algorithm,
    genesis_from_row,
    new_genesis,
)
from ledger.store.conninfo import session_options
from ledger.store.postgres_ddl import APPEND_FUNCTION, grant_statements
from ledger.store.postgres_failover import CONNECT_TIMEOUT_SECONDS, failing_fast
from ledger.store.postgres_head import WriterHead
from ledger.store.postgres_stream import append_params, insert_new_stream

LEDGER_EVENTS_TABLE = "ledger_events"
TARGET_SESSION_ATTRS_KEY = "POSTGRES_TARGET_SESSION_ATTRS"


class _HeadMovedError(Exception):
    """Another writer committed first: this batch inserted nothing and must be re-chained."""


class _AlreadyStoredError(Exception):
    """Some originators of an only-new batch have events: nothing was inserted."""

    def __init__(self, found: set[UUID]) -> None:
        super().__init__(f"{len(found)} originators already stored")
        self.found = found


class ChainedPostgresApplicationRecorder(
    WriterHead, NotificationsFromOne, PostgresApplicationRecorder
):
    """PostgreSQL application recorder whose rows form the hash chain; what it knows of the
    head, and whether it writes alone: ``WriterHead`` (ledger/store/postgres_head.py)."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        hash_algorithm: str | None = None,
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            raise ConfigurationError(
                "POSTGRES_ENABLE_DB_FUNCTIONS inserts without the hash chain; it must be off"
            )
        self.requested_algorithm = hash_algorithm
        self.genesis_table_name = f"{self.events_table_name}_genesis"
        self.head_table_name = f"{self.events_table_name}_head"
        self.append_function_name = f"{self.events_table_name}_append"
        self.lock_function_name = f"{self.events_table_name}_lock_head"
        self.check_identifier_length(self.genesis_table_name)
        self.check_identifier_length(self.lock_function_name)
        # The domain model reads positions >= 1 only, as verify does (ledger-format §2).
        self.select_events_statement = SQL(
            "SELECT * FROM {} WHERE notification_id >= 1 AND originator_id = %s"
        ).format(self._ident(self.events_table_name))
        self._genesis: Genesis | None = None
        self._init_writer_head()
        self._rewrite_create_statements()
        # One primary-key probe per id: the LIMIT keeps the planner from turning this
        # into a join, which it did as a sequential scan of the whole ledger.
        self._select_existing = SQL(
            "SELECT u.originator_id FROM unnest(%(o)b::{}[]) AS u(originator_id), "
            "LATERAL (SELECT 1 FROM {} AS e WHERE e.originator_id = u.originator_id "
            "AND e.notification_id >= 1 LIMIT 1) AS stored"
        ).format(Identifier(self.datastore.originator_id_type), self._ident(self.events_table_name))
        self._select_position = SQL(
            "SELECT notification_id FROM {} WHERE originator_id = ANY(%(o)b::{}[]) "
            "AND originator_version = %(v)s AND notification_id >= 1"
        ).format(self._ident(self.events_table_name), Identifier(self.datastore.originator_id_type))
        self._append_statement = SQL(
            "SELECT inserted, found_ids AS found FROM {}(%(position)s, %(hash)s, "
            "%(o)b::{}[], %(v)b::bigint[], %(t)b::text[], %(s)b::bytea[], %(p)b::bytea[], "
            "%(h)b::bytea[], %(only_new)s)"
        ).format(
            self._ident(self.append_function_name),
            Identifier(self.datastore.originator_id_type),
        )
        self._notify = SQL("NOTIFY {}").format(Identifier(self.channel_name))
        self._lock_head = SQL(
            "SELECT head_position AS position, head_hash AS hash FROM {}()"
        ).format(self._ident(self.lock_function_name))

    # ------------------------------------------------------------------ schema

    def _ident(self, name: str) -> Composed:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(name))

    def _rewrite_create_statements(self) -> None:
        events = self._ident(self.events_table_name)
        oid_type = Identifier(self.datastore.originator_id_type)
        table = SQL(
            "CREATE TABLE IF NOT EXISTS {} (originator_id {} NOT NULL, "
            "originator_version bigint NOT NULL, topic text, state bytea, "
            "notification_id bigint NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version))"
        ).format(events, oid_type)
        statements = [table] + [
            s
            for i, s in enumerate(self.sql_create_statements)
            if i != self.create_table_statement_index
            and s is not self.sql_create_pg_function_insert_events
        ]
        self.sql_create_statements = statements + self._chain_statements()

    def _chain_statements(self) -> list[Composed]:
        genesis, head = self._ident(self.genesis_table_name), self._ident(self.head_table_name)
        refuse = self._ident("govledger_refuse_change")
        statements = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (singleton int PRIMARY KEY CHECK (singleton = 1), "
                "format_version int NOT NULL, ledger_id text NOT NULL, created_at text NOT NULL, "
                "hash_algorithm text NOT NULL, genesis_hash bytea NOT NULL)"
            ).format(genesis),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (singleton int PRIMARY KEY CHECK (singleton = 1), "
                "position bigint NOT NULL CHECK (position >= 0), "
                "hash bytea NOT NULL CHECK (octet_length(hash) = 32))"
            ).format(head),
            SQL(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'govledger: % on % refused: the ledger is append-only', "
                "TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$"
            ).format(refuse),
        ]
        for name in (self.events_table_name, self.genesis_table_name):
            statements += [
                SQL(
                    "CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE ON {} "
                    "FOR EACH ROW EXECUTE FUNCTION {}()"
                ).format(Identifier(f"{name}_append_only"), self._ident(name), refuse),
                SQL(
                    "CREATE OR REPLACE TRIGGER {} BEFORE TRUNCATE ON {} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
                ).format(Identifier(f"{name}_no_truncate"), self._ident(name), refuse),
            ]
        return [*statements, self._fields_constraint(), *self._append_functions()]

    def _fields_constraint(self) -> Composed:
        """Positions >= 1, no NULL topic or state, 32-byte hashes: for every role (§6.1).

        Added once, also to a ledger created before it; PostgreSQL checks the stored rows.
        """
        name = f"{self.events_table_name}_chain_fields"
        return SQL(
            "DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint "
            "WHERE conrelid = {regclass}::regclass AND conname = {name}) THEN "
            "ALTER TABLE {events} ADD CONSTRAINT {ident} CHECK (notification_id >= 1 "
            "AND topic IS NOT NULL AND state IS NOT NULL "
            "AND octet_length(prev_hash) = 32 AND octet_length(hash) = 32); "
            "END IF; END $do$"
        ).format(
            regclass=Literal(f'"{self.datastore.schema}"."{self.events_table_name}"'),
            name=Literal(name),
            events=self._ident(self.events_table_name),
            ident=Identifier(name),
        )

    def _append_functions(self) -> list[Composed]:
        """The only way the service inserts events and moves the head (ledger-format §6.1)."""
        events, head = self._ident(self.events_table_name), self._ident(self.head_table_name)
        append, lock = self._ident(self.append_function_name), self._ident(self.lock_function_name)
        oid = Identifier(self.datastore.originator_id_type)
        return [
            SQL(APPEND_FUNCTION).format(append=append, events=events, head=head, oid=oid),
            SQL(
                "CREATE OR REPLACE FUNCTION {lock}() "
                "RETURNS TABLE (head_position bigint, head_hash bytea) LANGUAGE sql "
                "SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$ "
                "SELECT hd.position, hd.hash FROM {head} AS hd WHERE hd.singleton = 1 FOR UPDATE "
                "$fn$"
            ).format(lock=lock, head=head),
            SQL(
                "REVOKE ALL ON FUNCTION {append}(bigint, bytea, {oid}[], bigint[], text[], "
                "bytea[], bytea[], bytea[], boolean) FROM PUBLIC"
            ).format(append=append, oid=oid),
            SQL("REVOKE ALL ON FUNCTION {}() FROM PUBLIC").format(lock),
        ]

    def create_table(self) -> None:
        self._refuse_foreign_schema()
        with self.datastore.transaction(commit=True) as curs:
            # Serialise concurrent creators: CREATE OR REPLACE FUNCTION is not concurrency-safe.
            curs.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"govledger:{self.datastore.schema}.{self.events_table_name}",),
            )
            self._create_table(curs)
            g = new_genesis(self.requested_algorithm)
            curs.execute(
                SQL("INSERT INTO {} VALUES (1, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(
                    self._ident(self.genesis_table_name)
                ),
                (g.format_version, g.ledger_id, g.created_at, g.hash_algorithm, g.genesis_hash),
            )
            curs.execute(
                SQL(
                    "INSERT INTO {} SELECT 1, 0, genesis_hash FROM {} ON CONFLICT DO NOTHING"
                ).format(self._ident(self.head_table_name), self._ident(self.genesis_table_name))
            )
        self.datastore.register_type_adapters()
        self.load_genesis()

    def _refuse_foreign_schema(self) -> None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT to_regclass(%s) AS events, to_regclass(%s) AS genesis",
                (
                    f'"{self.datastore.schema}"."{self.events_table_name}"',
                    f'"{self.datastore.schema}"."{self.genesis_table_name}"',
                ),
            )
            found = curs.fetchone()
        if found and found["events"] and not found["genesis"]:
            raise ForeignStoreError(
                f"table {self.events_table_name} exists without a genesis record: "
                "not a govledger ledger"
            )

    def load_genesis(self) -> Genesis:
        """Read the genesis record; refuse a setting that contradicts it."""
        try:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute(SQL("SELECT * FROM {}").format(self._ident(self.genesis_table_name)))
                row = curs.fetchone()
        except ProgrammingError as e:
            raise ForeignStoreError("no govledger ledger here (run `govledger init`)") from e
        if row is None:
            raise ForeignStoreError("the ledger has no genesis record (run `govledger init`)")
        genesis = genesis_from_row(row)
        check_requested_algorithm(genesis, self.requested_algorithm)
        self._genesis = genesis
        return genesis

    @property
    def genesis(self) -> Genesis:
        return self._genesis or self.load_genesis()

    def grant_append_role(self, role: str) -> None:
        """The service's role (ledger-format §6.2): reads the chain, appends only through
        the append function. No INSERT on the events, no UPDATE on the head, nothing
        else on these tables."""
        self._grant(role, writer=True)

    def grant_read_role(self, role: str) -> None:
        """The projection worker's, the verifier's and backup's role (§6.2): reads the chain."""
        self._grant(role, writer=False)

    def _grant(self, role: str, *, writer: bool) -> None:
        tables = [self.events_table_name, self.genesis_table_name, self.head_table_name]
        statements = grant_statements(
            self.datastore.schema,
            role,
            [self._ident(name) for name in tables],
            (self._ident(self.append_function_name), self._ident(self.lock_function_name)),
            self.datastore.originator_id_type,
            writer=writer,
        )
        with self.datastore.transaction(commit=True) as curs:
            for statement in statements:
                curs.execute(statement)

    # ------------------------------------------------------------------ writes

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # Retrying after a lost connection cannot duplicate: a batch that did commit
        # conflicts on (originator_id, originator_version) when chained again.
        return self._write(stored_events, only_new=False, **kwargs).ids

    def insert_new_stream(self, chunks: Iterable[Sequence[StoredEvent]]) -> NewAggregates:
        """``insert_new_aggregates`` of the chunks' events, each chunk sent on as it is built
        (ledger/store/postgres_stream.py): the database inserts one while the next is built."""
        return insert_new_stream(self, chunks)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_new_aggregates(
        self, stored_events: Sequence[StoredEvent], *, checked: bool = False
    ) -> NewAggregates:
        """Insert, in one transaction, the events whose originator has no events yet.

        Idempotent batch ingestion: the existence check travels inside the
        insert statement (one round trip for a fresh batch). Found originators
        are left out and the rest is chained again, so positions stay gapless.
        A retry after a lost connection finds what did commit and skips it.
        ``checked``: ask first (the batch is known to hold stored originators).
        """
        return self._write(stored_events, only_new=True, checked=checked)

    def _write(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        only_new: bool,
        checked: bool = False,
        **kwargs: Any,
    ) -> NewAggregates:
        """Chain and insert; ``only_new``: leave out the originators already stored.

        A batch of events that each create their aggregate (version 1) is inserted
        unchecked first, as on SQLite: the insert probes the (originator_id,
        originator_version) key of every row anyway, so the usual batch, all new,
        needs no existence query. One holding a stored originator (a retry) fails on
        that key, is rolled back whole, and goes again checked, under the head's lock.
        """
        digest = hash_function(self.genesis.hash_algorithm)
        pending: list[StoredEvent] = list(stored_events)
        with self.datastore.get_connection() as conn:
            try:
                creations = pending and all(e.originator_version == 1 for e in pending)
                if only_new and not checked and creations:
                    try:
                        return self._write_once(conn, digest, pending, False, **kwargs)
                    except UniqueViolation:
                        pass  # a stored originator: nothing was written; now checked
                return self._write_once(conn, digest, pending, only_new, **kwargs)
            except BaseException:
                self._forget_head()
                raise

    def _write_once(
        self,
        conn: Connection[DictRow],
        digest: Digest,
        pending: list[StoredEvent],
        only_new: bool,
        **kwargs: Any,
    ) -> NewAggregates:
        existing: set[UUID] = set()
        while (head := self._head) is not None and self._optimistic(len(pending)):
            try:
                ids = self._append(conn, digest, head, pending, only_new, **kwargs)
                return NewAggregates(ids, existing)
            except _HeadMovedError:
                self._contended = True
            except _AlreadyStoredError as e:  # nothing written: the head still holds
                existing |= e.found
                pending = _without(pending, e.found)
        written = self._append_locked(conn, digest, pending, only_new, **kwargs)
        return NewAggregates(written.ids, existing | written.existing)

    def _append(
        self,
        conn: Connection[DictRow],
        digest: Digest,
        head: tuple[int, bytes],
        stored_events: Sequence[StoredEvent],
        only_new: bool,
        **kwargs: Any,
    ) -> list[int]:
        """Optimistic: one pipelined round trip, valid only if the head did not move."""
        rows = chain_rows(digest, head[0], head[1], chain_input(stored_events))
        self._will_commit(rows)
        with conn.pipeline(), conn.transaction(), conn.cursor() as curs:
            ids = self._insert_rows(curs, head, rows, stored_events, only_new, **kwargs)
        self._remember_head(rows)
        return ids

    def _append_locked(
        self,
        conn: Connection[DictRow],
        digest: Digest,
        stored_events: Sequence[StoredEvent],
        only_new: bool,
        **kwargs: Any,
    ) -> NewAggregates:
        """Pessimistic: wait for the head row's lock, then chain onto what it holds.

        The existence check is pipelined behind the lock (one round trip); as a
        statement of its own it reads after the lock is granted, so it sees every
        batch committed before ours.
        """
        with (
            conn.pipeline(),
            conn.transaction(),
            conn.cursor() as curs,
            conn.cursor() as check,
        ):
            curs.execute(self._lock_head)
            if only_new and stored_events:
                originators = [e.originator_id for e in stored_events]
                check.execute(self._select_existing, {"o": originators})
            found = curs.fetchone()
            if found is None:
                raise ForeignStoreError("the ledger has no head record (run `govledger init`)")
            existing = (
                {r["originator_id"] for r in check.fetchall()}
                if only_new and stored_events
                else set()
            )
            # Filtered only when something was found: a UUID hashes in Python.
            pending = (
                [e for e in stored_events if e.originator_id not in existing]
                if existing
                else list(stored_events)
            )
            head = (int(found["position"]), bytes(found["hash"]))
            # Nobody wrote since this process's last batch: contention is over.
            self._contended = self._contended and not self._wrote_last(head)
            rows = chain_rows(digest, head[0], head[1], chain_input(pending))
            self._will_commit(rows)
            ids = self._insert_rows(curs, head, rows, pending, False, **kwargs)
        self._remember_head(rows)
        return NewAggregates(ids, existing)

    def _insert_rows(
        self,
        curs: Cursor[DictRow],
        head: tuple[int, bytes],
        rows: list[RowTuple],
        stored_events: Sequence[StoredEvent],
        only_new: bool,
        **kwargs: Any,
    ) -> list[int]:
        ids: list[int] = []
        if rows:
            curs.execute(self._notify)
            curs.execute(self._append_statement, append_params(head, rows, stored_events, only_new))
            answer = curs.fetchone()
            if answer is None:
                raise ChainWriteError("the chained insert gave no answer")
            if answer["found"]:
                raise _AlreadyStoredError(set(answer["found"]))
            if answer["inserted"] != len(rows):
                raise _HeadMovedError
            ids = [r[0] for r in rows]
        # Tracking (process recorder) after the events: any failure rolls both back.
        self._insert_events(curs, stored_events, **kwargs)
        return ids

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these aggregates already have events: one query for the whole batch."""
        if not originator_ids:
            return set()
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_existing, {"o": list(originator_ids)})
            return {row["originator_id"] for row in curs.fetchall()}

    def position_of_originator(self, originator_id: UUID, version: int = 1) -> int | None:
        """The position of one aggregate event: a primary-key probe, whatever the ledger's size."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_position, {"o": [originator_id], "v": version})
            row = curs.fetchone()
        return int(row["notification_id"]) if row else None


def _without(events: list[StoredEvent], found: set[UUID]) -> list[StoredEvent]:
    """The events whose originator was not found; refuses to go round in circles."""
    kept = [e for e in events if e.originator_id not in found]
    if len(kept) == len(events):  # e.g. ids of another type than the batch's: never loop
        raise ChainWriteError("the stored originators found match none of the batch")
    return kept


class ChainedPostgresProcessRecorder(PostgresProcessRecorder, ChainedPostgresApplicationRecorder):
    """Process recorder: chained events and the tracking record in one transaction."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
        hash_algorithm: str | None = None,
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        self.requested_algorithm = hash_algorithm


# The module must expose exactly one factory class: eventsourcing finds it by scanning.
class Factory(es_postgres.PostgresFactory):
    """``PERSISTENCE_MODULE=ledger.store.postgres``: eventsourcing's factory, chained."""

    application_recorder_class = ChainedPostgresApplicationRecorder
    process_recorder_class = ChainedPostgresProcessRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # eventsourcing's pool knows host, port, user, password and dbname only: the rest of
        # what a connection needs to follow a primary goes into its connection arguments.
        kwargs = self.datastore.pool.kwargs
        if not isinstance(kwargs, dict):  # eventsourcing always gives a dict
            raise ConfigurationError("the PostgreSQL pool has no connection arguments")
        kwargs.update(session_options(self.env.get(TARGET_SESSION_ATTRS_KEY) or ""))
        kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        self.datastore.get_connection = failing_fast(  # type: ignore[method-assign,assignment]
            self.datastore.get_connection
        )

    def _chained_class(self, key: str, default: type[Any]) -> type[Any]:
        topic = self.env.get(key)
        cls: type[Any] = resolve_topic(topic) if topic else default
        if not issubclass(cls, ChainedPostgresApplicationRecorder):
            raise ConfigurationError(f"{key}={topic} is not a chained recorder")
        return cls

    def _prepare(self, recorder: ChainedPostgresApplicationRecorder) -> None:
        try:
            recorder.create_table() if self.env_create_table() else recorder.load_genesis()
        except (OperationalError, InterfaceError) as e:
            raise StoreUnavailableError(f"cannot use PostgreSQL: {e}") from e

    def application_recorder(self) -> ChainedPostgresApplicationRecorder:
        cls = self._chained_class(self.APPLICATION_RECORDER_TOPIC, self.application_recorder_class)
        recorder: ChainedPostgresApplicationRecorder = cls(
            datastore=self.datastore,
            events_table_name=LEDGER_EVENTS_TABLE,
            hash_algorithm=self.env.get(HASH_ALGORITHM_KEY) or None,
        )
        self._prepare(recorder)
        return recorder

    def process_recorder(self) -> ChainedPostgresProcessRecorder:
        cls = self._chained_class(self.PROCESS_RECORDER_TOPIC, self.process_recorder_class)
        recorder: ChainedPostgresProcessRecorder = cls(
            datastore=self.datastore,
            events_table_name=LEDGER_EVENTS_TABLE,
            tracking_table_name="ledger_tracking",
            hash_algorithm=self.env.get(HASH_ALGORITHM_KEY) or None,
        )
        self._prepare(recorder)
        return recorder
