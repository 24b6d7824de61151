"""One access as the exchange platform sends it: a JSON object → an ``AccessReport``.

The same function reads an access from an API body (``api.schemas.AccessIn``
runs it before its own fields) and from a line of ``govledger import``
(``ops/importer.py``), so both accept and refuse the same objects
(docs/import-format.md, "Bounds"; tests/ledger/domain/test_intake.py proves it
by property). The values' bounds are those of :mod:`ledger.domain.bounds`; the
configured ones (earliest business time, clock skew) are the ledger's, applied
where the access is recorded.
"""

from __future__ import annotations

from typing import Any

from ledger.domain import bounds
from ledger.domain.access import AccessReport, check_report
from ledger.domain.bounds import BoundsError

REQUIRED_FIELDS = (
    "platform_event_id",
    "accessor_id",
    "department",
    "resource_code",
    "items",
    "row_count",
    "accessed_at",
)
OPTIONAL_FIELDS = ("system", "purpose", "grant_id", "client_address", "subjects")
ACCESS_FIELDS = frozenset((*REQUIRED_FIELDS, *OPTIONAL_FIELDS))


def access_fields(obj: object) -> dict[str, Any]:
    """The fields of one access, converted and within bounds; :class:`BoundsError` if not.

    Text is stripped of surrounding white space (as the API always did), then
    checked; a missing or null optional field is None.
    """
    if not isinstance(obj, dict):
        kind = "array" if isinstance(obj, list) else type(obj).__name__
        raise BoundsError("access", f"expected a JSON object, got {kind}")
    unknown = sorted(set(obj) - ACCESS_FIELDS)
    if unknown:
        names = ", ".join(repr(name)[1:-1][:60] for name in unknown[:5])  # one line
        raise BoundsError("access", f"unknown field(s): {names}")
    missing = [name for name in REQUIRED_FIELDS if name not in obj]
    if missing:
        raise BoundsError(missing[0], "missing")
    return {
        "platform_event_id": bounds.text(
            obj["platform_event_id"], "platform_event_id", max_length=bounds.MAX_ID
        ),
        "accessor_id": bounds.text(obj["accessor_id"], "accessor_id", max_length=bounds.MAX_ID),
        "department": bounds.code(obj["department"], "department"),
        "system": bounds.optional_text(obj.get("system"), "system"),
        "resource_code": bounds.code(obj["resource_code"], "resource_code"),
        "items": bounds.text_list(obj["items"], "items"),
        "row_count": bounds.count(obj["row_count"], "row_count", maximum=bounds.MAX_ROW_COUNT),
        "purpose": bounds.optional_text(obj.get("purpose"), "purpose"),
        "grant_id": bounds.optional_uuid(obj.get("grant_id"), "grant_id"),
        "client_address": bounds.optional_text(obj.get("client_address"), "client_address"),
        "accessed_at": bounds.instant(obj["accessed_at"], "accessed_at"),
        "subjects": _subjects(obj.get("subjects")),
    }


def _subjects(value: object) -> tuple[str, ...]:
    """The data subjects (ledger-format §9.1): absent, null or [] is none; else ids."""
    if value is None or value == []:
        return ()
    subjects = bounds.text_list(value, "subjects")
    for subject in subjects:
        bounds.text(subject, "subjects", max_length=bounds.MAX_ID)
    return subjects


def access_report(obj: object) -> AccessReport:
    """The report of one access object; :class:`BoundsError` or ``DomainError`` if refused."""
    report = AccessReport(**access_fields(obj))
    check_report(report)  # the ledger's own test: recording can then never refuse it
    return report
