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

import re
from datetime import datetime
from operator import attrgetter
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta, Struct

from ledger.domain import bounds
from ledger.domain.access import AccessReport

# The constraints of api.schemas.Text, Code and ShortText (ledger/domain/bounds.py).
_Text = Annotated[str, Meta(min_length=1, max_length=bounds.MAX_TEXT)]
# A code's pattern is matched once per distinct code of the batch (:func:`_codes`), not by
# the decoder once per access: a batch names few departments and resources.
_Code = Annotated[str, Meta(min_length=1, max_length=bounds.MAX_CODE)]
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
    # Tuples, as ``AccessReport`` holds them: the report is built from these fields as they are.
    items: Annotated[tuple[_Text, ...], Meta(min_length=1, max_length=bounds.MAX_LIST)]
    row_count: Annotated[int, Meta(ge=0, le=bounds.MAX_ROW_COUNT)]
    accessed_at: str
    system: _Short | None = None
    purpose: _Short | None = None
    grant_id: UUID | None = None
    client_address: _Short | None = None
    subjects: Annotated[tuple[_Id, ...], Meta(max_length=bounds.MAX_LIST)] = ()


class _BatchWire(Struct, forbid_unknown_fields=True, gc=False):
    accesses: Annotated[list[_AccessWire], Meta(min_length=1)]


_DECODER = msgspec.json.Decoder(_BatchWire)


def decode_reports(body: bytes) -> list[AccessReport] | None:
    """The batch's reports, or None: then the pydantic models decide (and explain).

    Each check is made once over the whole batch (issue 20: a pass per access
    cost more than msgspec's decoding): the padding of every text in one
    ``str.strip`` map, every time's form in one regex match over the times
    joined by newlines (``INSTANT`` matches no newline), then the reports.
    """
    try:
        wires = _DECODER.decode(body).accesses
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    times = "\n".join([w.accessed_at for w in wires])
    if not (_codes(wires) and _unpadded(wires) and _INSTANTS.fullmatch(times)):
        return None
    parse = datetime.fromisoformat
    try:
        return [
            AccessReport(
                w.platform_event_id,
                w.accessor_id,
                w.department,
                w.system,
                w.resource_code,
                w.items,
                w.row_count,
                w.purpose,
                w.grant_id,
                w.client_address,
                parse(w.accessed_at),
                w.subjects,
            )
            for w in wires
        ]
    except ValueError:  # e.g. an offset of 24 hours or more: pydantic explains
        return None


# Every time of a batch, joined by newlines, in the contract's RFC 3339 form.
_INSTANTS = re.compile(f"(?:{bounds.INSTANT.pattern}\n)*{bounds.INSTANT.pattern}")


def _codes(wires: list[_AccessWire]) -> bool:
    """Every department and resource code of the batch matches ``CODE_PATTERN``, searched as
    msgspec searches a ``Meta`` pattern: the same answer, once per distinct code."""
    codes = set(map(_DEPARTMENT, wires))
    codes.update(map(_RESOURCE, wires))
    return all(map(_CODE_SEARCH, codes))


_DEPARTMENT, _RESOURCE = attrgetter("department"), attrgetter("resource_code")
_CODE_SEARCH = re.compile(bounds.CODE_PATTERN).search


def _unpadded(wires: list[_AccessWire]) -> bool:
    """No text of the batch has leading or trailing whitespace, and no access repeats a
    data subject. str.strip removes every character str.isspace knows, a superset of
    what pydantic strips; the lists are built and compared in C (per access, this
    check was a tenth of the batch's time)."""
    texts: list[str] = []
    add = texts.extend
    for wire in wires:
        add((wire.platform_event_id, wire.accessor_id, wire.department, wire.resource_code))
        add(wire.items)
        subjects = wire.subjects
        if subjects:
            if len(set(subjects)) != len(subjects):  # repeated: pydantic explains
                return False
            add(subjects)
    # The optional texts, None as "": one list of each across the batch.
    for name in ("system", "purpose", "client_address"):
        add([text or "" for text in map(attrgetter(name), wires)])
    return list(map(str.strip, texts)) == texts
