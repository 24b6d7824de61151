"""The demo's loader: every fact through a ``GovLedger`` command, dated when it happened.

The demo back-fills its year: each registration, filing, review, decision,
request, answer, revocation and access carries its business time
(docs/facts.md §1), and the calendar it was planned on is recorded first, in
force from the ledger's earliest business time (docs/facts.md §3). Recorded
late or live, the facts are the same.

``DemoLoader`` walks the year's days: the actions of ``ops.demo.actions`` (requests,
filings, funds) in time order with the planned accesses, each judged before it is
recorded; its set-up (calendar, departments, systems, catalogue) is
``ops.demo.registration``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta

from ledger.application import GovLedger
from ledger.domain import AccessReport, AccessVerdict
from ledger.domain.district_calendar import CalendarSpec
from ledger.errors import LedgerError
from ops.demo import follow_up, obligations, oversight
from ops.demo.actions import Action, ActionsLoader, LiveTerms
from ops.demo.planning import AccessPlanner, PlannedAccess, RequestPlanner, allocate
from ops.demo.summary import DemoSummary, summary_of
from ops.demo.zone import (
    ACCESS_START,
    BATCH_SIZE,
    DEFAULT_ACCESSES,
    DEFAULT_SEED,
    DEFAULT_VIOLATION_RATE,
    OFF_HOURS_RATE,
    REQUESTS,
    YEAR_END,
)
from security.access import evaluate_access


class DemoError(LedgerError):
    """The demo cannot run here (a ledger with data), or it planted what it did not get."""


class DemoLoader(ActionsLoader):
    """Writes the demo through ``GovLedger`` commands and counts what it wrote."""

    # -- the year --------------------------------------------------------------

    def year(
        self, actions: list[Action], accesses: AccessPlanner, total: int, live: LiveTerms
    ) -> None:
        """Walk the days: each day's commands and accesses in time order, accesses batched."""
        by_day: dict[date, list[Action]] = defaultdict(list)
        for action in actions:
            by_day[action[0].date()].append(action)
        days = [ACCESS_START + timedelta(days=n) for n in range((YEAR_END - ACCESS_START).days + 1)]
        counts = allocate(total, days, self.calendar.working_calendar().is_working_day)
        first = min([*by_day, ACCESS_START])
        for day in [first + timedelta(days=n) for n in range((ACCESS_START - first).days)]:
            self._run(sorted(by_day.pop(day, []), key=lambda a: (a[0], a[1])))
        batch: list[tuple[AccessReport, AccessVerdict]] = []
        for day, count in zip(days, counts, strict=True):
            todays = sorted(by_day.pop(day, []), key=lambda a: (a[0], a[1]))
            planned = accesses.day(day, count)
            batch = self._merge(todays, planned, batch, live)
        self._flush(batch)
        for day in sorted(by_day):  # nothing is planned after the year; kept for safety
            self._run(sorted(by_day[day], key=lambda a: (a[0], a[1])))

    def _run(self, actions: list[Action]) -> None:
        for when, _, act in actions:
            act(when)  # every command dated when it happened

    def _merge(
        self,
        actions: list[Action],
        planned: list[PlannedAccess],
        batch: list[tuple[AccessReport, AccessVerdict]],
        live: LiveTerms,
    ) -> list[tuple[AccessReport, AccessVerdict]]:
        i = 0
        for access in planned:
            while i < len(actions) and actions[i][0] <= access.report.accessed_at:
                self._run([actions[i]])
                i += 1
            batch.append((access.report, self._judge(access, live)))
            if len(batch) == BATCH_SIZE:
                batch = self._flush(batch)
        self._run(actions[i:])
        return batch

    def _judge(self, access: PlannedAccess, live: LiveTerms) -> AccessVerdict:
        verdict = evaluate_access(access.report, live.model)
        if verdict.reasons != access.expected:
            raise DemoError(
                f"{access.report.platform_event_id}: planted {access.kind} {access.expected}, "
                f"evaluated {verdict.reasons}"
            )
        obligations.provided(self, access.report)  # D1's plant
        counts = self.tally["accesses"]
        counts["recorded"] += 1
        counts["authorized" if verdict.authorized else "unauthorized"] += 1
        if access.kind == "off_hours_sensitive":
            self.tally["anomalies"]["off_hours_sensitive"] += 1
        for reason in verdict.reasons:
            self.tally["violations"][reason.value] += 1
            self.examples.setdefault(reason.value, access.report.platform_event_id)
        return verdict

    def _flush(
        self, batch: list[tuple[AccessReport, AccessVerdict]]
    ) -> list[tuple[AccessReport, AccessVerdict]]:
        if batch:
            self.app.record_accesses(self.cast.platform, batch)
            self.progress(len(batch))
        return []


def load_demo(
    app: GovLedger,
    *,
    accesses: int = DEFAULT_ACCESSES,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int], None] = lambda _n: None,
    violation_rate: float = DEFAULT_VIOLATION_RATE,
    requests: int = REQUESTS,
) -> DemoSummary:
    """Load the demo year into an empty ledger; ``progress`` gets each access batch's size."""
    if accesses < 0 or not 0 <= violation_rate <= 1 - OFF_HOURS_RATE:
        raise DemoError("accesses must be >= 0 and violation_rate within [0, 0.995]")
    start = app.recorder.max_notification_id() or 0
    if start:
        raise DemoError("the ledger already holds events: load the demo into a fresh ledger")
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    # The ledger's configured calendar if it has one, else the State Council's notices.
    calendar = app.calendar or CalendarSpec.shipped()
    loader = DemoLoader(app, rng, progress, calendar)
    loader.record_calendar()
    loader.departments()
    loader.systems()
    catalogue = loader.catalogue()
    live = LiveTerms(app, list(loader.codes.values()))
    plans = RequestPlanner(calendar, rng, catalogue).plan(requests)
    planner = AccessPlanner(rng, catalogue, plans, loader.cast, loader.using_system, violation_rate)
    planner.grant_ids = loader.request_ids  # filled as the year's requests are submitted
    actions = loader.request_actions(plans, live) + loader.fund_actions()
    obligations.before_the_year(loader, plans)
    loader.year(actions, planner, accesses, live)
    obligations.after_the_year(loader)
    oversight.plant(loader)
    follow_up.record(loader)
    events = (app.recorder.max_notification_id() or 0) - start
    return summary_of(loader.tally, loader.examples, seed, events)
