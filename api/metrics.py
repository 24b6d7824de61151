"""``GET /metrics``: Prometheus metrics of one govledger service (docs/operations.md §Metrics).

Two kinds of metric, chosen so that the numbers are right however many
worker processes answer the scrapes:

* **Business counts are derived from the ledger at scrape time.** A
  :class:`LedgerMetrics` collector follows the ledger by position (incrementally,
  one follower per process) and counts events by type, accesses and
  unauthorized accesses, pending and overdue sharing requests; it reads the
  verifier's records, the newest checkpoint and the projections' positions.
  Every worker computes the same figures from the same ledger, so whichever
  answers a scrape answers right. A worker still reading the ledger at start
  answers without them (``govledger_collector_up{part="ledger"} 0``), at once:
  never the counts of an old prefix, never a scrape held past its timeout.
* **Request latencies and ingest batch sizes** are observed in the process
  that served the request. With ``GOVLEDGER_METRICS_DIR`` set they use
  prometheus-client's multiprocess mode (one mmap file per worker, summed at
  scrape); without it, one registry per process (correct for one worker).

Label values are bounded: closed enums (reasons, sharing types, sensitivities,
severities, event types of ``ledger.domain``), department codes registered in
the ledger (anything else is ``unregistered``), rule ids of the form ``S1``
(anything else is ``other``), route templates. Never user ids, free text or
secrets.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.metrics_replication import replication_metrics
from api.metrics_trust import checkpoint_metrics, verification_metrics
from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import SharingType
from ledger.domain.calendar import CHINA_STANDARD_TIME
from projections.ledger_counts import (
    EVENT_TYPES,
    OTHER,
    UNKNOWN,
    UNREGISTERED,
    LedgerCounts,
    LedgerFollower,
)
from projections.rules import NOT_EVALUABLE, RULES
from projections.set_aside import RULE as SET_ASIDE_RULE

logger = logging.getLogger("govledger.metrics")

FindingsSummary = Callable[[], Mapping[tuple[str, str], int]]
"""Open compliance findings by (rule id, severity), from the projections worker's read model."""
AnomaliesSummary = Callable[[], Mapping[str, int]]
"""Open anomalies by severity."""
ProjectionPositions = Callable[[], Mapping[str, int]]
"""Projection name -> last ledger position it processed (lag = ledger head - position)."""

SEVERITIES = ("info", "low", "medium", "high", "critical")
_RULE_ID = re.compile(r"[A-Z][0-9]{1,2}")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

# How long a scrape follows the ledger (or waits for the worker's follower) before it
# answers without the ledger's part: well inside Prometheus' default 10 s scrape timeout.
SCRAPE_FOLLOW_SECONDS = 2.0

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000)


class LedgerCountsNotReadyError(Exception):
    """This worker's ledger counts cannot be shown yet (``LedgerFollower.counted``)."""


def _rules_evaluated() -> Metric:
    """1 for each rule of the catalogue the views evaluate, 0 for 未评估 (never a 0 count)."""
    evaluated = GaugeMetricFamily(
        "govledger_rule_evaluated",
        "1 if the views evaluate the rule from recorded facts, 0 if it is 未评估 "
        "(projections.rules.catalogue gives the reason)",
        labels=["rule"],
    )
    for rule in RULES.values():
        evaluated.add_metric([rule.id], 1 if rule.evaluated else 0)
    return evaluated


def _bounded_name(name: str) -> str:
    """A projection name as a label: an identifier, or ``other``."""
    return name if _NAME.fullmatch(name) else OTHER


