"""The batch writer's stored access events are byte for byte the library's (ledger-format §12)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from uuid import UUID, uuid4, uuid5

import msgspec
import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import JSONTranscoder, StoredEvent

from ledger.application import GovLedger
from ledger.domain import AccessReason, AccessReport, AccessVerdict, Actor, DataAccess, Role
from ledger.domain.access_state import RECORDED_TOPIC, AccessStateWriter
from ledger.domain.ids import LEDGER_NAMESPACE, data_access_id
from tests.ledger.domain.builders import PLATFORM

# Characters where JSON encoders are known to differ: quotes, escapes, controls,
# DEL, non-BMP, line/paragraph separators, CJK, full-width punctuation.
TRICKY = '"\\/\b\f\n\r\t\x00\x01\x1f\x7f\u2028\u2029\ufeff😀社保，。 abcXYZ019-_.'
STAMP = datetime(2026, 3, 3, 1, 2, 3, 456789, tzinfo=UTC)


def _text(rng: random.Random) -> str:
    """Never blank: the aggregate path refuses blank keys and items."""
    return "k" + "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 12)))


def _moment(rng: random.Random) -> datetime:
    zones = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))]
    zone = rng.choice(zones)
    moment = datetime(2026, 1, 1, tzinfo=zone) + timedelta(seconds=rng.randint(0, 10**7))
    return moment.replace(microsecond=rng.choice([0, 1, 999999, rng.randint(0, 999999)]))


def _report(rng: random.Random, n: int) -> AccessReport:
    maybe = lambda: _text(rng) if rng.random() < 0.7 else None  # noqa: E731
    return AccessReport(
        platform_event_id=f"ev-{n}-{_text(rng)}",
        accessor_id=_text(rng),
        department=_text(rng),
        system=maybe(),
        resource_code=_text(rng),
        items=tuple(_text(rng) for _ in range(rng.randint(1, 4))),
        row_count=rng.choice([0, 1, 2**40, rng.randint(0, 10**12)]),
        purpose=rng.choice([None, "", _text(rng)]),
        grant_id=rng.choice([None, uuid4()]),
        client_address=maybe(),
        accessed_at=_moment(rng),
    )


def _verdict(rng: random.Random) -> AccessVerdict:
    reasons = rng.sample(list(AccessReason), rng.randint(0, 3))
    return AccessVerdict(tuple(reasons))


ACTORS = [
    PLATFORM,
    Actor("exchange-2", Role.EXCHANGE_PLATFORM, None, None, None),
    Actor('x"平台\n', Role.EXCHANGE_PLATFORM, "renshe", "::1", "req-\u2028"),
]


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(DataAccess.Recorded, "create_timestamp", staticmethod(lambda: STAMP))
    yield


def _by_aggregate(app: GovLedger, actor: Actor, report: AccessReport, verdict: AccessVerdict):
    """What saving the aggregate (``DataAccess.record``) would store."""
    (event,) = DataAccess.record(actor, report, verdict).collect_events()
    return app.mapper.to_stored_event(event)


@pytest.mark.usefixtures("fixed_time")
def test_writer_stores_the_aggregate_paths_bytes_for_varied_accesses():
    app = GovLedger()
    rng = random.Random(20261129)
    for n in range(600):
        actor, report, verdict = rng.choice(ACTORS), _report(rng, n), _verdict(rng)
        access_id = data_access_id(report.platform_event_id)
        written = AccessStateWriter(app.mapper, actor).stored_event(access_id, report, verdict)
        expected = _by_aggregate(app, actor, report, verdict)
        assert written == expected, report
        assert written.topic == RECORDED_TOPIC


@pytest.mark.usefixtures("fixed_time")
def test_a_batch_encoded_in_one_call_stores_the_aggregate_paths_bytes():
    """``stored_batch`` (one encoder call, split by line) gives each event's own bytes."""
    app = GovLedger()
    rng = random.Random(20261206)
    for actor in ACTORS:
        entries = []
        for n in range(200):
            report, verdict = _report(rng, n), _verdict(rng)
            entries.append((data_access_id(report.platform_event_id), report, verdict))
        written = AccessStateWriter(app.mapper, actor).stored_batch(entries)
        expected = [_by_aggregate(app, actor, report, verdict) for _, report, verdict in entries]
        assert written == expected


