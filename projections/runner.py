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
from uuid import UUID

import orjson

from ledger.chain import RowTuple
from ledger.config import Settings
from ledger.store.base import RowReader
from ledger.store.connect import open_reader
from projections import fact_snapshots, set_aside
from projections.access_report import Sums, write_totals
from projections.blocks import BLOCK_COLUMNS, DAYS, Blocks, block_rows, fewer_collections, same
from projections.facts import ACCESS, Fact, event_time, short_topic, uuid_text
from projections.schema import (
    ANOMALY_COLUMNS,
    BLOCK,
    BLOCK_DIMENSIONS,
    EVENT_COLUMNS,
    FINDING_COLUMNS,
    INDEX_NAMES,
    PROJECTIONS,
    REVIEW_COLUMNS,
    SCHEMA_VERSION,
    TABLES,
    TOUCHES_NONE,
    TOUCHES_PERSONAL,
    TOUCHES_SENSITIVE,
    VERSION_CHECK_SECONDS,
    check_views_version,
    code_version,
    create_indexes,
    drop_views,
    ensure_schema,
    refuse_newer,
    stored_version,
    tracked_position,
)
from projections.set_aside import FIRST_EPOCH, LAST_EPOCH, SHORT_TEXT, decode_access
from projections.store import ProjectionError, ViewStore, clear_old_generations, pg_text
from projections.zone import CST_OFFSET_SECONDS, Rules, State, ZoneFold, day_text, load_state

_TABLES = TABLES  # the name the crash tests know
__all__ = [
    "BLOCK", "BLOCK_DIMENSIONS", "PROJECTIONS", "SCHEMA_VERSION", "VERSION_CHECK_SECONDS",
    "Projector", "block_rows", "check_views_version", "code_version", "drop_views",
    "ensure_schema", "open_projector", "positions_of", "refuse_newer", "run_projections",
    "stored_version", "tracked_position",
]  # fmt: skip

Progress = Callable[[int], None]
Rows = list[tuple[Any, ...]]

# Which field names the department an event concerns, before the actor's own department.
_DEPARTMENT_FIELDS = ("department", "requester_department", "provider_department", "builder")