class LedgerMetrics(Collector):
    """The scrape-time collector: figures derived from the ledger and its records.

    Each part is collected on its own; a part that fails (the database is down,
    a record is unreadable) is reported as ``govledger_collector_up{part} 0``
    and logged, and the rest of the scrape still answers.
    """

    def __init__(
        self,
        settings: Settings,
        follower: LedgerFollower,
        *,
        projection_positions: ProjectionPositions | None = None,
        findings_summary: FindingsSummary | None = None,
        anomalies_summary: AnomaliesSummary | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scrape_seconds: float = SCRAPE_FOLLOW_SECONDS,
    ) -> None:
        self.settings = settings
        self.follower = follower
        self.projection_positions = projection_positions
        self.findings_summary = findings_summary
        self.anomalies_summary = anomalies_summary
        self.clock = clock
        self.scrape_seconds = scrape_seconds

    def warm_up(self, stop: threading.Event | None = None) -> None:
        """Read the ledger once, in the background, a page at a time (about 3,500 events/s
        on the reference machine): until it is read, scrapes answer at once with the ledger
        part down, never with the counts of an old prefix. Failures only log: the scrape
        follows on."""
        try:
            self.follower.warm_up(stop)
        except Exception:  # a background convenience; the scrape reports real failures
            logger.warning("metrics warm-up failed; the scrapes will follow on", exc_info=True)

    def describe(self) -> Iterable[Metric]:
        return []  # collected at scrape time only; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "govledger_collector_up",
            "1 if this part of the scrape-time collector answered, else 0",
            labels=["part"],
        )
        parts: list[tuple[str, Callable[[], list[Metric]]]] = [
            ("ledger", self._ledger),
            ("verification", self._verification),
            ("checkpoint", self._checkpoint),
            ("replication", lambda: replication_metrics(self.settings)),
        ]
        if self.projection_positions is not None:
            parts.append(("projections", self._lag))
        if self.findings_summary is not None:
            parts.append(("findings", self._findings))
        if self.anomalies_summary is not None:
            parts.append(("anomalies", self._anomalies))
        for name, part in parts:
            try:
                metrics = part()
            except LedgerCountsNotReadyError as e:  # a worker still reading the ledger
                logger.info("metrics part %s not ready: %s", name, e)
                up.add_metric([name], 0)
                continue
            except Exception:  # a failing part must not take the whole scrape down
                logger.exception("metrics part %s failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from metrics
        yield up

    # -- the ledger ------------------------------------------------------------

    def _ledger(self) -> list[Metric]:
        found = self.follower.counted(self._ledger_metrics, seconds=self.scrape_seconds)
        if found is None:
            raise LedgerCountsNotReadyError(
                f"counted to position {self.follower.position}; the ledger is still being read"
            )
        return found

    def _ledger_metrics(self, counts: LedgerCounts, head: int) -> list[Metric]:
        """The ledger's families, built under the follower's lock (the counts do not move)."""
        events = CounterMetricFamily(
            "govledger_ledger_events",
            "Events appended to the ledger, by event type (Aggregate.Event of ledger.domain)",
            labels=["event_type"],
        )
        # Every known type from the first scrape, zeros included: increase() needs a series
        # to exist before its first event, or the first event of a type is never seen.
        for event_type in sorted(set(EVENT_TYPES.values()) | set(counts.events)):
            events.add_metric([event_type], counts.events[event_type])
        head_gauge = GaugeMetricFamily(
            "govledger_ledger_head_position", "Position of the newest event in the ledger"
        )
        head_gauge.add_metric([], head)
        counted = GaugeMetricFamily(
            "govledger_ledger_counted_position",
            "Position up to which this worker's ledger counts are exact (the head, or a "
            "little behind it while a scrape follows a burst)",
        )
        counted.add_metric([], counts.position)
        accesses = CounterMetricFamily(
            "govledger_data_accesses",
            "Data accesses recorded, by verdict and the resource's sharing type",
            labels=["verdict", "sharing_type"],
        )
        sharing_types = [t.value for t in SharingType] + [UNKNOWN]
        for verdict in ("authorized", "unauthorized"):  # zeros too, as for events above
            for sharing in sharing_types:
                accesses.add_metric([verdict, sharing], counts.accesses[verdict, sharing])
        unauthorized = CounterMetricFamily(
            "govledger_unauthorized_accesses",
            "Unauthorized data accesses by reason (an access with two reasons counts under "
            "each), provider and requester department, sensitivity class and sharing type",
            labels=[
                "reason",
                "provider_department",
                "requester_department",
                "sensitivity",
                "sharing_type",
            ],
        )
        for key, n in sorted(counts.unauthorized.items(), key=lambda kv: repr(kv[0])):
            unauthorized.add_metric(
                [
                    key.reason,
                    key.provider_department,
                    key.requester_department,
                    key.sensitivity,
                    key.sharing_type,
                ],
                n,
            )
        return [
            events,
            head_gauge,
            counted,
            accesses,
            unauthorized,
            *self._requests(counts),
            self._future_dated(counts),
            self._issued(counts),
            self._unreadable(counts),
        ]

    def _unreadable(self, counts: LedgerCounts) -> Metric:
        unreadable = CounterMetricFamily(
            "govledger_ledger_unreadable_events",
            "Ledger rows of a counted kind whose state could not be read as that kind, "
            "passed over by this worker's counts (written past the application): a reason "
            "to run `govledger verify` and to look at who can append",
            labels=["event_type"],
        )
        for event_type, n in sorted(counts.unreadable.items()):
            unreadable.add_metric([event_type], n)
        return unreadable

    def _issued(self, counts: LedgerCounts) -> Metric:
        issued = CounterMetricFamily(
            "govledger_reports_issued",
            "Reports issued (report --issue or the worker's schedule), by kind; a report "
            "issued in several formats at once counts once",
            labels=["kind"],
        )
        for kind in ("annual", "audit", "risk"):  # zeros too, as for events
            issued.add_metric([kind], len(counts.issued.get(kind, ())))
        return issued

    def _future_dated(self, counts: LedgerCounts) -> Metric:
        future = CounterMetricFamily(
            "govledger_accesses_dated_in_future",
            "Data accesses the exchange platform reported with an accessed_at later than "
            "their record time plus the clock skew (docs/facts.md §6), by requester department",
            labels=["requester_department"],
        )
        for department in sorted(counts.departments | set(counts.future_dated)):
            future.add_metric([department], counts.future_dated[department])
        return future

    def _requests(self, counts: LedgerCounts) -> list[Metric]:
        today = self.clock().astimezone(CHINA_STANDARD_TIME).date()
        pending: Counter[str] = Counter()
        overdue: Counter[str] = Counter()
        for provider, due in counts.due_dates():
            department = provider if provider in counts.departments else UNREGISTERED
            pending[department] += 1
            if today > due:
                overdue[department] += 1
        pending_gauge = GaugeMetricFamily(
            "govledger_sharing_requests_pending",
            "Conditional sharing requests not yet answered, by provider department",
            labels=["provider_department"],
        )
        overdue_gauge = GaugeMetricFamily(
            "govledger_sharing_requests_overdue",
            "Unanswered sharing requests past their response deadline (S6), by provider",
            labels=["provider_department"],
        )
        for department in sorted(counts.departments | set(pending)):
            pending_gauge.add_metric([department], pending[department])
            overdue_gauge.add_metric([department], overdue[department])
        return [pending_gauge, overdue_gauge]

    def _lag(self) -> list[Metric]:
        assert self.projection_positions is not None
        head = self.follower.app.recorder.max_notification_id() or 0
        lag = GaugeMetricFamily(
            "govledger_projection_lag_events",
            "Ledger head minus the last position the projection processed",
            labels=["projection"],
        )
        for name, position in sorted(self.projection_positions().items()):
            lag.add_metric([_bounded_name(name)], max(head - int(position), 0))
        return [lag]

    # -- verification and checkpoints (api/metrics_trust.py) ------------------------

    def _verification(self) -> list[Metric]:
        return verification_metrics(self.settings, self.follower.ledger_id)

    def _checkpoint(self) -> list[Metric]:
        return checkpoint_metrics(self.settings, self.clock())

    # -- compliance findings -----------------------------------------------------

    def _findings(self) -> list[Metric]:
        assert self.findings_summary is not None
        totals: Counter[tuple[str, str]] = Counter()
        for (rule, severity), n in self.findings_summary().items():
            rule_label = rule if _RULE_ID.fullmatch(rule) else OTHER
            severity_label = severity if severity in SEVERITIES else OTHER
            totals[rule_label, severity_label] += int(n)
        findings = GaugeMetricFamily(
            "govledger_compliance_findings_open",
            "Open compliance findings by rule id (S1…L2 of the domain brief) and severity",
            labels=["rule", "severity"],
        )
        for (rule, severity), n in sorted(totals.items()):
            if rule not in NOT_EVALUABLE:  # 未评估 is not a count (projections.rules)
                findings.add_metric([rule, severity], n)
        # Each fact the views set aside is one finding of its rule (projections/set_aside.py).
        aside = GaugeMetricFamily(
            "govledger_projection_facts_set_aside",
            "Ledger facts the read models could not use and set aside (finding L3)",
        )
        aside.add_metric([], sum(n for (rule, _), n in totals.items() if rule == SET_ASIDE_RULE))
        return [findings, aside, _rules_evaluated()]

    def _anomalies(self) -> list[Metric]:
        assert self.anomalies_summary is not None
        totals: Counter[str] = Counter()
        for severity, n in self.anomalies_summary().items():
            totals[severity if severity in SEVERITIES else OTHER] += int(n)
        anomalies = GaugeMetricFamily(
            "govledger_anomalies_open",
            "Open anomalies (for review by security officers) by severity",
            labels=["severity"],
        )
        for severity in SEVERITIES:
            anomalies.add_metric([severity], totals.pop(severity, 0))
        for severity, n in sorted(totals.items()):
            anomalies.add_metric([severity], n)
        return [anomalies]


# ---------------------------------------------------------------- per-request metrics


@dataclass(frozen=True)
class RequestMetrics:
    """Histograms observed in the process that served the request."""

    latency: Histogram
    batch_size: Histogram


@dataclass(frozen=True)
class Metrics:
    """What ``create_app`` wires: the exposition registry and the request histograms."""

    registry: CollectorRegistry
    requests: RequestMetrics
    collector: LedgerMetrics


def _request_metrics(registry: CollectorRegistry | None) -> RequestMetrics:
    return RequestMetrics(
        latency=Histogram(
            "govledger_http_request_duration_seconds",
            "API request latency, by method, route template and status code",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        batch_size=Histogram(
            "govledger_ingest_batch_size",
            "Accesses per ingestion request (POST /accesses counts as 1)",
            buckets=BATCH_BUCKETS,
            registry=registry,
        ),
    )


_multiprocess_lock = threading.Lock()
_multiprocess_dir: list[str] = []


def _use_multiprocess(directory: str) -> None:
    """Switch prometheus-client to multiprocess values in ``directory`` (once per process).

    ``GOVLEDGER_METRICS_DIR`` is the one setting; the library reads its own
    variable when it opens its files, so it is exported here for it. Files of
    workers that exited are kept on purpose: their counts stay in the sum, so
    totals never go backwards when one worker restarts (a drop would read as a
    counter reset and a false spike). The directory is emptied when the *service*
    starts (systemd ``RuntimeDirectory=``, a tmpfs in compose).
    """
    with _multiprocess_lock:
        if _multiprocess_dir:
            if _multiprocess_dir[0] != directory:
                raise ValueError("one metrics directory per process")
            return
        Path(directory).mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        _multiprocess_dir.append(directory)


def build_metrics(
    settings: Settings,
    app: GovLedger,
    *,
    projection_positions: ProjectionPositions | None = None,
    findings_summary: FindingsSummary | None = None,
    anomalies_summary: AnomaliesSummary | None = None,
) -> Metrics:
    """The registry ``/metrics`` exposes, and the histograms the middleware observes."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.metrics_dir:
        _use_multiprocess(settings.metrics_dir)
        MultiProcessCollector(registry, path=settings.metrics_dir)  # type: ignore[no-untyped-call]
        requests = _shared_request_metrics()
    else:
        requests = _request_metrics(registry)
    collector = LedgerMetrics(
        settings,
        LedgerFollower(app, settings.clock_skew_seconds),
        projection_positions=projection_positions,
        findings_summary=findings_summary,
        anomalies_summary=anomalies_summary,
    )
    registry.register(collector)
    return Metrics(registry, requests, collector)


_shared: list[RequestMetrics] = []


def _shared_request_metrics() -> RequestMetrics:
    """In multiprocess mode the histograms write to files; create them once per process."""
    with _multiprocess_lock:
        if not _shared:
            _shared.append(_request_metrics(None))
        return _shared[0]


def observe_request(
    metrics: RequestMetrics, method: str, route: str, status: int, seconds: float
) -> None:
    metrics.latency.labels(method, route, str(status)).observe(seconds)
