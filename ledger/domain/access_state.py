"""Stored events for recorded accesses, written without the library's per-event machinery.

docs/ledger-format.md §12: the state of a ``DataAccess.Recorded`` event is the
JSON that eventsourcing's ``JSONTranscoder`` makes of the event, and it is
hashed into the chain as stored. Batch ingestion builds the same bytes with
one ``orjson.dumps`` per event instead of the library's route (event object,
``vars()``, a Python callback per value object, ``json`` encoder), which is
where most of an access's ingestion time went.

Since issue 20 the batch's states are written by one msgspec encoder call
(``encode_lines``, split at the newlines JSON strings never hold raw) from
one small struct per access whose fields are in the event's attribute order;
the parts every access of a batch shares (the actor, the recording time, each
distinct verdict and quoted grant) are encoded once per batch and spliced in
as raw JSON. A batch is recorded in one transaction, at one time: its events
carry one ``timestamp`` (docs/ledger-format.md §12, "when the ledger recorded it").

The bytes are *identical* to the library's, not merely equivalent: old and new
rows decode the same way, and ``tests/ledger/test_access_state.py`` compares
them byte for byte with ``Mapper.to_stored_event`` of the event the aggregate
would have raised. What this writer cannot vouch for (a cipher or compressor
on the mapper, another transcoder, values of unexpected types) goes through
the library instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

import msgspec
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ledger.domain.access import AccessReport, AccessVerdict, DataAccess, plain_types
from ledger.domain.actor import Actor

Entry = tuple[UUID, AccessReport, AccessVerdict]

RECORDED_TOPIC = get_topic(DataAccess.Recorded)
_ORIGINATOR_TOPIC = get_topic(DataAccess)
_VERSION = DataAccess.INITIAL_VERSION
_DATETIME = "datetime_iso"  # eventsourcing's DatetimeAsISO


class _Tagged(msgspec.Struct, rename={"type": "_type_", "data": "_data_"}, gc=False):
    """A value object as the library's transcoder writes it: ``{"_type_", "_data_"}``."""

    type: str
    data: str


class _State(msgspec.Struct, gc=False):
    """The state of a ``DataAccess.Recorded`` event: keys in this order (ledger-format §12).

    Untracked by the garbage collector (``gc=False``): its values are text, numbers and
    pre-encoded JSON, in no cycle, and a batch makes thousands."""

    timestamp: msgspec.Raw
    originator_topic: str
    actor: msgspec.Raw
    platform_event_id: str
    accessor_id: str
    department: str
    system: str | None
    resource_code: str
    items: Sequence[str]
    row_count: int
    purpose: str | None
    grant_id: msgspec.Raw | None
    client_address: str | None
    accessed_at: _Tagged
    verdict: msgspec.Raw


class _SubjectsState(_State, gc=False):
    """A state that names data subjects: ``subjects`` last, their key ids (ledger-format §9.1)."""

    subjects: msgspec.Raw


# Compact, non-ASCII as itself, the same escapes as json.dumps(ensure_ascii=False).
_ENCODER = msgspec.json.Encoder()
_JSON_LIBRARY = JSONTranscoder


def _stored(access_id: UUID, state: bytes) -> StoredEvent:
    """``StoredEvent(access_id, 1, RECORDED_TOPIC, state)``, made without the frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` a field, a third of the cost of
    building the state): the same object, fields and equality. A library whose
    ``StoredEvent`` has slots gets its own constructor."""
    if _SLOTTED:
        return StoredEvent(access_id, _VERSION, RECORDED_TOPIC, state)
    event: StoredEvent = _new(StoredEvent)
    _set(
        event,
        "__dict__",
        {
            "originator_id": access_id,
            "originator_version": _VERSION,
            "topic": RECORDED_TOPIC,
            "state": state,
        },
    )
    return event


_new = object.__new__
_set = object.__setattr__
_SLOTTED = hasattr(StoredEvent, "__slots__")


