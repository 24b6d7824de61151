"""``govledger import --role``: rectification and audit-suggestion lines, as the auditor
and the department (§8).

ops/import_records.py; docs/import-format.md; docs/facts.md §8.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Actor, Role
from ledger.domain.audit_suggestion import Adoption, SuggestionStatus, audit_suggestion_id
from ledger.domain.rectification import RectificationStatus, rectification_id
from ledger.errors import LedgerError
from ledger.store.connect import application_env, init_ledger
from ops.import_records import import_records
from tests.ledger.domain.builders import NDRC, PROVIDER_DEPT, USER, USER_DEPT, FakeClock
from tests.ops.test_importer import write

AUDITOR = Actor("audit-1", Role.AUDITOR, None)
OTHER = Actor("psb-clerk", Role.DEPARTMENT_CLERK, PROVIDER_DEPT)
RID = str(rectification_id("F2:sys-9"))


@pytest.fixture
def app(settings: Settings) -> Iterator[GovLedger]:
    init_ledger(settings)
    opened = GovLedger(env=application_env(settings), clock=FakeClock())
    opened.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    opened.register_department(NDRC, USER_DEPT, "区人社局")
    yield opened
    opened.close()


NOTICE: dict[str, Any] = {
    "kind": "rectification_notice",
    "finding_id": "F2:sys-9",
    "department": USER_DEPT,
    "reference": "审整〔2026〕2号",
    "finding": "僵尸系统仍获运维经费",
    "requirement": "停止拨付并下线",
    "deadline": "2026-02-28",
    "notified_at": "2026-02-01T10:00:00+08:00",
}
REPORT: dict[str, Any] = {
    "kind": "rectification_report",
    "rectification_id": RID,
    "reference": "人社报〔2026〕1号",
    "summary": "已下线",
    "reported_at": "2026-02-20T10:00:00+08:00",
}
VERIFY: dict[str, Any] = {
    "kind": "rectification_verification",
    "rectification_id": RID,
    "accepted": True,
    "reason": "核实已下线",
    "verified_at": "2026-02-25T10:00:00+08:00",
}


def test_each_role_imports_its_step_once(app: GovLedger, tmp_path: Path) -> None:
    for name, line, actor in (
        ("notice", NOTICE, AUDITOR),
        ("report", REPORT, USER),
        ("verify", VERIFY, AUDITOR),
    ):
        path = write(tmp_path / f"{name}.jsonl", line)
        assert import_records(app, path, actor).recorded == 1, name
        assert import_records(app, path, actor).already_recorded == 1, name
    assert app.rectification(rectification_id("F2:sys-9")).status is RectificationStatus.ACCEPTED


def test_a_refused_step_writes_nothing(app: GovLedger, tmp_path: Path) -> None:
    import_records(app, write(tmp_path / "n.jsonl", NOTICE), AUDITOR)
    head = app.recorder.max_notification_id()
    for line, actor, message in (
        (REPORT, OTHER, "department_mismatch"),
        (VERIFY, AUDITOR, "rectification_not_reported"),
        ({**REPORT, "summery": "x"}, USER, "unknown field"),
        ({**NOTICE, "finding_id": "F9"}, USER, "role_not_permitted"),
    ):
        with pytest.raises(LedgerError, match=message):
            import_records(app, write(tmp_path / "bad.jsonl", line), actor)
        assert app.recorder.max_notification_id() == head


SID = str(audit_suggestion_id("审〔2026〕9号", 1))
SUGGESTION: dict[str, Any] = {
    "kind": "audit_suggestion",
    "reference": "审〔2026〕9号",
    "number": 1,
    "department": USER_DEPT,
    "year": 2026,
    "suggestion": "下线僵尸系统后再安排运维经费",
    "issued_at": "2026-02-01T10:00:00+08:00",
}
RESPONSE: dict[str, Any] = {
    "kind": "audit_suggestion_response",
    "suggestion_id": SID,
    "reference": "人社函〔2026〕3号",
    "adoption": "not_adopted",
    "explanation": "系统仍承担业务，暂不下线",
    "responded_at": "2026-02-20T10:00:00+08:00",
}
CONFIRM: dict[str, Any] = {
    "kind": "audit_suggestion_confirmation",
    "suggestion_id": SID,
    "confirmed": True,
    "reason": "说明属实",
    "confirmed_at": "2026-02-25T10:00:00+08:00",
}


def test_audit_suggestion_lines_each_by_its_role_once(app: GovLedger, tmp_path: Path) -> None:
    for name, line, actor in (
        ("suggestion", SUGGESTION, AUDITOR),
        ("response", RESPONSE, USER),
        ("confirm", CONFIRM, AUDITOR),
    ):
        path = write(tmp_path / f"{name}.jsonl", line)
        assert import_records(app, path, actor).recorded == 1, name
        assert import_records(app, path, actor).already_recorded == 1, name
    state = app.audit_suggestion(audit_suggestion_id("审〔2026〕9号", 1))
    assert (state.status, state.adoption) == (SuggestionStatus.CONFIRMED, Adoption.NOT_ADOPTED)


def test_a_refused_suggestion_step_writes_nothing(app: GovLedger, tmp_path: Path) -> None:
    import_records(app, write(tmp_path / "s.jsonl", SUGGESTION), AUDITOR)
    head = app.recorder.max_notification_id()
    for line, actor, message in (
        (RESPONSE, OTHER, "department_mismatch"),
        (CONFIRM, AUDITOR, "suggestion_not_responded"),
        ({**RESPONSE, "adoption": "later"}, USER, "adoption"),
        ({**SUGGESTION, "number": 2}, USER, "role_not_permitted"),
    ):
        with pytest.raises(LedgerError, match=message):
            import_records(app, write(tmp_path / "bad.jsonl", line), actor)
        assert app.recorder.max_notification_id() == head
