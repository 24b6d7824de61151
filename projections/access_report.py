"""What the risk and annual reports read about accesses, aggregated in the views' SQL
(issue #12 item 2: a report's cost follows what it shows, not the ledger's length).

The views keep one ``events`` row per access (requester, resource, provider, purpose,
rows read, the platform's reasons, the personal information it reads: ``touches``),
the items it read and the grant it quoted, and the findings the rules give each
flagged access (``findings``, subject kind ``access``; projections/rules/folded.py).
Reports ask here for a year as of a moment:

* ``access_groups`` — access counts grouped by (requester, resource, provider,
  purpose, flagged, touches): a few thousand groups whatever the traffic;
* ``access_rule_groups`` — findings on accesses by (rule, resource, requester, month),
  with a sample of their positions;
* ``flagged_accesses`` — the 违规访问台账: the first ``limit`` flagged accesses with
  their rules, and how many there are in all.

A flagged access is one the platform recorded with reasons; the rules
(projections/rules/folded.py) give each such access at least one finding, so the
counts here and the views' findings agree (tests/projections/test_agreement.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from projections.facts import ACCESS
from projections.model import Finding, Moment, _finding
from projections.rules import FindingTuple
from projections.schema import BLOCK, standing_at, standing_params
from projections.store import ViewStore

# The same grouping as kept in ``access_totals`` (its columns, in the same order).
_TOTALS_KEY = "department, resource, provider, purpose, flagged, month, touches"
# The grouping of accesses the reports read: requester, resource, provider, purpose,
# flagged (the platform's reasons), the month of a flagged one, personal information read.
_GROUP_KEY = (
    "department, resource, provider, purpose, "
    "CASE WHEN reasons = '' THEN 0 ELSE 1 END, "
    "CASE WHEN reasons = '' THEN 0 ELSE CAST(substr(day, 6, 2) AS INTEGER) END, "
    "COALESCE(touches, 0)"
)


@dataclass(frozen=True)
class AccessGroup:
    department: str
    resource: str
    provider: str
    purpose: str
    flagged: bool
    month: int  # 1–12 for flagged accesses (the trend), 0 for the others
    touches: int  # schema.TOUCHES_*
    count: int
    rows: int


@dataclass(frozen=True)
class RuleGroup:
    """Findings of one rule on the accesses of one (resource, requester, month)."""

    rule: str
    severity: str
    resource: str
    department: str
    month: int
    accesses: int
    sample: tuple[int, ...]


@dataclass(frozen=True)
class FlaggedAccess:
    position: int
    epoch: float
    department: str
    accessor_id: str
    resource: str
    purpose: str
    items: tuple[str, ...]
    grant_id: str | None
    reasons: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True)
class AnomalyGroup:
    """Anomalies of one kind in one review state (after their latest review)."""

    kind: str
    status: str
    count: int
    sample: tuple[int, ...]


class AccessReportViews:
    """Access aggregates for reports; mixed into ``projections.query.Views``."""

    store: ViewStore

    def _finding_filter(
        self,
        m: Moment,
        rule: str | None,
        department: str | None,
        subject_kinds: Collection[str] | None,
    ) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def _state_findings(
        self,
        m: Moment,
        rule: str | None,
        department: str | None,
        subject_kinds: Collection[str] | None,
    ) -> Iterator[FindingTuple]:
        raise NotImplementedError

    def _anomalies_sql(self, m: Moment, department: str | None) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def anomaly_groups(self, m: Moment, year: int) -> list[AnomalyGroup]:
        """The anomalies dated in ``year`` (CST) at ``m``, by kind and review state, counted
        in SQL (one row per kind and state, not one object per anomaly)."""
        sql, params = self._anomalies_sql(m, None)
        rows = self.store.query(
            "SELECT kind, status, COUNT(*), MIN(position), MAX(position) "
            f"FROM ({sql}) q WHERE substr(time, 1, 4) = ? GROUP BY kind, status",
            [*params, f"{year:04d}"],
        )
        return [
            AnomalyGroup(str(kind), str(status), int(n), _ends(lo, hi, int(n)))
            for kind, status, n, lo, hi in rows
        ]

    def findings_beside_accesses(self, m: Moment) -> list[Finding]:
        """The findings at ``m`` on anything but an access (systems, resources, requests,
        filings, fund decisions, the ledger): a few hundred, whatever the traffic."""
        where, params = self._finding_filter(m, None, None, None)
        rows: list[tuple[Any, ...]] = list(
            self.store.query(
                "SELECT finding_id, rule, severity, subject, subject_kind, department, "
                f"positions, position, time, detail FROM {self.store.table('findings')} "
                f"WHERE {where} AND subject_kind <> 'access'",
                params,
            )
        )
        rows.extend(r for r in self._state_findings(m, None, None, None) if r[4] != "access")
        return sorted((_finding(r) for r in rows), key=lambda f: (f.time, f.rule, f.subject))

    def _year_bounds(self, m: Moment, year: int) -> tuple[str, str]:
        end = date(year, 12, 31)
        if m.as_of is not None:
            end = min(end, m.as_of)
        return date(year, 1, 1).isoformat(), end.isoformat()

    def access_groups(self, m: Moment, year: int) -> list[AccessGroup]:
        """Accesses of ``year`` (CST business day) recorded up to ``m``, grouped.

        At a position: the year's totals kept at the end of the last complete block
        (``access_totals``, a few thousand rows whatever the ledger's length) plus the
        accesses after it, grouped here. As of a date: every access of the year up to it.
        """
        low, high = self._year_bounds(m, year)
        sums: dict[tuple[Any, ...], list[int]] = {}
        after = 0
        full = (m.position + 1) // BLOCK
        if m.as_of is None and full > 0:
            for *key, n, rows in self.store.query(
                f"SELECT {_TOTALS_KEY}, total, row_count FROM {self.store.table('access_totals')} "
                "WHERE block = ? AND year = ?",
                (full - 1, year),
            ):
                sums[tuple(key)] = [int(n), int(rows)]
            after = full * BLOCK
        where = "WHERE topic = ? AND position >= ? AND position <= ? AND day BETWEEN ? AND ?"
        _add_groups(self.store, sums, where, (ACCESS, after, m.position, low, high))
        return [
            AccessGroup(str(d), str(r), str(p or ""), str(u or ""), bool(f), int(mo), int(t), n, c)
            for (d, r, p, u, f, mo, t), (n, c) in sums.items()
        ]

    def access_rule_groups(self, m: Moment, year: int) -> list[RuleGroup]:
        """Findings on accesses of ``year`` by (rule, resource, requester, month)."""
        low, high = self._year_bounds(m, year)
        findings, events = self.store.table("findings"), self.store.table("events")
        rows = self.store.query(
            "SELECT f.rule, f.severity, e.resource, e.department, "
            "CAST(substr(e.day, 6, 2) AS INTEGER), "
            "COUNT(*), MIN(f.position), MAX(f.position) "
            f"FROM {findings} f JOIN {events} e ON e.position = f.position "
            f"WHERE f.subject_kind = 'access' AND {standing_at('f.')} AND e.day BETWEEN ? AND ? "
            "GROUP BY 1, 2, 3, 4, 5",
            (*standing_params(m.position), low, high),
        )
        return [
            RuleGroup(
                str(rule), str(sev), str(res), str(dep), int(month), int(n), _ends(lo, hi, int(n))
            )
            for rule, sev, res, dep, month, n, lo, hi in rows
        ]

    def flagged_count(self, m: Moment, year: int) -> int:
        """How many accesses of ``year`` the 违规访问台账 covers: those the platform
        flagged (reasons), and those it let through that a rule of the views flags."""
        low, high = self._year_bounds(m, year)
        events, findings = self.store.table("events"), self.store.table("findings")
        flagged = self.store.query(
            f"SELECT COUNT(*) FROM {events} "
            "WHERE topic = ? AND position <= ? AND day BETWEEN ? AND ? AND reasons <> ''",
            (ACCESS, m.position, low, high),
        )
        judged = self.store.query(
            f"SELECT COUNT(DISTINCT f.position) FROM {findings} f "
            f"JOIN {events} e ON e.position = f.position WHERE f.subject_kind = 'access' "
            f"AND {standing_at('f.')} AND e.day BETWEEN ? AND ? AND e.reasons = ''",
            (*standing_params(m.position), low, high),
        )
        return int(flagged[0][0]) + int(judged[0][0])

    def flagged_accesses(self, m: Moment, year: int, *, limit: int) -> list[FlaggedAccess]:
        """The first ``limit`` accesses of ``year`` in ledger order that the platform
        flagged or a rule of the views flags, with the rules the views give each."""
        low, high = self._year_bounds(m, year)
        events, findings = self.store.table("events"), self.store.table("findings")
        found = self.store.query(
            "SELECT e.position, e.epoch, e.department, e.actor_id, e.resource, e.purpose, "
            f"e.reasons, e.items, e.grant_id FROM {events} e "
            "WHERE e.topic = ? AND e.position <= ? AND e.day BETWEEN ? AND ? "
            f"AND (e.reasons <> '' OR EXISTS (SELECT 1 FROM {findings} f "
            f"WHERE f.position = e.position AND f.subject_kind = 'access' AND {standing_at('f.')}"
            ")) ORDER BY e.position LIMIT ?",
            (ACCESS, m.position, low, high, *standing_params(m.position), limit),
        )
        if not found:
            return []
        rules = self._rules_between(m, int(found[0][0]), int(found[-1][0]))
        return [
            FlaggedAccess(
                int(position),
                float(epoch),
                str(department),
                str(accessor),
                str(resource),
                str(purpose or ""),
                tuple(orjson.loads(items)) if items else (),
                str(grant) if grant else None,
                tuple(filter(None, str(reasons).split(","))),
                rules.get(int(position), ()),
            )
            for (
                position,
                epoch,
                department,
                accessor,
                resource,
                purpose,
                reasons,
                items,
                grant,
            ) in found
        ]

    def _rules_between(self, m: Moment, first: int, last: int) -> dict[int, tuple[str, ...]]:
        """The rules of the access findings standing at ``m`` on accesses first..last."""
        out: dict[int, list[str]] = {}
        for position, rule in self.store.query(
            f"SELECT position, rule FROM {self.store.table('findings')} "
            f"WHERE subject_kind = 'access' AND position BETWEEN ? AND ? AND {standing_at()}",
            (first, last, *standing_params(m.position)),
        ):
            out.setdefault(int(position), []).append(str(rule))
        return {p: tuple(sorted(set(r), key=rule_order)) for p, r in out.items()}


Sums = dict[tuple[Any, ...], list[int]]  # group -> [accesses, rows read]


def write_totals(
    store: ViewStore, block: int, size: int, previous: tuple[int, Sums] | None = None
) -> Sums:
    """Write the ``access_totals`` rows at the end of ``block`` (``size`` positions): those
    at the end of the block before, plus the block's own accesses (the runner, in the
    transaction that completes the block). ``previous``: the totals this process wrote
    last, used when they are the block before's; returns the new totals."""
    if previous is not None and previous[0] == block - 1:
        # A copy: a transaction that fails after this leaves ``previous`` as it was.
        sums = {key: list(values) for key, values in previous[1].items()}
    else:
        sums = {}
        for row in store.query(
            f"SELECT year, {_TOTALS_KEY}, total, row_count "
            f"FROM {store.table('access_totals')} WHERE block = ?",
            (block - 1,),
        ):
            sums[row[:8]] = [int(row[8]), int(row[9])]
    _add_groups(
        store, sums, "WHERE topic = ? AND position BETWEEN ? AND ?",
        (ACCESS, block * size, block * size + size - 1), with_year=True,
    )  # fmt: skip
    store.insert_many(
        "access_totals",
        ("block", "year", *_TOTALS_KEY.split(", "), "total", "row_count"),
        [(block, *key, n, rows) for key, (n, rows) in sums.items()],
    )
    return sums


