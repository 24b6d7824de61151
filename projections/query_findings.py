"""The findings of the Query API (docs/projections.md "Query API", §Findings are versions).

A mixin of ``projections.query.Views``: the findings at a moment are the versions the
fold stored standing there (event rules, ``projections.rules.folded``) plus the ones
judged on the zone's state at the moment asked (state rules, ``projections.rules``),
filtered, counted and paged in SQL where the table holds them. Split from
``projections.query`` to keep modules of one concern (docs/architecture.md, under 600
lines); it reads the view store and the zone folded for the moment, and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from datetime import date, datetime
from typing import Any

from ledger.config import Settings
from projections.model import Finding, Moment, _finding
from projections.rules import FindingTuple, RuleStatus, rule_status, state_findings
from projections.schema import day_filter, day_params, standing_at, standing_params
from projections.store import ViewStore
from projections.zone import State


class FindingViews:
    """Findings, their counts and every rule's status; mixed into ``Views``."""

    settings: Settings
    store: ViewStore
    # The moment-dependent findings of the last moment asked (a page lists some and
    # counts all of them).
    _judged: tuple[tuple[int, date | None, datetime], list[FindingTuple]] | None

    def _state(self, m: Moment) -> State:
        raise NotImplementedError

    def findings(
        self,
        m: Moment,
        *,
        rule: str | None = None,
        department: str | None = None,
        subject_kinds: Collection[str] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Finding]:
        """Findings at ``m``, oldest first (or ``newest_first``), by time, rule, subject and
        id; ``subject_kinds``: only about these kinds of subject (system, resource, request,
        filing, fund_decision, access). A page (``limit`` after ``offset``) is cut in SQL, so
        a page of a million access findings reads a page of rows."""
        where, params = self._finding_filter(m, rule, department, subject_kinds)
        order = " DESC" if newest_first else ""
        sql = (
            f"SELECT finding_id, rule, severity, subject, subject_kind, department, "
            f"positions, position, time, detail FROM {self.store.table('findings')} "
            f"WHERE {where}"
        )
        if limit is not None:  # the page's rows in SQL; the state's few findings may fall
            # anywhere in it, so both are sorted below (a whole answer is sorted only there)
            sql = (
                f"{sql} ORDER BY time{order}, rule{order}, subject{order}, finding_id{order} "
                "LIMIT ?"
            )
            params = [*params, offset + limit]
        rows: list[tuple[Any, ...]] = list(self.store.query(sql, params))
        rows.extend(self._state_findings(m, rule, department, subject_kinds))
        found = sorted(
            (_finding(r) for r in rows),
            key=lambda f: (f.time, f.rule, f.subject, f.finding_id),
            reverse=newest_first,
        )
        return found[offset:] if limit is None else found[offset : offset + limit]

    def finding_total(
        self,
        m: Moment,
        *,
        rule: str | None = None,
        department: str | None = None,
        subject_kinds: Collection[str] | None = None,
    ) -> int:
        """How many findings :meth:`findings` answers with these filters, counted in SQL."""
        where, params = self._finding_filter(m, rule, department, subject_kinds)
        ((stored,),) = self.store.query(
            f"SELECT COUNT(*) FROM {self.store.table('findings')} WHERE {where}", params
        )
        return int(stored) + sum(
            1 for _ in self._state_findings(m, rule, department, subject_kinds)
        )

    def finding_count(self, m: Moment, *, department: str | None = None) -> int:
        """How many findings :meth:`findings` answers at ``m``, counted without reading them."""
        return sum(self.finding_tally(m, department=department).values())

    def finding_tally(
        self, m: Moment, *, department: str | None = None
    ) -> dict[tuple[str, str], int]:
        """(rule, severity) -> how many findings :meth:`findings` answers at ``m``, grouped
        in SQL: the metrics ask at every new head, and most findings are access findings."""
        where, params = self._finding_filter(m, None, department, None)
        tally: dict[tuple[str, str], int] = defaultdict(int)
        for rule, severity, count in self.store.query(
            f"SELECT rule, severity, COUNT(*) FROM {self.store.table('findings')} "
            f"WHERE {where} GROUP BY rule, severity",
            params,
        ):
            tally[str(rule), str(severity)] += int(count)
        for row in self._state_findings(m, None, department, None):
            tally[row[1], row[2]] += 1
        return dict(tally)

    def rule_status(self, m: Moment, *, department: str | None = None) -> list[RuleStatus]:
        """Every rule of the catalogue at ``m``: its count of findings, or 未评估 and why
        (projections.rules.catalogue) — what reports, /metrics, console and CLI print."""
        return rule_status(self.finding_tally(m, department=department))

    def _finding_filter(
        self,
        m: Moment,
        rule: str | None,
        department: str | None,
        subject_kinds: Collection[str] | None,
    ) -> tuple[str, list[Any]]:
        """The findings table's WHERE clause: the filters are pushed into SQL, because the
        access findings (most of the table) are decoded for nothing otherwise. The
        versions standing at ``m`` (docs/projections.md §Findings are versions)."""
        where = [f"{standing_at()}{day_filter(m)}"]
        params: list[Any] = [*standing_params(m.position), *day_params(m)]
        for column, value in (("rule", rule), ("department", department)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if subject_kinds is not None:
            kinds = sorted(subject_kinds) or [""]
            where.append(f"subject_kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        return " AND ".join(where), params

    def _state_findings(
        self,
        m: Moment,
        rule: str | None,
        department: str | None,
        subject_kinds: Collection[str] | None,
    ) -> Iterator[FindingTuple]:
        """The moment-dependent findings (projections.rules) that pass the same filters."""
        key = (m.position, m.as_of, m.reference_time)
        if self._judged is None or self._judged[0] != key:
            judged = state_findings(
                self._state(m), m.reference_time, self.settings.finding_zombie_days
            )
            self._judged = (key, list(judged))
        for row in self._judged[1]:
            if (
                (rule is None or row[1] == rule)
                and (department is None or row[5] == department)
                and (subject_kinds is None or row[4] in subject_kinds)
            ):
                yield row
