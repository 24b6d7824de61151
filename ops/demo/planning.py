"""The demo year's plan, drawn from one RNG and written nowhere: requests and their fates,
then each day's accesses with the violations planted at a known rate.

Each planted access is built so that ``security.access.evaluate_access`` finds
exactly one reason; the loader refuses to go on if it finds another. Working
days come from the calendar the demo records (ledger/domain/district_calendar.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from ledger.domain import AccessReason, AccessReport, SharingType
from ledger.domain.district_calendar import CalendarSpec
from ops.demo.zone import (
    DEMO_YEAR,
    DEPARTMENTS,
    LEGAL_BASES,
    OFF_HOURS_RATE,
    PURPOSES,
    REJECTION_REASONS,
    YEAR_END,
    Cast,
    _at,
)


@dataclass(frozen=True)
class Catalogue:
    """What the planner needs of the registered resources, by code."""

    provider: dict[str, str]
    sharing: dict[str, SharingType]
    items: dict[str, tuple[str, ...]]
    sensitive: dict[str, frozenset[str]]

    def codes(self, sharing: SharingType) -> list[str]:
        return [code for code, kind in self.sharing.items() if kind is sharing]


@dataclass
class PlannedRequest:
    """One sharing request and its fate. Days are local dates; ``end_day`` is exclusive."""

    index: int
    requester: str
    resource: str
    items: tuple[str, ...]
    purpose: str
    legal_basis: str
    submitted: datetime
    outcome: str  # approved | revoked | rejected | rejected_no_reason | unanswered | pending
    decided: datetime | None = None
    granted: tuple[str, ...] = ()
    expires: datetime | None = None
    revoked: datetime | None = None
    reason: str = ""

    @property
    def approved_day(self) -> date:
        assert self.decided is not None
        return self.decided.date()

    @property
    def end_day(self) -> date:
        """First local day on which the grant no longer covers the whole day."""
        assert self.expires is not None
        return self.revoked.date() if self.revoked else self.expires.date()


def _working_days(calendar_check: Callable[[date], bool], start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if calendar_check(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _subset(rng: random.Random, items: tuple[str, ...], least: int = 1) -> tuple[str, ...]:
    """A random non-empty subset, in catalogue order."""
    chosen = set(rng.sample(items, rng.randint(min(least, len(items)), len(items))))
    return tuple(item for item in items if item in chosen)


class RequestPlanner:
    """Draws ~2,000 requests over the year with realistic fates (51号 conditional sharing)."""

    def __init__(self, calendar: CalendarSpec, rng: random.Random, catalogue: Catalogue) -> None:
        self.rng = rng
        self.catalogue = catalogue
        # What the ledger will compute for each request: the calendar the demo records.
        self.deadline = calendar.deadline(SharingType.CONDITIONAL)
        is_working = calendar.working_calendar().is_working_day
        self.working = _working_days(is_working, date(DEMO_YEAR, 1, 13), date(DEMO_YEAR, 12, 24))
        self.is_working = is_working

    def plan(self, count: int) -> list[PlannedRequest]:
        conditional = self.catalogue.codes(SharingType.CONDITIONAL)
        not_shareable = self.catalogue.codes(SharingType.NOT_SHAREABLE)
        plans = []
        for index in range(count):
            pool = not_shareable if self.rng.random() < 0.015 else conditional
            plans.append(self._one(index, self.rng.choice(pool)))
        plans.sort(key=lambda p: p.submitted)
        return plans

    def _one(self, index: int, code: str) -> PlannedRequest:
        rng, provider = self.rng, self.catalogue.provider[code]
        requester = rng.choice([d for d, _, _ in DEPARTMENTS if d != provider])
        day = rng.choice(self.working)
        plan = PlannedRequest(
            index=index,
            requester=requester,
            resource=code,
            items=_subset(rng, self.catalogue.items[code], least=2),
            purpose=rng.choice(PURPOSES[requester]),
            legal_basis=rng.choice(LEGAL_BASES),
            submitted=_at(day, rng.randint(9, 16), rng.randint(0, 59), rng.randint(0, 59)),
            outcome="pending",
        )
        self._decide(plan, not_shareable=self.catalogue.sharing[code] is SharingType.NOT_SHAREABLE)
        return plan

    def _answer_day(self, submitted: date, late: bool) -> date:
        due = self.deadline.due(_at(submitted, 12))
        if late:
            day = due + timedelta(days=self.rng.randint(3, 20))
            while not self.is_working(day):
                day += timedelta(days=1)
            return day
        count = self.rng.randint(1, 8)
        day = submitted
        while count:
            day += timedelta(days=1)
            count -= self.is_working(day)
        return min(day, due)

    def _decide(self, plan: PlannedRequest, *, not_shareable: bool) -> None:
        rng, submitted = self.rng, plan.submitted.date()
        draw = rng.random()
        if draw < 0.04:
            overdue = self.deadline.due(plan.submitted) < date(DEMO_YEAR, 12, 1)
            plan.outcome = "unanswered" if overdue else "pending"
            return
        answered = self._answer_day(submitted, late=rng.random() < 0.08)
        if answered > YEAR_END:
            return  # still pending at the year's end
        plan.decided = _at(answered, rng.randint(9, 17), rng.randint(0, 59))
        if not_shareable:
            plan.outcome, plan.reason = (
                "rejected",
                "该资源为不予共享类，依据其目录所列法律依据不予提供",
            )
        elif draw < 0.13:
            plan.outcome, plan.reason = "rejected", rng.choice(REJECTION_REASONS)
        elif draw < 0.16:
            plan.outcome = "rejected_no_reason"  # S7
        else:
            self._grant(plan)

    def _grant(self, plan: PlannedRequest) -> None:
        rng = self.rng
        assert plan.decided is not None
        plan.outcome = "approved"
        narrowed = len(plan.items) > 2 and rng.random() < 0.3  # the provider grants less
        plan.granted = _subset(rng, plan.items, least=1) if narrowed else plan.items
        expiry = plan.decided.date() + timedelta(days=rng.randint(45, 420))
        plan.expires = _at(expiry, 0)
        if rng.random() < 0.07:
            revoke_day = plan.decided.date() + timedelta(days=rng.randint(10, 120))
            if revoke_day < min(expiry, YEAR_END):
                plan.revoked = _at(revoke_day, 15, rng.randint(0, 59))
                plan.outcome = "revoked"


# ---------------------------------------------------------------------------------
# The exchange platform's accesses, day by day, with planted violations
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedAccess:
    report: AccessReport
    expected: tuple[AccessReason, ...]
    kind: str  # normal | off_hours_sensitive | a reason code


class AccessPlanner:
    """Draws each day's accesses; a planted one is built so it has exactly one reason."""

    def __init__(
        self,
        rng: random.Random,
        catalogue: Catalogue,
        plans: list[PlannedRequest],
        cast: Cast,
        systems: dict[str, str],
        violation_rate: float,
    ) -> None:
        self.rng, self.catalogue, self.cast, self.systems = rng, catalogue, cast, systems
        self.violation_rate = violation_rate
        self.grants = [p for p in plans if p.outcome in ("approved", "revoked")]
        self.grant_ids: dict[int, UUID] = {}  # filled in as requests are submitted
        granted_pairs = {(p.requester, p.resource) for p in self.grants}
        departments = [d for d, _, _ in DEPARTMENTS]
        conditional = catalogue.codes(SharingType.CONDITIONAL)
        self.no_grant_pairs = [
            (d, c)
            for c in conditional
            for d in departments
            if d != catalogue.provider[c] and (d, c) not in granted_pairs
        ]
        self.unconditional = catalogue.codes(SharingType.UNCONDITIONAL)
        self.not_shareable = catalogue.codes(SharingType.NOT_SHAREABLE)
        self.sensitive_any = [c for c in catalogue.provider if catalogue.sensitive[c]]
        self.seq = 0

    # -- the day's grant situation ---------------------------------------------

    def _situation(self, day: date) -> dict[str, list[PlannedRequest]]:
        in_force = [g for g in self.grants if g.approved_day < day < g.end_day]
        return {
            "in_force": in_force,
            "expired": [g for g in self.grants if g.revoked is None and g.end_day <= day],
            "revoked": [g for g in self.grants if g.revoked is not None and g.end_day < day],
            "partial": [
                g for g in in_force if len(g.granted) < len(self.catalogue.items[g.resource])
            ],
        }

    def day(self, day: date, count: int) -> list[PlannedAccess]:
        situation = self._situation(day)
        out = [self._draw(day, situation) for _ in range(count)]
        out.sort(key=lambda a: a.report.accessed_at)
        return out

    def _draw(self, day: date, s: dict[str, list[PlannedRequest]]) -> PlannedAccess:
        draw = self.rng.random()
        if draw < self.violation_rate:
            return self._violation(day, s)
        if draw < self.violation_rate + OFF_HOURS_RATE:
            return self._off_hours(day, s)
        return self._normal(day, s)

    # -- building blocks ---------------------------------------------------------

    def _report(
        self,
        when: datetime,
        department: str,
        code: str,
        items: tuple[str, ...],
        purpose: str | None,
        grant: PlannedRequest | None = None,
    ) -> AccessReport:
        rng = self.rng
        self.seq += 1
        return AccessReport(
            platform_event_id=f"xchg-{DEMO_YEAR}-{self.seq:09d}",
            accessor_id=rng.choice(self.cast.accessors(department)),
            department=department,
            system=self.systems.get(department),
            resource_code=code,
            items=items,
            row_count=rng.randint(1, 200) if rng.random() < 0.97 else rng.randint(1_000, 20_000),
            purpose=purpose,
            grant_id=None if grant is None else self.grant_ids[grant.index],
            client_address=self.cast.address(department, rng),
            accessed_at=when,
        )

    def _work_time(self, day: date) -> datetime:
        return _at(day, 8, 30) + timedelta(seconds=self.rng.randint(0, 9 * 3600 + 1800))

    def _night_time(self, day: date) -> datetime:
        """22:00–05:59 local: off-hours by any reading."""
        minute = self.rng.choice((self.rng.randint(22 * 60, 24 * 60 - 1), self.rng.randint(0, 359)))
        return _at(day, minute // 60, minute % 60, self.rng.randint(0, 59))

    def _other_department(self, code: str) -> str:
        provider = self.catalogue.provider[code]
        return self.rng.choice([d for d, _, _ in DEPARTMENTS if d != provider])

    def _purpose(self, department: str) -> str:
        return self.rng.choice(PURPOSES[department])

    def _via_grant(
        self,
        when: datetime,
        grant: PlannedRequest,
        items: tuple[str, ...] | None = None,
        purpose: str | None = None,
    ) -> AccessReport:
        """An access quoting ``grant``: by default some granted items, for the granted purpose."""
        items = items or _subset(self.rng, grant.granted)
        purpose = purpose or grant.purpose
        return self._report(when, grant.requester, grant.resource, items, purpose, grant)

    # -- normal traffic ----------------------------------------------------------

    def _normal(self, day: date, s: dict[str, list[PlannedRequest]]) -> PlannedAccess:
        when, draw = self._work_time(day), self.rng.random()
        if draw < 0.45 and s["in_force"]:
            report = self._via_grant(when, self.rng.choice(s["in_force"]))
        elif draw < 0.8:
            code = self.rng.choice(self.unconditional)
            department = self._other_department(code)
            items = _subset(self.rng, self.catalogue.items[code])
            report = self._report(when, department, code, items, self._purpose(department))
        else:
            code = self.rng.choice(list(self.catalogue.provider))
            department = self.catalogue.provider[code]
            items = _subset(self.rng, self.catalogue.items[code])
            report = self._report(when, department, code, items, self._purpose(department))
        return PlannedAccess(report, (), "normal")

    def _off_hours(self, day: date, s: dict[str, list[PlannedRequest]]) -> PlannedAccess:
        """An anomaly, not a violation: a lawful read of sensitive personal items at night."""
        when = self._night_time(day)
        sensitive = [
            g for g in s["in_force"] if self.catalogue.sensitive[g.resource] & set(g.granted)
        ]
        if sensitive:
            grant = self.rng.choice(sensitive)
            report = self._via_grant(when, grant, items=grant.granted)
        else:
            code = self.rng.choice(self.sensitive_any)
            department = self.catalogue.provider[code]
            report = self._report(
                when, department, code, self.catalogue.items[code], self._purpose(department)
            )
        return PlannedAccess(report, (), "off_hours_sensitive")

    # -- planted violations ------------------------------------------------------

    def _violation(self, day: date, s: dict[str, list[PlannedRequest]]) -> PlannedAccess:
        """One of the seven reasons, among those today's grants make possible."""
        plain: dict[AccessReason, Callable[[datetime], AccessReport]] = {
            AccessReason.RESOURCE_NOT_SHAREABLE: self._not_shareable,
            AccessReason.UNKNOWN_RESOURCE: self._unknown,
            AccessReason.NO_GRANT: self._no_grant,
        }
        via_grant: dict[
            AccessReason, tuple[str, Callable[[datetime, PlannedRequest], AccessReport]]
        ]
        via_grant = {
            AccessReason.GRANT_EXPIRED: ("expired", self._via_grant),
            AccessReason.GRANT_REVOKED: ("revoked", self._via_grant),
            AccessReason.ITEMS_BEYOND_GRANT: ("partial", self._beyond),
            AccessReason.PURPOSE_MISMATCH: ("in_force", self._other_purpose),
        }
        possible = [*plain, *(r for r, (pool, _) in via_grant.items() if s[pool])]
        reason, when = self.rng.choice(possible), self._work_time(day)
        if reason in plain:
            report = plain[reason](when)
        else:
            pool, make = via_grant[reason]
            report = make(when, self.rng.choice(s[pool]))
        return PlannedAccess(report, (reason,), reason.value)

    def _not_shareable(self, when: datetime) -> AccessReport:
        code = self.rng.choice(self.not_shareable)
        department = self._other_department(code)
        items = _subset(self.rng, self.catalogue.items[code])
        return self._report(when, department, code, items, self._purpose(department))

    def _unknown(self, when: datetime) -> AccessReport:
        """A city-catalogue code the district catalogue does not list (S5)."""
        department = self.rng.choice([d for d, _, _ in DEPARTMENTS])
        code = f"SZ-CITY-{self.rng.randint(1, 40):03d}"
        return self._report(
            when, department, code, ("姓名", "公民身份号码"), self._purpose(department)
        )

    def _no_grant(self, when: datetime) -> AccessReport:
        department, code = self.rng.choice(self.no_grant_pairs)
        items = _subset(self.rng, self.catalogue.items[code])
        return self._report(when, department, code, items, self._purpose(department))

    def _beyond(self, when: datetime, grant: PlannedRequest) -> AccessReport:
        extra = [i for i in self.catalogue.items[grant.resource] if i not in grant.granted]
        return self._via_grant(when, grant, items=(*grant.granted, self.rng.choice(extra)))

    def _other_purpose(self, when: datetime, grant: PlannedRequest) -> AccessReport:
        """Purpose drift: the department's other duty, not the one it was granted for (S4)."""
        others = [p for p in PURPOSES[grant.requester] if p != grant.purpose]
        return self._via_grant(when, grant, purpose=self.rng.choice(others))


def allocate(total: int, days: list[date], is_working: Callable[[date], bool]) -> list[int]:
    """Spread ``total`` accesses over ``days`` (weekends light), exactly, without the RNG."""
    weights = [1.0 if is_working(day) else 0.08 for day in days]
    scale = total / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(days)), key=lambda i: (counts[i] - shares[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts
