"""Anomalies for review by security officers, detected while the zone is folded.

domain.md "Anomalies" (not findings by themselves): off-hours access to
``sensitive_personal`` items, an actor's or resource's volume far above its own
rolling baseline, first-ever access by an actor to a sensitive resource, bursts of
refused or flagged accesses, access right after a revocation or expiry. Thresholds
are ``Rules`` (docs/configuration.md); the detector's memory is part of the state,
so snapshots and rebuilds find the same (docs/projections.md).
"""

from __future__ import annotations

import math
from collections.abc import Set
from datetime import datetime
from typing import Any

from projections.facts import CST, AccessState
from projections.fold_core import CST_OFFSET_SECONDS, FoldCore, day_text
from projections.labels import SENSITIVITY

EVIDENCE_CAP = 50  # positions kept per volume anomaly; the count says how many there were
# Fields of a volume record (a list: see AnomalyDetector._volume).
FIRST, DAY, COUNT, POSITIONS, HISTORY, THRESHOLD, MEAN, RAISED = range(8)
_NONE: frozenset[str] = frozenset()


class AnomalyDetector(FoldCore):
    """The detection half of ``ZoneFold``: called by its ``access`` for every access."""

    _pairs: set[str]
    _volume_min: int

    def _detect(
        self,
        position: int,
        a: AccessState,
        resource: dict[str, Any] | None,
        reasons: list[str],
        epoch: float,
    ) -> None:
        local_seconds = epoch + CST_OFFSET_SECONDS
        today = int(local_seconds // 86400)
        accessor, department = a.accessor_id, a.department
        rules = self.rules
        sensitive: Set[str] = _NONE
        if resource is not None and resource["sensitive_personal"]:
            sensitive = set(resource["sensitive_personal"]).intersection(a.items)
            hour = (local_seconds % 86400) / 3600
            if sensitive and not rules.work_start_hour <= hour < rules.work_end_hour:
                self._off_hours(a, position, epoch, hour, sensitive)
        if reasons:
            self._flagged_access(a, reasons, position, epoch)
        detector = self.state["detector"]
        actor = self._volume(detector["actors"], accessor, today, position)
        if actor is not None:
            self._volume_anomaly("actor_volume", accessor, department, actor, position, epoch)
        by_resource = self._volume(detector["resources"], a.resource_code, today, position)
        if by_resource is not None:
            self._volume_anomaly(
                "resource_volume", a.resource_code, None, by_resource, position, epoch
            )
        if sensitive and resource is not None:
            self._first_access(accessor, department, resource, today, position, epoch)

    def _flagged_access(
        self, a: AccessState, reasons: list[str], position: int, epoch: float
    ) -> None:
        """Rule-based anomalies of a refused access, and the burst it may complete."""
        accessor, department, event_id = a.accessor_id, a.department, a.platform_event_id
        at = datetime.fromtimestamp(epoch, CST)
        evidence = [position, *self._grant_positions(a.grant_id)]
        for reason, kind, score, what in (
            ("grant_revoked", "after_revocation", 0.9, "在授权撤销后访问"),
            ("grant_expired", "after_expiry", 0.6, "在授权过期后访问"),
            ("items_beyond_grant", "items_beyond_grant", 0.8, "超出授权信息项访问"),
        ):
            if reason in reasons:
                self._anomaly(
                    kind, event_id, score, accessor, department, evidence, position, at,
                    f"{accessor} {what} {a.resource_code}",
                )  # fmt: skip
        self._burst(accessor, department, position, epoch)

    def _off_hours(
        self, a: AccessState, position: int, epoch: float, hour: float, items: Set[str]
    ) -> None:
        start, end = self.rules.work_start_hour, self.rules.work_end_hour
        outside = start - hour if hour < start else hour - end
        at = datetime.fromtimestamp(epoch, CST)
        self._anomaly(
            "off_hours_sensitive", a.platform_event_id, 0.5 + 0.5 * min(outside / 6, 1.0),
            a.accessor_id, a.department, [position], position, at,
            f"{a.accessor_id} 于北京时间 {at:%H:%M}（工作时间外）读取敏感个人信息项 "
            f"{'、'.join(sorted(items))}",
        )  # fmt: skip

    def _burst(self, accessor: str, department: str, position: int, epoch: float) -> None:
        """domain.md: bursts of refused or flagged accesses by one accessor."""
        window = self.state["detector"]["refused"].setdefault(accessor, [])
        window.append([epoch, position])
        horizon = epoch - self.rules.burst_minutes * 60
        window[:] = [entry for entry in window if entry[0] > horizon]
        if len(window) >= self.rules.burst_count:
            positions = [int(p) for _, p in window]
            self._anomaly(
                "refused_burst", f"{accessor}|{positions[0]}",
                min(1.0, 0.5 + len(window) / (4 * self.rules.burst_count)), accessor,
                department, positions, position, datetime.fromtimestamp(epoch, CST),
                f"{accessor} 在 {self.rules.burst_minutes} 分钟内被标记的访问 {len(window)} 次",
            )  # fmt: skip
            window.clear()

    def _volume(
        self, records: dict[str, list[Any]], key: str, today: int, position: int
    ) -> list[Any] | None:
        """Count today's volume; return the record when it has just crossed its threshold.

        A record is a list (cheap to update, JSON in snapshots): first day, current day,
        count, evidence positions, history of [day, count] pairs, threshold, mean,
        raised. The threshold is at least ``volume_min``, so it is computed only when a
        day reaches that many, from the ``baseline_days`` before it: cheap for the many
        quiet accessors.
        """
        record = records.get(key)
        if record is None:
            record = records[key] = [today, today, 0, [], [], None, 0.0, False]
        elif today != record[DAY]:
            if today < record[DAY]:  # a late report: counted in its day, judged no more
                history = record[HISTORY]
                # Late reports of one day in a row count in one pair: the baseline sums
                # counts per day, and the history stays days long, not reports long.
                if history and history[-1][0] == today:
                    history[-1][1] += 1
                else:
                    history.append([today, 1])
                return None
            self._close_day(record, today)
        count = record[COUNT] = record[COUNT] + 1
        positions = record[POSITIONS]
        if len(positions) < EVIDENCE_CAP:
            positions.append(position)
        if count < self._volume_min or record[RAISED]:
            return None
        if record[THRESHOLD] is None:
            record[THRESHOLD] = self._threshold(record)
        if count >= record[THRESHOLD]:
            record[RAISED] = True
            return record
        return None

    def _close_day(self, record: list[Any], today: int) -> None:
        history = record[HISTORY]
        history.append([record[DAY], record[COUNT]])
        if len(history) > 2 * self.rules.baseline_days:
            horizon = today - self.rules.baseline_days
            record[HISTORY] = [pair for pair in history if pair[0] >= horizon]
        record[DAY], record[COUNT], record[POSITIONS] = today, 0, []
        record[THRESHOLD], record[RAISED] = None, False

    def _threshold(self, record: list[Any]) -> float:
        """``volume_factor`` x the mean daily volume of the baseline window before today."""
        today = record[DAY]
        known_days = today - record[FIRST]
        if known_days < self.rules.baseline_min_days:
            return math.inf
        horizon = today - self.rules.baseline_days
        total = sum(count for day, count in record[HISTORY] if horizon <= day < today)
        mean = total / min(known_days, self.rules.baseline_days)
        record[MEAN] = mean
        return float(max(self.rules.volume_min, math.ceil(self.rules.volume_factor * mean)))

    def _volume_anomaly(
        self,
        kind: str,
        subject: str,
        department: str | None,
        record: list[Any],
        position: int,
        epoch: float,
    ) -> None:
        mean, count = record[MEAN], record[COUNT]
        day = day_text(record[DAY])
        self._anomaly(
            kind, f"{subject}|{day}", 1 - mean / count, subject, department,
            record[POSITIONS], position, datetime.fromtimestamp(epoch, CST),
            f"{subject}：{day} 访问 {count} 次，日均 {mean:.1f} 次",
        )  # fmt: skip

    def _first_access(
        self,
        accessor: str,
        department: str,
        resource: dict[str, Any],
        today: int,
        position: int,
        epoch: float,
    ) -> None:
        pair = f"{accessor}|{resource['code']}"
        if pair in self._pairs:
            return
        self._pairs.add(pair)
        actor = self.state["detector"]["actors"].get(accessor)
        if actor is not None and today - actor[FIRST] >= self.rules.first_access_warmup_days:
            self._anomaly(
                "first_sensitive_access", pair, 0.3, accessor, department, [position], position,
                datetime.fromtimestamp(epoch, CST),
                f"{accessor} 首次访问 {resource['code']}"
                f"（{SENSITIVITY.get(resource['sensitivity'], resource['sensitivity'])}）",
            )  # fmt: skip