def _add_groups(
    store: ViewStore,
    sums: Sums,
    where: str,
    params: tuple[Any, ...],
    *,
    with_year: bool = False,
) -> None:
    """Add the accesses ``where`` selects to ``sums``, grouped by ``_GROUP_KEY`` (and their
    year first, ``with_year``). PostgreSQL groups them (a hash aggregate); SQLite's GROUP
    BY sorts every row, so there the narrow rows are streamed and summed here."""
    events = store.table("events")
    key_sql = f"CAST(substr(day, 1, 4) AS INTEGER), {_GROUP_KEY}" if with_year else _GROUP_KEY
    width = 8 if with_year else 7
    if store.backend == "postgresql":
        groups = ", ".join(str(n) for n in range(1, width + 1))
        for row in store.query(
            f"SELECT {key_sql}, COUNT(*), SUM(row_count) FROM {events} {where} GROUP BY {groups}",
            params,
        ):
            _add(sums, tuple(row[:width]), int(row[width]), int(row[width + 1] or 0))
        return
    for batch in store.stream(f"SELECT {key_sql}, row_count FROM {events} {where}", params):
        for row in batch:
            _add(sums, row[:width], 1, row[width] or 0)


def _add(sums: Sums, key: tuple[Any, ...], n: int, rows: int) -> None:
    found = sums.get(key)
    if found is None:
        sums[key] = [n, rows]
    else:
        found[0] += n
        found[1] += rows


def rule_order(rule: str) -> tuple[str, int]:
    return rule[0], int(rule[1:]) if rule[1:].isdigit() else 0


def _ends(low: Any, high: Any, count: int) -> tuple[int, ...]:
    """The first and last position of a group: evidence cited with the group's count."""
    return (int(low),) if count == 1 or low == high else (int(low), int(high))
