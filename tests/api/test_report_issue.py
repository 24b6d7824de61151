"""Issuing a report and verifying a file over HTTP (api/routers/report_issue.py); issuing
refused from views that differ from the ledger (projections/view_check.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.config import Settings
from ledger.domain.actor import Role
from projections.runner import open_projector, run_projections
from tests.api.conftest import Api, setup_departments
from tests.projections.reports.scenario import build
from tests.projections.tampered_views import delete_finding, soften_finding


def test_issue_answers_the_issued_bytes_and_verify_finds_them_but_not_a_changed_copy(
    api: Api,
) -> None:
    setup_departments(api)
    head = api.head()
    reply = api.call("POST", "/reports/audit/issue?year=2026&format=json", Role.AUDITOR)
    assert reply.status_code == 200, reply.text
    sha, position = (
        reply.headers["X-Govledger-Sha256"],
        reply.headers["X-Govledger-Issued-Position"],
    )
    assert reply.headers["X-Govledger-As-Of"] == str(head)
    assert int(position) == head + 1 == api.head()

    found = api.call("POST", "/reports/verify", Role.AUDITOR, content=reply.content).json()
    assert (found["issued"], found["sha256"], found["position"]) == (True, sha, int(position))
    assert found["issuance"]["kind"] == "audit" and found["issuance"]["as_of_position"] == head
    assert found["proof"] is None and "no proof yet" in found["detail"]  # no checkpoint yet

    changed = bytearray(reply.content)
    changed[-2] ^= 0x01
    other = api.call("POST", "/reports/verify", Role.AUDITOR, content=bytes(changed)).json()
    assert other == {"issued": False, "sha256": other["sha256"]} and other["sha256"] != sha
    assert api.head() == head + 1


def test_who_may_issue_and_bad_input(api: Api) -> None:
    setup_departments(api)
    head = api.head()
    for path, role, code in (
        ("/reports/audit/issue?year=2026", Role.FINANCE, 403),
        ("/reports/audit/issue?year=2026", Role.DEPARTMENT_CLERK, 403),
        ("/reports/audit/issue?year=1999", Role.AUDITOR, 422),
        ("/reports/audit/issue?year=2026&at=99", Role.AUDITOR, 422),
        ("/reports/nope/issue?year=2026", Role.AUDITOR, 422),
    ):
        reply = api.call("POST", path, role)
        assert reply.status_code == code, (path, reply.text)
        assert set(reply.json()) == {"error", "detail"}
    empty = api.call("POST", "/reports/verify", Role.AUDITOR, content=b"")
    assert empty.status_code == 422 and set(empty.json()) == {"error", "detail"}
    assert api.head() == head


@pytest.mark.parametrize("tamper", [delete_finding, soften_finding], ids=["deleted", "altered"])
def test_issue_is_refused_from_views_that_differ_from_the_ledger(
    api: Api, tamper: Callable[[Settings], str]
) -> None:
    """A views_findings row deleted or altered by whoever can write the views: 409 naming the
    table and the finding, nothing recorded; the same issue after a rebuild is recorded."""
    assert api.worker is not None
    build(api.worker)
    run_projections(api.worker)
    finding = tamper(api.worker)
    head = api.head()
    reply = api.call("POST", "/reports/audit/issue?year=2026&format=json", Role.AUDITOR)
    assert reply.status_code == 409, reply.text
    body = reply.json()
    assert set(body) == {"error", "detail"} and body["error"] == "views_differ_from_ledger"
    assert f"views_findings: finding_id {finding}, judged_at " in body["detail"]
    assert "govledger projections rebuild" in body["detail"]
    assert api.head() == head

    with open_projector(api.worker) as projector:
        projector.rebuild()
    reply = api.call("POST", "/reports/audit/issue?year=2026&format=json", Role.AUDITOR)
    assert reply.status_code == 200, reply.text
    assert api.head() == head + 1
