"""What the view pages share: the read models (docs/projections.md §Query API) at the moment a
page asks for, a short-lived memo of their answers, and department names for display.

Answers are memoised per (ledger position the views cover, as-of date, question): a new
ledger event moves the position, so an answer is never reused across a change of the
ledger, and each answer is also dropped after ``ANSWER_SECONDS`` because answers at the
head depend on the wall clock too (a grant expires without a new event). Department names
change only when a department is registered: they are kept for ``NAMES_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, TypeVar

from fastapi import Request

from api.console.session import Session
from api.deps import services
from ledger.config import Settings
from ledger.domain.actor import Role
from projections.query import Moment, Views, open_views

ANSWER_SECONDS: Final = 30.0
NAMES_SECONDS: Final = 60.0
ANSWERS_KEPT: Final = 64
T = TypeVar("T")


@dataclass(frozen=True)
class Asked:
    """The moment a page shows, and what was wrong with the question if anything."""

    moment: Moment
    error: str = ""


class Answers:
    """A small LRU of view answers with an age limit; one per process (thread-safe)."""

    def __init__(self, max_age: float = ANSWER_SECONDS, size: int = ANSWERS_KEPT) -> None:
        self.max_age = max_age
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            found = self._items.get(key)
            if found is not None and now - found[0] <= self.max_age:
                self._items.move_to_end(key)
                value: T = found[1]
                return value
        value = compute()
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


answers = Answers()
names = Answers(max_age=NAMES_SECONDS, size=4)


def ask(views: Views, m: Moment, question: str, compute: Callable[[], T], *args: Hashable) -> T:
    """``compute()`` (a view query at ``m``), or its answer from moments ago at that position."""
    ledger = (views.settings.database_url, views.settings.postgres_schema)
    return answers.get((ledger, m.position, m.as_of, question, *args), compute)


@contextmanager
def views_at(settings: Settings, as_of: date | None) -> Iterator[tuple[Views, Asked]]:
    """The views as the projection worker wrote them (a read never writes), and the moment
    ``as_of`` (None: the head)."""
    with open_views(settings) as views:
        try:
            asked = Asked(views.moment(as_of=as_of))
        except ValueError as e:
            asked = Asked(views.moment(), f"无法按该日期查询：{e}")
        yield views, asked


def department_names(views: Views, m: Moment) -> dict[str, str]:
    """Code -> name of every department registered (names are only added, never changed)."""
    return names.get(
        (views.settings.database_url, views.settings.postgres_schema),
        lambda: {code: d.name for code, d in views.departments(m).items()},
    )


def record_read(request: Request, session: Session, view: str, target: str) -> None:
    """A console read of personal data, recorded as the API records its own (a
    ``PersonalDataView`` ledger event: GB/T 22239-2019 8.1.4.3, the watchers are watched)."""
    client = request.client.host if request.client else None
    actor = session.principal.to_actor(client_address=client, request_id=request.state.request_id)
    services(request).ledger.record_personal_data_view(actor, f"console:{view}", target[:200])


def officer_names(request: Request) -> list[str]:
    """Named security officers a case can be assigned to: the labels of their active keys."""
    keys = services(request).authenticator.api_keys.list_keys()
    return sorted({k.label for k in keys if k.role is Role.SECURITY_OFFICER and k.active})


def people(request: Request) -> dict[str, str]:
    """Actor id (``apikey:<id>``) -> the person its key is bound to (the key's label)."""
    keys = services(request).authenticator.api_keys.list_keys()
    return {f"apikey:{k.key_id}": k.label for k in keys if k.label}
