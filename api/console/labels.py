"""Chinese names the console shows: the one label table is ``projections.labels`` (issue #16);
this module keeps the console's old import path."""

from __future__ import annotations

from projections.labels import (
    ANOMALY_KINDS,
    ANOMALY_STATUS,
    BREAK_NAMES,
    REVIEW_ACTIONS,
    ROLE_NAMES,
    SIGNATURE_STANDINGS,
)

__all__ = [
    "ANOMALY_KINDS",
    "ANOMALY_STATUS",
    "BREAK_NAMES",
    "REVIEW_ACTIONS",
    "ROLE_NAMES",
    "SIGNATURE_STANDINGS",
]
