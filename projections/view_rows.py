"""What a batch of ledger rows becomes in the views (docs/projections.md "Tracking").

The rows of the three tracked projections the runner (``projections.runner``) commits
in one transaction: an ``events`` row per ledger row (the audit trail's index, and the
per-access columns of ``accesses``), a ``facts`` row per fact other than an access,
the fold's snapshots every ``projection_snapshot_interval`` positions, and the
per-block access aggregates (``BLOCK`` positions each; ``projections.blocks``). Split
from ``projections.runner`` to keep modules of one concern (docs/architecture.md, under
600 lines): the runner decides what is committed and when; this module says what the
rows are.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from ledger.chain import RowTuple
from projections import set_aside
from projections.access_report import Sums, write_totals
from projections.blocks import BLOCK_COLUMNS, DAYS, Blocks, block_rows, same
from projections.facts import ACCESS, Fact, event_time, short_topic, uuid_text
from projections.rules.rejudged import FoldedAccess
from projections.schema import (
    BLOCK,
    BLOCK_DIMENSIONS,
    TOUCHES_NONE,
    TOUCHES_PERSONAL,
    TOUCHES_SENSITIVE,
)
from projections.set_aside import FIRST_EPOCH, LAST_EPOCH, SHORT_TEXT, decode_access
from projections.store import ViewStore, pg_text
from projections.zone import CST_OFFSET_SECONDS, State, ZoneFold, day_text

Rows = list[tuple[Any, ...]]

# Which field names the department an event concerns, before the actor's own department.
_DEPARTMENT_FIELDS = ("department", "requester_department", "provider_department", "builder")


class ViewRows:
    """The view rows of a batch and the block aggregates; mixed into ``Projector``."""

    store: ViewStore
    interval: int
    _topics: dict[str, str]  # stored topic -> short topic
    # Resource code -> (its fold dict, personal item names, sensitive personal names).
    _classes: dict[str, tuple[dict[str, Any], frozenset[str], frozenset[str]]]
    # The access totals this projector wrote last (access_report.write_totals).
    _totals: tuple[int, Sums] | None

    def _short(self, topic: str) -> str:
        short = self._topics.get(topic)
        if short is None:
            short = self._topics[topic] = short_topic(topic)
        return short

    def _project(
        self, fold: ZoneFold, blocks: Blocks, batch: list[RowTuple]
    ) -> tuple[Rows, Rows, list[tuple[int, bytes]]]:
        """Fold a batch of rows; its events rows, kept facts and snapshots.

        Accesses (most rows) are decoded into ``AccessState`` and folded by
        ``ZoneFold.access``, their events row built here in one tuple: no ``Fact``,
        no dicts. They are also counted into their block's groupings (``Blocks``).
        """
        events: list[tuple[Any, ...]] = []
        kept: list[tuple[Any, ...]] = []
        # A fact recorded late judges again the accesses folded before it (rules.rejudged).
        fold.folded_accesses = FoldedAccessRows(self.store, events)
        snapshots: list[tuple[int, bytes]] = []
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
                items, grant = orjson.dumps(a.items).decode(), uuid_text(a.grant_id)
                # The person who read the data is the access's actor for the audit trail.
                events.append((
                    position, ACCESS, entity, a.accessor_id, a.actor.data.role, department,
                    epoch, epoch, day, provider, code, purpose, reasons, row_count, system,
                    touches, a.platform_event_id, grant, items,
                ))  # fmt: skip
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
        return events, kept, snapshots

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


class FoldedAccessRows:
    """The accesses folded before a position, as ``projections.rules.rejudged`` reads them:
    those the views hold and those of the batch being folded (``pending``, its ``events``
    rows so far). Asked only for a fact recorded after an access it covers (rare)."""

    def __init__(self, store: ViewStore, pending: Rows) -> None:
        self.store, self.pending = store, pending

    def __call__(
        self, code: str, since: float, until: float | None, before: int, department: str | None
    ) -> list[FoldedAccess]:
        # The views' rows before the batch (a runner that committed further meanwhile
        # has its batch thrown away: _MovedError), then the batch's own.
        stored = min(before, self.pending[0][0]) if self.pending else before
        where = "resource = ? AND topic = ? AND time >= ? AND position < ?"
        params: list[Any] = [code, ACCESS, since, stored]
        if until is not None:
            where, params = f"{where} AND time < ?", [*params, until]
        if department is not None:
            where, params = f"{where} AND department = ?", [*params, department]
        found: list[FoldedAccess] = [
            (int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], float(r[8]), r[9] or "")
            for r in self.store.query(
                "SELECT position, event_id, actor_id, department, resource, items, purpose, "
                f"grant_id, time, reasons FROM {self.store.table('events')} WHERE {where} "
                "ORDER BY position",
                params,
            )
        ]
        for e in self.pending:
            if e[0] >= before:
                break
            if (
                e[1] == ACCESS and e[10] == code and since <= e[6]
                and (until is None or e[6] < until) and department in (None, e[5])
            ):  # fmt: skip
                found.append((e[0], e[16], e[3], e[5], e[10], e[18], e[11], e[17], e[6], e[12]))
        return found


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
        moment, epoch, None, None, resource, None, None, None, None, None, None, None, None,
    )  # fmt: skip
