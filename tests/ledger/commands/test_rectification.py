"""Rectification: notice → report → verification, its order, who acts, retries, business time.

docs/facts.md §8; ledger/domain/rectification.py, ledger/commands/rectification.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.domain import Actor, DomainError, Role
from ledger.domain.errors import ErrorCode
from ledger.domain.fact_intake import record_fields
from ledger.domain.rectification import RectificationStatus, rectification_id
from tests.ledger.domain.builders import NDRC, PROVIDER, PROVIDER_DEPT, USER, USER_DEPT, FakeClock

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
AUDITOR = Actor("audit-1", Role.AUDITOR, None)
HRB_CIO = Actor("hrb-cio", Role.CIO, USER_DEPT)


@pytest.fixture
def app() -> GovLedger:
    opened = GovLedger(clock=FakeClock(NOW))
    opened.register_department(
        NDRC, PROVIDER_DEPT, "区公安局", occurred_at=NOW - timedelta(days=200)
    )
    opened.register_department(NDRC, USER_DEPT, "区人社局", occurred_at=NOW - timedelta(days=200))
    return opened


def notice(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "finding_id": "F1:sys-1",
        "rule": "F1",
        "department": USER_DEPT,
        "reference": "苏高新审整〔2026〕1号",
        "finding": "系统未接入共享交换平台",
        "requirement": "接入共享交换平台",
        "deadline": "2026-03-31",
        "notified_at": "2026-02-01T10:00:00+08:00",
    }
    body.update(change)
    return record_fields("rectification_notice", body)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _refused(code: ErrorCode, call: Any, *args: Any, **kw: Any) -> None:
    with pytest.raises(DomainError) as refused:
        call(*args, **kw)
    assert refused.value.code is code, refused.value.detail


def _events(app: GovLedger, rid: UUID) -> int:
    return len(list(app.events.get(rid)))


def test_the_whole_cycle_with_a_rejection(app: GovLedger) -> None:
    rid = app.notify_rectification(AUDITOR, **notice())
    assert rid == rectification_id("F1:sys-1")
    app.report_rectification(
        USER, rid, reference="R-1", summary="已立项", reported_at=at("2026-03-10T09:00:00+08:00")
    )
    app.verify_rectification(
        AUDITOR, rid, accepted=False, reason="尚未接入", verified_at=at("2026-03-12T09:00:00+08:00")
    )
    assert app.rectification(rid).status is RectificationStatus.NOT_ACCEPTED
    app.report_rectification(HRB_CIO, rid, reference="R-2", summary="已接入")
    app.verify_rectification(AUDITOR, rid, accepted=True, reason="核实已接入")
    state = app.rectification(rid)
    assert state.status is RectificationStatus.ACCEPTED
    assert state.report_references == ("R-1", "R-2")
    assert _events(app, rid) == 5


def test_steps_out_of_order_are_refused_and_write_nothing(app: GovLedger) -> None:
    rid = app.notify_rectification(AUDITOR, **notice())
    _refused(
        ErrorCode.RECTIFICATION_NOT_REPORTED,
        app.verify_rectification,
        AUDITOR,
        rid,
        accepted=True,
        reason="x",
    )
    app.report_rectification(USER, rid, reference="R-1", summary="s")
    _refused(
        ErrorCode.RECTIFICATION_REPORT_PENDING,
        app.report_rectification,
        USER,
        rid,
        reference="R-2",
        summary="s",
    )
    app.verify_rectification(AUDITOR, rid, accepted=True, reason="ok")
    _refused(
        ErrorCode.RECTIFICATION_CLOSED,
        app.report_rectification,
        USER,
        rid,
        reference="R-3",
        summary="s",
    )
    _refused(
        ErrorCode.RECTIFICATION_NOT_REPORTED,
        app.verify_rectification,
        AUDITOR,
        rid,
        accepted=False,
        reason="changed my mind",
    )
    assert _events(app, rid) == 3


def test_only_the_auditor_notifies_and_verifies_and_only_the_department_reports(
    app: GovLedger,
) -> None:
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app.notify_rectification, NDRC, **notice())
    rid = app.notify_rectification(AUDITOR, **notice())
    other = Actor("psb-clerk-2", Role.DEPARTMENT_CLERK, PROVIDER_DEPT)
    _refused(
        ErrorCode.DEPARTMENT_MISMATCH,
        app.report_rectification,
        other,
        rid,
        reference="R",
        summary="s",
    )
    _refused(
        ErrorCode.ROLE_NOT_PERMITTED,
        app.report_rectification,
        PROVIDER,
        rid,
        reference="R",
        summary="s",
    )
    _refused(
        ErrorCode.ROLE_NOT_PERMITTED,
        app.report_rectification,
        AUDITOR,
        rid,
        reference="R",
        summary="s",
    )
    app.report_rectification(USER, rid, reference="R", summary="s")
    _refused(
        ErrorCode.ROLE_NOT_PERMITTED,
        app.verify_rectification,
        USER,
        rid,
        accepted=True,
        reason="self-approval",
    )
    assert _events(app, rid) == 2


def test_notice_of_an_unknown_department_or_with_a_past_deadline_is_refused(app: GovLedger) -> None:
    _refused(
        ErrorCode.UNKNOWN_DEPARTMENT, app.notify_rectification, AUDITOR, **notice(department="X")
    )
    _refused(
        ErrorCode.INVALID_VALUE, app.notify_rectification, AUDITOR, **notice(deadline="2026-01-31")
    )
    _refused(
        ErrorCode.UNKNOWN_RECORD,
        app.report_rectification,
        USER,
        rectification_id("nope"),
        reference="R",
        summary="s",
    )


def test_retries_record_nothing_and_other_content_is_refused(app: GovLedger) -> None:
    rid = app.notify_rectification(AUDITOR, **notice())
    assert (
        app.notify_rectification(AUDITOR, **notice(notified_at="2026-02-02T10:00:00+08:00")) == rid
    )
    _refused(
        ErrorCode.RECORD_EXISTS, app.notify_rectification, AUDITOR, **notice(deadline="2026-04-30")
    )
    app.report_rectification(USER, rid, reference="R-1", summary="s")
    app.report_rectification(USER, rid, reference="R-1", summary="s")
    app.verify_rectification(AUDITOR, rid, accepted=False, reason="no")
    app.verify_rectification(AUDITOR, rid, accepted=False, reason="no")
    assert _events(app, rid) == 3


def test_business_time_runs_forward_within_a_rectification(app: GovLedger) -> None:
    rid = app.notify_rectification(AUDITOR, **notice())
    _refused(
        ErrorCode.TIME_BEFORE_CREATION,
        app.report_rectification,
        USER,
        rid,
        reference="R",
        summary="s",
        reported_at=at("2026-01-31T10:00:00+08:00"),
    )
    app.report_rectification(
        USER, rid, reference="R", summary="s", reported_at=at("2026-02-10T10:00:00+08:00")
    )
    _refused(
        ErrorCode.TIME_BEFORE_CREATION,
        app.verify_rectification,
        AUDITOR,
        rid,
        accepted=True,
        reason="ok",
        verified_at=at("2026-02-09T10:00:00+08:00"),
    )
    state = app.rectification(rid)
    assert state.deadline == date(2026, 3, 31) and state.notified_at == at(
        "2026-02-01T10:00:00+08:00"
    )


def test_the_deadline_is_compared_with_the_notice_day_in_china_standard_time(
    app: GovLedger,
) -> None:
    # 2026-02-01T20:00Z is 2026-02-02 in Beijing: a deadline of 02-01 is already past.
    late = notice(notified_at="2026-02-01T20:00:00+00:00", deadline="2026-02-01")
    _refused(ErrorCode.INVALID_VALUE, app.notify_rectification, AUDITOR, **late)
    assert app.notify_rectification(
        AUDITOR, **notice(notified_at="2026-02-01T20:00:00+00:00", deadline="2026-02-02")
    )
