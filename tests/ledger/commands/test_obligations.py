"""The issue-14 records: who may record them, what they name, once, with business time.

docs/facts.md §7; ledger/commands/obligations.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.domain import Actor, DomainError, Role
from ledger.domain.errors import ErrorCode
from ledger.domain.fact_intake import record_fields
from ledger.domain.obligations import (
    AnnualSharingReport,
    ContractedProcessor,
    CoreDataApproval,
    FiledAmountsRevision,
    ImpactAssessment,
    ProjectEvaluation,
    QualityObjection,
)
from tests.ledger.domain.builders import (
    CAC,
    INVENTORY,
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
BEFORE = NOW - timedelta(days=30)
PROVIDER_CLERK = Actor("psb-2", Role.DEPARTMENT_CLERK, PROVIDER_DEPT)


@pytest.fixture
def app() -> GovLedger:
    opened = GovLedger(clock=FakeClock(NOW))
    opened.register_department(NDRC, PROVIDER_DEPT, "区公安局", occurred_at=BEFORE)
    opened.register_department(NDRC, USER_DEPT, "区人社局", occurred_at=BEFORE)
    opened.register_resource(PROVIDER, population_entry(), occurred_at=BEFORE)
    return opened


def _refused(code: ErrorCode, call: Any, *args: Any, **kw: Any) -> None:
    with pytest.raises(DomainError) as refused:
        call(*args, **kw)
    assert refused.value.code is code, refused.value.detail


def pia(**change: Any) -> dict[str, Any]:
    body = {
        "department": PROVIDER_DEPT,
        "reference": "公安PIA〔2026〕1号",
        "resource_code": "R-POP",
        "recipient_department": USER_DEPT,
        "conclusion": "acceptable_with_measures",
        "summary": "去标识化后提供",
        "assessed_at": "2026-02-01T10:00:00+08:00",
    }
    return record_fields("impact_assessment", {**body, **change})


def test_a_pia_is_the_providers_once_with_its_business_time(app: GovLedger) -> None:
    record_id = app.record_impact_assessment(PROVIDER, **pia())
    assert app.record_impact_assessment(PROVIDER, **pia(assessed_at=None)) == record_id
    stored = app.record_of(ImpactAssessment, record_id)
    assert stored.assessed_at == datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
    assert (stored.resource_code, stored.recipient_department) == ("R-POP", USER_DEPT)
    _refused(ErrorCode.RECORD_EXISTS, app.record_impact_assessment, PROVIDER, **pia(summary="x"))
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app.record_impact_assessment, CAC, **pia())
    other = Actor("hrb-cio", Role.CIO, USER_DEPT)
    _refused(ErrorCode.DEPARTMENT_MISMATCH, app.record_impact_assessment, other, **pia())
    # Nor for its own department about a resource another department provides (PIPL §55).
    mine = pia(reference="4", department=USER_DEPT)
    _refused(ErrorCode.DEPARTMENT_MISMATCH, app.record_impact_assessment, other, **mine)
    _refused(
        ErrorCode.UNKNOWN_RESOURCE,
        app.record_impact_assessment,
        PROVIDER,
        **pia(reference="2", resource_code="R-NONE"),
    )
    _refused(
        ErrorCode.INVALID_VALUE,
        app.record_impact_assessment,
        PROVIDER,
        **pia(reference="3", conclusion="fine"),
    )
    _refused(
        ErrorCode.TIME_IN_FUTURE,
        app.record_impact_assessment,
        PROVIDER,
        **pia(reference="4", assessed_at="2026-04-01T00:00:00+08:00"),
    )


def test_core_data_approval_by_the_cac_until_withdrawn(app: GovLedger) -> None:
    fields = record_fields(
        "core_data_approval",
        {
            "reference": "网信核〔2026〕2号",
            "resource_code": "R-POP",
            "approving_authority": "区委网络安全和信息化委员会",
            "recipient_department": USER_DEPT,
            "valid_until": "2026-12-31T23:59:59+08:00",
            "approved_at": "2026-02-01T09:00:00+08:00",
        },
    )
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app.approve_core_data_sharing, NDRC, **dict(fields))
    approval_id = app.approve_core_data_sharing(CAC, **dict(fields))
    _refused(
        ErrorCode.TIME_BEFORE_CREATION,
        app.withdraw_core_data_approval,
        CAC,
        approval_id,
        reason="x",
        withdrawn_at=BEFORE,
    )
    app.withdraw_core_data_approval(CAC, approval_id, reason="用途已变更")
    stored = app.record_of(CoreDataApproval, approval_id)
    assert (stored.withdrawn_at, stored.valid_until.year) == (NOW, 2026)
    _refused(ErrorCode.RECORD_EXISTS, app.withdraw_core_data_approval, CAC, approval_id, reason="y")
    expired = dict(fields, reference="3", valid_until=datetime(2026, 1, 1, tzinfo=UTC))
    _refused(ErrorCode.INVALID_EXPIRY, app.approve_core_data_sharing, CAC, **expired)


def test_annual_reports_department_then_zone_approved_by_the_leading_group(
    app: GovLedger,
) -> None:
    dept = {
        "department": USER_DEPT,
        "year": 2025,
        "reference": "人社共享年报2025",
        "summary": "提供0次，使用12万次",
        "submitted_at": "2025-12-30T16:00:00+08:00",
    }
    report_id = app.submit_department_report(
        USER, **record_fields("department_annual_report", dept)
    )
    assert report_id == AnnualSharingReport.create_id(USER_DEPT, 2025)
    _refused(
        ErrorCode.DEPARTMENT_MISMATCH,
        app.submit_department_report,
        PROVIDER_CLERK,
        **record_fields("department_annual_report", dept),
    )
    _refused(
        ErrorCode.ROLE_NOT_PERMITTED,
        app.submit_zone_report,
        USER,
        year=2025,
        reference="r",
        summary="s",
    )
    zone = {
        "year": 2025,
        "reference": "高新区共享年报2025",
        "summary": "汇总",
        "submitted_at": "2026-01-20T10:00:00+08:00",
    }
    zone_id = app.submit_zone_report(NDRC, **record_fields("zone_annual_report", zone))
    _refused(
        ErrorCode.UNKNOWN_RECORD,
        app.approve_zone_report,
        NDRC,
        2024,
        approving_body="领导小组",
        reference="x",
    )
    app.approve_zone_report(
        NDRC,
        2025,
        approving_body="高新区政务信息资源共享工作领导小组",
        reference="领导小组会议纪要〔2026〕1号",
        approved_at=datetime(2026, 1, 28, 2, tzinfo=UTC),
    )
    stored = app.record_of(AnnualSharingReport, zone_id)
    assert (stored.scope, stored.approved_at.day) == ("zone", 28)
    _refused(
        ErrorCode.RECORD_EXISTS,
        app.approve_zone_report,
        NDRC,
        2025,
        approving_body="b",
        reference="r",
    )


def test_a_processor_is_entrusted_by_its_department_and_ended(app: GovLedger) -> None:
    system_id = app.register_system(PROVIDER_CLERK, PROVIDER_DEPT, INVENTORY, occurred_at=BEFORE)
    body = {
        "department": PROVIDER_DEPT,
        "contract_reference": "GA-2026-07",
        "processor_name": "某某科技有限公司",
        "processor_credit_code": "91320505MA1XXXXXX",
        "tasks": ["operate", "store"],
        "system_ids": [str(system_id)],
        "resource_codes": ["R-POP"],
        "approval_reference": "区政府常务会议纪要",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
    }
    fields = record_fields("contracted_processor", body)
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app.entrust_processor, PROVIDER, **dict(fields))
    processor_id = app.entrust_processor(PROVIDER_CLERK, **dict(fields))
    stored = app.record_of(ContractedProcessor, processor_id)
    assert (stored.tasks, stored.system_ids) == (("operate", "store"), (system_id,))
    _refused(ErrorCode.DEPARTMENT_MISMATCH, app.end_processor, USER, processor_id, reason="x")
    app.end_processor(PROVIDER_CLERK, processor_id, reason="合同到期")
    assert app.record_of(ContractedProcessor, processor_id).ended_at == NOW
    for change in (
        {"tasks": ["sell"]},
        {"period_end": "2025-01-01"},
        {"system_ids": [], "resource_codes": []},
    ):
        bad = record_fields("contracted_processor", {**body, **change, "contract_reference": "x"})
        with pytest.raises(DomainError):
            app.entrust_processor(PROVIDER_CLERK, **bad)


def test_progress_is_the_builders_and_evaluation_waits_for_acceptance(app: GovLedger) -> None:
    filing_id = app.file_project(
        USER,
        name="社保数据治理",
        builder=USER_DEPT,
        investment_fen=100_000_00,
        om_cost_fen=10_000_00,
        funding_channel="区级财政",
        resource_codes=[],
        system_ids=[],
        mlps_filed=True,
        catalogue_preregistered=True,
        occurred_at=BEFORE,
    )
    progress = record_fields(
        "project_progress",
        {
            "stage": "construction",
            "progress_percent": 40,
            "spent_fen": 30_000_00,
            "summary": "完成需求",
            "reported_at": "2026-02-10T10:00:00+08:00",
        },
    )
    _refused(
        ErrorCode.DEPARTMENT_MISMATCH,
        app.report_project_progress,
        PROVIDER_CLERK,
        filing_id,
        **dict(progress),
    )
    first = app.report_project_progress(USER, filing_id, idempotency_key="k1", **dict(progress))
    assert (
        app.report_project_progress(USER, filing_id, idempotency_key="k1", **dict(progress))
        == first
    )
    _refused(
        ErrorCode.INVALID_VALUE,
        app.report_project_progress,
        USER,
        filing_id,
        **dict(progress, stage="done"),
    )
    evaluation = {"rating": "good", "summary": "达到预期"}
    _refused(ErrorCode.FILING_NOT_ACCEPTED, app.evaluate_project, NDRC, filing_id, **evaluation)
    app.review_project(NDRC, filing_id, True, "符合共建共享要求")
    app.accept_project(NDRC, filing_id)
    _refused(ErrorCode.ROLE_NOT_PERMITTED, app.evaluate_project, USER, filing_id, **evaluation)
    evaluation_id = app.evaluate_project(NDRC, filing_id, **evaluation)
    assert evaluation_id == ProjectEvaluation.create_id(filing_id)
    assert app.record_of(ProjectEvaluation, evaluation_id).rating == "good"
    _refused(
        ErrorCode.RECORD_EXISTS,
        app.evaluate_project,
        NDRC,
        filing_id,
        rating="unqualified",
        summary="x",
    )


def test_stored_topics_and_fields_are_the_documented_ones(app: GovLedger) -> None:
    """docs/facts.md §7 lists each kind's topic and field order: pinned here."""
    record_id = app.record_impact_assessment(PROVIDER, **pia())
    stored = app.recorder.select_events(record_id)[0]
    assert stored.topic == "ledger.domain.obligations:ImpactAssessment.Recorded"
    assert list(json.loads(stored.state))[2:] == [
        "actor",
        "department",
        "reference",
        "resource_code",
        "recipient_department",
        "request_id",
        "conclusion",
        "summary",
        "assessed_at",
    ]
    assert (
        isinstance(record_id, UUID)
        and date(2026, 2, 1) == app.record_of(ImpactAssessment, record_id).assessed_at.date()
    )


