"""``govledger import`` of resource refreshes (kind ``resource_refresh``; S11's fact).

Refresh lines and access lines share a file; both are checked before anything
is written, and a second import records nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.application import GovLedger
from ops.importer import ImportFormatError, import_file
from tests.ops.test_importer import line, write


def refresh(event_id: str, code: str = "R-POP", at: str = "2026-03-01T23:00:00+08:00") -> dict:
    return {
        "kind": "resource_refresh",
        "platform_event_id": event_id,
        "resource_code": code,
        "refreshed_at": at,
        "row_count": 120,
    }


def test_refreshes_and_accesses_import_together_once(app: GovLedger, tmp_path: Path) -> None:
    path = write(
        tmp_path / "mixed.jsonl",
        refresh("x-1"),
        {**line("e-1", None), "kind": "access"},
        refresh("x-2", code="R-NONE"),  # not in the catalogue: recorded, flagged
        refresh("x-1"),  # an exact retry
        line("x-1", None),  # an access may share an event id with a refresh
    )
    first = import_file(app, path)
    assert (first.refreshes_recorded, first.refreshes_flagged, first.recorded) == (2, 1, 2)
    assert app.refresh("x-2").resource_code == "R-NONE"
    assert app.refresh("x-1").row_count == 120
    again = import_file(app, path)
    assert (again.refreshes_recorded, again.recorded, again.already_recorded) == (0, 0, 5)


@pytest.mark.parametrize(
    "bad",
    [
        {**refresh("x-9"), "kind": "refresh"},  # unknown kind
        {**refresh("x-9"), "rows": 1},  # unknown field
        {**refresh("x-9"), "refreshed_at": "2026-03-01T23:00:00"},  # no offset
        {**refresh("x-1"), "row_count": 7},  # conflicts with line 1
    ],
)
def test_a_bad_refresh_line_writes_nothing(app: GovLedger, tmp_path: Path, bad: dict) -> None:
    head = app.recorder.max_notification_id()
    path = write(tmp_path / "bad.jsonl", refresh("x-1"), line("e-1", None), bad)
    with pytest.raises(ImportFormatError) as refused:
        import_file(app, path)
    assert ":3:" in str(refused.value)
    assert app.recorder.max_notification_id() == head
