"""The views' tables, their schema version and its upgrade rules (docs/projections.md
"Tracking", docs/operations.md §Upgrading).

One place says what the views keep: the runner (projections/runner.py) writes these
tables, the readers (projections/query.py, projections/query_findings.py,
projections/query_anomalies.py, projections/registers.py, projections/access_report.py)
read them. A change of what is kept bumps ``SCHEMA_VERSION``; views of an older version
are rebuilt beside the current ones and swapped in (``Projector.rebuild``), views of a
newer one are never written nor dropped.
"""

from __future__ import annotations

import time
from importlib import metadata
from typing import TYPE_CHECKING

from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from projections import set_aside
from projections.store import ViewStore, ViewsVersionError

if TYPE_CHECKING:
    from projections.model import Moment

PROJECTIONS = ("audit_trail", "accesses", "zone")
# 2: fold snapshots merge the late reports of one day (one history pair per day); the
# audit trail's events carry the resource of resource and sharing-request events too.
# 3: facts set aside (views_set_aside, finding L3); changes dated by their business time
# (docs/facts.md §4), so an older deployment's views are rebuilt once on upgrade.
# 4: what the risk and annual reports read (issue #12 item 2): each access's personal
# information class (events.touches) and the items and grant of each flagged access
# (access_details), so reports read the views instead of replaying the ledger.
# 5: the issue-14 rules (S11, P2, D1, I3, F6–F8, I4, I5) fold new facts and findings,
# and those facts are dated by their business time (projections.facts).
# 6: finding L4, an access dated in the future (docs/facts.md §6; projections/business_time).
# 7: finding I6, a department with no CIO on record (departments keep when it was named).
# 8: anomaly explanations in Chinese (issue #15 "Form"); 条例 §33 declarations folded
# (projections/security_facts.py).
# 9: I7 (and D3, S13) fold when a system moved on the cloud or was retired, entrustments
# and quality objections.
# 10: the seed plan's declared records (projections/declarations.py; rules I7–I10).
# 11: S12, D2, P2, D1, S3 on a lapsed grant and F1, F2, F4, F6 judged by business time
# (recorded late: findings re-dated or withdrawn; docs/projections.md §Recorded late).
# 12: F7 and F8 by business time (the fold keeps accesses per system per day).
# 13: findings are versions (judged_at, withdrawn_at): a finding re-dated or withdrawn by
# a fact recorded late is closed, not deleted, so the views at a past position answer what
# they answered then (docs/projections.md §Findings are versions).
# 14: F3 by the filing's own date (a decision before the filing it cites), F4 through the
# system a rejected filing lists (projections.rules.fund_state).
# 15: each access's row keeps what judging it again needs (event_id, grant_id, items): a
# grant or classification recorded late, dated before it, judges S1–S4, P1 again
# (projections/rules/rejudged.py; docs/projections.md §Recorded late); so the items and
# grant of flagged accesses are no longer kept apart (access_details, version 4: dropped).
SCHEMA_VERSION = 15
# events.touches of an access: the personal information it reads (PIPL §28, domain.md P1).
TOUCHES_NONE, TOUCHES_PERSONAL, TOUCHES_SENSITIVE = 0, 1, 2
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


