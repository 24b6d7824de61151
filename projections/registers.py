"""The registers of the Query API: use rights, the systems inventory, access counts and
the audit trail (docs/projections.md "Query API"), answered from the kept views.

A mixin of ``projections.query.Views``: it reads the view store and the zone folded
for the moment, and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any, Final, NamedTuple

from ledger.config import Settings
from ledger.store.connect import ledger_head
from projections import (
    audit_suggestion,
    department_register,
    obligation_registers,
    rectification,
    security_facts,
)
from projections.facts import ACCESS, CST
from projections.labels import event_summary, topics_matching
from projections.model import (
    AccessCounts,
    AuditLine,
    DepartmentInventory,
    Finding,
    Inventory,
    Moment,
    RightsEntry,
    SystemState,
    Tally,
    UseRight,
    _dt,
    _filing,
    _fund,
    _request,
    _resource,
    _system,
)
from projections.runner import (
    BLOCK,
    BLOCK_DIMENSIONS,
    PROJECTIONS,
    Projector,
    positions_of,
)
from projections.store import ViewStore
from projections.zone import State


class _Section(NamedTuple):
    """One section of the inventory page: its state table, the key naming a row (the
    subject of findings about it), the departments a row belongs to, its order, and the
    typed state a shown row is converted to."""

    table: str
    subject: str
    departments: tuple[str, ...]
    order: Callable[[dict[str, Any]], Any]
    convert: Callable[[dict[str, Any]], Any]


# docs/projections.md "Query API" (inventory): the order each section lists in. The keys
# read the raw state, so a page sorts every row but converts only the rows it shows.
INVENTORY_SECTIONS: Final = {
    "systems": _Section(
        "systems", "system_id", ("department",), lambda s: (s["department"], s["name"]), _system
    ),
    "resources": _Section(
        "resources", "code", ("provider_department",), lambda r: r["code"], _resource
    ),
    "requests": _Section(
        "requests",
        "request_id",
        ("requester_department", "provider_department"),
        lambda r: _dt(r["submitted_at"]),
        _request,
    ),
    "filings": _Section("filings", "filing_id", ("builder",), lambda f: f["positions"][0], _filing),
    "funds": _Section("funds", "decision_id", ("department",), lambda d: d["position"], _fund),
}


class RegisterViews:
    """Use rights, inventory, access counts, audit trail; mixed into ``Views``."""

    store: ViewStore
    projector: Projector

    def _state(self, m: Moment) -> State:
        raise NotImplementedError

    def findings(
        self,
        m: Moment,
        *,
        rule: str | None = None,
        department: str | None = None,
        subject_kinds: Collection[str] | None = None,
    ) -> list[Finding]:
        raise NotImplementedError

    def rectifications(
        self, m: Moment, *, department: str | None = None
    ) -> list[rectification.RectificationEntry]:
        """The rectification register (docs/facts.md §8): open, overdue or accepted at ``m``."""
        entries = rectification.register(self._state(m), m.reference_time)
        return [e for e in entries if department is None or e.department == department]

    def audit_suggestions(
        self, m: Moment, *, department: str | None = None
    ) -> list[audit_suggestion.SuggestionEntry]:
        """Audit suggestions and their adoption as of ``m`` (docs/facts.md §8)."""
        entries = audit_suggestion.register(self._state(m), m.reference_time)
        return [e for e in entries if department is None or e.department == department]

    def department_register(
        self, m: Moment, *, year: int | None = None, department: str | None = None
    ) -> department_register.DepartmentRegister:
        """Each department's CIO, annual sharing report of ``year`` (default: the latest
        due by ``m``) and self-inspection report, as of ``m`` (seed 四(二), 四(四), §三(一)1)."""
        state, at = self._state(m), m.reference_time
        chosen = department_register.default_year(state, at) if year is None else year
        return department_register.register(state, at, chosen, department)

    def security_facts(self, m: Moment) -> security_facts.SecurityFacts:
        """条例 §33 declarations in force at ``m`` (docs/facts.md §10)."""
        return security_facts.as_of(self._state(m), m.reference_time)

    def filing_follow_up(self, m: Moment) -> list[obligation_registers.FilingFollowUp]:
        """Each filing's progress, acceptance and evaluation at ``m`` (seed §三(五)17)."""
        return obligation_registers.filing_follow_up(self._state(m), m.reference_time)

    def core_data(self, m: Moment) -> obligation_registers.CoreData:
        """Core resources, their special approvals and the D1 findings named, at ``m``."""
        d1 = self.findings(m, rule="D1")
        return obligation_registers.core_data(self._state(m), m.reference_time, d1)

    # ------------------------------------------------------------------ rights and inventory

    def rights_register(self, m: Moment, *, department: str | None = None) -> list[RightsEntry]:
        state, at = self._state(m), m.reference_time
        # Only what the register shows is converted: approved requests (those a grant in
        # force can be among) and the resources, not the zone's every request and system.
        approved = (_request(r) for r in state["requests"].values() if r["status"] == "approved")
        holders: dict[str, list[UseRight]] = defaultdict(list)
        for grant in (g for g in approved if g.in_force_at(at)):
            assert grant.expires_at is not None and grant.decided_at is not None
            holders[grant.resource_code].append(
                UseRight(
                    grant.request_id,
                    grant.requester_department,
                    grant.granted_items,
                    grant.purpose,
                    grant.expires_at,
                    grant.decided_at,
                    grant.positions[-1],
                )
            )
        entries = []
        for code, raw in sorted(state["resources"].items()):
            r = _resource(raw)
            # By business time, not ledger position: back-filled grants list as live ones.
            rights = tuple(
                sorted(holders.get(code, ()), key=lambda u: (u.granted_at, u.request_id))
            )
            if department is not None and department != r.provider_department:
                rights = tuple(u for u in rights if u.holder_department == department)
                if not rights:
                    continue
            entries.append(
                RightsEntry(
                    code,
                    r.name,
                    r.provider_department,
                    r.sharing_type,
                    r.owner_department,
                    r.controller,
                    r.sensitivity,
                    rights,
                    tuple(raw["positions"]),
                )
            )
        return entries

    def inventory(self, m: Moment, *, department: str | None = None) -> Inventory:
        systems = sorted(
            (
                _system(s)
                for s in self._state(m)["systems"].values()
                if department is None or s["department"] == department
            ),
            key=lambda s: (s.department, s.name),
        )
        candidates = {f.subject for f in self.findings(m, rule="I1", department=department)}
        per: dict[str, list[SystemState]] = defaultdict(list)
        for s in systems:
            per[s.department].append(s)
        departments = tuple(
            DepartmentInventory(
                dept,
                len(group),
                dict(sorted(_count(s.status for s in group).items())),
                sum(s.connected for s in group),
                sum(s.required_to_connect for s in group),
                sum(s.on_cloud for s in group),
            )
            for dept, group in sorted(per.items())
        )
        in_service = [s for s in systems if s.status in ("active", "zombie")]
        share = (lambda n: n / len(in_service)) if in_service else (lambda _n: 0.0)
        return Inventory(
            m,
            departments,
            tuple(systems),
            tuple(s for s in systems if s.system_id in candidates),
            len(in_service),
            share(sum(s.connected for s in in_service)),
            share(sum(s.on_cloud for s in in_service)),
        )

    def inventory_page(
        self,
        m: Moment,
        section: str,
        *,
        department: str | None = None,
        subjects: Collection[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[Any]]:
        """(how many rows, the rows ``offset``.. ``offset + limit``) of one inventory
        section (:data:`INVENTORY_SECTIONS`) at ``m``, in its order: rows of ``department``
        (as either party of a request), ``subjects``: only rows named so (the flagged ones).
        Only the rows returned are converted to typed states: a page of 200 requests does
        not build the other 1,800."""
        spec = INVENTORY_SECTIONS[section]
        found = [
            row
            for row in self._state(m)[spec.table].values()
            if (department is None or any(row[k] == department for k in spec.departments))
            and (subjects is None or row[spec.subject] in subjects)
        ]
        found.sort(key=spec.order)  # stable: ties keep the fold's order, as before
        end = None if limit is None else offset + limit
        return len(found), [spec.convert(row) for row in found[offset:end]]

    # ------------------------------------------------------------------ access counts

    def access_counts(self, m: Moment, *, start: date, end: date) -> AccessCounts:
        """Accesses by dimension: complete blocks from aggregates, the tail from rows."""
        full_blocks = (m.position + 1) // BLOCK
        if m.as_of is not None:
            end = min(end, m.as_of)
        low, high = start.isoformat(), end.isoformat()
        tallies: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
        rows = list(
            self.store.query(
                f"SELECT dim, key, SUM(total), SUM(unauthorized), SUM(row_count) "
                f"FROM {self.store.table('access_blocks')} WHERE block < ? "
                "AND day BETWEEN ? AND ? GROUP BY dim, key",
                (full_blocks, low, high),
            )
        )
        for dim, column in BLOCK_DIMENSIONS.items():
            rows.extend(
                (dim, *row)
                for row in self.store.query(
                    f"SELECT {column}, COUNT(*), SUM(CASE WHEN reasons = '' THEN 0 ELSE 1 END), "
                    f"SUM(row_count) FROM {self.store.table('events')} "
                    "WHERE position >= ? AND position <= ? AND topic = ? "
                    f"AND day BETWEEN ? AND ? GROUP BY {column}",
                    (full_blocks * BLOCK, m.position, ACCESS, low, high),
                )
            )
        for dim, key, total, unauthorized, count in rows:
            tallies[dim][key] = tallies[dim][key].plus(int(total), int(unauthorized), int(count))
        by_month: dict[str, Tally] = defaultdict(Tally)
        for day, tally in tallies["day"].items():
            by_month[day[:7]] = by_month[day[:7]].plus(tally.total, tally.unauthorized, tally.rows)
        by_reason: dict[str, int] = defaultdict(int)
        for reasons, tally in tallies["reasons"].items():
            for reason in filter(None, reasons.split(",")):
                by_reason[reason] += tally.total
        total = Tally()
        for tally in tallies["day"].values():
            total = total.plus(tally.total, tally.unauthorized, tally.rows)
        return AccessCounts(
            start, end, m, total,
            dict(sorted(tallies["provider"].items())),
            dict(sorted(tallies["requester"].items())),
            dict(sorted(tallies["resource"].items())),
            dict(sorted(tallies["purpose"].items())),
            dict(sorted(by_month.items())),
            dict(sorted(by_reason.items())),
        )  # fmt: skip

    # ------------------------------------------------------------------ audit trail

    def audit_trail(
        self,
        m: Moment,
        *,
        entity: str | None = None,
        actor: str | None = None,
        department: str | None = None,
        resource: str | None = None,
        start: date | None = None,
        end: date | None = None,
        limit: int = 1000,
        after: int = 0,
        text: str | None = None,
    ) -> list[AuditLine]:
        """Ledger lines (oldest first) matching every filter given, with position and hash.

        ``resource`` (a catalogue code): the resource's own events, the events of sharing
        requests for it, and the accesses to it. ``text``: the event's Chinese name or kind,
        or part of its actor, entity, department or resource (``projections.labels``)."""
        # Dates and a department: read the department's rows of those dates from its
        # index (department, time) and sort them; the position bound, hidden from the
        # planner (``+position``), would make it walk every row of the department.
        dated = department is not None and (start is not None or end is not None)
        bound = "+position" if dated else "position"
        where: list[str] = [f"{bound} > ?", f"{bound} <= ?"]
        params: list[Any] = [after, m.position]
        if text:
            # Text naming event kinds finds those kinds; other text is part of an id. Not
            # both: four LIKEs a row over the whole trail cost seconds on a large ledger.
            found = topics_matching(text)
            if found:
                where.append(f"topic IN ({', '.join('?' * len(found))})")
                params.extend(sorted(found))
            else:  # the beginning of an id: a range each column's index answers
                columns = ("actor_id", "entity", "department", "resource")
                where.append(_prefix_sql(self.store.backend, self.store.table("events"), columns))
                params.extend(_prefix_params(self.store.backend, text.strip()) * len(columns))
        for column, value in (
            ("entity", entity.replace("-", "") if entity else None),
            ("actor_id", actor),
            ("department", department),
            ("resource", resource),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if start is not None:
            where.append("time >= ?")
            params.append(datetime.combine(start, time(), CST).timestamp())
        if end is not None:
            where.append("time < ?")
            params.append(datetime.combine(end + timedelta(days=1), time(), CST).timestamp())
        rows = self.store.query(
            "SELECT position, topic, entity, actor_id, role, department, time "
            f"FROM {self.store.table('events')} WHERE {' AND '.join(where)} "
            "ORDER BY position LIMIT ?",
            (*params, max(1, min(limit, 10_000))),
        )
        # The lines' ledger rows (hash, state) in one query, not one round trip a line.
        ledger_rows = self.projector.reader.rows_at([int(r[0]) for r in rows])
        lines = []
        for position, topic, ent, actor_id, role, dept, at in rows:
            row = ledger_rows.get(int(position))
            assert row is not None, f"the ledger lost position {position}"
            lines.append(
                AuditLine(
                    int(position),
                    bytes(row[6]).hex(),
                    topic,
                    ent,
                    actor_id,
                    role,
                    dept,
                    datetime.fromtimestamp(float(at), CST),
                    _summary(topic, bytes(row[4])),
                )
            )
        return lines


def _prefix_sql(store_backend: str, table: str, columns: tuple[str, ...]) -> str:
    """Any of ``columns`` begins with the parameter. On SQLite a union of ranges, each
    answered by its column's index, drives the rows (a full scan in position order took
    0.3 s on 200,000 events for a prefix nothing has); on PostgreSQL ``LIKE 'x%'``
    (whose collations do not bound a range by U+FFFF)."""
    if store_backend == "sqlite":
        ranges = " UNION ALL ".join(
            f"SELECT position FROM {table} WHERE {c} >= ? AND {c} < ?" for c in columns
        )
        return f"position IN ({ranges})"
    return "(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns) + ")"


def _prefix_params(store_backend: str, prefix: str) -> list[str]:
    if store_backend == "sqlite":
        return [prefix, prefix + "\U0010ffff"]
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [escaped + "%"]


def _count(values: Iterator[str] | Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


def _summary(topic: str, state: bytes) -> str:
    """The event in Chinese with labelled fields (the one label table, ``projections.labels``)."""
    return event_summary(topic, state)


def projection_positions(settings: Settings) -> dict[str, int]:
    """Projection name -> position it has followed the ledger to (metrics)."""
    store = ViewStore(settings)
    try:
        return positions_of(store)
    finally:
        store.close()


def projection_lags(settings: Settings) -> dict[str, int]:
    """Projection name -> rows of the ledger not yet projected (metrics)."""
    positions = projection_positions(settings)
    head = ledger_head(settings)
    return {name: max(0, head - positions.get(name, 0)) for name in PROJECTIONS}
