"""The views' summaries at the head that ``/metrics`` asks on every scrape (findings by
rule and severity, open anomalies by severity; docs/operations.md metrics), computed once
per views position and ledger (docs/projections.md §Opening and moments)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ledger.config import Settings
from projections.query import Views, open_views

# The newest summary per (kind, ledger), with the views' position it was computed at. At the
# head a summary depends on nothing but that position (the moment's reference time is the
# newest event's), and /metrics asks every scrape in every worker: recompute only when the
# views have moved.
_SUMMARIES: dict[tuple[str, str, str], tuple[int, Mapping[Any, int]]] = {}


def _summary_at_head(
    kind: str,
    settings: Settings,
    catch_up: bool,
    count: Callable[[Views], Mapping[Any, int]],
) -> Mapping[Any, int]:
    key = (kind, settings.database_url, settings.postgres_schema)
    with open_views(settings, catch_up=catch_up) as views:
        cached = _SUMMARIES.get(key)
        if cached is not None and cached[0] == views.position:
            return cached[1]
        summary = count(views)
        _SUMMARIES[key] = (views.position, summary)
        return summary


def findings_summary(
    settings: Settings, *, catch_up: bool = False
) -> Mapping[tuple[str, str], int]:
    """Findings at the head by (rule, severity); ``catch_up`` as in :func:`open_views`."""

    def count(views: Views) -> Mapping[tuple[str, str], int]:
        return views.finding_tally(views.moment())

    return _summary_at_head("findings", settings, catch_up, count)


def anomalies_summary(settings: Settings, *, catch_up: bool = False) -> Mapping[str, int]:
    """Open (not dismissed) anomalies at the head by severity; ``catch_up`` as above."""

    def count(views: Views) -> Mapping[str, int]:
        return views.open_anomalies_by_severity(views.moment())

    return _summary_at_head("anomalies", settings, catch_up, count)
