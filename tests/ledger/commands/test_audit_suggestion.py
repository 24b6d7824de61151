"""Audit suggestions: suggestion → adoption response → confirmation, order, who, retries.

docs/facts.md §8; ledger/domain/audit_suggestion.py, ledger/commands/rectification.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.domain import Actor, DomainError, Role
from ledger.domain.audit_suggestion import Adoption, SuggestionStatus, audit_suggestion_id
from ledger.domain.errors import ErrorCode
from ledger.domain.fact_intake import record_fields
from tests.ledger.domain.builders import NDRC, PROVIDER, PROVIDER_DEPT, USER, USER_DEPT, FakeClock

NOW = datetime(2027, 6, 1, 2, 0, tzinfo=UTC)
AUDITOR = Actor("audit-1", Role.AUDITOR, None)
HRB_CIO = Actor("hrb-cio", Role.CIO, USER_DEPT)


@pytest.fixture
def app() -> GovLedger:
    opened = GovLedger(clock=FakeClock(NOW))
    opened.register_department(
        NDRC, PROVIDER_DEPT, "区公安局", occurred_at=NOW - timedelta(days=400)
    )
    opened.register_department(NDRC, USER_DEPT, "区人社局", occurred_at=NOW - timedelta(days=400))
    return opened


def suggestion(**change: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": "苏高新审〔2027〕3号",
        "number": 2,
        "department": USER_DEPT,
        "year": 2026,
        "suggestion": "建立系统接入共享平台的核对机制",
        "issued_at": "2027-03-01T10:00:00+08:00",
    }
    body.update(change)
    return record_fields("audit_suggestion", body)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


def _refused(code: ErrorCode, call: Any, *args: Any, **kw: Any) -> None:
    with pytest.raises(DomainError) as refused:
        call(*args, **kw)
    assert refused.value.code is code, refused.value.detail


def _events(app: GovLedger, sid: UUID) -> int:
    return len(list(app.events.get(sid)))


def test_partial_adoption_returned_then_answered_again_and_confirmed(app: GovLedger) -> None:
    sid = app.issue_audit_suggestion(AUDITOR, **suggestion())
    assert sid == audit_suggestion_id("苏高新审〔2027〕3号", 2)
    app.respond_audit_suggestion(
        USER, sid, reference="人社函〔2027〕8号", adoption="partially",
        explanation="已建立核对机制，历史系统尚未清理", responded_at=at("2027-04-01T09:00:00"),
    )  # fmt: skip
    state = app.audit_suggestion(sid)
    assert (state.status, state.adoption) == (SuggestionStatus.RESPONDED, Adoption.PARTIALLY)
    app.confirm_audit_suggestion(
        AUDITOR, sid, confirmed=False, reason="未说明清理计划", confirmed_at=at("2027-04-10T09:00")
    )
    assert app.audit_suggestion(sid).status is SuggestionStatus.RETURNED
    app.respond_audit_suggestion(
        HRB_CIO, sid, reference="人社函〔2027〕11号", adoption="adopted", explanation="已清理"
    )
    app.confirm_audit_suggestion(AUDITOR, sid, confirmed=True, reason="核实")
    state = app.audit_suggestion(sid)
    assert (state.status, state.adoption) == (SuggestionStatus.CONFIRMED, Adoption.ADOPTED)
    assert state.response_references == ("人社函〔2027〕8号", "人社函〔2027〕11号")
    assert _events(app, sid) == 5


def test_steps_out_of_order_are_refused_and_write_nothing(app: GovLedger) -> None:
    sid = app.issue_audit_suggestion(AUDITOR, **suggestion())
    _refused(
        ErrorCode.SUGGESTION_NOT_RESPONDED,
        app.confirm_audit_suggestion, AUDITOR, sid, confirmed=True, reason="x",
    )  # fmt: skip
    app.respond_audit_suggestion(
        USER, sid, reference="A", adoption="not_adopted", explanation="经费不足"
    )
    _refused(
        ErrorCode.SUGGESTION_RESPONSE_PENDING,
        app.respond_audit_suggestion, USER, sid, reference="B", adoption="adopted",
        explanation="改为采纳",
    )  # fmt: skip
    app.confirm_audit_suggestion(AUDITOR, sid, confirmed=True, reason="属实")
    _refused(
        ErrorCode.SUGGESTION_CLOSED,
        app.respond_audit_suggestion, USER, sid, reference="C", adoption="adopted",
        explanation="x",
    )  # fmt: skip
    _refused(
        ErrorCode.SUGGESTION_NOT_RESPONDED,
        app.confirm_audit_suggestion, AUDITOR, sid, confirmed=False, reason="again",
    )  # fmt: skip
    assert _events(app, sid) == 3
    assert app.audit_suggestion(sid).adoption is Adoption.NOT_ADOPTED


def test_only_the_auditor_suggests_and_confirms_and_only_the_department_responds(
    app: GovLedger,
) -> None:
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app.issue_audit_suggestion, NDRC, **suggestion())
    sid = app.issue_audit_suggestion(AUDITOR, **suggestion())
    other = Actor("psb-clerk-2", Role.DEPARTMENT_CLERK, PROVIDER_DEPT)
    answer = {"reference": "R", "adoption": "adopted", "explanation": "已采纳"}
    _refused(ErrorCode.DEPARTMENT_MISMATCH, app.respond_audit_suggestion, other, sid, **answer)
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app.respond_audit_suggestion, PROVIDER, sid, **answer)
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app.respond_audit_suggestion, AUDITOR, sid, **answer)
    _refused(
        ErrorCode.INVALID_VALUE,
        app.respond_audit_suggestion, USER, sid, reference="R", adoption="maybe",
        explanation="x",
    )  # fmt: skip
    app.respond_audit_suggestion(USER, sid, **answer)
    _refused(
        ErrorCode.ROLE_NOT_PERMITTED,
        app.confirm_audit_suggestion, USER, sid, confirmed=True, reason="self",
    )  # fmt: skip
    assert _events(app, sid) == 2


def test_unknown_department_bad_number_or_year_are_refused(app: GovLedger) -> None:
    _refused(
        ErrorCode.UNKNOWN_DEPARTMENT,
        app.issue_audit_suggestion, AUDITOR, **suggestion(department="X"),
    )  # fmt: skip
    _refused(ErrorCode.INVALID_VALUE, app.issue_audit_suggestion, AUDITOR, **suggestion(number=0))
    # The audited year is not after the year the suggestion is made in.
    _refused(ErrorCode.INVALID_VALUE, app.issue_audit_suggestion, AUDITOR, **suggestion(year=2028))
    _refused(
        ErrorCode.UNKNOWN_RECORD,
        app.respond_audit_suggestion, USER, audit_suggestion_id("nope", 1), reference="R",
        adoption="adopted", explanation="x",
    )  # fmt: skip


def test_retries_record_nothing_and_other_content_is_refused(app: GovLedger) -> None:
    sid = app.issue_audit_suggestion(AUDITOR, **suggestion())
    again = suggestion(issued_at="2027-03-02T10:00:00+08:00")
    assert app.issue_audit_suggestion(AUDITOR, **again) == sid
    _refused(
        ErrorCode.RECORD_EXISTS,
        app.issue_audit_suggestion, AUDITOR, **suggestion(suggestion="另一条建议"),
    )  # fmt: skip
    answer = {"reference": "R-1", "adoption": "adopted", "explanation": "已采纳"}
    app.respond_audit_suggestion(USER, sid, **answer)
    app.respond_audit_suggestion(USER, sid, **answer)
    app.confirm_audit_suggestion(AUDITOR, sid, confirmed=False, reason="no")
    app.confirm_audit_suggestion(AUDITOR, sid, confirmed=False, reason="no")
    assert _events(app, sid) == 3


def test_business_time_runs_forward_within_a_suggestion(app: GovLedger) -> None:
    sid = app.issue_audit_suggestion(AUDITOR, **suggestion())
    _refused(
        ErrorCode.TIME_BEFORE_CREATION,
        app.respond_audit_suggestion, USER, sid, reference="R", adoption="adopted",
        explanation="x", responded_at=at("2027-02-28T10:00:00"),
    )  # fmt: skip
    app.respond_audit_suggestion(
        USER, sid, reference="R", adoption="adopted", explanation="x",
        responded_at=at("2027-03-10T10:00:00"),
    )  # fmt: skip
    _refused(
        ErrorCode.TIME_BEFORE_CREATION,
        app.confirm_audit_suggestion, AUDITOR, sid, confirmed=True, reason="ok",
        confirmed_at=at("2027-03-09T10:00:00"),
    )  # fmt: skip
    assert _events(app, sid) == 2
