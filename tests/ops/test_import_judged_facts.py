"""``govledger import --role``: the facts before issue 14 that its rules judge (issue 14).

Filings, architecture reviews, acceptances, fund decisions, CIOs and moves to the
cloud are the inputs of F1–F8, I4, I6 and I7; a district that keeps them in a
spreadsheet imports them, each as the role that owns it, with the business time
it happened (docs/import-format.md "Records of people"). Each imports once: a
re-import records nothing, a second review or acceptance of one filing is the
first one's repeat, and a role that may not record a kind writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.domain import Actor, Role
from ledger.domain.funding import FilingStatus, FundDecision, FundKind, ProjectFiling
from ledger.errors import LedgerError
from ops.import_records import import_records
from tests.ledger.domain.builders import FINANCE, INVENTORY, NDRC, USER, USER_DEPT
from tests.ops.test_importer import write

ADMIN = Actor("admin-1", Role.ADMIN, None, "10.0.0.8", None)
FILED_ON = "2025-03-02T10:00:00+08:00"


def _ids(app: GovLedger, cls: type) -> list[UUID]:
    topic = f"{cls.__module__}:{cls.__qualname__}.{'Filed' if cls is ProjectFiling else 'Decided'}"
    found = app.recorder.select_notifications(1, 1000, topics=[topic])
    return [n.originator_id for n in found]


def _filing(**changes: Any) -> dict[str, Any]:
    line = {
        "kind": "project_filing",
        "name": "区人社业务系统升级",
        "builder": USER_DEPT,
        "investment_fen": 120_000_000,
        "om_cost_fen": 9_000_000,
        "funding_channel": "区级财政资金",
        "mlps_filed": True,
        "catalogue_preregistered": True,
        "occurred_at": FILED_ON,
    }
    return line | changes


def test_judged_facts_import_once_by_their_owners(app: GovLedger, tmp_path: Path) -> None:
    system_id = app.register_system(USER, USER_DEPT, INVENTORY)
    cio = {"kind": "department_cio", "department": USER_DEPT, "cio_name": "王明"}
    cloud = {"kind": "system_on_cloud", "system_id": str(system_id)}
    filing = _filing(system_ids=[str(system_id)])
    files = [
        (write(tmp_path / "cio.jsonl", cio), ADMIN),
        (write(tmp_path / "c.jsonl", cloud), USER),
    ]
    files.append((write(tmp_path / "filing.jsonl", filing), USER))
    for path, actor in files:
        assert import_records(app, path, actor).recorded == 1
    (filing_id,) = _ids(app, ProjectFiling)
    review = {"kind": "project_review", "filing_id": str(filing_id), "approved": True}
    review |= {"architecture_review": "符合全区架构", "occurred_at": "2025-03-20T09:00:00+08:00"}
    acceptance = {"kind": "project_acceptance", "filing_id": str(filing_id)}
    decision = {
        "kind": "fund_decision",
        "fund_kind": "om_funds",
        "year": 2025,
        "department": USER_DEPT,
        "amount_fen": 8_000_000,
        "outcome": "granted",
        "rationale": "年度运维",
        "system_id": str(system_id),
        "filing_id": str(filing_id),
        "decided_at": "2025-04-01T09:00:00+08:00",
    }
    more = [
        (write(tmp_path / "review.jsonl", review), NDRC),
        (write(tmp_path / "accept.jsonl", acceptance), NDRC),
        (write(tmp_path / "decision.jsonl", decision), FINANCE),
    ]
    for path, actor in more:
        assert import_records(app, path, actor).recorded == 1
    assert app.filing(filing_id).status is FilingStatus.ACCEPTED
    for path, actor in [*files, *more]:
        again = import_records(app, path, actor)
        assert (again.recorded, again.already_recorded) == (0, 1), path.name
    assert app.department(USER_DEPT).cio_name == "王明"
    assert app.system(system_id).on_cloud
    assert app.filing(filing_id).filed_at == datetime(2025, 3, 2, 2, tzinfo=UTC)
    (decision_id,) = _ids(app, FundDecision)
    granted = app.fund_decision(decision_id)
    assert (granted.kind, granted.filing_id, granted.system_id) == (
        FundKind.OM_FUNDS,
        filing_id,
        system_id,
    )


def test_a_fund_decision_line_names_its_kind_of_funds(app: GovLedger, tmp_path: Path) -> None:
    """The line's ``kind`` is the record's kind, so a decision's is ``fund_kind``."""
    line = {
        "kind": "fund_decision",
        "fund_kind": "construction_funds",
        "year": 2025,
        "department": USER_DEPT,
        "amount_fen": 50_000_000,
        "outcome": "withheld",
        "rationale": "未备案",
        "project_name": "某平台",
    }
    path = write(tmp_path / "d.jsonl", line)
    assert import_records(app, path, FINANCE).recorded == 1
    assert import_records(app, path, FINANCE).already_recorded == 1
    (decision_id,) = _ids(app, FundDecision)
    decision = app.fund_decision(decision_id)
    assert (decision.kind, decision.amount_fen) == (FundKind.CONSTRUCTION_FUNDS, 50_000_000)
    with pytest.raises(
        LedgerError, match=r":1: fund_kind: expected one of: construction_funds, om_funds"
    ):
        import_records(app, write(tmp_path / "x.jsonl", {**line, "fund_kind": "misc"}), FINANCE)


@pytest.mark.parametrize(
    ("line", "actor"),
    [
        ({"kind": "department_cio", "department": USER_DEPT, "cio_name": "王明"}, FINANCE),
        (_filing(), FINANCE),
        (
            {
                "kind": "fund_decision",
                "fund_kind": "om_funds",
                "year": 2025,
                "department": USER_DEPT,
                "amount_fen": 1,
                "outcome": "granted",
                "rationale": "r",
            },
            USER,
        ),
    ],
    ids=["cio-by-finance", "filing-by-finance", "decision-by-clerk"],
)
def test_a_role_that_may_not_record_a_kind_writes_nothing(
    app: GovLedger, tmp_path: Path, line: dict[str, Any], actor: Actor
) -> None:
    head = app.recorder.max_notification_id()
    with pytest.raises(LedgerError, match=r":1: (role_not_permitted|department_mismatch)"):
        import_records(app, write(tmp_path / "x.jsonl", line), actor)
    assert app.recorder.max_notification_id() == head
