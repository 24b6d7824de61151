"""The batch body of ``POST /api/v1/accesses/batch`` decoded with msgspec: exact, or not at all.

The exchange platform sends up to 10,000 accesses per request, and parsing
them into pydantic models and then into ``AccessReport`` cost more per access
than writing them to the chain. :func:`decode_reports` decodes the raw body
straight into ``AccessReport`` values with msgspec under the same constraints
as :class:`api.schemas.AccessIn`, and gives up (returns None) on anything where
msgspec and pydantic could disagree:

* any text with leading or trailing whitespace (``AccessIn`` strips it first),
* a time not in the contract's RFC 3339 form (``ledger.domain.bounds.INSTANT``:
  an offset, at most 6 fractional digits; the range is checked where every
  access is, ``check_report``),
* anything msgspec refuses: pydantic's lax coercions (``"12"`` for 12) and its
  error messages stay authoritative.

The caller then validates with the pydantic models as before, so every body
gets the answer it got before; ``tests/api/test_access_wire.py`` checks that
the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta, Struct

from api.schemas import access_report
from ledger.domain import bounds
from ledger.domain.access import AccessReport

# The constraints of api.schemas.Text, Code and ShortText (ledger/domain/bounds.py).
_Text = Annotated[str, Meta(min_length=1, max_length=bounds.MAX_TEXT)]
_Code = Annotated[str, Meta(min_length=1, max_length=bounds.MAX_CODE, pattern=bounds.CODE_PATTERN)]
_Short = Annotated[str, Meta(max_length=bounds.MAX_TEXT)]
_Id = Annotated[str, Meta(min_length=1, max_length=bounds.MAX_ID)]


class _AccessWire(Struct, forbid_unknown_fields=True, gc=False):
    """``AccessIn`` (api/schemas.py), field for field. Untracked by the garbage collector
    (``gc=False``): it holds only text, numbers and lists of text, so it is in no cycle,
    and a batch makes thousands (api/collector.py)."""

    platform_event_id: _Id
    accessor_id: _Id
    department: _Code
    resource_code: _Code
    items: Annotated[list[_Text], Meta(min_length=1, max_length=bounds.MAX_LIST)]
    row_count: Annotated[int, Meta(ge=0, le=bounds.MAX_ROW_COUNT)]
    accessed_at: str
    system: _Short | None = None
    purpose: _Short | None = None
    grant_id: UUID | None = None
    client_address: _Short | None = None
    subjects: Annotated[list[_Id], Meta(max_length=bounds.MAX_LIST)] = []


class _BatchWire(Struct, forbid_unknown_fields=True, gc=False):
    accesses: Annotated[list[_AccessWire], Meta(min_length=1)]


_DECODER = msgspec.json.Decoder(_BatchWire)


def decode_reports(body: bytes) -> list[AccessReport] | None:
    """The batch's reports, or None: then the pydantic models decide (and explain)."""
    try:
        batch = _DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    reports = []
    for wire in batch.accesses:
        report = _report(wire)
        if report is None:
            return None
        reports.append(report)
    return reports


def _report(wire: _AccessWire) -> AccessReport | None:
    texts = [wire.platform_event_id, wire.accessor_id, wire.department, wire.resource_code]
    texts += wire.items
    texts += [text for text in (wire.system, wire.purpose, wire.client_address) if text]
    texts += wire.subjects
    # str.strip removes every character str.isspace knows, a superset of what pydantic
    # strips; comparing the lists runs in C (this check was a tenth of the batch's time).
    if list(map(str.strip, texts)) != texts:
        return None
    if len(set(wire.subjects)) != len(wire.subjects):  # repeated: pydantic explains
        return None
    if not bounds.INSTANT.fullmatch(wire.accessed_at):
        return None
    try:
        accessed_at = datetime.fromisoformat(wire.accessed_at)
    except ValueError:  # e.g. an offset of 24 hours or more: pydantic explains
        return None
    return access_report(wire, accessed_at)
