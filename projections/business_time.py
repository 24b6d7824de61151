"""Accesses dated in the future: one judgment, for the views' finding and ``/metrics``.

docs/facts.md §6: a ``DataAccess.Recorded`` whose ``accessed_at`` is later than its
record ``timestamp`` plus ``time_limits.clock_skew_seconds`` of the calendar in force at
record time (else the reader's ``clock_skew_seconds`` setting) is **dated in the
future**: the exchange platform reported it before it happened. It is recorded, never
dropped, and readers must flag it, not fold it silently. The views raise the finding
:data:`RULE` (catalogue ``L4``, evidence: the access's position) and the metrics
follower counts ``govledger_accesses_dated_in_future_total``; both ask this module.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from projections.rules.calendars import time_limit

__all__ = ["DEFAULT_CLOCK_SKEW_SECONDS", "RULE", "dated_in_future"]

RULE = "L4"
DEFAULT_CLOCK_SKEW_SECONDS = 300  # docs/facts.md §6, when no calendar says otherwise


def dated_in_future(
    state: dict[str, Any], accessed_at: datetime, recorded_at: datetime, default_skew: int
) -> bool:
    """Later than its record time plus the clock skew in force at record time (§6)."""
    skew = time_limit(state, recorded_at, "clock_skew_seconds", default_skew)
    return accessed_at > recorded_at + timedelta(seconds=skew)