TABLES: dict[str, str] = {
    "events": (
        "position {pk}, topic TEXT NOT NULL, entity TEXT NOT NULL, "
        "actor_id TEXT NOT NULL, role TEXT NOT NULL, department TEXT, "
        "time DOUBLE PRECISION NOT NULL, "
        "epoch DOUBLE PRECISION, day TEXT, provider TEXT, resource TEXT, purpose TEXT, "
        "reasons TEXT, row_count BIGINT, system TEXT, touches SMALLINT, "
        # An access's platform event id, the grant it quoted (32 hex digits) and the items
        # it read (JSON): with the columns above, what judging it again needs.
        "event_id TEXT, grant_id TEXT, items TEXT"
    ),
    # The accesses of each year up to the end of each block, grouped as the reports read
    # them (projections/access_report.py): a report sums one block's rows and the tail.
    "access_totals": (
        "block BIGINT NOT NULL, year INTEGER NOT NULL, department TEXT NOT NULL, "
        "resource TEXT NOT NULL, provider TEXT, purpose TEXT, flagged INTEGER NOT NULL, "
        "month INTEGER NOT NULL, touches INTEGER NOT NULL, total BIGINT NOT NULL, "
        "row_count BIGINT NOT NULL"
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
    # One row per version of a finding (docs/projections.md §Findings are versions):
    # standing from judged_at (the position of the fact whose fold judged it) until
    # withdrawn_at (NULL while it stands); position is the judged fact's (the evidence).
    "findings": (
        "finding_id TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, "
        "subject TEXT NOT NULL, subject_kind TEXT NOT NULL, department TEXT, "
        "positions TEXT NOT NULL, position BIGINT NOT NULL, time TEXT NOT NULL, "
        "detail TEXT NOT NULL, judged_at BIGINT NOT NULL, withdrawn_at BIGINT, "
        "PRIMARY KEY (finding_id, judged_at)"
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
    # The fold of the non-access facts at a few positions (projections/fact_snapshots.py):
    # a fresh reader folds only the facts after one. Its rows carry their own format and
    # fold fingerprint, so adding the table is no new SCHEMA_VERSION (ensure_schema creates
    # it at the worker's start; a reader without it folds from the first fact).
    "fact_snapshots": (
        "position {pk}, kind TEXT NOT NULL, facts BIGINT NOT NULL, "
        "max_time DOUBLE PRECISION, fingerprint TEXT NOT NULL, hash {blob} NOT NULL, "
        "state {blob} NOT NULL"
    ),
    **set_aside.TABLES,  # facts the fold cannot use (projections/set_aside.py)
}
INDEXES = (
    ("events_entity", "events", "entity, position"),
    ("events_actor", "events", "actor_id, position"),
    ("events_department", "events", "department, position"),
    ("events_resource", "events", "resource, position"),
    # The trail searched by event kind (registers.audit_trail ``text``): a rare kind's
    # lines without scanning the trail. An index only: not a change of what is kept, so
    # no new SCHEMA_VERSION (no rebuild); the worker's ensure_schema creates it at start.
    ("events_topic", "events", "topic, position"),
    # A department's trail between two dates (registers.audit_trail): those dates' rows
    # from the index, not every row of the department in position order (issue #16).
    ("events_department_time", "events", "department, time"),
    ("blocks_block", "access_blocks", "block, day"),
    # Accesses per system (the inventory's counts, every zone read): one dimension's rows,
    # not every dimension's of every block.
    ("blocks_dim", "access_blocks", "dim, block"),
    ("findings_position", "findings", "position"),
    # The findings counted by rule and severity at a position (finding_tally: every
    # inventory page and /metrics) from the index alone, not each row of the table: the
    # versions judged by then, withdrawn_at read from the index too.
    (
        "findings_tally",
        "findings",
        "judged_at, rule, severity, department, subject_kind, withdrawn_at",
    ),
    ("totals_block", "access_totals", "block, year"),
    ("anomalies_position", "anomalies", "position"),
)
EVENT_COLUMNS = (
    "position", "topic", "entity", "actor_id", "role", "department", "time", "epoch", "day",
    "provider", "resource", "purpose", "reasons", "row_count", "system", "touches",
    "event_id", "grant_id", "items",
)  # fmt: skip
FINDING_COLUMNS = (
    "finding_id", "rule", "severity", "subject", "subject_kind", "department", "positions",
    "position", "time", "detail", "judged_at", "withdrawn_at",
)  # fmt: skip
# One standing version per finding (what the primary key on finding_id was until version
# 13): created with the tables, not after a rebuild's load, so a fact that would make a
# second one is refused in the same place on both paths (and set aside, L3).
STANDING_INDEX = ("findings_standing", "findings", "finding_id")
# Every index a rebuild's side views carry (renamed with their tables on the swap).
INDEX_NAMES = (*(name for name, _, _ in INDEXES), STANDING_INDEX[0])
ANOMALY_COLUMNS = (
    "anomaly_id", "kind", "score", "severity", "subject", "department", "positions",
    "position", "time", "detail",
)  # fmt: skip


def standing_at(alias: str = "") -> str:
    """SQL: the versions of findings standing at a position — judged by then, not yet
    withdrawn (docs/projections.md §Findings are versions); its two parameters are
    :func:`standing_params`. ``alias``: the findings table's alias with its dot."""
    return f"{alias}judged_at <= ? AND ({alias}withdrawn_at IS NULL OR {alias}withdrawn_at > ?)"


def standing_params(position: int) -> tuple[int, int]:
    return position, position


def day_filter(m: Moment, column: str = "time") -> str:
    """SQL: as of a date, rows whose (CST ISO) time falls on or before it; its parameters
    are :func:`day_params` (none at a position, docs/projections.md "As-of semantics")."""
    return "" if m.as_of is None else f" AND substr({column}, 1, 10) <= ?"


def day_params(m: Moment) -> list[str]:
    return [] if m.as_of is None else [m.as_of.isoformat()]


REVIEW_COLUMNS = ("position", "anomaly_id", "action", "comment", "actor_id", "time")


def stored_version(store: ViewStore) -> int | None:
    """The schema version the views were written at (None: no views yet)."""
    found = store.meta("schema_version")
    return int(found) if found is not None else None


def refuse_newer(store: ViewStore) -> int | None:
    """The stored version; ViewsVersionError if a newer govledger wrote the views."""
    found = stored_version(store)
    if found is not None and found > SCHEMA_VERSION:
        raise ViewsVersionError(
            f"the views are of schema version {found}, newer than this govledger's "
            f"{SCHEMA_VERSION}: refusing to write into them (upgrade this host's govledger; "
            "docs/operations.md §Upgrading)"
        )
    return found


VERSION_CHECK_SECONDS = 1.0  # how long a reader trusts its last check of the views' version
_VERSION_CHECKED: dict[tuple[str, str], float] = {}


def check_views_version(settings: Settings) -> None:
    """For readers (the API): ViewsVersionError unless the views are of this code's schema
    version (or not built yet, which the reader reports itself). A success is trusted for
    ``VERSION_CHECK_SECONDS``: one query a second per process, not one per request."""
    key = (settings.database_url, settings.postgres_schema)
    checked = _VERSION_CHECKED.get(key)
    if checked is not None and time.monotonic() - checked < VERSION_CHECK_SECONDS:
        return
    try:
        store = ViewStore(settings, readonly=True)
    except StoreUnavailableError:
        if settings.database.backend == "sqlite":
            return  # no views file yet: the reader reports it (the worker creates it)
        raise
    try:
        found = stored_version(store)
    finally:
        store.close()
    # Reading never writes: older views are rebuilt by the worker (Projector.run), not here.
    if found is not None and found != SCHEMA_VERSION:
        relation = "newer" if found > SCHEMA_VERSION else "older"
        raise ViewsVersionError(
            f"the views are of schema version {found}, {relation} than this service's "
            f"{SCHEMA_VERSION}: an upgrade is under way (docs/operations.md §Upgrading)"
        )
    _VERSION_CHECKED[key] = time.monotonic()


def ensure_schema(store: ViewStore, *, indexes: bool = True) -> None:
    """Create the view tables if absent; an older schema version is dropped and rebuilt,
    a newer one refused (ViewsVersionError): an older govledger never drops newer views.

    A rebuild creates the secondary indexes after the load (``indexes=False`` first):
    building them once is cheaper than updating them row by row. A rebuild killed
    before that gets them from the next run.
    """
    store.ensure_meta()
    if refuse_newer(store) not in (None, SCHEMA_VERSION):
        drop_views(store)
        store.ensure_meta()
    # SQLite: INTEGER PRIMARY KEY is the rowid itself, no second b-tree to maintain.
    pk = "INTEGER PRIMARY KEY" if store.backend == "sqlite" else "BIGINT PRIMARY KEY"
    with store.transaction():
        for name, columns in TABLES.items():
            store.query(
                f"CREATE TABLE IF NOT EXISTS {store.table(name)} "
                f"({columns.format(blob=store.blob, pk=pk)})"
            )
        index, table, column = STANDING_INDEX
        store.query(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {store.index_name(index)} "
            f"ON {store.table(table)} ({column}) WHERE withdrawn_at IS NULL"
        )
        if indexes:
            create_indexes(store)
        store.set_meta("schema_version", str(SCHEMA_VERSION))
        store.set_meta("code_version", code_version())


def code_version() -> str:
    """This govledger's release (the installed distribution's version)."""
    try:
        return metadata.version("govledger")
    except metadata.PackageNotFoundError:
        return "unknown"


def create_indexes(store: ViewStore) -> None:
    for index, table, columns in INDEXES:
        store.query(
            f"CREATE INDEX IF NOT EXISTS {store.index_name(index)} "
            f"ON {store.table(table)} ({columns})"
        )


def drop_views(store: ViewStore) -> None:
    """Every view table and the tracking records: the next run starts from position 0."""
    with store.transaction():
        store.drop([*TABLES, "tracking", "meta"])


def tracked_position(store: ViewStore) -> int:
    records = store.tracking()
    return min((records[name].position for name in PROJECTIONS if name in records), default=0)
