"""The projection runner: follow the ledger, write view rows and tracking in one transaction.

One pass over the ledger feeds three tracked projections (docs/projections.md
"Tracking"):

* ``audit_trail`` — one index row per event (who, what entity, which
  department, when), for audit-trail queries; hashes are read from the ledger.
* ``accesses`` — per-access columns on the same rows plus per-block aggregates
  (``BLOCK`` positions each) for fast access counts at any position.
* ``zone`` — findings and anomalies as the fold emits them, anomaly reviews,
  the domain clock by day, and JSON snapshots of the fold's state every
  ``projection_snapshot_interval`` positions (as-of answers and restarts).

Each batch commits the rows of all three and their tracking records in ONE
transaction of the views' database, so a kill at any instant leaves either the
whole batch or none of it; a restart reloads the newest snapshot at or before
the tracked position, replays the rest without writing, and goes on. The
tracking record keeps the hash of its row: a ledger rewritten underneath is
refused (rebuild).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ledger.config import Settings
from ledger.store.base import RowReader
from ledger.store.connect import open_reader
from projections.facts import ACCESS, Fact, event_time, facts
from projections.store import ProjectionError, ViewStore
from projections.zone import Rules, State, ZoneFold, day_text, load_state, local_day_number

PROJECTIONS = ("audit_trail", "accesses", "zone")
SCHEMA_VERSION = 1
BLOCK = 10_000  # positions per access aggregate block
# Dimension of access counts -> its column in the events table.
BLOCK_DIMENSIONS = {
    "provider": "provider",
    "requester": "department",
    "resource": "resource",
    "purpose": "purpose",
    "reasons": "reasons",
    "system": "system",
    "day": "day",  # per-day totals (by_month), whatever the other keys
}

Progress = Callable[[int], None]

# Which field names the department an event concerns, before the actor's own department.
_DEPARTMENT_FIELDS = ("department", "requester_department", "provider_department", "builder")

_TABLES: dict[str, str] = {
    "events": (
        "position {pk}, topic TEXT NOT NULL, entity TEXT NOT NULL, "
        "actor_id TEXT NOT NULL, role TEXT NOT NULL, department TEXT, "
        "time DOUBLE PRECISION NOT NULL, "
        "epoch DOUBLE PRECISION, day TEXT, provider TEXT, resource TEXT, purpose TEXT, "
        "reasons TEXT, row_count BIGINT, system TEXT"
    ),
    # One row per (block, day, dimension, key): dimension is provider | requester |
    # resource | purpose | reasons; a few hundred rows per block whatever the traffic.
    "access_blocks": (
        "block BIGINT NOT NULL, day TEXT NOT NULL, dim TEXT NOT NULL, key TEXT NOT NULL, "
        "total BIGINT NOT NULL, unauthorized BIGINT NOT NULL, row_count BIGINT NOT NULL, "
        "last_time DOUBLE PRECISION NOT NULL"
    ),
    # Every event but accesses, as recorded, with its effective time: the zone as of any
    # date is a fold of these few rows (docs/projections.md "As-of semantics").
    "facts": (
        "position {pk}, time DOUBLE PRECISION, topic TEXT NOT NULL, "
        "entity TEXT NOT NULL, state TEXT NOT NULL"
    ),
    "findings": (
        "finding_id TEXT PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL, "
        "subject TEXT NOT NULL, subject_kind TEXT NOT NULL, department TEXT, "
        "positions TEXT NOT NULL, position BIGINT NOT NULL, time TEXT NOT NULL, "
        "detail TEXT NOT NULL"
    ),
    "anomalies": (
        "anomaly_id TEXT PRIMARY KEY, kind TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, "
        "severity TEXT NOT NULL, subject TEXT NOT NULL, department TEXT, "
        "positions TEXT NOT NULL, position BIGINT NOT NULL, time TEXT NOT NULL, "
        "detail TEXT NOT NULL"
    ),
    "reviews": (
        "position {pk}, anomaly_id TEXT NOT NULL, action TEXT NOT NULL, "
        "comment TEXT NOT NULL, actor_id TEXT NOT NULL, time TEXT NOT NULL"
    ),
    "clock": "day TEXT PRIMARY KEY, position BIGINT NOT NULL",
    "snapshots": "position {pk}, state {blob} NOT NULL",
}
_INDEXES = (
    ("events_entity", "events", "entity, position"),
    ("events_actor", "events", "actor_id, position"),
    ("events_department", "events", "department, position"),
    ("blocks_block", "access_blocks", "block, day"),
    # Accesses per system (the inventory's counts, every zone read): one dimension's rows,
    # not every dimension's of every block.
    ("blocks_dim", "access_blocks", "dim, block"),
    ("findings_position", "findings", "position"),
    ("anomalies_position", "anomalies", "position"),
)
_EVENT_COLUMNS = (
    "position", "topic", "entity", "actor_id", "role", "department", "time", "epoch", "day",
    "provider", "resource", "purpose", "reasons", "row_count", "system",
)  # fmt: skip
_FINDING_COLUMNS = (
    "finding_id", "rule", "severity", "subject", "subject_kind", "department", "positions",
    "position", "time", "detail",
)  # fmt: skip
_ANOMALY_COLUMNS = (
    "anomaly_id", "kind", "score", "severity", "subject", "department", "positions",
    "position", "time", "detail",
)  # fmt: skip
_REVIEW_COLUMNS = ("position", "anomaly_id", "action", "comment", "actor_id", "time")


class _MovedError(Exception):
    """Another runner committed first: reload from its tracking record and go on."""


def ensure_schema(store: ViewStore, *, indexes: bool = True) -> None:
    """Create the view tables if absent; a different schema version is dropped and rebuilt.

    A rebuild creates the secondary indexes after the load (``indexes=False`` first):
    building them once is cheaper than updating them row by row. A rebuild killed
    before that gets them from the next run.
    """
    store.ensure_meta()
    if store.meta("schema_version") not in (None, str(SCHEMA_VERSION)):
        drop_views(store)
        store.ensure_meta()
    # SQLite: INTEGER PRIMARY KEY is the rowid itself, no second b-tree to maintain.
    pk = "INTEGER PRIMARY KEY" if store.backend == "sqlite" else "BIGINT PRIMARY KEY"
    with store.transaction():
        for name, columns in _TABLES.items():
            store.query(
                f"CREATE TABLE IF NOT EXISTS {store.table(name)} "
                f"({columns.format(blob=store.blob, pk=pk)})"
            )
        if indexes:
            create_indexes(store)
        store.set_meta("schema_version", str(SCHEMA_VERSION))


def create_indexes(store: ViewStore) -> None:
    for index, table, columns in _INDEXES:
        store.query(
            f"CREATE INDEX IF NOT EXISTS {store.index_name(index)} "
            f"ON {store.table(table)} ({columns})"
        )


def drop_views(store: ViewStore) -> None:
    """Every view table and the tracking records: the next run starts from position 0."""
    with store.transaction():
        store.drop([*_TABLES, "tracking", "meta"])


def tracked_position(store: ViewStore) -> int:
    records = store.tracking()
    return min((records[name].position for name in PROJECTIONS if name in records), default=0)


class Projector:
    """Runs the projections over one ledger; ``run`` is safe to call from several processes."""

    def __init__(self, settings: Settings, store: ViewStore, reader: RowReader) -> None:
        self.settings = settings
        self.store = store
        self.reader = reader
        self.rules = Rules.from_settings(settings)
        self.batch_size = max(1, settings.projection_batch_size)
        self.interval = max(1, settings.projection_snapshot_interval)
        self._indexes = True
        # The fold as left by this projector's last run: a worker's next poll goes on
        # from it instead of reloading a snapshot and replaying.
        self._last: tuple[int, ZoneFold] | None = None

    # ------------------------------------------------------------------ public

    def run(self, *, until: int | None = None, progress: Progress | None = None) -> int:
        """Catch up to the ledger's head (or ``until``); returns how many rows were projected."""
        ensure_schema(self.store, indexes=self._indexes)
        done = 0
        while True:
            try:
                return done + self._run_from_tracking(until, progress)
            except _MovedError:
                continue

    def follow(
        self,
        stop: Callable[[], bool],
        *,
        progress: Progress | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> int:
        """The projection worker: run, wait ``projection_follow_seconds``, until ``stop()``."""
        total = 0
        while not stop():
            total += self.run(progress=progress)
            sleep(max(0.1, float(self.settings.projection_follow_seconds)))
        return total

    def rebuild(self, *, progress: Progress | None = None) -> int:
        drop_views(self.store)
        self._last = None
        self._indexes = False
        try:
            done = self.run(progress=progress)
        finally:
            self._indexes = True
        with self.store.transaction():
            create_indexes(self.store)
        return done

    def fold_at(self, position: int, *, emit: bool = False) -> ZoneFold:
        """The zone fold as of ``position``: newest snapshot at or before it, then a replay."""
        start, state = latest_snapshot(self.store, position)
        fold = ZoneFold(self.rules, state)
        fold.emit = False
        for batch in self._fact_batches(start, position):
            for fact in batch:
                fold.apply(fact)
        fold.take_outputs()
        fold.emit = emit
        return fold

    # ------------------------------------------------------------------ the loop

    def _run_from_tracking(self, until: int | None, progress: Progress | None) -> int:
        position = tracked_position(self.store)
        self._check_not_rewritten(position)
        head = self.reader.max_position() if until is None else until
        if head <= position:
            return 0
        last, self._last = self._last, None
        fold = last[1] if last and last[0] == position else self.fold_at(position, emit=True)
        done = 0
        for batch in self._fact_batches(position, head):
            self._commit(fold, batch, expected=position)
            position = batch[-1].position
            done += len(batch)
            if progress is not None:
                progress(len(batch))
        self._last = (position, fold)
        return done

    def _fact_batches(self, after: int, until: int) -> Iterator[list[Fact]]:
        """Facts in (after, until], in batches; snapshot boundaries end a batch."""
        if until <= after:
            return
        pending: list[Fact] = []
        for rows in self.reader.iter_batches(after, self.batch_size):
            for fact in facts(rows):
                if fact.position > until:
                    if pending:
                        yield pending
                    return
                pending.append(fact)
                if fact.position % self.interval == 0 or len(pending) >= self.batch_size:
                    yield pending
                    pending = []
        if pending:
            yield pending

    def _check_not_rewritten(self, position: int) -> None:
        if position == 0:
            return
        record = self.store.tracking().get("zone")
        row = self.reader.row_at(position)
        if row is None or (record is not None and record.hash != bytes(row[6])):
            raise ProjectionError(
                f"the ledger at position {position} is not the one the views followed: "
                "verify the ledger, then `govledger projections rebuild`"
            )

    def _commit(self, fold: ZoneFold, batch: list[Fact], expected: int) -> None:
        events: list[tuple[Any, ...]] = []
        kept: list[tuple[Any, ...]] = []
        snapshots: list[tuple[int, bytes]] = []
        resources = fold.state["resources"]
        for fact in batch:
            provider = ""
            if fact.topic == ACCESS:
                resource = resources.get(fact.data["resource_code"])
                provider = resource["provider_department"] if resource else ""
            # Effective time of a fact: its own domain time, else the commands' clock before it.
            clock = fold.state["command_clock"]
            epoch = fold.apply(fact)
            events.append(_event_row(fact, epoch, provider))
            if fact.topic != ACCESS:
                effective = epoch if epoch is not None else clock
                kept.append(
                    (fact.position, effective, fact.topic, fact.entity, fact.state.decode())
                )
            if fact.position % self.interval == 0:
                snapshots.append((fact.position, fold.snapshot()))
        findings, anomalies, reviews, days = fold.take_outputs()
        last = batch[-1]
        store = self.store
        with store.transaction():
            if tracked_position(store) != expected:
                raise _MovedError
            store.insert_many("events", _EVENT_COLUMNS, events)
            store.insert_many("facts", ("position", "time", "topic", "entity", "state"), kept)
            store.insert_many("findings", _FINDING_COLUMNS, findings)
            store.insert_many("anomalies", _ANOMALY_COLUMNS, anomalies)
            store.insert_many("reviews", _REVIEW_COLUMNS, reviews)
            store.insert_many("clock", ("day", "position"), days)
            store.insert_many("snapshots", ("position", "state"), snapshots)
            self._aggregate_blocks(expected, last.position)
            for name in PROJECTIONS:
                store.set_tracking(name, last.position, last.hash, SCHEMA_VERSION)

    def _aggregate_blocks(self, before: int, after: int) -> None:
        """Blocks completed by this batch: aggregate their access rows (same transaction)."""
        table, events = self.store.table("access_blocks"), self.store.table("events")
        for block in range((before + 1) // BLOCK, (after + 1) // BLOCK):
            low, high = block * BLOCK, block * BLOCK + BLOCK - 1
            for dim, column in BLOCK_DIMENSIONS.items():
                self.store.query(
                    f"INSERT INTO {table} "
                    "(block, day, dim, key, total, unauthorized, row_count, last_time) "
                    f"SELECT ?, day, ?, {column}, COUNT(*), "
                    "SUM(CASE WHEN reasons = '' THEN 0 ELSE 1 END), SUM(row_count), MAX(time) "
                    f"FROM {events} WHERE position BETWEEN ? AND ? AND topic = ? "
                    f"GROUP BY day, {column}",
                    (block, dim, low, high, ACCESS),
                )


def _event_row(fact: Fact, epoch: float | None, provider: str) -> tuple[Any, ...]:
    """The audit-trail index row of a fact; accesses carry their access-count columns."""
    d = fact.data
    actor = d["actor"]["_data_"]
    if fact.topic == ACCESS:
        assert epoch is not None
        # The person who read the data is the access's actor for the audit trail.
        return (
            fact.position, fact.topic, fact.entity, d["accessor_id"], actor["role"],
            d["department"], epoch, epoch, day_text(local_day_number(epoch)), provider,
            d["resource_code"], d["purpose"] or "", ",".join(d["verdict"]["_data_"]["reasons"]),
            d["row_count"], (d["system"] or "").replace("-", ""),
        )  # fmt: skip
    if fact.topic == "Department.Registered":
        department = d["code"]
    else:
        department = next(
            (d[k] for k in _DEPARTMENT_FIELDS if isinstance(d.get(k), str)),
            actor["department_code"],
        )
    moment = epoch if epoch is not None else event_time(fact).timestamp()
    return (
        fact.position, fact.topic, fact.entity, actor["actor_id"], actor["role"], department,
        moment, epoch, None, None, None, None, None, None, None,
    )  # fmt: skip


def latest_snapshot(store: ViewStore, position: int) -> tuple[int, State | None]:
    if not store.has_table("snapshots"):
        return 0, None
    rows = store.query(
        f"SELECT position, state FROM {store.table('snapshots')} WHERE position <= ? "
        "ORDER BY position DESC LIMIT 1",
        (position,),
    )
    if not rows:
        return 0, None
    return int(rows[0][0]), load_state(bytes(rows[0][1]))


@contextmanager
def open_projector(settings: Settings) -> Iterator[Projector]:
    store = ViewStore(settings)
    try:
        reader = open_reader(settings)
    except BaseException:
        store.close()
        raise
    try:
        yield Projector(settings, store, reader)
    finally:
        reader.close()
        store.close()


def run_projections(settings: Settings, *, progress: Progress | None = None) -> int:
    """Bring every projection to the ledger's head (the CLI's ``projections run``)."""
    with open_projector(settings) as projector:
        return projector.run(progress=progress)


def positions_of(store: ViewStore) -> dict[str, int]:
    records = store.tracking()
    return {name: records[name].position if name in records else 0 for name in PROJECTIONS}