class _MovedError(Exception):
    """Another runner committed first: reload from its tracking record and go on."""


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
        # ensure_schema is a dozen statements (DDL on PostgreSQL): once per projector, and
        # again only if the tracking table has gone (a rebuild or a drop elsewhere), not at
        # every poll of an idle worker.
        self._schema_ready = False
        # The fold as left by this projector's last run (and the access counts of its
        # unfinished blocks): a worker's next poll goes on from it instead of
        # reloading a snapshot and replaying.
        self._last: tuple[int, ZoneFold, Blocks] | None = None
        self._topics: dict[str, str] = {}  # stored topic -> short topic
        # Facts set aside (projections/set_aside.py): every position, and those not committed.
        self._aside: set[int] = set()
        self._pending = set_aside.Pending({})
        # Resource code -> (its fold dict, personal item names, sensitive personal names).
        self._classes: dict[str, tuple[dict[str, Any], frozenset[str], frozenset[str]]] = {}
        # The access totals this projector wrote last (access_report.write_totals).
        self._totals: tuple[int, Sums] | None = None

    # ------------------------------------------------------------------ public

    def run(self, *, until: int | None = None, progress: Progress | None = None) -> int:
        """Catch up to the ledger's head (or ``until``); returns how many rows were projected.

        Views of an older schema version are rebuilt beside them and swapped in
        (:meth:`rebuild`); views of a newer one are refused (ViewsVersionError), never
        written nor dropped.
        """
        if self.store.moved():  # SQLite: a rebuild elsewhere swapped another file in
            self.store.reopen()
            self._last, self._schema_ready = None, False
        found = refuse_newer(self.store)
        if found is not None and found < SCHEMA_VERSION:
            return self.rebuild(progress=progress)
        if not (self._schema_ready and self.store.has_table("tracking")):
            ensure_schema(self.store, indexes=self._indexes)
            self._schema_ready = True
        with fewer_collections():
            while True:
                try:
                    done = self._run_from_tracking(until, progress)
                    break
                except _MovedError:
                    continue
        # The facts-only snapshots a fresh reader starts from (projections/fact_snapshots.py).
        fact_snapshots.write(self.store, self.reader, self.rules, tracked_position(self.store))
        return done

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
        """Replay the ledger from position 0 into side views, then swap them in atomically.

        The current views keep answering (and the worker keeps them at the head) until the
        swap: readers never meet a missing table nor partial counts. The side views get
        their indexes after the load, then catch up with what came in meanwhile, then
        :meth:`ViewStore.swap_in` makes them current. Refused if the current views are of
        a newer schema version.
        """
        refuse_newer(self.store)
        where = self.store.settings  # the views' location (the ledger's is self.settings)
        if self.store.backend == "sqlite":
            clear_old_generations(where)
        side = ViewStore(where, side=True)
        try:
            drop_views(side)  # what a killed rebuild left
            builder = Projector(self.settings, side, self.reader)
            builder._indexes = False
            done = builder.run(progress=progress)
            with side.index_build(), side.transaction():
                create_indexes(side)
            done += builder.run(progress=progress)
            late: list[int] = []
            self.store.swap_in(
                side,
                [*TABLES, "tracking", "meta"],
                INDEX_NAMES,
                catch_up=lambda: late.append(builder.run(progress=progress)),
            )
            done += sum(late)
        finally:
            side.close()
        self._last, self._schema_ready = None, False
        return done

    def fold_at(self, position: int, *, emit: bool = False) -> ZoneFold:
        """The zone fold as of ``position``: newest snapshot at or before it, then a replay."""
        start, state = latest_snapshot(self.store, position)
        fold = ZoneFold(self.rules, state)
        fold.emit = False
        aside = self._aside
        for batch in self._row_batches(start, position):
            for row in batch:
                if aside and row[0] in aside:
                    continue
                short = self._short(row[3])
                if short == ACCESS:
                    fold.access(row[0], decode_access(row[4]))
                else:
                    fold.apply(_fact(row, short))
        fold.take_outputs()
        fold.take_withdrawn()
        fold.emit = emit
        return fold

    # ------------------------------------------------------------------ the loop

    def _fresh(self, position: int) -> tuple[ZoneFold, Blocks]:
        """The fold at ``position`` and empty block counts from there (nothing kept)."""
        return self.fold_at(position, emit=True), Blocks(since=position, size=BLOCK)

    def _run_from_tracking(self, until: int | None, progress: Progress | None) -> int:
        position = tracked_position(self.store)
        if self.settings.database_read_url and self.reader.max_position() < position:
            return 0  # a read replica behind the views (docs/configuration.md): wait for it
        self._check_not_rewritten(position)
        self._pending.drop_until(position)
        self._aside = set_aside.positions(self.store) | set(self._pending.found)
        head = self.reader.max_position() if until is None else until
        if head <= position:
            return 0
        last, self._last = self._last, None
        if last and last[0] == position:
            fold, blocks = last[1], last[2]
        else:
            fold, blocks = self._fresh(position)
        done = 0
        for batch in self._row_batches(position, head):
            fold, blocks = self._commit_surviving(fold, blocks, batch, position)
            position = batch[-1][0]
            done += len(batch)
            if progress is not None:
                progress(len(batch))
        self._last = (position, fold, blocks)
        return done

    def _row_batches(self, after: int, until: int) -> Iterator[list[RowTuple]]:
        """Ledger rows in (after, until], in batches; snapshot boundaries end a batch."""
        if until <= after:
            return
        size, interval = self.batch_size, self.interval
        pending: list[RowTuple] = []
        for rows in self.reader.iter_batches(after, size):
            # The usual case, as read: nothing pending, all within ``until``, and no
            # multiple of the interval before the last row (the loop would cut there).
            if (
                not pending
                and rows[-1][0] <= until
                and (rows[-2][0] if len(rows) > 1 else rows[0][0] - 1) // interval
                == (rows[0][0] - 1) // interval
            ):
                yield rows
                continue
            for row in rows:
                position = row[0]
                if position > until:
                    if pending:
                        yield pending
                    return
                pending.append(row)
                if position % interval == 0 or len(pending) >= size:
                    yield pending
                    pending = []
        if pending:
            yield pending

    def _short(self, topic: str) -> str:
        short = self._topics.get(topic)
        if short is None:
            short = self._topics[topic] = short_topic(topic)
        return short

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

    def _commit_surviving(
        self, fold: ZoneFold, blocks: Blocks, batch: list[RowTuple], expected: int
    ) -> tuple[ZoneFold, Blocks]:
        """Commit a batch; a row that cannot be folded or stored is set aside
        (projections/set_aside.py), the batch's fold so far thrown away and the batch
        folded again without it: nothing is half-applied. The fold and block counts to go
        on with are returned."""
        while True:
            try:
                self._commit(fold, blocks, batch, expected=expected)
                return fold, blocks
            except set_aside.UnusableFactError as bad:
                self._set_aside(bad)
            except set_aside.STORE_ERRORS as error:
                # The views' database refused the batch's rows (rolled back): which row is
                # found by committing them one at a time.
                rows = [r for r in batch if r[0] not in self._pending.found]
                if not rows:
                    raise
                if len(rows) > 1:
                    fold, blocks = self._fresh(expected)
                    for row in batch:
                        fold, blocks = self._commit_surviving(fold, blocks, [row], expected)
                        expected = row[0]
                    return fold, blocks
                topic = short_topic(str(rows[0][3]))
                self._set_aside(
                    set_aside.UnusableFactError(rows[0][0], topic, set_aside.reason_of(error))
                )
            fold, blocks = self._fresh(expected)

    def _set_aside(self, bad: set_aside.UnusableFactError) -> None:
        found = set_aside.SetAside(bad.position, bad.topic, bad.reason)
        self._pending.found[bad.position] = found
        self._aside.add(bad.position)

    def _commit(self, fold: ZoneFold, blocks: Blocks, batch: list[RowTuple], expected: int) -> None:
        last = batch[-1]
        pending = self._pending.found
        rows = [r for r in batch if r[0] not in pending] if pending else batch
        try:
            events, kept, snapshots, details = self._project(fold, blocks, rows)
        except set_aside.FOLD_ERRORS as error:
            # The row being folded when it failed (the loop's own variable: no cost per row).
            row = set_aside.row_in_frame(error, Projector._project.__code__)
            if row is None:
                raise
            raise set_aside.UnusableFactError(
                row[0], short_topic(str(row[3])), set_aside.reason_of(error)
            ) from error
        findings, anomalies, reviews, days = fold.take_outputs()
        withdrawn = [(at, f) for f, at in sorted(fold.take_withdrawn().items())]
        aside = self._pending.between(expected, last[0])
        if aside:
            findings.extend(set_aside.finding_rows(aside, fold.clock_iso()))
        store = self.store
        with store.transaction():
            records = store.tracking()
            if any(r.version > SCHEMA_VERSION for r in records.values()):
                refuse_newer(store)  # a newer govledger swapped its views in meanwhile
            if min((records[n].position for n in PROJECTIONS if n in records), default=0) != (
                expected
            ):
                raise _MovedError
            store.insert_many("events", EVENT_COLUMNS, events)
            store.insert_many("facts", ("position", "time", "topic", "entity", "state"), kept)
            # Findings judged again on a fact recorded late: their standing versions are
            # closed first (docs/projections.md §Findings are versions).
            store.execute_many(
                f"UPDATE {store.table('findings')} SET withdrawn_at = ? "
                "WHERE finding_id = ? AND withdrawn_at IS NULL",
                withdrawn,
            )
            store.insert_many("findings", FINDING_COLUMNS, findings)
            store.insert_many("anomalies", ANOMALY_COLUMNS, anomalies)
            store.insert_many("reviews", REVIEW_COLUMNS, reviews)
            store.insert_many("clock", ("day", "position"), days)
            store.insert_many("snapshots", ("position", "state"), snapshots)
            store.insert_many("access_details", ("position", "items", "grant_id"), details)
            store.insert_many(set_aside.NAME, set_aside.COLUMNS, set_aside.rows_of(aside))
            self._aggregate_blocks(blocks, expected, last[0])
            store.set_tracking(PROJECTIONS, last[0], bytes(last[6]), SCHEMA_VERSION)
        self._pending.drop_until(last[0])

    def _project(
        self, fold: ZoneFold, blocks: Blocks, batch: list[RowTuple]
    ) -> tuple[Rows, Rows, list[tuple[int, bytes]], Rows]:
        """Fold a batch of rows; its events rows, kept facts, snapshots and the details of
        its flagged accesses.

        Accesses (most rows) are decoded into ``AccessState`` and folded by
        ``ZoneFold.access``, their events row built here in one tuple: no ``Fact``,
        no dicts. They are also counted into their block's groupings (``Blocks``).
        """
        events: list[tuple[Any, ...]] = []
        kept: list[tuple[Any, ...]] = []
        snapshots: list[tuple[int, bytes]] = []
        details: Rows = []
        touching = self._touching
        state, interval, topics = fold.state, self.interval, self._topics
        resources, access, days = state["resources"], fold.access, DAYS
        block_end, by_resource, by_requester = -1, blocks.EMPTY, blocks.EMPTY
        for row in batch:
            position, topic = row[0], row[3]
            short = topics.get(topic) or self._short(topic)
            if short == ACCESS:
                a = decode_access(row[4])
                code = a.resource_code
                resource = resources.get(code)
                provider = resource["provider_department"] if resource else ""
                epoch = access(position, a)
                if not FIRST_EPOCH <= epoch <= LAST_EPOCH or (
                    len(a.accessor_id) + len(a.department) + len(code) > SHORT_TEXT
                ):
                    set_aside.check_access(position, a, epoch)
                number = int((epoch + CST_OFFSET_SECONDS) // 86400)
                day = days.get(number) or days.setdefault(number, day_text(number))
                department, purpose, row_count = a.department, a.purpose or "", a.row_count
                touches = touching(code, resource, a.items)
                reasons, system = (
                    ",".join(a.verdict.data.reasons),
                    (a.system or "").replace("-", ""),
                )
                oid = row[1]
                entity = oid.replace("-", "") if type(oid) is str else _entity(oid)
                # The person who read the data is the access's actor for the audit trail.
                events.append((
                    position, ACCESS, entity, a.accessor_id, a.actor.data.role, department,
                    epoch, epoch, day, provider, code, purpose, reasons, row_count, system,
                    touches,
                ))  # fmt: skip
                if reasons:
                    details.append((position, orjson.dumps(list(a.items)).decode(),
                                    uuid_text(a.grant_id)))  # fmt: skip
                if position >= block_end:
                    block_end = (position // BLOCK + 1) * BLOCK
                    by_resource, by_requester = blocks.groupings(position // BLOCK)
                refused = reasons != ""
                for groups, key in (
                    (by_resource, (day, code, provider)),
                    (by_requester, (day, department, purpose, system, reasons)),
                ):
                    found = groups.get(key)
                    if found is None:
                        groups[key] = [1, int(refused), row_count, epoch]
                    else:
                        found[0] += 1
                        found[1] += refused
                        found[2] += row_count
                        found[3] = max(found[3], epoch)
            else:
                event, fact_row = _project_fact(fold, row, short)
                events.append(event)
                kept.append(fact_row)
            if position % interval == 0:
                snapshots.append((position, fold.snapshot()))
        return events, kept, snapshots, details

    def _touching(self, code: str, resource: dict[str, Any] | None, items: Any) -> int:
        """What personal information an access reads (schema.TOUCHES): the resource's
        items as of the access, their classes kept per resource registration."""
        if resource is None:
            return TOUCHES_NONE
        known = self._classes.get(code)
        if known is None or known[0] is not resource:
            personal = {i["name"] for i in resource["items"] if i["sensitivity"] == "personal"}
            sensitive = set(resource["sensitive_personal"])
            known = self._classes[code] = (resource, frozenset(personal), frozenset(sensitive))
        if not (known[1] or known[2]):
            return TOUCHES_NONE
        read = set(items)
        if read & known[2]:
            return TOUCHES_SENSITIVE
        return TOUCHES_PERSONAL if read & known[1] else TOUCHES_NONE

    def _aggregate_blocks(self, blocks: Blocks, before: int, after: int) -> None:
        """Blocks completed by this batch: aggregate their access rows (same transaction).

        A block whose every row this fold projected is aggregated from the counts
        kept while folding; one begun before the run (a restart mid-block) by SQL
        over the events table. Both give the same rows
        (tests/projections/test_runner.py).
        """
        done = (after + 1) // BLOCK
        text = pg_text if self.store.backend == "postgresql" else same
        for block in range((before + 1) // BLOCK, done):
            if blocks.covers(block):
                aggregates = block_rows(block, blocks.groupings(block), text)
                self.store.insert_many("access_blocks", BLOCK_COLUMNS, aggregates)
            else:
                self._aggregate_block_sql(block)
            self._totals = (block, write_totals(self.store, block, BLOCK, self._totals))
        blocks.drop_before(done)

    def _aggregate_block_sql(self, block: int) -> None:
        table, events = self.store.table("access_blocks"), self.store.table("events")
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


def _entity(originator_id: Any) -> str:
    """An originator id as 32 hex digits (PostgreSQL gives a UUID, SQLite its text)."""
    if isinstance(originator_id, UUID):
        return originator_id.hex
    return str(originator_id).replace("-", "")


def _fact(row: RowTuple, short: str) -> Fact:
    position, oid, _version, _topic, state, _prev, stored_hash = row
    raw = bytes(state)
    return Fact(position, _entity(oid), short, orjson.loads(raw), bytes(stored_hash), raw)


def _project_fact(
    fold: ZoneFold, row: RowTuple, short: str
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Fold a fact other than an access: its events row and its ``facts`` row."""
    fact = _fact(row, short)
    state = fold.state
    # Effective time of a fact: its own domain time, else the commands' clock.
    clock = state["command_clock"]
    found_at = fold.apply(fact)
    event = _event_row(fact, found_at, _resource_of(fact, state))
    unusable = set_aside.event_row_unusable(event)
    if unusable is not None:
        raise set_aside.UnusableFactError(row[0], short, unusable)
    effective = found_at if found_at is not None else clock
    return event, (row[0], effective, short, fact.entity, fact.state.decode())


def _resource_of(fact: Fact, state: State) -> str | None:
    """The catalogue resource a fact is about, for the audit trail's resource search: a
    resource's own events, and every event of a sharing request for it (after the fold)."""
    if fact.topic.startswith("Resource."):
        code = state["resource_by_entity"].get(fact.entity)
        return str(code) if code is not None else None
    if fact.topic.startswith("SharingRequest."):
        request = state["requests"].get(fact.entity)
        return str(request["resource_code"]) if request is not None else None
    return None


def _event_row(fact: Fact, epoch: float | None, resource: str | None) -> tuple[Any, ...]:
    """The audit-trail index row of a fact other than an access (``_project`` does those)."""
    d = fact.data
    actor = d["actor"]["_data_"]
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
        moment, epoch, None, None, resource, None, None, None, None, None,
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
    # First: a file that is no ledger gets no views file. The rows may come from a replica.
    reader = open_reader(settings.reading())
    try:
        store = ViewStore(settings)
    except BaseException:
        reader.close()
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
