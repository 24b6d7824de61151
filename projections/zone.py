"""The zone's state folded from the ledger, and what the fold finds on the way.

``ZoneFold`` applies facts in position order to a plain-JSON state (departments, systems,
resources, requests, filings, fund decisions, the domain clock and the anomaly detector):
a pure function of the ledger's prefix it has seen, which is what makes snapshots, as-of
answers and "rebuild equals incremental" possible (docs/projections.md).

While folding it emits rows for findings that an event proves at the moment it happens
(S1–S5, S7, S12, P1, D2, F1–F5: domain.md "Compliance rules"; the rule families in
``projections.rules.folded``) and for anomalies (domain.md "Anomalies";
``projections.detector``); rules that depend on the moment asked about (S6, S8–S10, I1,
I2) are judged at query time in ``projections.rules``. Dated by business time (facts.md §1).

This module drives the fold (the state's shape, the dispatch by topic, the domain clock,
snapshots) and folds accesses, the short path; the handlers of the other facts are in
``projections.fold_registers`` (departments, systems, resources, calendars),
``projections.fold_decisions`` (requests, filings, funds, reviews) and
``projections.fold_obligations`` (the issue-14 facts).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from projections import audit_suggestion, rectification, security_facts
from projections.detector import EVIDENCE_CAP, HISTORY, AnomalyDetector
from projections.facts import (
    ACCESS,
    CST,
    AccessState,
    Fact,
    access_state,
    domain_time,
    stable_id,
    uuid_text,
)
from projections.fold_core import (
    CST_OFFSET_SECONDS,
    AnomalyRow,
    FindingRow,
    ReviewRow,
    Rules,
    State,
    day_text,
    dump_state,
    load_state,
    local_day_number,
    positions_text,
)
from projections.fold_decisions import DecisionsFold
from projections.fold_obligations import ObligationsFold
from projections.fold_registers import RegistersFold
from projections.rules.folded import ACCESS_RULES
from projections.rules.rejudged import FoldedAccesses

# Re-exported: the names other modules import from here.
__all__ = [
    "ACCESS_RULES",
    "CST_OFFSET_SECONDS",
    "EVIDENCE_CAP",
    "HISTORY",
    "AnomalyRow",
    "FindingRow",
    "ReviewRow",
    "Rules",
    "State",
    "ZoneFold",
    "day_text",
    "dump_state",
    "empty_state",
    "load_state",
    "local_day_number",
    "positions_text",
    "stable_id",
]

SENSITIVITY_ORDER = ("general", "personal", "sensitive_personal", "important", "core")


def empty_state() -> State:
    return {
        # The ledger's domain clock: running max of domain times (epoch seconds), and its
        # CST day number (days since 1970-01-01 local).
        "clock_epoch": None,
        "clock_day": None,
        # Running max of the domain times of commands (not of platform-reported accesses):
        # the effective time of an event that carries no time of its own.
        "command_clock": None,
        "departments": {},
        "department_by_entity": {},
        "resource_by_entity": {},
        "systems": {},
        "resources": {},
        "requests": {},
        "filings": {},
        "funds": {},
        # The calendars recorded (DistrictCalendar.Set), in position order: docs/facts.md
        # §3 "Which calendar a judgment uses" (projections.rules.calendars).
        "calendars": [],
        # The facts of issue 14 (projections.fold_obligations): the latest refresh per
        # resource code, assessments per code, core-data approvals and annual reports.
        "refreshes": {},
        "assessments": {},
        "core_approvals": {},
        "annual_reports": {},
        # Judged by business time whatever the recording order (rules.folded, .provided, ...).
        "first_shares": {},
        "shared_found": {},
        "provided_found": {},
        "lapsed_accesses": {},
        # Verdicts judged again on a fact recorded late (projections.rules.rejudged):
        # resource code -> department -> the latest accessed_at folded (epoch), and access
        # position -> its verdict's reasons while they differ from the recorded ones.
        "access_latest": {},
        "rejudged": {},
        "access_days": {},  # system id -> CST day number (text) -> accesses (F8)
        "little_used": {},  # system id -> the O&M decisions F8 judged on it
        "detector": {"actors": {}, "resources": {}, "pairs": [], "refused": {}},
    }


class ZoneFold(RegistersFold, DecisionsFold, ObligationsFold, AnomalyDetector):
    """Applies facts to a state; collects the rows the facts prove when ``emit`` is on."""

    def __init__(self, rules: Rules, state: State | None = None) -> None:
        self.rules = rules
        self.state = state if state is not None else empty_state()
        self.emit = True
        self.findings: list[FindingRow] = []
        self.anomalies: list[AnomalyRow] = []
        self.reviews: list[ReviewRow] = []
        self.clock_days: list[tuple[str, int]] = []
        for key, empty in empty_state().items():
            self.state.setdefault(key, empty)  # a snapshot from before these keys
        self.withdrawn, self.folding = {}, 0
        # The business time of the fact being applied (docs/facts.md §1).
        self._happened: datetime | None = None
        # (department, resource code) -> request ids: the grants S3 checks a lapsed
        # access against. A cache: rebuilt from the state when None.
        self._by_user: dict[tuple[str, str], list[str]] | None = None
        # The accesses folded before a fact, read from the views (set by the runner;
        # None: no access is judged again, as in a reader's fold of the facts alone).
        self.folded_accesses: FoldedAccesses | None = None
        self._pairs = set(self.state["detector"]["pairs"])
        self._volume_min = rules.volume_min
        self._handlers: dict[str, Callable[[Fact], None]] = self.register_handlers()
        self._handlers.update(self.decision_handlers())
        self._handlers.update(self.obligation_handlers())
        # docs/facts.md §8: rectifications (rule R1) and audit suggestions' adoption.
        section_8 = (*rectification.TOPICS, *audit_suggestion.TOPICS)
        self._handlers.update(dict.fromkeys(section_8, self._rectification))
        # docs/facts.md §10: 条例 §33 declarations (projections.security_facts).
        self._handlers.update({t: self._security_fact for t in security_facts.TOPICS})

    # ------------------------------------------------------------------ driving

    def apply(self, fact: Fact) -> float | None:
        """Fold one fact; returns its domain time (epoch seconds) if it has one."""
        if fact.topic == ACCESS:  # the runner folds accesses with ``access`` directly
            return self.access(fact.position, access_state(fact.data))
        self.folding, happened = fact.position, domain_time(fact)
        found = happened.timestamp() if happened is not None else None
        if found is not None:
            self._advance_clock(found, fact.position)
            command_clock = self.state["command_clock"]
            if command_clock is None or command_clock < found:
                self.state["command_clock"] = found
        handler = self._handlers.get(fact.topic)
        if handler is not None:
            self._happened = happened
            handler(fact)
        return found

    def take_outputs(
        self,
    ) -> tuple[list[FindingRow], list[AnomalyRow], list[ReviewRow], list[tuple[str, int]]]:
        out = (self.findings, self.anomalies, self.reviews, self.clock_days)
        self.findings, self.anomalies, self.reviews, self.clock_days = [], [], [], []
        return out

    def snapshot(self) -> bytes:
        self.state["detector"]["pairs"] = sorted(self._pairs)
        return dump_state(self.state)

    def _advance_clock(self, epoch: float, position: int) -> None:
        state = self.state
        clock = state["clock_epoch"]
        if clock is not None and clock >= epoch:
            return
        state["clock_epoch"] = epoch
        today = local_day_number(epoch)
        if today != state["clock_day"]:
            state["clock_day"] = today
            if self.emit:
                self.clock_days.append((day_text(today), position))

    # ------------------------------------------------------------------ §8 and §10

    def _rectification(self, fact: Fact) -> None:
        kind = audit_suggestion if fact.topic in audit_suggestion.TOPICS else rectification
        kind.fold(self.state, fact)

    def _security_fact(self, fact: Fact) -> None:
        security_facts.fold(self.state, fact)

    # ------------------------------------------------------------------ accesses

    def access(self, position: int, a: AccessState) -> float:
        """Fold one access (most rows of any ledger: the short path); returns its epoch."""
        self.folding, epoch = position, datetime.fromisoformat(a.accessed_at.data).timestamp()
        state = self.state
        clock = state["clock_epoch"]
        if clock is None or clock < epoch:
            self._advance_clock(epoch, position)
        system_id = a.system
        if system_id:
            system = state["systems"].get(system_id := system_id.replace("-", ""))
            self._system_used(system_id, epoch)  # F8, by business day (rules.fund_sums)
            if system is not None:
                system["access_count"] += 1
                last = system["last_access_epoch"]
                if last is None or last < epoch:
                    system["last_access_epoch"] = epoch
        code = a.resource_code
        resource = state["resources"].get(code)
        reasons: list[str] = a.verdict.data.reasons
        if reasons:
            at = datetime.fromtimestamp(epoch, CST)
            self._access_findings(position, a, resource, reasons, at)
        if resource is not None and a.department != resource["provider_department"]:
            latest = state["access_latest"].get(code) or state["access_latest"].setdefault(code, {})
            if latest.get(a.department, epoch) <= epoch:
                latest[a.department] = epoch
            first = state["first_shares"].get(code)
            if first is None or epoch < first[0]:  # S12/D2: the first share only
                self._shared(code, a.department, position, None, epoch)
            if resource.get("personal_items", True) or resource.get("core_items", True):
                self._provided(
                    resource, a.department, a.items, uuid_text(a.grant_id), position, epoch
                )
        self._dated_in_future(position, a, epoch)  # L4 (docs/facts.md §6)
        self._detect(position, a, resource, reasons, epoch)
        return epoch
