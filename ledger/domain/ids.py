"""Deterministic aggregate ids (uuid5) for things that have a natural key.

The namespace is fixed forever: changing it would give a retried report or a
re-registered code a new id and defeat idempotency and uniqueness.
"""

from __future__ import annotations

from uuid import UUID, uuid5

LEDGER_NAMESPACE = UUID("9d7a003b-6bd7-47fe-8e64-0bc07908a513")


def department_id(code: str) -> UUID:
    """One Department aggregate per department code."""
    return uuid5(LEDGER_NAMESPACE, f"department:{code}")


def resource_id(code: str) -> UUID:
    """One Resource aggregate per catalogue code (信息资源代码)."""
    return uuid5(LEDGER_NAMESPACE, f"resource:{code}")


def data_access_id(platform_event_id: str) -> UUID:
    """One DataAccess per exchange-platform event id: a retried report maps to the same id."""
    return uuid5(LEDGER_NAMESPACE, f"data_access:{platform_event_id}")


def anomaly_review_id(anomaly_id: str) -> UUID:
    """One AnomalyReview per anomaly id (anomaly ids are stable hashes from projections)."""
    return uuid5(LEDGER_NAMESPACE, f"anomaly_review:{anomaly_id}")
