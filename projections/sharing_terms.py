"""The catalogue and grants in force, kept current for access evaluation.

A read model over the ledger: it follows the Resource and SharingRequest
events by position (topic-filtered notifications, so data-access events cost
nothing), reloads each aggregate that changed, and rebuilds the immutable
:class:`security.access.SharingReadModel` the evaluator reads. Catching up is
incremental; a new process starts from position 0. :meth:`SharingTerms.evaluator`
judges against the current model and remembers verdicts while it stays current
(issue 20: a batch's evaluation amortised).
"""

from __future__ import annotations

import logging
import threading
from uuid import UUID

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import MapperDeserialisationError
from eventsourcing.utils import get_topic

from ledger.application import GovLedger
from ledger.domain.catalogue import Resource
from ledger.domain.sharing import SharingRequest
from projections.set_aside import FOLD_ERRORS, reason_of
from security.access import (
    Evaluator,
    GrantTerms,
    ResourceTerms,
    SharingReadModel,
    grant_terms,
    resource_terms,
)

PAGE_SIZE = 1000
# AssertionError: the library checks each event follows the last (version, type).
UNREADABLE: tuple[type[BaseException], ...] = (
    MapperDeserialisationError,
    AssertionError,
    *FOLD_ERRORS,
)
_log = logging.getLogger(__name__)


def _event_topics(*aggregates: type) -> list[str]:
    return [
        get_topic(member)
        for aggregate in aggregates
        for member in vars(aggregate).values()
        if isinstance(member, type) and issubclass(member, DomainEvent)
    ]


class SharingTerms:
    """Thread-safe follower; :meth:`current` returns the model as of the ledger's head."""

    def __init__(self, app: GovLedger) -> None:
        self.app = app
        self.position = 0
        self._resources: dict[str, ResourceTerms] = {}
        self._grants: dict[UUID, GrantTerms] = {}
        self._model = SharingReadModel.build((), ())
        self._evaluator = Evaluator(self._model)
        self._topics = _event_topics(Resource, SharingRequest)
        self._lock = threading.Lock()
        self.unreadable: dict[UUID, str] = {}  # aggregates left out, and why
        self._codes: dict[UUID, str] = {}  # resource aggregate -> its code

    def current(self) -> SharingReadModel:
        with self._lock:
            self._catch_up()
            return self._model

    def evaluator(self) -> Evaluator:
        """An :class:`security.access.Evaluator` of the model as of the ledger's head: the
        same one (and what it remembers) for as long as the model does not change. The
        model is never changed in place: every change builds a new one."""
        with self._lock:
            self._catch_up()
            if self._evaluator.model is not self._model:
                self._evaluator = Evaluator(self._model)
            return self._evaluator

    def _catch_up(self) -> None:
        head = self.app.recorder.max_notification_id() or 0
        if head <= self.position:
            return
        changed = self._changed_between(self.position, head)
        for originator_id in changed:
            try:
                aggregate: object = self.app.repository.get(originator_id)
            except UNREADABLE as error:
                # A fact below the input contract (projections/set_aside.py): this
                # resource or request is left out, so accesses to it are flagged (no
                # grant, unknown resource) rather than served on terms it may not hold.
                self._drop(originator_id, error)
                continue
            self._apply(aggregate)
        self.position = head
        if changed:
            self._model = SharingReadModel.build(self._resources.values(), self._grants.values())

    def _changed_between(self, after: int, head: int) -> set[UUID]:
        changed: set[UUID] = set()
        start = after + 1
        while start <= head:
            page = self.app.recorder.select_notifications(
                start=start, limit=PAGE_SIZE, stop=head, topics=self._topics
            )
            if not page:
                break
            changed.update(UUID(str(n.originator_id)) for n in page)
            start = page[-1].id + 1
        return changed

    def _drop(self, originator_id: UUID, error: BaseException) -> None:
        self.unreadable[originator_id] = reason_of(error)
        self._grants.pop(originator_id, None)
        code = self._codes.pop(originator_id, None)
        if code is not None:
            self._resources.pop(code, None)
        _log.warning("sharing terms: %s left out: %s", originator_id, reason_of(error))

    def _apply(self, aggregate: object) -> None:
        if isinstance(aggregate, Resource):
            self._resources[aggregate.code] = resource_terms(aggregate)
            self._codes[aggregate.id] = aggregate.code
        elif isinstance(aggregate, SharingRequest):
            terms = grant_terms(aggregate)
            if terms is not None:
                self._grants[terms.grant_id] = terms
