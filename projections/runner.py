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
refused (rebuild). What the rows of a batch are, and the per-block access aggregates, is
``projections.view_rows``; this module follows the ledger and commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ledger.chain import RowTuple
from ledger.config import Settings
from ledger.store.base import RowReader
from ledger.store.connect import open_reader
from projections import fact_snapshots, set_aside
from projections.access_report import Sums
from projections.blocks import Blocks, block_rows, fewer_collections
from projections.facts import ACCESS, short_topic
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
from projections.set_aside import decode_access
from projections.store import ProjectionError, ViewStore, clear_old_generations
from projections.view_rows import FoldedAccessRows, ViewRows, _fact
from projections.zone import Rules, State, ZoneFold, load_state

_TABLES = TABLES  # the name the crash tests know
__all__ = [
    "BLOCK", "BLOCK_DIMENSIONS", "PROJECTIONS", "SCHEMA_VERSION", "VERSION_CHECK_SECONDS",
    "Projector", "block_rows", "check_views_version", "code_version", "drop_views",
    "ensure_schema", "open_projector", "positions_of", "refuse_newer", "run_projections",
    "stored_version", "tracked_position",
]  # fmt: skip

Progress = Callable[[int], None]


class _MovedError(Exception):
    """Another runner committed first: reload from its tracking record and go on."""


class Projector(ViewRows):
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
        # The rows replayed are in the views already: a late fact reads its accesses there.
        fold.folded_accesses = FoldedAccessRows(self.store, [])
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
            events, kept, snapshots = self._project(fold, blocks, rows)
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
            store.insert_many(set_aside.NAME, set_aside.COLUMNS, set_aside.rows_of(aside))
            self._aggregate_blocks(blocks, expected, last[0])
            store.set_tracking(PROJECTIONS, last[0], bytes(last[6]), SCHEMA_VERSION)
        self._pending.drop_until(last[0])


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
