"""The ledger followed by position for ``/metrics``: counts by event type, accesses, requests.

``GET /metrics`` answers business counts at scrape time, right whichever worker
answers (docs/operations.md §Metrics): each process follows the ledger by position
and counts. The follower lives here, with the other readers of domain events
(issue 12: nothing outside ``projections/`` decodes domain events); ``api/metrics.py``
only turns its counts into metric families.

It also counts the accesses **dated in the future** (docs/facts.md §6): a
``DataAccess.Recorded`` whose ``accessed_at`` is later than its record time plus the
clock skew of the calendar in force at record time (else ``clock_skew_seconds`` of the
settings). Readers must flag them, not fold them silently.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

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

PAGE_SIZE = 2000
DEFAULT_CLOCK_SKEW_SECONDS = 300  # docs/facts.md §6, when no calendar says otherwise
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
_REQUEST_ANSWERED = {
    get_topic(SharingRequest.Approved),
    get_topic(SharingRequest.Rejected),
}


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
    pending: dict[UUID, tuple[str, date]] = field(default_factory=dict)  # provider, due
    # Accesses dated in the future (docs/facts.md §6), by requester department.
    future_dated: Counter[str] = field(default_factory=Counter)
    # (in force from, position, clock skew seconds) of each calendar recorded.
    skews: list[tuple[datetime, int, int]] = field(default_factory=list)


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

    @property
    def position(self) -> int:
        return self.counts.position

    def catch_up(self) -> tuple[LedgerCounts, int]:
        """Follow to the head; returns the counts and the head position."""
        with self._lock:
            head = self.app.recorder.max_notification_id() or 0
            start = self.counts.position + 1
            while start <= head:
                page = self.app.recorder.select_notifications(
                    start=start, limit=PAGE_SIZE, stop=head
                )
                if not page:
                    break
                for notification in page:
                    self._count(notification)
                start = page[-1].id + 1
                self.counts.position = page[-1].id
            self.counts.position = max(self.counts.position, head)
            return self.counts, head

    def _count(self, notification: Any) -> None:
        topic: str = notification.topic
        counts = self.counts
        counts.events[EVENT_TYPES.get(topic, OTHER)] += 1
        if topic == _ACCESS:
            self._access(self._decode(notification))
        elif topic == _DEPARTMENT:
            counts.departments.add(self._decode(notification).code)
        elif topic == _RESOURCE_REGISTERED:
            registered = self._decode(notification)
            state = _ResourceState(
                registered.provider_department,
                SharingType(registered.sharing_type),
                {item.name: Sensitivity(item.sensitivity) for item in registered.items},
            )
            counts.resources[registered.originator_id] = state
            counts.resources_by_code[registered.code] = state
        elif topic == _RESOURCE_RECLASSIFIED:
            changed = self._decode(notification)
            if (resource := counts.resources.get(changed.originator_id)) is not None:
                resource.sharing_type = SharingType(changed.sharing_type)
        elif topic == _REQUEST_SUBMITTED:
            submitted = self._decode(notification)
            counts.pending[submitted.originator_id] = (
                submitted.provider_department,
                submitted.response_due,
            )
        elif topic in _REQUEST_ANSWERED:
            counts.pending.pop(UUID(str(notification.originator_id)), None)
        elif topic == _CALENDAR_SET:
            calendar = self._decode(notification)
            skew = calendar.time_limits.get("clock_skew_seconds")
            if isinstance(skew, int):
                counts.skews.append((calendar.in_force_from, notification.id, skew))

    def _decode(self, notification: Any) -> Any:
        """The domain event (typed by topic at run time; the attributes are the event's)."""
        return self.app.mapper.to_domain_event(notification)

    @property
    def ledger_id(self) -> str:
        # The chained recorders (ledger/store) carry the genesis record.
        recorder: Any = self.app.recorder
        return str(recorder.genesis.ledger_id)

    def dated_in_future(self, accessed_at: datetime, recorded_at: datetime) -> bool:
        """docs/facts.md §6: later than its record time plus the calendar's clock skew."""
        return accessed_at > recorded_at + timedelta(seconds=self._skew_at(recorded_at))

    def _skew_at(self, moment: datetime) -> int:
        in_force = [s for s in self.counts.skews if s[0] <= moment]
        return max(in_force)[2] if in_force else self.clock_skew_seconds

    def _department(self, code: str) -> str:
        return code if code in self.counts.departments else UNREGISTERED

    def _access(self, recorded: Any) -> None:
        counts = self.counts
        resource = counts.resources_by_code.get(recorded.resource_code)
        sharing = resource.sharing_type.value if resource else UNKNOWN
        reasons: tuple[AccessReason, ...] = recorded.verdict.reasons
        counts.accesses["unauthorized" if reasons else "authorized", sharing] += 1
        if self.dated_in_future(recorded.accessed_at, recorded.timestamp):
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
