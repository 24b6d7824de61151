"""What every part of the zone fold shares: the state's shape, thresholds, output rows.

``projections.zone.ZoneFold`` is assembled from the parts that fold facts into the
state (``projections.zone``, ``projections.fold_registers``,
``projections.fold_decisions``, ``projections.fold_obligations``), judge the rules
proven by one fact (``projections.rules.folded``) and detect anomalies
(``projections.detector``); this module holds what they all use: the row types, the
thresholds (``Rules``), the business time of the fact being folded and the methods
that emit a finding or an anomaly row (docs/projections.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from ledger.config import Settings
from projections.business_time import RULE as DATED_IN_FUTURE
from projections.business_time import dated_in_future
from projections.facts import CST, AccessState, stable_id, uuid_text
from projections.rules.catalogue import LEDGER_RULES, SEVERITY

# The fold also raises a ledger rule: L4, an access dated in the future (business_time).
_SEVERITY = {**SEVERITY, **{r.id: r.severity for r in LEDGER_RULES.values()}}

State = dict[str, Any]
# The findings table's columns (projections.schema.FINDING_COLUMNS): the last two are the
# version's ``judged_at`` and ``withdrawn_at`` (docs/projections.md §Findings are versions).
FindingRow = tuple[str, str, str, str, str, str | None, str, int, str, str, int, int | None]
AnomalyRow = tuple[str, str, float, str, str, str | None, str, int, str, str]
ReviewRow = tuple[int, str, str, str, str, str]
CST_OFFSET_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Rules:
    """Thresholds of the fold, from Settings (docs/configuration.md)."""

    work_start_hour: int = 8
    work_end_hour: int = 20
    burst_count: int = 5
    burst_minutes: int = 60
    baseline_days: int = 28
    baseline_min_days: int = 7
    volume_factor: int = 3
    volume_min: int = 30
    first_access_warmup_days: int = 14
    clock_skew_seconds: int = 300  # docs/facts.md §6, when no calendar in force says

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            work_start_hour=settings.anomaly_work_start_hour,
            work_end_hour=settings.anomaly_work_end_hour,
            burst_count=settings.anomaly_burst_count,
            burst_minutes=settings.anomaly_burst_minutes,
            baseline_days=settings.anomaly_baseline_days,
            baseline_min_days=settings.anomaly_baseline_min_days,
            volume_factor=settings.anomaly_volume_factor,
            volume_min=settings.anomaly_volume_min,
            first_access_warmup_days=settings.anomaly_first_access_warmup_days,
            clock_skew_seconds=settings.clock_skew_seconds,
        )


def dump_state(state: State) -> bytes:
    return orjson.dumps(state)


def load_state(blob: bytes) -> State:
    loaded: State = orjson.loads(blob)
    return loaded


def keep_first(entity: dict[str, Any], key: str, happened: str | None) -> None:
    """Keep under ``key`` the earliest business time (CST ISO) of a repeated fact: I6
    reads when a department's CIO was first named (docs/rules-inputs.md)."""
    if happened:
        first = entity.get(key) or happened
        entity[key] = min(first, happened, key=datetime.fromisoformat)


def name_cio(department: dict[str, Any], name: str, happened: str | None) -> None:
    """A CIO named (seed 四(四)): the department's CIO is the one named latest in business
    time (``cio_since``; a tie goes to the one recorded last), so a predecessor recorded
    late does not replace a successor; I6 reads ``cio_named_at``, the first naming."""
    since = department.get("cio_since")
    later = (
        since is None
        or happened is None
        or (datetime.fromisoformat(happened) >= datetime.fromisoformat(since))
    )
    if later:
        department["cio_name"], department["cio_since"] = name, happened or since
    keep_first(department, "cio_named_at", happened)


# The system changes whose business time I7 reads (on the cloud, retired by a year end).
DATED_CHANGES = frozenset({"MovedOnCloud", "MergedInto", "Decommissioned"})


def date_change(system: dict[str, Any], change: str, happened: str | None) -> None:
    """Keep when ``change`` first happened to ``system`` (``<change>_at``), if I7 reads it."""
    if change in DATED_CHANGES:
        keep_first(system, f"{change}_at", happened)


def positions_text(positions: list[int]) -> str:
    """Evidence positions as ``json.dumps`` writes a sorted list of ints, without its cost."""
    return "[" + ", ".join(map(str, sorted(set(positions)))) + "]"


def local_day_number(epoch: float) -> int:
    """Days since 1970-01-01 in China Standard Time."""
    return int((epoch + CST_OFFSET_SECONDS) // 86400)


@lru_cache(maxsize=4096)
def day_text(number: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=number)).isoformat()


