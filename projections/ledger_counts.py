"""The ledger followed by position for ``/metrics``: counts by event type, accesses, requests.

``GET /metrics`` answers business counts at scrape time, right whichever worker
answers (docs/operations.md §Metrics): each process follows the ledger by position
and counts. The follower lives here, with the other readers of domain events
(issue 12: nothing outside ``projections/`` decodes domain events); ``api/metrics.py``
only turns its counts into metric families.

Rows are decoded as the projections decode them, not by the application's mapper: a
process starting on a large ledger reads every row once, and the mapper's domain objects
cost several times the decoding. Accesses, most rows, by the projections' one access
decoder (``projections.facts.decode_access``, the stored JSON straight into the fields
used); the few other kinds counted beyond their type from their stored JSON, as the
zone fold reads them (a calendar through the fold's own ``calendar_in_force``).

A worker starting on a large ledger reads it a page at a time (``warm_up``), and its
counts are shown only once they have reached the head (``counted``): counts of an old
prefix would rise, scrape by scrape, as if every old unauthorized access were new
(docs/operations.md §Metrics, "A worker's first minutes").

It also counts the accesses **dated in the future** (docs/facts.md §6): a
``DataAccess.Recorded`` whose ``accessed_at`` is later than its record time plus the
clock skew of the calendar in force at record time (else ``clock_skew_seconds`` of the
settings). Readers must flag them, not fold them silently.

A pending request's due date is not the ``response_due`` recorded at submission but the
one :func:`projections.rules.calendars.response_due` computes from the calendar in force
at its submission (docs/facts.md §3, §5), the same function the views' S6 uses: a
calendar recorded later (a back-filled year) moves the overdue gauge as it moves S6.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import orjson
from eventsourcing.domain import DomainEvent
from eventsourcing.utils import get_topic

from ledger import domain
from ledger.application import GovLedger
from ledger.domain import (
    AccessReason,
    DataAccess,
    Department,
    Resource,
    Sensitivity,
    SharingRequest,
    SharingType,
)
from ledger.domain.district_calendar import DistrictCalendar
from projections.business_time import DEFAULT_CLOCK_SKEW_SECONDS, dated_in_future
from projections.facts import AccessState, decode_access
from projections.fold_registers import calendar_in_force
from projections.rules.calendars import response_due

PAGE_SIZE = 2000
# What reading a row's state as its kind raises when the bytes are not that kind's.
UNREADABLE = (
    msgspec.DecodeError,
    msgspec.ValidationError,
    orjson.JSONDecodeError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
)
logger = logging.getLogger(__name__)
T = TypeVar("T")
UNREGISTERED = "unregistered"  # a department code the ledger has no registration for
UNKNOWN = "unknown"  # a resource (or item) not in the catalogue
OTHER = "other"

# The most restrictive class among the items read: 数据安全法 §21 grades above PIPL's
# personal classes, sensitive personal above personal (docs/operations.md §Metrics).
SENSITIVITY_ORDER = (
    Sensitivity.GENERAL,
    Sensitivity.PERSONAL,
    Sensitivity.SENSITIVE_PERSONAL,
    Sensitivity.IMPORTANT,
    Sensitivity.CORE,
)
_RANK = {s: i for i, s in enumerate(SENSITIVITY_ORDER)}


def _domain_event_types() -> dict[str, str]:
    """Topic -> ``Aggregate.Event`` for every event class of ``ledger.domain``."""
    found: dict[str, str] = {}
    for name in domain.__all__:
        aggregate = getattr(domain, name)
        if not isinstance(aggregate, type):
            continue
        for member in vars(aggregate).values():
            if isinstance(member, type) and issubclass(member, DomainEvent):
                found[get_topic(member)] = f"{aggregate.__name__}.{member.__name__}"
    return found


EVENT_TYPES = _domain_event_types()
_ACCESS = get_topic(DataAccess.Recorded)
_DEPARTMENT = get_topic(Department.Registered)
_RESOURCE_REGISTERED = get_topic(Resource.Registered)
_RESOURCE_RECLASSIFIED = get_topic(Resource.Reclassified)
_REQUEST_SUBMITTED = get_topic(SharingRequest.Submitted)
_CALENDAR_SET = get_topic(DistrictCalendar.Set)
_ISSUED = "ledger.domain.report_issue:IssuedReport.Issued"  # report_issue.ISSUED_TOPIC
_REQUEST_ANSWERED = {
    get_topic(SharingRequest.Approved),
    get_topic(SharingRequest.Rejected),
}
# The kinds counted beyond their type, read from their stored JSON (``LedgerFollower._fact``).
_READ = frozenset(
    {
        _ISSUED,
        _DEPARTMENT,
        _RESOURCE_REGISTERED,
        _RESOURCE_RECLASSIFIED,
        _REQUEST_SUBMITTED,
        _CALENDAR_SET,
    }
)


@dataclass
class _ResourceState:
    provider_department: str
    sharing_type: SharingType
    items: dict[str, Sensitivity]


@dataclass(frozen=True)
class UnauthorizedKey:
    reason: str
    provider_department: str
    requester_department: str
    sensitivity: str
    sharing_type: str


@dataclass
class LedgerCounts:
    """What the follower has counted, up to ``position``."""

    position: int = 0
    events: Counter[str] = field(default_factory=Counter)
    accesses: Counter[tuple[str, str]] = field(default_factory=Counter)  # (verdict, sharing)
    unauthorized: Counter[UnauthorizedKey] = field(default_factory=Counter)
    departments: set[str] = field(default_factory=set)
    resources: dict[UUID, _ResourceState] = field(default_factory=dict)
    resources_by_code: dict[str, _ResourceState] = field(default_factory=dict)
    # Pending requests: provider department and the request as the calendars read it.
    pending: dict[UUID, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    # Accesses dated in the future (docs/facts.md §6), by requester department.
    future_dated: Counter[str] = field(default_factory=Counter)
    # Rows of a counted kind whose stored state cannot be read as that kind: counted here
    # and passed over (``LedgerFollower._count``), by event type.
    unreadable: Counter[str] = field(default_factory=Counter)
    # Reports issued (``report --issue`` or the worker's schedule): issue ids by kind.
    issued: dict[str, set[str]] = field(default_factory=dict)
    # The calendars recorded, shaped as the zone fold keeps them (projections/rules/calendars).
    calendars: list[dict[str, Any]] = field(default_factory=list)
    # Due dates computed with ``len(calendars)`` calendars known, by request.
    _dues: tuple[int, dict[UUID, date]] = field(default_factory=lambda: (0, {}))

    def due_dates(self) -> list[tuple[str, date]]:
        """(provider department, due date) of every pending request, in the calendar in
        force at its submission; recomputed only when a calendar has been recorded."""
        known, dues = self._dues
        if known != len(self.calendars):
            known, dues = len(self.calendars), {}
            self._dues = (known, dues)
        state = {"calendars": self.calendars}
        found = []
        for request_id, (provider, request) in self.pending.items():
            due = dues.get(request_id)
            if due is None:
                due = dues[request_id] = response_due(state, request)
            found.append((provider, due))
        return found


class LedgerFollower:
    """Counts the ledger's events incrementally by position; thread-safe.

    One per process. It reads notifications after its position, counts every
    event's type, and decodes only the events it needs (accesses, departments,
    resources, sharing requests).
    """

    def __init__(
        self, app: GovLedger, clock_skew_seconds: int = DEFAULT_CLOCK_SKEW_SECONDS
    ) -> None:
        self.app = app
        self.clock_skew_seconds = clock_skew_seconds
        self.counts = LedgerCounts()
        self._lock = threading.Lock()
        # Whether the counts once reached the ledger's head: until then they are those of
        # an old prefix, and shown they would read as a burst of new events (``counted``).
        self._warm = False

    @property
    def position(self) -> int:
        return self.counts.position

    def catch_up(self) -> tuple[LedgerCounts, int]:
        """Follow to the head; returns the counts and the head position."""
        with self._lock:
            head = self._head()
            self._follow(head)
            return self.counts, head

    def warm_up(self, stop: threading.Event | None = None) -> None:
        """Follow to the head as it is now, a page at a time, giving the lock back between
        pages so that a scrape meanwhile answers at once (not ready) instead of waiting for
        the whole ledger; ends early when ``stop`` is set (the service is stopping)."""
        head = self._head()
        while stop is None or not stop.is_set():
            with self._lock:
                if self._follow(head, pages=1):
                    return

    def counted(self, use: Callable[[LedgerCounts, int], T], *, seconds: float) -> T | None:
        """``use(counts, head)``, under the follower's lock, after following toward the head
        for about ``seconds`` at most; None when the counts are not ready to be shown.

        Not ready: the follower has never reached the head (a worker still reading a large
        ledger at start: counts of an old prefix, shown, would make ``increase()`` see every
        old unauthorized access as new), or another thread held it for ``seconds``. Once
        warm, counts a little behind the head are exact for their prefix
        (``counts.position``) and only rise with events recorded since: they are shown.
        """
        if not self._lock.acquire(timeout=seconds):
            return None
        try:
            head = self._head()
            self._follow(head, deadline=time.monotonic() + seconds)
            return use(self.counts, head) if self._warm else None
        finally:
            self._lock.release()

    def _head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _follow(
        self, head: int, *, deadline: float | None = None, pages: int | None = None
    ) -> bool:
        """Count the events after the position up to ``head`` (under the lock); stop early
        at ``deadline`` (monotonic) or after ``pages`` pages. Whether the head was reached."""
        start = self.counts.position + 1
        read = 0
        while start <= head:
            if (deadline is not None and time.monotonic() >= deadline) or read == pages:
                return False
            page = self.app.recorder.select_notifications(start=start, limit=PAGE_SIZE, stop=head)
            if not page:
                break
            for notification in page:
                self._count(notification)
            start = page[-1].id + 1
            self.counts.position = page[-1].id
            read += 1
        self.counts.position = max(self.counts.position, head)
        self._warm = True
        return True

    def _count(self, notification: Any) -> None:
        """Count one row. A row of a counted kind whose state is not that kind's (written
        past the application: the chain takes any bytes a writer hashes) is counted as
        unreadable and passed over: stopping on it would blind every worker's counts, and
        the unauthorized-sharing alerts with them, for good (docs/operations.md §Metrics)."""
        try:
            self._count_row(notification)
        except UNREADABLE as error:
            event_type = EVENT_TYPES.get(notification.topic, OTHER)
            self.counts.unreadable[event_type] += 1
            logger.warning(
                "ledger row %s (%s) unreadable for the metrics: %s",
                notification.id, event_type, type(error).__name__,
            )  # fmt: skip

    def _count_row(self, notification: Any) -> None:
        topic: str = notification.topic
        counts = self.counts
        counts.events[EVENT_TYPES.get(topic, OTHER)] += 1
        if topic == _ACCESS:  # most rows: the projections' one access decoder, no mapper
            self._access(decode_access(notification.state))
        elif topic in _REQUEST_ANSWERED:
            counts.pending.pop(UUID(str(notification.originator_id)), None)
        elif topic in _READ:
            self._fact(topic, orjson.loads(notification.state), notification)

    def _fact(self, topic: str, d: dict[str, Any], notification: Any) -> None:
        """A counted kind other than an access, from its stored JSON (``d``)."""
        counts = self.counts
        entity = UUID(str(notification.originator_id))
        if topic == _ISSUED:
            counts.issued.setdefault(str(d["kind"]), set()).add(d["issue_id"])
        elif topic == _DEPARTMENT:
            counts.departments.add(d["code"])
        elif topic == _RESOURCE_REGISTERED:
            items = (item["_data_"] for item in d["items"])
            state = _ResourceState(
                d["provider_department"],
                SharingType(d["sharing_type"]),
                {item["name"]: Sensitivity(item["sensitivity"]) for item in items},
            )
            counts.resources[entity] = counts.resources_by_code[d["code"]] = state
        elif topic == _RESOURCE_RECLASSIFIED:
            if (resource := counts.resources.get(entity)) is not None:
                resource.sharing_type = SharingType(d["sharing_type"])
        elif topic == _REQUEST_SUBMITTED:
            resource = counts.resources_by_code.get(d["resource_code"])
            counts.pending[entity] = (
                d["provider_department"],
                {
                    "submitted_at": d["submitted_at"]["_data_"],
                    "response_due": d["response_due"]["_data_"],
                    "response_working_days": d.get("response_working_days"),
                    # The response limit's key: the resource's sharing type at submission.
                    "sharing_type": resource.sharing_type.value if resource else None,
                },
            )
        elif topic == _CALENDAR_SET:
            counts.calendars.append(calendar_in_force(d, notification.id))

    @property
    def ledger_id(self) -> str:
        # The chained recorders (ledger/store) carry the genesis record.
        recorder: Any = self.app.recorder
        return str(recorder.genesis.ledger_id)

    def dated_in_future(self, accessed_at: datetime, recorded_at: datetime) -> bool:
        """docs/facts.md §6: later than its record time plus the calendar's clock skew."""
        state = {"calendars": self.counts.calendars}
        return dated_in_future(state, accessed_at, recorded_at, self.clock_skew_seconds)

    def _department(self, code: str) -> str:
        return code if code in self.counts.departments else UNREGISTERED

    def _access(self, recorded: AccessState) -> None:
        counts = self.counts
        resource = counts.resources_by_code.get(recorded.resource_code)
        sharing = resource.sharing_type.value if resource else UNKNOWN
        reasons: list[str] = recorded.verdict.data.reasons
        counts.accesses["unauthorized" if reasons else "authorized", sharing] += 1
        accessed_at = datetime.fromisoformat(recorded.accessed_at.data)
        if self.dated_in_future(accessed_at, datetime.fromisoformat(recorded.timestamp.data)):
            counts.future_dated[self._department(recorded.department)] += 1
        if not reasons:
            return
        provider = self._department(resource.provider_department) if resource else UNKNOWN
        requester = self._department(recorded.department)
        sensitivity = _sensitivity_class(resource, recorded.items)
        for reason in reasons:
            reason_label = AccessReason(reason).value
            key = UnauthorizedKey(reason_label, provider, requester, sensitivity, sharing)
            counts.unauthorized[key] += 1


def _sensitivity_class(resource: _ResourceState | None, items: Iterable[str]) -> str:
    if resource is None:
        return UNKNOWN
    found = [resource.items.get(item) for item in items]
    if any(s is None for s in found):
        return UNKNOWN
    return max((s for s in found if s is not None), key=_RANK.__getitem__).value
