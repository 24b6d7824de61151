"""The facts of issue 14 as JSON objects: one decoder per kind, for the API and ``import``.

``api/routers/obligations.py`` reads a request body and ``ops/importer.py`` a
line with the same function, so both accept and refuse the same objects
(docs/import-format.md, "Bounds"; docs/facts.md §7). Values are bounded by
:mod:`ledger.domain.bounds`; the configured bounds (earliest business time,
clock skew) are applied where the fact is recorded. Unknown keys are refused:
a misspelt field would otherwise silently become "not given".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from ledger.domain import bounds
from ledger.domain.bounds import BoundsError
from ledger.domain.funding import FundKind, FundOutcome
from ledger.domain.refresh import RefreshReport
from ledger.domain.security_facts import read_measures

Converter = Callable[[object, str], Any]


def optional(convert: Converter) -> Converter:
    """``convert`` that lets ``null`` through as None."""

    def read(value: object, field: str) -> Any:
        return None if value is None else convert(value, field)

    return read


def whole(value: object, field: str) -> int:
    return bounds.count(value, field, maximum=bounds.MAX_INT)


def flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise BoundsError(field, "expected true or false")
    return value


def codes(value: object, field: str) -> tuple[str, ...]:
    names = bounds.text_list(value, field)
    return tuple(bounds.code(name, field) for name in names)


def read_fields(
    obj: object,
    kind: str,
    required: Mapping[str, Converter],
    optional_fields: Mapping[str, Converter] | None = None,
) -> dict[str, Any]:
    """The fields of one ``kind`` object, converted; :class:`BoundsError` names the first fault.

    A missing optional field is absent from the answer (the command's default
    applies), a ``null`` one is None.
    """
    extra = optional_fields or {}
    if not isinstance(obj, dict):
        found = "array" if isinstance(obj, list) else type(obj).__name__
        raise BoundsError(kind, f"expected a JSON object, got {found}")
    unknown = sorted(set(obj) - set(required) - set(extra))
    if unknown:
        names = ", ".join(repr(name)[1:-1][:60] for name in unknown[:5])
        raise BoundsError(kind, f"unknown field(s): {names}")
    for name in required:
        if name not in obj:
            raise BoundsError(name, "missing")
    fields = {name: convert(obj[name], name) for name, convert in required.items()}
    fields.update(
        {name: convert(obj[name], name) for name, convert in extra.items() if name in obj}
    )
    return fields


REFRESH_REQUIRED: Mapping[str, Converter] = {
    "platform_event_id": bounds.text,
    "resource_code": bounds.code,
    "refreshed_at": bounds.instant,
}
REFRESH_OPTIONAL: Mapping[str, Converter] = {
    "row_count": optional(lambda v, f: bounds.count(v, f, maximum=bounds.MAX_ROW_COUNT)),
}


def refresh_report(obj: object) -> RefreshReport:
    """One refresh the exchange platform reports (docs/import-format.md, kind resource_refresh)."""
    return RefreshReport(**read_fields(obj, "resource_refresh", REFRESH_REQUIRED, REFRESH_OPTIONAL))


# -- records of people (docs/facts.md §7): the body of each POST, and an import line --

BUSINESS_TIME = optional(bounds.instant)  # absent: the command's clock (docs/facts.md §1)
_text = bounds.text
_opt_text = optional(bounds.text)


def _evidence(value: object, field: str) -> str:
    return bounds.text(value, field, required=False)  # optional but recommended: "" is none


_opt_code = optional(bounds.code)
_opt_uuid = optional(bounds.uuid)


def _uuids(value: object, field: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise BoundsError(field, "expected an array of UUID strings")
    if len(value) > bounds.MAX_LIST:
        raise BoundsError(field, f"more than {bounds.MAX_LIST} elements")
    return tuple(bounds.uuid(element, field) for element in value)


def _codes_or_none(value: object, field: str) -> tuple[str, ...]:
    return () if value == [] else codes(value, field)


def _fen(value: object, field: str) -> int:
    return bounds.count(value, field, maximum=bounds.MAX_FEN)


def _year(value: object, field: str) -> int:
    year = bounds.count(value, field, maximum=2100)
    if year < 2000:
        raise BoundsError(field, f"{year} is not within 2000..2100")
    return year


def _member(enum_cls: type[StrEnum]) -> Converter:
    """One of ``enum_cls``'s values, as the API's enum fields accept them."""

    def read(value: object, field: str) -> StrEnum:
        if isinstance(value, str):
            for member in enum_cls:
                if member.value == value:
                    return member
        allowed = ", ".join(member.value for member in enum_cls)
        raise BoundsError(field, f"expected one of: {allowed}")

    return read


# Every declared record (ledger/domain/declarations.py) may cite its evidence (文号)
# and carries the business time it is in force from.
_DECLARED: Mapping[str, Converter] = {"evidence": _evidence, "declared_at": BUSINESS_TIME}

KINDS: dict[str, tuple[Mapping[str, Converter], Mapping[str, Converter]]] = {
    # PIPL §55: the providing department's PIA.
    "impact_assessment": (
        {
            "department": bounds.code,
            "reference": _text,
            "resource_code": bounds.code,
            "conclusion": _text,
            "summary": _text,
        },
        {
            "recipient_department": _opt_code,
            "request_id": _opt_uuid,
            "assessed_at": BUSINESS_TIME,
        },
    ),
    # 数据安全法 §21: special approval to share core data.
    "core_data_approval": (
        {"reference": _text, "resource_code": bounds.code, "approving_authority": _text},
        {
            "recipient_department": _opt_code,
            "request_id": _opt_uuid,
            "valid_until": optional(bounds.instant),
            "approved_at": BUSINESS_TIME,
        },
    ),
    "core_data_withdrawal": ({"reason": _text}, {"withdrawn_at": BUSINESS_TIME}),
    # seed 四(二): a department's annual sharing report, or the zone's compiled one.
    "department_annual_report": (
        {"department": bounds.code, "year": _year, "reference": _text, "summary": _text},
        {"submitted_at": BUSINESS_TIME},
    ),
    "zone_annual_report": (
        {"year": _year, "reference": _text, "summary": _text},
        {"submitted_at": BUSINESS_TIME},
    ),
    "zone_report_approval": (
        {"approving_body": _text, "reference": _text},
        {"approved_at": BUSINESS_TIME},
    ),
    # 数据安全法 §40: a contracted processor (受托方).
    "contracted_processor": (
        {
            "department": bounds.code,
            "contract_reference": _text,
            "processor_name": _text,
            "processor_credit_code": bounds.code,
            "tasks": bounds.text_list,
            "period_start": bounds.content_date,
            "period_end": bounds.content_date,
        },
        {
            "system_ids": _uuids,
            "resource_codes": _codes_or_none,
            "approval_reference": _opt_text,
            "occurred_at": BUSINESS_TIME,
        },
    ),
    "processor_end": ({"reason": _text}, {"occurred_at": BUSINESS_TIME}),
    # seed §三(五)17: 跟踪 and 评价 of a filed project.
    "project_progress": (
        {
            "stage": _text,
            "progress_percent": lambda v, f: bounds.count(v, f, maximum=100),
            "spent_fen": _fen,
            "summary": _text,
        },
        {"reported_at": BUSINESS_TIME},
    ),
    "project_evaluation": ({"rating": _text, "summary": _text}, {"evaluated_at": BUSINESS_TIME}),
    # 调整概算: the filed amounts "granted above filed" is checked against.
    "filed_amounts_revision": (
        {"reference": _text, "investment_fen": _fen, "om_cost_fen": _fen, "reason": _text},
        {"revised_at": BUSINESS_TIME},
    ),
    # 51号: a data-quality objection on a catalogue resource, and its resolution.
    "quality_objection": (
        {"department": bounds.code, "resource_code": bounds.code, "description": _text},
        {"items": bounds.text_list, "raised_at": BUSINESS_TIME},
    ),
    "quality_objection_resolution": ({"resolution": _text}, {"resolved_at": BUSINESS_TIME}),
    # 审计法 §45: rectification of a finding (docs/facts.md §8).
    "rectification_notice": (
        {
            "finding_id": _text,
            "department": bounds.code,
            "reference": _text,
            "finding": _text,
            "requirement": _text,
            "deadline": bounds.content_date,
        },
        {"rule": _opt_code, "notified_at": BUSINESS_TIME},
    ),
    "rectification_report": (
        {"reference": _text, "summary": _text},
        {"reported_at": BUSINESS_TIME},
    ),
    "rectification_verification": (
        {"accepted": flag, "reason": _text},
        {"verified_at": BUSINESS_TIME},
    ),
    # 国家审计准则 §122: audit suggestions and their adoption (docs/facts.md §8).
    "audit_suggestion": (
        {
            "reference": _text,
            "number": lambda v, f: bounds.count(v, f, maximum=10_000),
            "department": bounds.code,
            "year": lambda v, f: bounds.count(v, f, maximum=2100),
            "suggestion": _text,
        },
        {"finding_id": optional(_text), "issued_at": BUSINESS_TIME},
    ),
    "audit_suggestion_response": (
        {"reference": _text, "adoption": _text, "explanation": _text},
        {"responded_at": BUSINESS_TIME},
    ),
    "audit_suggestion_confirmation": (
        {"confirmed": flag, "reason": _text},
        {"confirmed_at": BUSINESS_TIME},
    ),
    # 网络数据安全管理条例 §33: lead, storage, technical measures (docs/facts.md §10).
    "security_lead": (
        {"scope": bounds.code, "reference": _text, "name": _text, "contact": _text},
        {"appointed_at": BUSINESS_TIME},
    ),
    "resource_storage": (
        {
            "resource_code": bounds.code,
            "reference": _text,
            "storage_period": _text,
            "storage_location": _text,
        },
        {"declared_at": BUSINESS_TIME},
    ),
    "system_measures": (
        {"reference": _text, "measures": read_measures},
        {"declared_at": BUSINESS_TIME},
    ),
    # Declared records of the seed plan (docs/facts.md §11; ledger/domain/declarations.py).
    "system_unit": (
        {"system_id": bounds.uuid, "reference": _text, "internal_unit": _evidence},
        _DECLARED,
    ),
    "self_inspection": (
        {
            "department": bounds.code,
            "reference": _text,
            "summary": _text,
            "systems_inventoried": whole,
        },
        {"to_integrate": _uuids, "to_connect": _uuids, **_DECLARED},
    ),
    "classified_protection": (
        {"system_id": bounds.uuid, "reference": _text, "classified": flag},
        {"level": _opt_text, "filed": flag, **_DECLARED},
    ),
    "resource_cloud": (
        {"resource_code": bounds.code, "reference": _text, "on_cloud": flag},
        _DECLARED,
    ),
    "service_cloud": (
        {"department": bounds.code, "reference": _text, "services": whole, "on_cloud": whole},
        _DECLARED,
    ),
    # Separation of duties (issue 14): F1's and F2's inputs, by their owners, on evidence.
    "connection_requirement": (
        {"required_to_connect": flag},
        {"evidence": _evidence, "occurred_at": BUSINESS_TIME},
    ),
    "system_connection": ({}, {"evidence": _evidence, "occurred_at": BUSINESS_TIME}),
    "zombie_mark": (
        {"reasons": bounds.text_list},
        {"evidence": _evidence, "occurred_at": BUSINESS_TIME},
    ),
    # The facts before issue 14 that its rules judge (docs/import-format.md "Records of
    # people"): the same fields and bounds as their API bodies (api/schemas.py CioIn,
    # FilingIn, ReviewIn, AcceptIn, FundDecisionIn; tests/ops/test_import_records.py
    # checks both refuse alike).
    "department_cio": (  # seed 四(四): I6
        {"cio_name": _text},
        {"cio_actor_id": _opt_code, "occurred_at": BUSINESS_TIME},
    ),
    "system_on_cloud": ({}, {"occurred_at": BUSINESS_TIME}),  # seed §三(二)6: I7
    "project_filing": (  # seed §三(五)17 全口径备案: F3, F6, F7
        {
            "name": _text,
            "builder": bounds.code,
            "investment_fen": _fen,
            "om_cost_fen": _fen,
            "funding_channel": _text,
            "mlps_filed": flag,
            "catalogue_preregistered": flag,
        },
        {"resource_codes": _codes_or_none, "system_ids": _uuids, "occurred_at": BUSINESS_TIME},
    ),
    "project_review": (  # 架构治理: F4, F6
        {"approved": flag, "architecture_review": _text},
        {"occurred_at": BUSINESS_TIME},
    ),
    "project_acceptance": ({}, {"accepted_at": BUSINESS_TIME}),  # 验收: I4
    "fund_decision": (  # 区财政局 经费安排: F1–F8
        {
            "kind": _member(FundKind),
            "year": _year,
            "department": bounds.code,
            "amount_fen": _fen,
            "outcome": _member(FundOutcome),
            "rationale": _text,
        },
        {
            "system_id": _opt_uuid,
            "project_name": optional(lambda v, f: bounds.text(v, f, required=False)),
            "filing_id": _opt_uuid,
            "decided_at": BUSINESS_TIME,
        },
    ),
}


def record_fields(kind: str, obj: object) -> dict[str, Any]:
    """The fields of one ``kind`` record (a KINDS key), converted and within bounds."""
    required, optional_fields = KINDS[kind]
    return read_fields(obj, kind, required, optional_fields)
