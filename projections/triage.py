"""The security officer's triage queue over the anomalies view (issue #16, docs/console.md
"Anomaly triage"): filters, sort, paging, assignment and age, in SQL.

The anomalies and their status come from ``Views`` (docs/projections.md Anomaly); this
module only narrows and orders them, so the queue, its counts and its export read the same
rows. The assignee is the comment of the latest ``assign`` review (ledger/domain/review.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.domain.review import ReviewAction
from projections.model import Anomaly
from projections.query import Moment, Views

# Sort key -> SQL order (ties broken by id, so pages never overlap).
SORTS: Final[dict[str, str]] = {
    "score": "score DESC, time{b} DESC, anomaly_id{b}",
    "newest": "time{b} DESC, anomaly_id{b}",
    "oldest": "time{b}, anomaly_id{b}",
    "kind": "kind{b}, score DESC, anomaly_id{b}",
}


@dataclass(frozen=True)
class Triage:
    """What the officer narrowed the queue to; empty text means no filter."""

    status: str = "open"
    kind: str = ""
    severity: str = ""
    accessor: str = ""
    resource: str = ""
    department: str = ""
    assignee: str = ""
    start: date | None = None
    end: date | None = None
    overdue_before: datetime | None = None  # only open anomalies older than this
    sort: str = "score"


@dataclass(frozen=True)
class QueueRow:
    anomaly: Anomaly
    assignee: str


def _filtered(views: Views, m: Moment, t: Triage) -> tuple[str, list[Any]]:
    base, params = views._anomalies_sql(m, t.department or None)
    reviews = views.store.table("reviews")
    assigned = (
        f"SELECT r.anomaly_id, r.comment AS assignee FROM {reviews} r JOIN (SELECT "
        f"MAX(position) AS position FROM {reviews} WHERE position <= ? AND action = ? "
        "GROUP BY anomaly_id) l ON r.position = l.position"
    )
    sql = (
        f"SELECT q.*, COALESCE(g.assignee, '') AS assignee FROM ({base}) q "
        f"LEFT JOIN ({assigned}) g ON g.anomaly_id = q.anomaly_id WHERE 1 = 1"
    )
    params = [*params, m.position, ReviewAction.ASSIGN.value]
    for column, value in (
        ("q.status", t.status),
        ("q.kind", t.kind),
        ("q.severity", t.severity),
        ("q.subject", t.accessor),
        ("COALESCE(g.assignee, '')", t.assignee),
    ):
        if value:
            sql += f" AND {column} = ?"
            params.append(value)
    if t.resource:
        sql += " AND (q.subject = ? OR q.detail LIKE ?)"
        params += [t.resource, f"%{t.resource}%"]
    if t.start is not None:
        sql += " AND q.time >= ?"
        params.append(datetime.combine(t.start, time(), CST).isoformat())
    if t.end is not None:
        sql += " AND q.time < ?"
        params.append(datetime.combine(t.end + timedelta(days=1), time(), CST).isoformat())
    if t.overdue_before is not None:
        sql += " AND q.status = 'open' AND q.time < ?"
        params.append(t.overdue_before.astimezone(CST).isoformat())
    return sql, params


def count(views: Views, m: Moment, t: Triage) -> int:
    sql, params = _filtered(views, m, t)
    return int(views.store.query(f"SELECT COUNT(*) FROM ({sql}) c", params)[0][0])


def rows(views: Views, m: Moment, t: Triage, *, limit: int, offset: int = 0) -> list[QueueRow]:
    """One page of the narrowed queue, in the chosen order."""
    sql, params = _filtered(views, m, t)
    b = ' COLLATE "C"' if views.store.backend == "postgresql" else ""
    order = SORTS.get(t.sort, SORTS["score"]).format(b=b)
    found = views.store.query(
        f"SELECT * FROM ({sql}) p ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, max(0, limit), max(0, offset)],
    )
    reviews = views._reviews(m) if found else {}
    return [QueueRow(views._anomaly(r[:9], reviews.get(str(r[0]), ())), str(r[-1])) for r in found]