def test_ndrc_revises_the_filed_amounts_the_builder_cannot(app: GovLedger) -> None:
    filing_id = app.file_project(
        USER,
        name="社保数据治理",
        builder=USER_DEPT,
        investment_fen=100_000_00,
        om_cost_fen=10_000_00,
        funding_channel="区级财政",
        resource_codes=[],
        system_ids=[],
        mlps_filed=True,
        catalogue_preregistered=True,
        occurred_at=BEFORE,
    )
    revision = record_fields(
        "filed_amounts_revision",
        {
            "reference": "发改调概〔2026〕3号",
            "investment_fen": 120_000_00,
            "om_cost_fen": 12_000_00,
            "reason": "增加数据治理范围",
            "revised_at": "2026-02-15T10:00:00+08:00",
        },
    )
    _refused(
        ErrorCode.ROLE_NOT_PERMITTED, app.revise_filed_amounts, USER, filing_id, **dict(revision)
    )
    revision_id = app.revise_filed_amounts(NDRC, filing_id, **dict(revision))
    assert app.revise_filed_amounts(NDRC, filing_id, **dict(revision)) == revision_id
    stored = app.record_of(FiledAmountsRevision, revision_id)
    assert (stored.filing_id, stored.investment_fen) == (filing_id, 120_000_00)
    early = dict(revision, reference="x", revised_at=BEFORE - timedelta(days=1))
    _refused(ErrorCode.TIME_BEFORE_CREATION, app.revise_filed_amounts, NDRC, filing_id, **early)
    rejected = app.file_project(
        USER,
        name="重复建设",
        builder=USER_DEPT,
        investment_fen=1,
        om_cost_fen=1,
        funding_channel="区级财政",
        resource_codes=[],
        system_ids=[],
        mlps_filed=True,
        catalogue_preregistered=True,
    )
    app.review_project(NDRC, rejected, False, "与全区平台重复")
    _refused(
        ErrorCode.FILING_NOT_APPROVED,
        app.revise_filed_amounts,
        NDRC,
        rejected,
        **dict(revision, revised_at=None),
    )


