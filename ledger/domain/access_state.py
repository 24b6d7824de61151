"""Stored events for recorded accesses, written without the library's per-event machinery.

docs/ledger-format.md §12: the state of a ``DataAccess.Recorded`` event is the
JSON that eventsourcing's ``JSONTranscoder`` makes of the event, and it is
hashed into the chain as stored. Batch ingestion builds the same bytes with
one ``orjson.dumps`` per event instead of the library's route (event object,
``vars()``, a Python callback per value object, ``json`` encoder), which is
where most of an access's ingestion time went.

The bytes are *identical* to the library's, not merely equivalent: old and new
rows decode the same way, and ``tests/ledger/test_access_state.py`` compares
them byte for byte with ``Mapper.to_stored_event`` of the event the aggregate
would have raised. What this writer cannot vouch for (a cipher or compressor
on the mapper, another transcoder, values of unexpected types) goes through
the library instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ledger.domain.access import AccessReport, AccessVerdict, DataAccess, plain_types
from ledger.domain.actor import Actor

RECORDED_TOPIC = get_topic(DataAccess.Recorded)
_ORIGINATOR_TOPIC = get_topic(DataAccess)
_VERSION = DataAccess.INITIAL_VERSION
_DATETIME = "datetime_iso"  # eventsourcing's DatetimeAsISO
_UUID = "uuid_hex"  # eventsourcing's UUIDAsHex


class AccessStateWriter:
    """Stored ``DataAccess.Recorded`` events for one batch, by one actor.

    The actor and each distinct verdict are encoded once, by the mapper's own
    transcoder (so their registered transcodings stay the single definition),
    and spliced in as pre-encoded JSON.
    """

    def __init__(self, mapper: Mapper[UUID], actor: Actor, *, plain: bool = False) -> None:
        self.mapper = mapper
        self.actor = actor
        # Every report this writer gets holds only built-in types (``check_report`` said so).
        self.plain = plain
        # The library's own JSON, as is: another transcoder, a cipher or a compressor
        # would change the bytes, so then every event goes through the library.
        self.usable = (
            type(mapper.transcoder) is JSONTranscoder
            and mapper.cipher is None
            and mapper.compressor is None
        )
        self._actor_json = orjson.Fragment(mapper.transcoder.encode(actor)) if self.usable else None
        self._verdicts: dict[AccessVerdict, orjson.Fragment] = {}

    def stored_events(
        self, entries: Mapping[UUID, tuple[AccessReport, AccessVerdict]]
    ) -> list[StoredEvent]:
        return [self.stored_event(i, report, verdict) for i, (report, verdict) in entries.items()]

    def stored_event(
        self, access_id: UUID, report: AccessReport, verdict: AccessVerdict
    ) -> StoredEvent:
        timestamp = DataAccess.Recorded.create_timestamp()
        state = self._fast_state(timestamp, report, verdict) if self.usable else None
        if state is None:
            return self._through_library(timestamp, access_id, report, verdict)
        return StoredEvent(access_id, _VERSION, RECORDED_TOPIC, state)

    def _through_library(
        self, timestamp: datetime, access_id: UUID, report: AccessReport, verdict: AccessVerdict
    ) -> StoredEvent:
        event = DataAccess.recorded_event(self.actor, report, verdict, access_id, timestamp)
        return self.mapper.to_stored_event(event)

    def _verdict_json(self, verdict: AccessVerdict) -> orjson.Fragment:
        found = self._verdicts.get(verdict)
        if found is None:
            found = self._verdicts[verdict] = orjson.Fragment(
                self.mapper.transcoder.encode(verdict)
            )
        return found

    def _fast_state(
        self, timestamp: datetime, report: AccessReport, verdict: AccessVerdict
    ) -> bytes | None:
        """The library's bytes, or None when a value is not of the type the fast path knows.

        Keys in the event's attribute order (``vars()`` of the event, less
        originator id and version); value objects as ``{"_type_", "_data_"}``.
        """
        known = self.plain or plain_types(report)
        if not (known and type(timestamp) is datetime and type(verdict) is AccessVerdict):
            return None
        accessed_at, grant_id = report.accessed_at, report.grant_id
        state = {
            "timestamp": {"_type_": _DATETIME, "_data_": timestamp.isoformat()},
            "originator_topic": _ORIGINATOR_TOPIC,
            "actor": self._actor_json,
            "platform_event_id": report.platform_event_id,
            "accessor_id": report.accessor_id,
            "department": report.department,
            "system": report.system,
            "resource_code": report.resource_code,
            "items": report.items,
            "row_count": report.row_count,
            "purpose": report.purpose,
            "grant_id": None if grant_id is None else {"_type_": _UUID, "_data_": grant_id.hex},
            "client_address": report.client_address,
            "accessed_at": {"_type_": _DATETIME, "_data_": accessed_at.isoformat()},
            "verdict": self._verdict_json(verdict),
        }
        try:
            return orjson.dumps(state)
        except orjson.JSONEncodeError:
            return None  # e.g. a lone surrogate: let the library raise its own error
