"""The one Chinese label table (projections/labels.py): every kind named, no raw dumps."""

from __future__ import annotations

import importlib
import inspect
import json

import pytest
from eventsourcing.domain import CanMutateAggregate

from ledger.domain.access import AccessReason
from ledger.domain.audit_suggestion import Adoption, SuggestionStatus
from ledger.domain.catalogue import OpenType, Sensitivity, SharingType
from ledger.domain.funding import FilingStatus, FundKind, FundOutcome
from ledger.domain.review import ReviewStatus
from ledger.domain.sharing import RequestStatus
from projections import labels
from projections.rules.catalogue import RULE_ZH

DOMAIN = [
    "access",
    "audit_suggestion",
    "catalogue",
    "data_subject",
    "district_calendar",
    "funding",
    "obligations",
    "organisation",
    "oversight",
    "rectification",
    "refresh",
    "report_issue",
    "review",
    "sharing",
]


def _event_kinds() -> set[str]:
    kinds = set()
    for name in DOMAIN:
        module = importlib.import_module(f"ledger.domain.{name}")
        for cls in vars(module).values():
            if not (inspect.isclass(cls) and cls.__module__ == module.__name__):
                continue
            for event_name, event in vars(cls).items():
                if (
                    inspect.isclass(event)
                    and issubclass(event, CanMutateAggregate)
                    and event_name not in {"Event", "Created"}
                ):
                    kinds.add(f"{cls.__qualname__}.{event_name}")
    return kinds


def test_every_event_kind_of_the_domain_has_a_chinese_name() -> None:
    missing = _event_kinds() - set(labels.EVENT_NAMES)
    assert not missing, f"events without a Chinese name: {sorted(missing)}"


def test_every_enum_value_is_named() -> None:
    for enum, table in (
        (Sensitivity, labels.SENSITIVITY),
        (SharingType, labels.SHARING_TYPES),
        (OpenType, labels.OPEN_TYPES),
        (RequestStatus, labels.REQUEST_STATUS),
        (FilingStatus, labels.FILING_STATUS),
        (FundKind, labels.FUND_KINDS),
        (FundOutcome, labels.FUND_OUTCOMES),
        (AccessReason, labels.ACCESS_REASONS),
        (ReviewStatus, labels.ANOMALY_STATUS),
        (Adoption, labels.ADOPTION),
        (SuggestionStatus, labels.SUGGESTION_STATUS),
    ):
        assert {e.value for e in enum} <= set(table), enum
    assert labels.RULE_NAMES is RULE_ZH


def test_a_summary_labels_fields_in_chinese_and_shows_cst_without_dumps() -> None:
    state = {
        "originator_topic": "x",
        "timestamp": {"_type_": "datetime_iso", "_data_": "2025-01-01T00:00:00+00:00"},
        "code": "GX-PSB-001",
        "items": [
            {"_type_": "resource_item", "_data_": {"name": "姓名", "sensitivity": "personal"}}
        ],
        "sharing_type": "conditional",
        "accessed_at": "2025-01-13T03:19:06.123456+00:00",
        "amount_fen": 13000000,
        "verdict": {"authorized": False, "reasons": ["grant_revoked"]},
        "class_version": 2,
    }
    text = labels.event_summary("ledger.domain.catalogue:Resource.Registered", json.dumps(state))
    assert text.startswith("登记政务信息资源：")
    assert "资源编码" not in text and "编码 GX-PSB-001" in text
    assert "姓名（个人信息）" in text and "有条件共享" in text
    assert "访问时间 2025-01-13 11:19:06" in text  # CST, to the second
    assert "130,000.00 元" in text and "未授权（授权撤销后访问）" in text
    for raw in ("_type_", "_data_", "class_version", "originator", "=", "{"):
        assert raw not in text


def test_cst_text_reads_datetimes_and_iso_text() -> None:
    assert labels.cst_text("2025-01-01T00:00:00.5+00:00") == "2025-01-01 08:00:00"
    assert labels.cst_text("2025-01-01T00:00:00") == "2025-01-01 08:00:00"  # naive: UTC
    assert labels.cst_text(None) == "—"


def test_search_text_finds_event_kinds_by_chinese_name() -> None:
    assert labels.topics_matching("共享申请") >= {"SharingRequest.Submitted"}
    assert labels.topics_matching("anomalyreview") == {
        "AnomalyReview.Started",
        "AnomalyReview.Reviewed",
    }


@pytest.mark.parametrize("form", ["key ids", "sealed"])
def test_data_subjects_show_as_a_count_only(form: str) -> None:
    """docs/privacy.md: an auditor's trail line never shows a subject's key id, nor the
    parts of an older row's sealed value (ledger-format §9.1: both forms)."""
    sealed = {"sealed": "v1", "kid": "ab" * 16, "n": "AAECAwQFBgcICQoL", "ct": "bWNt"}
    subjects = (
        ["ab" * 16, "cd" * 16] if form == "key ids" else [sealed, dict(sealed, kid="cd" * 16)]
    )
    line = labels.event_summary(
        "ledger.domain.access:DataAccess.Recorded",
        {"platform_event_id": "e-1", "subjects": subjects},
    )
    assert "2 人（不存身份信息" in line and "ab" * 16 not in line and "bWNt" not in line
