"""Input checks shared by the aggregates' command methods (malformed input is refused)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from ledger.domain.errors import DomainError, ErrorCode

E = TypeVar("E", bound=StrEnum)


def parse_enum(enum_cls: type[E], value: str, field: str) -> E:
    """``value`` as a member of ``enum_cls``; plain strings from API bodies are accepted."""
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_cls)
        raise DomainError(
            ErrorCode.INVALID_VALUE, f"{field}={value!r} is not one of: {allowed}"
        ) from None


def require_text(value: str, field: str) -> str:
    """``value`` stripped; refused when empty."""
    text = value.strip()
    if not text:
        raise DomainError(ErrorCode.INVALID_VALUE, f"{field} is empty")
    return text


def require_aware(moment: datetime, field: str) -> datetime:
    """Refuse naive datetimes: the ledger compares times across zones (UTC vs UTC+8)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DomainError(ErrorCode.NAIVE_DATETIME, f"{field} has no time zone")
    return moment


def require_item_names(names: Iterable[str], field: str = "items") -> tuple[str, ...]:
    """A non-empty tuple of distinct, non-blank item names, in the order given."""
    result = tuple(names)
    if not result or any(not name.strip() for name in result):
        raise DomainError(ErrorCode.INVALID_ITEMS, f"{field} must be non-blank names")
    if len(set(result)) != len(result):
        raise DomainError(ErrorCode.INVALID_ITEMS, f"{field} has duplicates")
    return result


def require_not_before(moment: datetime, created_at: datetime, field: str) -> datetime:
    """Business time does not run backwards within one aggregate (docs/facts.md §6)."""
    if moment < created_at:
        raise DomainError(
            ErrorCode.TIME_BEFORE_CREATION,
            f"{field} {moment.isoformat()} is before the record's creation at "
            f"{created_at.isoformat()}",
        )
    return moment


class DatedSinceV2:
    """Mixin for event classes that gained ``occurred_at`` (business time) at version 2.

    A version 1 state has none: it happened, as far as the ledger knows, when it
    was recorded (docs/facts.md §4), so the upcaster copies its ``timestamp``.
    """

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["occurred_at"] = state["timestamp"]