@pytest.mark.usefixtures("fixed_time")
def test_one_unencodable_access_sends_only_the_batch_through_the_library():
    """A lone surrogate cannot be UTF-8: the batch falls back to event by event (and raises
    the library's own error for that access), never a misaligned split."""
    app = GovLedger()
    rng = random.Random(5)
    good = _report(rng, 1)
    bad = msgspec.structs.replace(good, system="\ud800")
    writer = AccessStateWriter(app.mapper, PLATFORM)
    entries = [
        (data_access_id(good.platform_event_id), good, AccessVerdict()),
        (data_access_id("b"), bad, AccessVerdict()),
    ]
    with pytest.raises(Exception) as raised:
        writer.stored_batch(entries)
    with pytest.raises(type(raised.value)):
        app.mapper.to_stored_event(
            DataAccess.recorded_event(PLATFORM, bad, AccessVerdict(), data_access_id("b"), STAMP)
        )
    (alone,) = writer.stored_batch(entries[:1])
    assert alone == _by_aggregate(app, PLATFORM, good, AccessVerdict())


@pytest.mark.usefixtures("fixed_time")
def test_written_events_decode_to_the_reported_access():
    app = GovLedger()
    report = _report(random.Random(7), 1)
    verdict = AccessVerdict.refuse(AccessReason.NO_GRANT)
    writer = AccessStateWriter(app.mapper, PLATFORM)
    access_id = data_access_id(report.platform_event_id)
    app.recorder.insert_events(writer.stored_events({access_id: (report, verdict)}))
    access = app.repository.get(access_id)
    assert isinstance(access, DataAccess)
    assert access.report == report and access.verdict == verdict


class Colour(Enum):
    RED = "red"


class Text(str):
    pass


@pytest.mark.usefixtures("fixed_time")
@pytest.mark.parametrize(
    "changes",
    [
        {"system": Text("subclassed text")},  # orjson would take a str subclass as is
        {"accessor_id": Text("a")},
        {"items": ["name", "id_no"]},  # a list: the library stores it as a tuple would be
    ],
)
def test_unusual_but_encodable_values_store_the_librarys_bytes(changes: dict[str, object]):
    app = GovLedger()
    base = _report(random.Random(3), 3)
    report = msgspec.structs.replace(base, **changes)
    written = AccessStateWriter(app.mapper, PLATFORM).stored_event(
        data_access_id(report.platform_event_id), report, AccessVerdict()
    )
    assert written == _by_aggregate(app, PLATFORM, report, AccessVerdict())


def _outcome(store: Callable[[], StoredEvent]) -> StoredEvent | type[BaseException]:
    try:
        return store()
    except Exception as error:  # the library's refusal, compared by type
        return type(error)


@pytest.mark.usefixtures("fixed_time")
@pytest.mark.parametrize("value", [Colour.RED, uuid4(), 1.5], ids=["enum", "uuid", "float"])
def test_values_orjson_knows_but_the_json_encoder_does_not_behave_as_in_the_library(
    value: object,
):
    """orjson encodes an Enum, a UUID natively; the library refuses or transcodes them."""
    app = GovLedger()
    base = _report(random.Random(5), 5)
    fields = {f: getattr(base, f) for f in base.__struct_fields__}
    report = AccessReport(**{**fields, "purpose": value})  # type: ignore[arg-type]
    writer = AccessStateWriter(app.mapper, PLATFORM)
    access_id = data_access_id(report.platform_event_id)
    written = _outcome(lambda: writer.stored_event(access_id, report, AccessVerdict()))
    expected = _outcome(lambda: _by_aggregate(app, PLATFORM, report, AccessVerdict()))
    assert written == expected


@pytest.mark.usefixtures("fixed_time")
def test_a_mapper_with_a_compressor_goes_through_the_library():
    app = GovLedger()
    app.mapper.compressor = ZlibCompressor()
    report = _report(random.Random(11), 11)
    written = AccessStateWriter(app.mapper, PLATFORM).stored_event(
        data_access_id(report.platform_event_id), report, AccessVerdict()
    )
    assert isinstance(written, StoredEvent)
    assert written == _by_aggregate(app, PLATFORM, report, AccessVerdict())
    assert app.mapper.compressor.decompress(written.state).startswith(b'{"timestamp":')


def test_access_id_is_uuid5_of_the_platform_event_id():
    for name in ("ev-1", "社保-000123", "", "x" * 500, TRICKY):
        expected = uuid5(LEDGER_NAMESPACE, f"data_access:{name}")
        assert data_access_id(name) == expected
        assert isinstance(data_access_id(name), UUID) and data_access_id(name).version == 5


def test_another_transcoder_is_left_to_the_library():
    """A transcoder other than the library's own JSON one could encode differently."""

    class OtherTranscoder(JSONTranscoder):
        pass

    app = GovLedger()
    assert AccessStateWriter(app.mapper, PLATFORM).usable
    app.mapper.transcoder = OtherTranscoder()
    assert not AccessStateWriter(app.mapper, PLATFORM).usable