def test_a_user_objects_to_data_quality_and_the_provider_answers(app: GovLedger) -> None:
    body = {
        "department": USER_DEPT,
        "resource_code": "R-POP",
        "items": ["address"],
        "description": "户籍地址与实际不符",
        "raised_at": "2026-02-20T09:00:00+08:00",
    }
    fields = record_fields("quality_objection", body)
    objection_id = app.raise_quality_objection(USER, idempotency_key="q1", **dict(fields))
    assert app.raise_quality_objection(USER, idempotency_key="q1", **dict(fields)) == objection_id
    _refused(
        ErrorCode.UNKNOWN_ITEMS,
        app.raise_quality_objection,
        USER,
        **record_fields("quality_objection", {**body, "items": ["blood_type"]}),
    )
    _refused(
        ErrorCode.DEPARTMENT_MISMATCH, app.raise_quality_objection, PROVIDER_CLERK, **dict(fields)
    )
    not_provider = Actor("hrb-provider", Role.DATA_PROVIDER, USER_DEPT)
    _refused(
        ErrorCode.DEPARTMENT_MISMATCH,
        app.resolve_quality_objection,
        not_provider,
        objection_id,
        resolution="x",
    )
    app.resolve_quality_objection(PROVIDER, objection_id, resolution="已校核更正")
    stored = app.record_of(QualityObjection, objection_id)
    assert (stored.items, stored.resolved_at, stored.resolution) == (
        ("address",),
        NOW,
        "已校核更正",
    )
    _refused(
        ErrorCode.RECORD_EXISTS,
        app.resolve_quality_objection,
        PROVIDER,
        objection_id,
        resolution="again",
    )
