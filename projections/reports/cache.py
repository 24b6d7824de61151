"""Recent reports, so that one replay of the ledger serves every format and every reader.

A report is kept per (ledger, kind, year, ledger position): the document model
once per key (the replay is the cost), and each format rendered from it once.
A new event makes a new key, so a kept report is never stale. The console's
downloads and the API's ``GET /reports/{kind}`` share one cache per process. Reading
never writes (docs/projections.md §Opening and moments): a read reports at the views'
position as the worker keeps them; only a writer (issuing a report) passes
``catch_up=True`` to bring the views to the ledger's head first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final, TypeVar

from ledger.config import Settings
from ledger.store.connect import ledger_head
from projections.query import open_views
from projections.reports import Format, Report, ReportKind, generate, render
from projections.runner import run_projections

CACHED_REPORTS: Final = 12
K = TypeVar("K")
V = TypeVar("V")
ModelKey = tuple[str, str, str, int, int]


class ReportCache:
    """The last ``CACHED_REPORTS`` document models and rendered bodies, least recent out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: OrderedDict[ModelKey, Report] = OrderedDict()
        self._bodies: OrderedDict[tuple[ModelKey, str], bytes] = OrderedDict()

    def get(
        self,
        settings: Settings,
        kind: ReportKind,
        year: int,
        fmt: Format,
        *,
        at: int | None = None,
        catch_up: bool = False,
    ) -> bytes:
        """The report over positions 1..``at`` rendered as ``fmt``; by default at the
        views' position, or at the ledger's head with ``catch_up`` (a writer's)."""
        if catch_up:
            run_projections(settings)
        if at is None:
            if catch_up:
                at = ledger_head(settings)
            else:
                with open_views(settings) as views:
                    at = views.position
        position = at
        key = (settings.database_url, settings.postgres_schema, kind.value, year, position)
        body = _recall(self._lock, self._bodies, (key, fmt.value))
        if body is None:
            model = _recall(self._lock, self._models, key)
            if model is None:
                model = generate(settings, kind, year, at=position)
                _keep(self._lock, self._models, key, model)
            body = render(model, fmt)
            _keep(self._lock, self._bodies, (key, fmt.value), body)
        return body


def _recall(lock: threading.Lock, items: OrderedDict[K, V], key: K) -> V | None:
    with lock:
        if key in items:
            items.move_to_end(key)
            return items[key]
    return None


def _keep(lock: threading.Lock, items: OrderedDict[K, V], key: K, value: V) -> None:
    with lock:
        items[key] = value
        while len(items) > CACHED_REPORTS:
            items.popitem(last=False)


REPORTS: Final = ReportCache()
