"""The access batch path (ledger/commands/accesses.py) on each backend: one transaction per
batch, idempotent by platform event id, all or nothing, improper accesses recorded and flagged.

The stored bytes are those of the library's event (docs/ledger-format.md §12) whichever
store takes them, streamed a chunk at a time into the batch's one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import msgspec
import pytest

from ledger.application import GovLedger
from ledger.commands import accesses
from ledger.commands.accesses import STREAM_CHUNK
from ledger.config import Settings
from ledger.domain import AccessReason, AccessReport, AccessVerdict, DataAccess, DomainError
from ledger.domain.errors import ErrorCode
from ledger.store.connect import application_env, init_ledger
from projections.sharing_terms import SharingTerms
from security.access import evaluate_access
from tests.conftest import Ledger, make_events
from tests.ledger._rows import verified_rows
from tests.ledger._world import access_report
from tests.ledger.domain.builders import (
    NDRC,
    PLATFORM,
    PROVIDER,
    PROVIDER_DEPT,
    USER_DEPT,
    FakeClock,
    population_entry,
)


@pytest.fixture(params=[STREAM_CHUNK, 3], ids=["one chunk", "chunks of 3"])
def app(
    settings: Settings, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GovLedger]:
    # Chunks of 3: every batch here spans chunks, which both stores stream into one transaction.
    monkeypatch.setattr(accesses, "STREAM_CHUNK", request.param)
    init_ledger(settings)
    ledger = GovLedger(env=application_env(settings), clock=FakeClock())
    ledger.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    ledger.register_department(NDRC, USER_DEPT, "区人社局")
    ledger.register_resource(PROVIDER, population_entry())
    yield ledger
    ledger.close()


def _judged(
    app: GovLedger, reports: list[AccessReport]
) -> list[tuple[AccessReport, AccessVerdict]]:
    model = SharingTerms(app).current()
    return [(report, evaluate_access(report, model)) for report in reports]


def _rows(app: GovLedger) -> int:
    return app.recorder.max_notification_id() or 0


def _stored_state(app: GovLedger, report: AccessReport) -> bytes:
    (stored,) = app.recorder.select_events(app.access(report.platform_event_id).id, limit=1)
    return bytes(stored.state)


def test_a_batch_is_stored_as_the_library_would_store_each_event(app: GovLedger):
    entries = _judged(app, [access_report(f"ev-{n}") for n in range(40)])
    result = app.record_accesses(PLATFORM, entries)
    for (report, verdict), access_id in zip(entries, result.recorded, strict=True):
        (stored,) = app.recorder.select_events(access_id, limit=1)
        event = DataAccess.recorded_event(PLATFORM, report, verdict, access_id, _stamp(app, stored))
        assert stored.state == app.mapper.to_stored_event(event).state
        assert app.access(report.platform_event_id).report == report


def _stamp(app: GovLedger, stored: object) -> object:
    return app.mapper.to_domain_event(stored).timestamp  # type: ignore[arg-type]


def test_a_retried_batch_is_recorded_once(app: GovLedger):
    entries = _judged(app, [access_report(f"ev-{n}") for n in range(30)])
    first = app.record_accesses(PLATFORM, entries)
    rows = _rows(app)
    again = app.record_accesses(PLATFORM, entries)
    assert len(first.recorded) == 30 and first.already_recorded == ()
    assert again.recorded == () and again.already_recorded == first.recorded
    assert again.ids == first.ids
    assert _rows(app) == rows


def test_a_partly_known_batch_records_only_the_new_accesses(app: GovLedger):
    known = [access_report(f"ev-{n}") for n in range(0, 20, 2)]
    app.record_accesses(PLATFORM, _judged(app, known))
    rows = _rows(app)
    reports = [access_report(f"ev-{n}") for n in range(20)]
    before = {r.platform_event_id: _stored_state(app, r) for r in known}
    result = app.record_accesses(PLATFORM, _judged(app, reports))
    assert _rows(app) == rows + 10
    fresh = [app.access(f"ev-{n}").id for n in range(1, 20, 2)]
    assert list(result.recorded) == fresh
    assert set(result.already_recorded) == {app.access(r.platform_event_id).id for r in known}
    assert {r.platform_event_id: _stored_state(app, r) for r in known} == before  # untouched


def test_a_repeated_event_id_within_a_batch_is_recorded_once(app: GovLedger):
    reports = [access_report("ev-a"), access_report("ev-b"), access_report("ev-a")]
    rows = _rows(app)
    result = app.record_accesses(PLATFORM, _judged(app, reports))
    ids = (app.access("ev-a").id, app.access("ev-b").id)
    assert _rows(app) == rows + 2
    assert result.recorded == ids and result.already_recorded == (ids[0],)
    assert result.ids == (ids[0], ids[1], ids[0])


@pytest.mark.parametrize(
    "breach",
    [
        {"accessor_id": " "},
        {"items": ()},
        {"department": "not a code"},
        {"row_count": -1},
        {"system": "nul\x00"},
    ],
    ids=["blank accessor", "no items", "bad code", "negative rows", "control character"],
)
def test_one_malformed_access_refuses_the_whole_batch(app: GovLedger, breach: dict[str, object]):
    reports = [access_report(f"ev-{n}") for n in range(10)]
    reports[7] = msgspec.structs.replace(reports[7], **breach)
    rows = _rows(app)
    with pytest.raises(DomainError) as refused:
        app.record_accesses(PLATFORM, _judged(app, reports))
    assert refused.value.code is ErrorCode.MALFORMED_ACCESS
    assert "ev-7" in str(refused.value)
    assert _rows(app) == rows  # nothing of the batch, not even the valid accesses before it
    del reports[7]
    assert len(app.record_accesses(PLATFORM, _judged(app, reports)).recorded) == 9


def test_an_improper_access_is_recorded_and_flagged(app: GovLedger):
    proper = access_report("ev-own", department=PROVIDER_DEPT)  # the provider reads its own
    improper = access_report("ev-no-grant")  # another department, and no grant at all
    result = app.record_accesses(PLATFORM, _judged(app, [proper, improper]))
    assert len(result.recorded) == 2
    assert app.access("ev-own").verdict.authorized
    flagged = app.access("ev-no-grant").verdict
    assert not flagged.authorized and flagged.reasons == (AccessReason.NO_GRANT,)


def test_an_access_dated_in_the_future_is_recorded_and_reported(app: GovLedger):
    clock = app.clock
    assert isinstance(clock, FakeClock)
    later = access_report("ev-later", accessed_at=clock.now + app.time_bounds.clock_skew * 2)
    now = access_report("ev-now", accessed_at=clock.now)
    result = app.record_accesses(PLATFORM, _judged(app, [now, later]))
    assert len(result.recorded) == 2
    assert result.in_future == (app.access("ev-later").id,)


# -- the stores' own idempotent insert -----------------------------------------


def test_the_store_leaves_known_originators_out_and_chains_the_rest_gaplessly(ledger: Ledger):
    known = make_events(2)
    ledger.recorder.insert_events(known)
    new = make_events(3)
    written = ledger.recorder.insert_new_aggregates([new[0], known[0], new[1], known[1], new[2]])
    assert written.existing == {e.originator_id for e in known}
    assert written.ids == [3, 4, 5]
    again = ledger.recorder.insert_new_aggregates(new)
    assert again.ids == [] and again.existing == {e.originator_id for e in new}
    rows = verified_rows(ledger.settings)
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
    assert [row[1] for row in rows[2:]] == [e.originator_id.hex for e in new]


def test_two_writers_of_one_batch_store_each_access_once(settings: Settings):
    """Both check and insert under the write lock: neither can slip between the other's."""
    batch = make_events(300)
    writers = [Ledger(settings) for _ in range(2)]
    results: list[object] = []
    try:
        threads = [
            threading.Thread(
                target=lambda w=w: results.append(w.recorder.insert_new_aggregates(batch))
            )
            for w in writers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for writer in writers:
            writer.close()
    written = sorted(len(r.ids) for r in results)  # type: ignore[attr-defined]
    assert written == [0, 300]
    assert len(verified_rows(settings)) == 300
