"""The anomalies of the Query API and their reviews (docs/projections.md "Query API").

A mixin of ``projections.query.Views``: the anomalies the fold detected (domain.md
"Anomalies", ``projections.detector``) with the status their latest review gives them
at a moment (``ledger.domain.review``), sorted, counted and paged in SQL for the review
queue (``projections.triage``). Split from ``projections.query`` to keep modules of one
concern (docs/architecture.md, under 600 lines); it reads the view store and writes
nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from ledger.domain.review import STATUS_AFTER, ReviewAction, ReviewStatus
from projections.model import OPEN_STATUSES, Anomaly, Moment, Review
from projections.schema import day_filter, day_params
from projections.store import ViewStore


class AnomalyViews:
    """Anomalies, their counts and reviews; mixed into ``Views``."""

    store: ViewStore

    @property
    def position(self) -> int:
        raise NotImplementedError

    def anomalies(
        self,
        m: Moment,
        *,
        status: str | None = None,
        department: str | None = None,
        by_score: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Anomaly]:
        """Anomalies at ``m`` in ledger order, or ``by_score`` (highest first, then the most
        recent, then by id: the review queue); ``limit``/``offset``: one page of them."""
        order = (
            f"score DESC, time{self._bytewise} DESC, anomaly_id{self._bytewise}"
            if by_score
            else "position, anomaly_id"
        )
        sql, params = self._anomalies_sql(m, department)
        sql = f"SELECT * FROM ({sql}) q"
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params.extend([max(0, limit), max(0, offset)])
        elif offset:
            raise ValueError("an offset needs a limit")
        rows = self.store.query(sql, params)
        reviews = self._reviews(m) if rows else {}
        return [self._anomaly(r[:9], reviews.get(r[0], ())) for r in rows]

    def anomaly_counts(self, m: Moment, *, department: str | None = None) -> dict[str, int]:
        """Status -> how many anomalies at ``m`` have it (every status, zeros included)."""
        sql, params = self._anomalies_sql(m, department)
        counts = dict.fromkeys((s.value for s in ReviewStatus), 0)
        for status, count in self.store.query(
            f"SELECT status, COUNT(*) FROM ({sql}) q GROUP BY status", params
        ):
            counts[str(status)] = int(count)
        return counts

    def open_anomalies_by_severity(self, m: Moment) -> dict[str, int]:
        """Severity -> how many anomalies at ``m`` are open (not dismissed), grouped in SQL."""
        sql, params = self._anomalies_sql(m, None)
        statuses = sorted(OPEN_STATUSES)
        rows = self.store.query(
            f"SELECT severity, COUNT(*) FROM ({sql}) q "
            f"WHERE status IN ({', '.join('?' * len(statuses))}) GROUP BY severity",
            [*params, *statuses],
        )
        return {str(severity): int(count) for severity, count in rows}

    @property
    def _bytewise(self) -> str:
        """Order text by code point, as Python does (PostgreSQL's default collation may not)."""
        return ' COLLATE "C"' if self.store.backend == "postgresql" else ""

    def _anomalies_sql(self, m: Moment, department: str | None) -> tuple[str, list[Any]]:
        """Every anomaly at ``m`` with its status (after its latest review then), in SQL: the
        queue sorts, counts and pages the anomalies without decoding them all."""
        reviews, day = self.store.table("reviews"), day_filter(m)
        # Notes and assignments keep the status: the latest review that moved it counts.
        moving = ", ".join(f"'{a.value}'" for a in STATUS_AFTER)
        latest = (
            f"SELECT r.anomaly_id, r.action FROM {reviews} r JOIN (SELECT MAX(position) AS "
            f"position FROM {reviews} WHERE position <= ?{day} AND action IN ({moving}) "
            "GROUP BY anomaly_id) l "
            "ON r.position = l.position"
        )
        status = " ".join(f"WHEN '{a.value}' THEN '{s.value}'" for a, s in STATUS_AFTER.items())
        sql = (
            "SELECT a.anomaly_id, a.kind, a.score, a.severity, a.subject, a.department, "
            "a.positions, a.time, a.detail, a.position, "
            f"CASE v.action {status} ELSE '{ReviewStatus.OPEN.value}' END AS status "
            f"FROM {self.store.table('anomalies')} a LEFT JOIN ({latest}) v "
            f"ON v.anomaly_id = a.anomaly_id WHERE a.position <= ?{day_filter(m, 'a.time')}"
        )
        params: list[Any] = [m.position, *day_params(m), m.position, *day_params(m)]
        if department is not None:
            sql += " AND a.department = ?"
            params.append(department)
        return sql, params

    def anomaly(self, anomaly_id: str) -> Anomaly | None:
        rows = self.store.query(
            f"SELECT anomaly_id, kind, score, severity, subject, department, positions, time, "
            f"detail FROM {self.store.table('anomalies')} WHERE anomaly_id = ?",
            (anomaly_id,),
        )
        if not rows:
            return None
        head = Moment(self.position, datetime.now(UTC))
        return self._anomaly(rows[0], self._reviews(head).get(anomaly_id, ()))

    def _reviews(self, m: Moment) -> dict[str, tuple[Review, ...]]:
        found: dict[str, list[Review]] = defaultdict(list)
        for pos, anomaly_id, action, comment, actor_id, at in self.store.query(
            f"SELECT position, anomaly_id, action, comment, actor_id, time "
            f"FROM {self.store.table('reviews')} WHERE position <= ?{day_filter(m)} "
            "ORDER BY position",
            (m.position, *day_params(m)),
        ):
            found[anomaly_id].append(
                Review(action, comment, actor_id, datetime.fromisoformat(at), int(pos))
            )
        return {k: tuple(v) for k, v in found.items()}

    @staticmethod
    def _anomaly(row: tuple[Any, ...], reviews: tuple[Review, ...]) -> Anomaly:
        aid, kind, score, severity, subject, department, positions, at, detail = row
        moved = [r for r in reviews if r.action in STATUS_AFTER]  # notes keep the status
        status = STATUS_AFTER[ReviewAction(moved[-1].action)].value if moved else "open"
        return Anomaly(
            aid, kind, float(score), severity, subject, department,
            tuple(json.loads(positions)), datetime.fromisoformat(at), detail, status, reviews,
        )  # fmt: skip
