"""``govledger import --role``: the plan's declared records (docs/facts.md §11), each kind as
an import line of its name, read by the API's decoder, run as the role that owns it; a
wrong role's file writes nothing, and importing a file again records nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.domain.declarations import Declaration
from ledger.errors import LedgerError
from ops.import_records import import_records
from tests.ledger.domain.builders import INVENTORY, NDRC, USER, USER_DEPT
from tests.ops.test_importer import write


def test_declarations_import_once_by_their_owners(app: GovLedger, tmp_path: Path) -> None:
    sid = str(app.register_system(USER, USER_DEPT, INVENTORY))
    unit = {"kind": "system_unit", "system_id": sid, "reference": "调查-1",
            "internal_unit": "就业科", "declared_at": "2026-03-02T10:00:00+08:00"}  # fmt: skip
    inspection = {"kind": "self_inspection", "department": USER_DEPT, "reference": "自查-1",
                  "summary": "自查", "systems_inventoried": 1, "to_connect": [sid]}  # fmt: skip
    services = {"kind": "service_cloud", "department": USER_DEPT, "reference": "清单-1",
                "services": 5, "on_cloud": 2}  # fmt: skip
    head = app.recorder.max_notification_id()
    with pytest.raises(LedgerError, match=":1: role_not_permitted"):
        import_records(app, write(tmp_path / "x.jsonl", unit), USER)
    with pytest.raises(LedgerError, match=r":2: .*on_cloud"):  # all or nothing
        import_records(app, write(tmp_path / "y.jsonl", inspection,
                                  {**services, "on_cloud": 6}), USER)  # fmt: skip
    assert app.recorder.max_notification_id() == head
    assert import_records(app, write(tmp_path / "n.jsonl", unit), NDRC).recorded == 1
    department_file = write(tmp_path / "d.jsonl", inspection, services)
    assert import_records(app, department_file, USER).recorded == 2
    again = import_records(app, department_file, USER)
    assert (again.recorded, again.already_recorded) == (0, 2)
    record = app.record_of(Declaration, Declaration.create_id("system_unit", sid.replace("-", ""),
                                                              "调查-1"))  # fmt: skip
    assert record.content == {"internal_unit": "就业科"}
    assert record.declared_at.isoformat() == "2026-03-02T10:00:00+08:00"
    (stored,) = app.recorder.select_events(record.id)
    assert json.loads(stored.state)["actor"]["_data_"]["actor_id"] == "ndrc-1"
