"""The facts of issue 14 as JSON objects: one decoder per kind, for the API and ``import``.

``api/routers/obligations.py`` reads a request body and ``ops/importer.py`` a
line with the same function, so both accept and refuse the same objects
(docs/import-format.md, "Bounds"; docs/facts.md §7). Values are bounded by
:mod:`ledger.domain.bounds`; the configured bounds (earliest business time,
clock skew) are applied where the fact is recorded. Unknown keys are refused:
a misspelt field would otherwise silently become "not given".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ledger.domain import bounds
from ledger.domain.bounds import BoundsError
from ledger.domain.refresh import RefreshReport

Converter = Callable[[object, str], Any]


def optional(convert: Converter) -> Converter:
    """``convert`` that lets ``null`` through as None."""

    def read(value: object, field: str) -> Any:
        return None if value is None else convert(value, field)

    return read


def whole(value: object, field: str) -> int:
    return bounds.count(value, field, maximum=bounds.MAX_INT)


def flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise BoundsError(field, "expected true or false")
    return value


def codes(value: object, field: str) -> tuple[str, ...]:
    names = bounds.text_list(value, field)
    return tuple(bounds.code(name, field) for name in names)


def read_fields(
    obj: object,
    kind: str,
    required: Mapping[str, Converter],
    optional_fields: Mapping[str, Converter] | None = None,
) -> dict[str, Any]:
    """The fields of one ``kind`` object, converted; :class:`BoundsError` names the first fault.

    A missing optional field is absent from the answer (the command's default
    applies), a ``null`` one is None.
    """
    extra = optional_fields or {}
    if not isinstance(obj, dict):
        found = "array" if isinstance(obj, list) else type(obj).__name__
        raise BoundsError(kind, f"expected a JSON object, got {found}")
    unknown = sorted(set(obj) - set(required) - set(extra))
    if unknown:
        names = ", ".join(repr(name)[1:-1][:60] for name in unknown[:5])
        raise BoundsError(kind, f"unknown field(s): {names}")
    for name in required:
        if name not in obj:
            raise BoundsError(name, "missing")
    fields = {name: convert(obj[name], name) for name, convert in required.items()}
    fields.update(
        {name: convert(obj[name], name) for name, convert in extra.items() if name in obj}
    )
    return fields


REFRESH_REQUIRED: Mapping[str, Converter] = {
    "platform_event_id": bounds.text,
    "resource_code": bounds.code,
    "refreshed_at": bounds.instant,
}
REFRESH_OPTIONAL: Mapping[str, Converter] = {
    "row_count": optional(lambda v, f: bounds.count(v, f, maximum=bounds.MAX_ROW_COUNT)),
}


def refresh_report(obj: object) -> RefreshReport:
    """One refresh the exchange platform reports (docs/import-format.md, kind resource_refresh)."""
    return RefreshReport(**read_fields(obj, "resource_refresh", REFRESH_REQUIRED, REFRESH_OPTIONAL))
