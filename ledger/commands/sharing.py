"""Commands on sharing requests and grants (51号), the calendar in force, and reviews.

A request's response deadline is fixed at submission from the calendar in
force at its business time (docs/facts.md §3, §5): the calendar is a fact of
the ledger, recorded by :meth:`SharingCommands.record_calendar`. A ledger
given a configured calendar records it, if it is not the newest recorded
already, just before the first request after the change: the calendar a
deadline was computed with is always in the ledger before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from datetime import date, datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.commands.registry import RegistryCommands
from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Actor, Role
from ledger.domain.calendar import ResponseDeadlinePolicy
from ledger.domain.catalogue import SharingType
from ledger.domain.district_calendar import (
    DISTRICT_CALENDAR_ID,
    CalendarSpec,
    DistrictCalendar,
)
from ledger.domain.errors import ErrorCode
from ledger.domain.ids import anomaly_review_id
from ledger.domain.oversight import PersonalDataView
from ledger.domain.review import AnomalyReview, ReviewAction
from ledger.domain.sharing import SharingRequest
from ledger.idempotency import create_id_for

CALENDAR_ROLES = frozenset({Role.ADMIN, Role.NDRC})
# Who records the configured calendar: the configuration, on the operator's behalf.
CONFIGURATION_ACTOR = Actor("govledger-configuration", Role.ADMIN, None)


class SharingCommands(RegistryCommands):
    """Requests, grants, the calendar that times them, and anomaly reviews."""

    def request(self, request_id: UUID) -> SharingRequest:
        return self._load(SharingRequest, request_id, ErrorCode.UNKNOWN_REQUEST)

    # -- the calendar in force ------------------------------------------------

    def recorded_calendar(self) -> DistrictCalendar | None:
        if not self._exists(DISTRICT_CALENDAR_ID):
            return None
        return self._load(DistrictCalendar, DISTRICT_CALENDAR_ID, ErrorCode.INVALID_VALUE)

    def calendar_in_force(self, at: datetime) -> CalendarSpec | None:
        """The recorded calendar in force at business time ``at`` (None: none recorded)."""
        recorded = self.recorded_calendar()
        return recorded.in_force_at(at) if recorded else None

    def deadline_for(self, sharing_type: SharingType, at: datetime) -> ResponseDeadlinePolicy:
        """The response deadline of a request of this type submitted at ``at``."""
        spec = self.calendar_in_force(at)
        return self.deadline if spec is None else spec.deadline(sharing_type)

    def record_calendar(
        self, actor: Actor, spec: CalendarSpec, *, in_force_from: datetime | None = None
    ) -> bool:
        """Record ``spec`` as the calendar in force; False (nothing written) if it already is.

        The first calendar of a ledger is in force from the earliest business time
        (it covers all history); a change, from now unless ``in_force_from`` says.
        Processes starting together may race: the loser re-reads and finds it done.
        """
        self._require_role(actor, CALENDAR_ROLES, "record the calendar")
        try:
            return self._set_calendar(actor, spec, in_force_from)
        except IntegrityError:
            return self._set_calendar(actor, spec, in_force_from)

    def _set_calendar(
        self, actor: Actor, spec: CalendarSpec, in_force_from: datetime | None
    ) -> bool:
        calendar = self._calendar_change(actor, spec, in_force_from)
        if calendar is None:
            return False
        self.save(calendar)
        return True

    def _calendar_change(
        self, actor: Actor, spec: CalendarSpec, in_force_from: datetime | None
    ) -> DistrictCalendar | None:
        """The calendar aggregate with ``spec`` pending, or None if it is the newest already."""
        calendar = self.recorded_calendar()
        if calendar is None:
            calendar = DistrictCalendar.start(actor)
            start = in_force_from or self.time_bounds.earliest
        else:
            start = in_force_from or self.clock()
        self.business_time(start, "in_force_from")
        return calendar if calendar.set_calendar(actor, spec, start) else None

    def _record_configured_calendar(self) -> None:
        """Record the configured calendar unless the ledger holds it as its newest.

        Saved alone, before the request that needs it (a retried request finds it
        there); a concurrent request that recorded it first wins, and that is enough.
        """
        if self.calendar is None:
            return
        calendar = self._calendar_change(CONFIGURATION_ACTOR, self.calendar, None)
        if calendar is not None:
            with suppress(IntegrityError):  # recorded by a concurrent request
                self.save(calendar)

    # -- sharing requests and grants -----------------------------------------

    def submit_request(
        self,
        actor: Actor,
        *,
        requester_department: str,
        resource_code: str,
        items: Sequence[str],
        purpose: str,
        legal_basis: str,
        period_start: date,
        period_end: date,
        idempotency_key: str | None = None,
        submitted_at: datetime | None = None,
    ) -> UUID:
        """51号 conditional sharing: the user applies; the calendar in force fixes the due date.

        Once per Idempotency-Key (a retry keeps the first submission time and deadline).
        """
        self._check_acts_for(actor, requester_department)
        at = self.business_time(submitted_at, "submitted_at")
        self._require_department(requester_department)
        resource = self.resource(resource_code)
        self._record_configured_calendar()
        request = SharingRequest.submit(
            actor=actor,
            requester_department=requester_department,
            resource=resource,
            items=items,
            purpose=purpose,
            legal_basis=legal_basis,
            period_start=period_start,
            period_end=period_end,
            submitted_at=at,
            deadline=self.deadline_for(resource.sharing_type, at),
            aggregate_id=create_id_for("sharing_request", actor, idempotency_key),
        )
        return self._save_created(request, idempotency_key)

    def _provider_request(self, actor: Actor, request_id: UUID, command: str) -> SharingRequest:
        """The provider department answers and revokes (51号 §14)."""
        self._require_role(actor, DEPARTMENT_BOUND_ROLES, command)
        request = self.request(request_id)
        self._check_acts_for(actor, request.provider_department)
        return request

    def approve_request(
        self,
        actor: Actor,
        request_id: UUID,
        items: Sequence[str],
        expires_at: datetime,
        *,
        decided_at: datetime | None = None,
    ) -> None:
        request = self._provider_request(actor, request_id, "approve a request")
        at = self.business_time(decided_at, "decided_at")
        resource = self.resource(request.resource_code)
        request.approve(actor, resource, items, expires_at, decided_at=at)
        self.save(request)

    def reject_request(
        self, actor: Actor, request_id: UUID, reason: str, *, decided_at: datetime | None = None
    ) -> None:
        request = self._provider_request(actor, request_id, "reject a request")
        request.reject(actor, reason, decided_at=self.business_time(decided_at, "decided_at"))
        self.save(request)

    def revoke_grant(
        self, actor: Actor, request_id: UUID, reason: str, *, revoked_at: datetime | None = None
    ) -> None:
        request = self._provider_request(actor, request_id, "revoke a grant")
        request.revoke(actor, reason, revoked_at=self.business_time(revoked_at, "revoked_at"))
        self.save(request)

    def expire_grant(
        self, actor: Actor, request_id: UUID, *, expired_at: datetime | None = None
    ) -> None:
        """Housekeeping by any role (e.g. a scheduler): records that a grant ran out."""
        request = self.request(request_id)
        request.expire(actor, at=self.business_time(expired_at, "expired_at"))
        self.save(request)

    # -- oversight ------------------------------------------------------------

    def record_personal_data_view(self, actor: Actor, view: str, target: str) -> UUID:
        """Who opened which personal-data view, and when (GB/T 22239-2019 8.1.4.3).

        Always now: a view of personal data is recorded as it happens, never back-dated.
        """
        viewed = PersonalDataView(actor=actor, view=view, target=target, viewed_at=self.clock())
        self.save(viewed)
        return viewed.id

    def review_anomaly(
        self,
        actor: Actor,
        anomaly_id: str,
        action: ReviewAction,
        comment: str,
        *,
        reviewed_at: datetime | None = None,
        severity: str = "",
    ) -> UUID:
        """A security officer (网信办) acknowledges, dismisses, escalates, assigns or notes an
        anomaly, as the review machine allows (ledger/domain/review.py); ``severity``: the
        anomaly's, as the views rate it (four eyes for high and critical).

        The ledger does not know which anomalies exist (projections find them):
        the caller checks the id against the anomalies view first.
        """
        self._require_role(actor, {Role.SECURITY_OFFICER}, "review an anomaly")
        at = self.business_time(reviewed_at, "reviewed_at")
        review_id = anomaly_review_id(anomaly_id)
        if self._exists(review_id):
            review = self._load(AnomalyReview, review_id, ErrorCode.UNKNOWN_ANOMALY)
            review.review(actor, action, comment, at, severity)
        else:
            review = AnomalyReview.start(actor, anomaly_id, action, comment, at, severity)
        self.save(review)
        return review.id
