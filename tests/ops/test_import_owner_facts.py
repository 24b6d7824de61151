"""``govledger import --role``: F1's and F2's inputs by their owners, on evidence (issue 14).

The connection requirement and the zombie mark are ndrc's, the connection the
exchange platform's (organisation.py); over ``import`` as over the API a funded
department's line is refused and nothing is written, and each fact keeps its
``evidence`` (docs/import-format.md, docs/facts.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.errors import LedgerError
from ops.import_records import import_records
from tests.ledger.domain.builders import INVENTORY, NDRC, PLATFORM, USER, USER_DEPT
from tests.ops.test_importer import write


def test_owner_facts_import_once_with_their_evidence(app: GovLedger, tmp_path: Path) -> None:
    system_id = app.register_system(USER, USER_DEPT, INVENTORY)
    sid = str(system_id)
    listing = {"kind": "connection_requirement", "system_id": sid, "required_to_connect": True}
    listing["evidence"] = "苏高新发改〔2026〕12号"
    connection = {"kind": "system_connection", "system_id": sid, "evidence": "JR-0412"}
    zombie = {"kind": "zombie_mark", "system_id": sid, "reasons": ["low_usage"]}
    head = app.recorder.max_notification_id()
    for line, actor in ((listing, USER), (connection, USER), (zombie, PLATFORM)):
        with pytest.raises(LedgerError, match=":1: role_not_permitted"):
            import_records(app, write(tmp_path / "x.jsonl", line), actor)
    assert app.recorder.max_notification_id() == head  # nothing written
    with pytest.raises(LedgerError, match=r":1: .*evidence"):
        import_records(app, write(tmp_path / "y.jsonl", {**listing, "evidence": 3}), NDRC)
    ndrc_file = write(tmp_path / "ndrc.jsonl", listing)
    assert import_records(app, ndrc_file, NDRC).recorded == 1
    assert import_records(app, write(tmp_path / "p.jsonl", connection), PLATFORM).recorded == 1
    assert import_records(app, write(tmp_path / "z.jsonl", zombie), NDRC).recorded == 1
    again = import_records(app, ndrc_file, NDRC)
    assert (again.recorded, again.already_recorded) == (0, 1)
    stored = list(app.recorder.select_events(system_id))[1:]
    facts = [(json.loads(e.state)["actor"]["_data_"]["actor_id"], e.state) for e in stored]
    assert [(who, json.loads(state)["evidence"]) for who, state in facts] == [
        ("ndrc-1", "苏高新发改〔2026〕12号"),
        ("exchange", "JR-0412"),
        ("ndrc-1", ""),
    ]
    system = app.system(system_id)
    assert system.required_to_connect and system.connected and system.status.value == "zombie"
