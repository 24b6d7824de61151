"""What every ``GovLedger`` command shares: who may act, loading, saving, business time.

``LedgerBase`` is the eventsourcing ``Application`` the command groups of
``ledger/commands/`` build on (ledger/application.py composes them). Saving goes
through :meth:`LedgerBase.save`, which holds every value of every event to the
input contract (ledger/domain/bounds.py) first: the Python API is bounded like
the HTTP API and ``govledger import``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording
from eventsourcing.utils import Environment, EnvType

from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Actor, Role
from ledger.domain.bounds import TimeBounds, check_value
from ledger.domain.calendar import ResponseDeadlinePolicy
from ledger.domain.district_calendar import CalendarSpec
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.ids import department_id
from ledger.domain.transcodings import register_domain_transcodings
from ledger.domain.values import require_aware
from ledger.idempotency import requested_fields

A = TypeVar("A", bound=Aggregate)

# A concurrent writer can insert some of a batch's access ids between our
# existence check and our save; each retry re-checks, so a few suffice.
DEFAULT_DUPLICATE_RETRIES = 3

# Event attributes the ledger sets itself: not the caller's values.
_LEDGER_SET = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp"})


def utc_now() -> datetime:
    return datetime.now(UTC)


if TYPE_CHECKING:
    from ledger.subjects import SubjectVault


class LedgerBase(Application[UUID]):
    """The application over eventsourcing 9.5 (one save = one transaction), and its rules."""

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        deadline: ResponseDeadlinePolicy | None = None,
        calendar: CalendarSpec | None = None,
        time_bounds: TimeBounds | None = None,
        clock: Callable[[], datetime] = utc_now,
        duplicate_retries: int = DEFAULT_DUPLICATE_RETRIES,
        subjects: SubjectVault | None = None,
    ) -> None:
        # The index secret and key table of data subjects (ledger-format §9.1); None:
        # accesses naming subjects are refused (``subjects_unavailable``).
        self.subjects = subjects
        # Before any calendar is recorded (docs/facts.md §3): Monday-Friday, 10 days.
        self.deadline = deadline or ResponseDeadlinePolicy()
        # The configured calendar: recorded with the first request that needs it
        # (ledger/commands/sharing.py), then in force from the ledger.
        self.calendar = calendar
        self.time_bounds = time_bounds or TimeBounds()
        self.clock = clock
        self.duplicate_retries = duplicate_retries
        super().__init__(env)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The library merges ``os.environ`` in here; we take only what is passed."""
        merged = dict(type(self).env)
        merged.update(env or {})
        return Environment(name, merged)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    def save(self, *objects: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, once every value of every pending event is within the input contract."""
        for obj in objects:
            for pending in getattr(obj, "pending_events", ()):
                for name, value in vars(pending).items():
                    if name not in _LEDGER_SET:
                        check_value(value, name)
        return super().save(*objects, **kwargs)

    # -- business time ---------------------------------------------------------

    def business_time(self, given: datetime | None, field: str) -> datetime:
        """When the thing happened: as given (bounded, docs/facts.md §6), else now."""
        now = self.clock()
        if given is None:
            return now
        require_aware(given, field)
        return self.time_bounds.check(given, field, now)

    # -- who may act -----------------------------------------------------------

    @staticmethod
    def _check_acts_for(actor: Actor, department: str) -> None:
        """A department-bound actor (clerk, provider, CIO) acts only for its own department."""
        if actor.role in DEPARTMENT_BOUND_ROLES and actor.department_code != department:
            raise DomainError(
                ErrorCode.DEPARTMENT_MISMATCH,
                f"{actor.actor_id} of {actor.department_code} cannot act for {department}",
            )

    @staticmethod
    def _require_role(actor: Actor, allowed: Collection[Role], command: str) -> None:
        if actor.role not in allowed:
            raise DomainError(ErrorCode.ROLE_NOT_PERMITTED, f"{actor.role.value} may not {command}")

    # -- loading ---------------------------------------------------------------

    def _exists(self, aggregate_id: UUID) -> bool:
        """Cheaper than ``id in repository``: reads one stored event, replays nothing."""
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _existing(self, aggregate_ids: Sequence[UUID]) -> set[UUID]:
        """Which ids already have events: one query on the chained stores, else one per id."""
        bulk = getattr(self.recorder, "existing_originators", None)
        if bulk is not None:
            found: set[UUID] = bulk(aggregate_ids)
            return found
        return {i for i in aggregate_ids if self._exists(i)}

    def _load(self, cls: type[A], aggregate_id: UUID, missing: ErrorCode) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise DomainError(missing, f"no {cls.__name__} {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise DomainError(missing, f"{aggregate_id} is not a {cls.__name__}")
        return aggregate

    def _require_department(self, code: str) -> None:
        if not self._exists(department_id(code)):
            raise DomainError(ErrorCode.UNKNOWN_DEPARTMENT, f"no department {code!r}")

    def _save_created(self, aggregate: Aggregate, idempotency_key: str | None) -> UUID:
        """Save a new aggregate once per Idempotency-Key (ledger/idempotency.py).

        A keyed aggregate's id is derived from the key: if it is stored already
        (a retry, or an identical request that won the race to the event
        store's unique (id, version 1)), the first record's id is the answer,
        provided the request is the same; another request under the key is refused.
        """
        created = aggregate.pending_events[0]
        if idempotency_key is None or not self._exists(aggregate.id):
            try:
                self.save(aggregate)
                return aggregate.id
            except IntegrityError:
                if idempotency_key is None:
                    raise
        first = next(self.events.get(aggregate.id, lte=1))
        encode = self.mapper.transcoder.encode
        if encode(requested_fields(first)) != encode(requested_fields(created)):
            raise DomainError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                f"Idempotency-Key {idempotency_key!r} was used for a different request",
            )
        return aggregate.id
