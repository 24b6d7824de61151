"""``govledger import --role``: records of people, all or nothing, once (ops/import_records.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.store.connect import application_env, init_ledger
from ops.import_records import import_records
from ops.importer import register
from tests.ledger.domain.builders import (
    CAC,
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
)
from tests.ops.test_importer import write


def pia(reference: str, **change: Any) -> dict[str, Any]:
    return {
        "kind": "impact_assessment",
        "department": PROVIDER_DEPT,
        "reference": reference,
        "resource_code": "R-POP",
        "conclusion": "acceptable",
        "summary": "评估",
        "assessed_at": "2026-02-01T10:00:00+08:00",
        **change,
    }


def test_a_file_of_pias_is_recorded_once(app: GovLedger, tmp_path: Path) -> None:
    path = write(
        tmp_path / "pia.jsonl",
        pia("P-1"),
        "",
        pia("P-2", recipient_department=USER_DEPT),
        pia("P-1"),
    )
    first = import_records(app, path, PROVIDER)
    assert (first.lines, first.recorded, first.already_recorded) == (2, 2, 0)
    again = import_records(app, path, PROVIDER)
    assert (again.recorded, again.already_recorded) == (0, 2)


def test_a_refused_line_writes_nothing(app: GovLedger, tmp_path: Path) -> None:
    head = app.recorder.max_notification_id()
    cases = [
        (pia("P-3", resource_code="R-NONE"), PROVIDER, ":2: unknown_resource"),
        (pia("P-3", conclusion="ok"), PROVIDER, ":2: invalid_value"),
        (pia("P-3", summery="x"), PROVIDER, ":2: impact_assessment: unknown field"),
        ({"kind": "access"}, PROVIDER, ":2: kind"),
        (pia("P-3"), USER, ":1: role_not_permitted"),
        (pia("P-1", summary="other"), PROVIDER, "same record"),
        ('{"kind": "impact_assessment", "n": ' + "9" * 5_000 + "}", PROVIDER, ":2: not JSON"),
    ]
    for bad, actor, message in cases:
        path = write(tmp_path / "bad.jsonl", pia("P-1"), bad)
        with pytest.raises(LedgerError, match=message):
            import_records(app, path, actor)
        assert app.recorder.max_notification_id() == head


def test_changes_refer_to_records_on_the_ledger_and_repeat_harmlessly(
    app: GovLedger, tmp_path: Path
) -> None:
    zone = {"kind": "zone_annual_report", "year": 2025, "reference": "区年报", "summary": "s"}
    import_records(app, write(tmp_path / "zone.jsonl", zone), NDRC)
    approval = {
        "kind": "zone_report_approval",
        "year": 2025,
        "approving_body": "领导小组",
        "reference": "纪要",
    }
    path = write(tmp_path / "approve.jsonl", approval)
    assert import_records(app, path, NDRC).recorded == 1
    assert import_records(app, path, NDRC).already_recorded == 1
    core = {
        "kind": "core_data_approval",
        "reference": "核-1",
        "resource_code": "R-POP",
        "approving_authority": "区委网信委",
    }
    assert import_records(app, write(tmp_path / "core.jsonl", core), CAC).recorded == 1


def test_the_command_line_imports_as_the_given_role(
    sqlite_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_ledger(sqlite_settings)
    ledger = GovLedger(env=application_env(sqlite_settings))
    ledger.register_department(NDRC, USER_DEPT, "区人社局")
    ledger.close()
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    report = {
        "kind": "department_annual_report",
        "department": USER_DEPT,
        "year": 2025,
        "reference": "年报",
        "summary": "s",
    }
    path = write(tmp_path / "r.jsonl", report)
    args = parser.parse_args(
        [
            "import",
            str(path),
            "--role",
            "cio",
            "--department",
            USER_DEPT,
            "--actor-id",
            "hrb-cio",
            "--json",
        ]
    )
    assert args.func(sqlite_settings, args) == 0
    assert json.loads(capsys.readouterr().out) == {"lines": 1, "recorded": 1, "already_recorded": 0}
    args = parser.parse_args(["import", str(path), "--role", "cio"])
    with pytest.raises(LedgerError, match="department"):
        args.func(sqlite_settings, args)


def test_objections_import_once_and_are_resolved_by_the_provider(
    app: GovLedger, tmp_path: Path
) -> None:
    objection = {
        "kind": "quality_objection",
        "department": USER_DEPT,
        "resource_code": "R-POP",
        "description": "地址有误",
    }
    path = write(tmp_path / "q.jsonl", objection)
    assert import_records(app, path, USER).recorded == 1
    assert import_records(app, path, USER).already_recorded == 1


def test_security_facts_import_once_by_their_owners(app: GovLedger, tmp_path: Path) -> None:
    """条例 §33 declarations (docs/facts.md §10): a department's lead by its own staff,
    the zone's by 网信办, storage by the resource's provider; all or nothing."""
    lead = {"kind": "security_lead", "scope": USER_DEPT, "reference": "任1", "name": "李娜",
            "contact": "0512-1"}  # fmt: skip
    zone = {**lead, "scope": "zone", "reference": "网信1", "name": "王强"}
    storage = {"kind": "resource_storage", "resource_code": "R-POP", "reference": "存1",
               "storage_period": "长期", "storage_location": "区政务云"}  # fmt: skip
    assert import_records(app, write(tmp_path / "l.jsonl", lead), USER).recorded == 1
    assert import_records(app, write(tmp_path / "z.jsonl", zone), CAC).recorded == 1
    both = write(tmp_path / "s.jsonl", storage, {**lead, "reference": "任2"})
    with pytest.raises(LedgerError):  # the provider may not name the user's lead
        import_records(app, both, PROVIDER)
    assert import_records(app, write(tmp_path / "s1.jsonl", storage), PROVIDER).recorded == 1
    again = import_records(app, write(tmp_path / "s2.jsonl", storage), PROVIDER)
    assert again.already_recorded == 1