class FoldCore:
    """The fold's state and outputs, as the parts of ``ZoneFold`` share them."""

    rules: Rules
    state: State
    emit: bool
    findings: list[FindingRow]
    anomalies: list[AnomalyRow]
    # Finding id -> the position of the fact folded later (recorded late, dated earlier)
    # that re-dates or withdraws its stored standing version: the runner closes that
    # version (``withdrawn_at``) before it stores the new rows.
    withdrawn: dict[str, int]
    # The ledger position of the fact being folded: a finding's version is judged at it.
    folding: int
    # The business time of the fact being applied (docs/facts.md §1).
    _happened: datetime | None

    def _happened_iso(self) -> str | None:
        """When the fact being applied happened (CST ISO), else the domain clock."""
        if self._happened is None:
            return self.clock_iso()
        return self._happened.astimezone(CST).isoformat()

    def _happened_epoch(self) -> float:
        """When the fact being applied happened (epoch seconds), else the domain clock."""
        if self._happened is not None:
            return self._happened.timestamp()
        return float(self.state["clock_epoch"] or 0.0)

    def clock_iso(self) -> str | None:
        """The domain clock as a CST ISO time (None before any domain time)."""
        epoch = self.state["clock_epoch"]
        return None if epoch is None else datetime.fromtimestamp(epoch, CST).isoformat()

    def _finding(
        self,
        rule: str,
        subject: str,
        kind: str,
        department: str | None,
        positions: list[int],
        position: int,
        at: datetime | None,
        detail: str,
        key: str | None = None,
        replace: bool = False,
    ) -> None:
        """Emit a finding; ``key`` names it when its subject has several (else the subject).
        ``replace``: the finding may be stored already (judged again on a fact recorded
        late): its standing version is closed and this one opened, both at the fact
        being folded (docs/projections.md §Findings are versions)."""
        if not self.emit:
            return
        finding_id = stable_id(rule, key or subject)
        if replace:
            self._drop(finding_id)
        self.findings.append(
            (
                finding_id,
                rule,
                _SEVERITY[rule],
                subject,
                kind,
                department,
                positions_text(positions),
                position,
                (at or datetime.fromtimestamp(self.state["clock_epoch"] or 0.0, CST))
                .astimezone(CST)
                .isoformat(),
                detail,
                self.folding,
                None,
            )
        )

    def _withdraw(self, rule: str, key: str) -> None:
        """A finding a fact recorded late disproves (docs/projections.md §Recorded late)."""
        if self.emit:
            self._drop(stable_id(rule, key))

    def _drop(self, finding_id: str) -> None:
        """Close the standing version of ``finding_id`` at the fact being folded: one
        emitted earlier in this batch is closed here (or dropped if opened by this very
        fact: it never stood at any position), one stored is closed by the runner."""
        at = self.folding
        findings = self.findings
        for i in range(len(findings) - 1, -1, -1):
            row = findings[i]
            if row[0] == finding_id and row[11] is None:
                if row[10] == at:
                    del findings[i]
                else:
                    findings[i] = (*row[:11], at)
                return
        # The stored version stands until the first fact of the batch that closes it.
        self.withdrawn.setdefault(finding_id, at)

    def take_withdrawn(self) -> dict[str, int]:
        out, self.withdrawn = self.withdrawn, {}
        return out

    def _anomaly(
        self,
        kind: str,
        key: str,
        score: float,
        subject: str,
        department: str | None,
        positions: list[int],
        position: int,
        at: datetime,
        detail: str,
    ) -> None:
        if not self.emit:
            return
        score = round(min(max(score, 0.0), 1.0), 3)
        severity = "high" if score >= 0.8 else "medium" if score >= 0.5 else "low"
        self.anomalies.append(
            (
                stable_id(kind, key),
                kind,
                score,
                severity,
                subject,
                department,
                positions_text(positions),
                position,
                at.astimezone(CST).isoformat(),
                detail,
            )
        )

    def _dated_in_future(self, position: int, a: AccessState, epoch: float) -> None:
        """L4 (docs/facts.md §6): the platform reported the access before it happened,
        beyond the clock skew in force when it was recorded; dated at its recording."""
        recorded = datetime.fromisoformat(a.timestamp.data)
        accessed = datetime.fromtimestamp(epoch, CST)
        if dated_in_future(self.state, accessed, recorded, self.rules.clock_skew_seconds):
            self._finding(
                DATED_IN_FUTURE, a.platform_event_id, "access", a.department, [position],
                position, recorded,
                f"{a.accessor_id} ({a.department}) read {a.resource_code} at "
                f"{accessed.isoformat()}, recorded at {recorded.astimezone(CST).isoformat()}",
            )  # fmt: skip

    def _grant_positions(self, grant_id: Any) -> list[int]:
        request = self.state["requests"].get(uuid_text(grant_id) or "")
        return list(request["positions"]) if request else []