class AccessStateWriter:
    """Stored ``DataAccess.Recorded`` events for one batch, by one actor, recorded at one time.

    The actor, the timestamp and each distinct verdict are encoded once, by the
    mapper's own transcoder (so their registered transcodings stay the single
    definition), and spliced in as pre-encoded JSON.
    """

    def __init__(self, mapper: Mapper[UUID], actor: Actor, *, plain: bool = False) -> None:
        self.mapper = mapper
        self.actor = actor
        # Every report this writer gets holds only built-in types (``check_report`` said so).
        self.plain = plain
        # The library's own JSON, as is: another transcoder, a cipher or a compressor
        # would change the bytes, so then every event goes through the library.
        self.usable = (
            type(mapper.transcoder) is _JSON_LIBRARY
            and mapper.cipher is None
            and mapper.compressor is None
        )
        self.timestamp = DataAccess.Recorded.create_timestamp()
        self._stamp_json = self._encoded(self.timestamp) if self.usable else None
        self._actor_json = self._encoded(actor) if self.usable else None
        self._verdicts: dict[AccessVerdict, msgspec.Raw] = {}
        self._grants: dict[int, msgspec.Raw] = {}
        # Each access's ``subjects`` array (key ids), pre-encoded (ledger/subjects.py), by id.
        self.sealed: dict[UUID, msgspec.Raw] = {}

    def stored_events(
        self, entries: Mapping[UUID, tuple[AccessReport, AccessVerdict]]
    ) -> list[StoredEvent]:
        return self.stored_batch([(i, report, verdict) for i, (report, verdict) in entries.items()])

    def stored_batch(self, entries: Sequence[Entry]) -> list[StoredEvent]:
        """The stored events of these accesses, in order: the states in one encoder call."""
        states = self._states(entries)
        if states is not None and self.sealed:
            states = self._with_subjects(entries, states)
        if states is None:
            return [self.stored_event(*entry) for entry in entries]
        try:
            lines = _ENCODER.encode_lines(states).split(b"\n")[:-1]  # each line ends in one
        except (UnicodeEncodeError, TypeError, msgspec.EncodeError):
            return [self.stored_event(*entry) for entry in entries]  # each on its own
        pairs = zip(entries, lines, strict=True)
        return [_stored(access_id, state) for (access_id, _, _), state in pairs]

    def _with_subjects(self, entries: Sequence[Entry], states: list[_State]) -> list[_State]:
        sealed = self.sealed
        for index, (access_id, _, _) in enumerate(entries):
            raw = sealed.get(access_id)
            if raw is not None:
                states[index] = _SubjectsState(*msgspec.structs.astuple(states[index]), raw)  # type: ignore[call-arg]
        return states

    def stored_event(
        self, access_id: UUID, report: AccessReport, verdict: AccessVerdict
    ) -> StoredEvent:
        state = self._state(report, verdict)
        raw = self.sealed.get(access_id)
        if state is not None and raw is not None:
            state = _SubjectsState(*msgspec.structs.astuple(state), raw)  # type: ignore[call-arg]
        if state is not None:
            try:
                return StoredEvent(access_id, _VERSION, RECORDED_TOPIC, _ENCODER.encode(state))
            except (UnicodeEncodeError, TypeError, msgspec.EncodeError):
                pass  # e.g. a lone surrogate: let the library raise its own error
        event = DataAccess.recorded_event(self.actor, report, verdict, access_id, self.timestamp)
        if raw is not None:  # the state's last key (ledger-format §9.1)
            object.__setattr__(event, "subjects", msgspec.json.decode(raw))
        return self.mapper.to_stored_event(event)

    def _states(self, entries: Sequence[Entry]) -> list[_State] | None:
        """:meth:`_state` of every entry, in one loop; None if any is not of the known types.

        The verdict is looked up (and its type checked) only when it changes from one
        access to the next: most accesses share one verdict object
        (``security.access.AUTHORIZED``), and a frozen dataclass hashes in Python. So is
        the quoted grant's JSON, by the id's number: each access holds its own UUID object.
        """
        stamp, actor = self._stamp_json, self._actor_json
        if stamp is None or actor is None:
            return None
        plain = self.plain
        states: list[_State] = []
        append = states.append
        last_verdict: AccessVerdict | None = None
        verdict_json = msgspec.Raw(b"")
        last_grant: int | None = None
        grant_json: msgspec.Raw | None = None
        for _, report, verdict in entries:
            if not (plain or plain_types(report)):
                return None
            if verdict is not last_verdict:
                if type(verdict) is not AccessVerdict:
                    return None
                verdict_json, last_verdict = self._verdict_json(verdict), verdict
            grant_id = report.grant_id
            if grant_id is None:
                grant_json = last_grant = None
            elif grant_id.int != last_grant:
                grant_json, last_grant = self._grant_json(grant_id), grant_id.int
            append(
                _State(
                    stamp,
                    _ORIGINATOR_TOPIC,
                    actor,
                    report.platform_event_id,
                    report.accessor_id,
                    report.department,
                    report.system,
                    report.resource_code,
                    report.items,
                    report.row_count,
                    report.purpose,
                    grant_json,
                    report.client_address,
                    _Tagged(_DATETIME, report.accessed_at.isoformat()),
                    verdict_json,
                )
            )
        return states

    def _verdict_json(self, verdict: AccessVerdict) -> msgspec.Raw:
        found = self._verdicts.get(verdict)
        if found is None:
            found = self._verdicts[verdict] = self._encoded(verdict)
        return found

    def _grant_json(self, grant_id: UUID) -> msgspec.Raw:
        found = self._grants.get(grant_id.int)  # keyed by the int: UUID's own hash runs in Python
        if found is None:
            found = self._grants[grant_id.int] = self._encoded(grant_id)
        return found

    def _encoded(self, value: object) -> msgspec.Raw:
        return msgspec.Raw(self.mapper.transcoder.encode(value))

    def _state(self, report: AccessReport, verdict: AccessVerdict) -> _State | None:
        """The state's struct, or None when a value is not of the type this writer knows."""
        if not (
            self._stamp_json is not None
            and (self.plain or plain_types(report))
            and type(verdict) is AccessVerdict
        ):
            return None
        grant_id = report.grant_id
        return _State(
            self._stamp_json,
            _ORIGINATOR_TOPIC,
            self._actor_json,  # type: ignore[arg-type]  # set whenever the stamp is
            report.platform_event_id,
            report.accessor_id,
            report.department,
            report.system,
            report.resource_code,
            report.items,
            report.row_count,
            report.purpose,
            None if grant_id is None else self._grant_json(grant_id),
            report.client_address,
            _Tagged(_DATETIME, report.accessed_at.isoformat()),
            self._verdict_json(verdict),
        )
