"""Official Chinese terms for the identifiers of domain.md, and number formats."""

from __future__ import annotations

from datetime import datetime

from projections.labels import (
    ACCESS_REASON_RULES,
    FILING_STATUS,
    FUND_KINDS,
    FUND_OUTCOMES,
    OPEN_TYPES,
    REQUEST_STATUS,
    RISK_LEVELS,
    SENSITIVITY,
    SHARING_TYPES,
    SYSTEM_STATUS,
)

# The one label table (projections/labels.py, issue #16): these names are kept for the reports.
SHARING_TYPE = SHARING_TYPES
OPEN_TYPE = OPEN_TYPES
RISK_LEVEL = RISK_LEVELS
FUND_KIND = FUND_KINDS
FUND_OUTCOME = FUND_OUTCOMES
ACCESS_REASON = ACCESS_REASON_RULES
__all__ = [
    "ACCESS_REASON", "FILING_STATUS", "FUND_KIND", "FUND_OUTCOME", "MONTHS", "OPEN_TYPE",
    "REQUEST_STATUS", "RISK_LEVEL", "SENSITIVITY", "SHARING_TYPE", "SYSTEM_STATUS", "day",
    "percent", "yuan",
]  # fmt: skip
MONTHS = tuple(f"{m}月" for m in range(1, 13))


def yuan(fen: int) -> str:
    """Whole fen as 元 with two decimals and thousands separators."""
    return f"{fen // 100:,}.{fen % 100:02d}"


def percent(numerator: int, denominator: int) -> str:
    return "—" if denominator == 0 else f"{100 * numerator / denominator:.1f}%"


def day(moment: datetime | None) -> str:
    return "—" if moment is None else moment.date().isoformat()
