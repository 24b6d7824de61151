"""Refusals of commands by people: one typed error with a machine code.

A refusal saves nothing. Conditions the compliance rules *find* (S6–S12, P*, D*,
F*, I*) are never refusals: they are recorded and judged later by projections.
"""

from __future__ import annotations

from enum import StrEnum

from ledger.errors import LedgerError


class ErrorCode(StrEnum):
    """The closed set of refusal codes an API layer can map to 4xx bodies."""

    # Malformed input.
    INVALID_VALUE = "invalid_value"
    INVALID_ACTOR = "invalid_actor"
    INVALID_ITEMS = "invalid_items"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_MLPS_LEVEL = "invalid_mlps_level"
    INVALID_PERIOD = "invalid_period"
    INVALID_EXPIRY = "invalid_expiry"
    NAIVE_DATETIME = "naive_datetime"
    MALFORMED_ACCESS = "malformed_access"
    # Business time (docs/facts.md §6).
    TIME_OUT_OF_RANGE = "time_out_of_range"
    TIME_IN_FUTURE = "time_in_future"
    TIME_BEFORE_CREATION = "time_before_creation"
    # Who may act.
    DEPARTMENT_MISMATCH = "department_mismatch"
    ROLE_NOT_PERMITTED = "role_not_permitted"
    # Existence.
    DEPARTMENT_EXISTS = "department_exists"
    RESOURCE_EXISTS = "resource_exists"
    RISK_ASSESSMENT_EXISTS = "risk_assessment_exists"
    # An Idempotency-Key already used by this principal for a different create.
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    UNKNOWN_DEPARTMENT = "unknown_department"
    UNKNOWN_SYSTEM = "unknown_system"
    UNKNOWN_RESOURCE = "unknown_resource"
    UNKNOWN_REQUEST = "unknown_request"
    UNKNOWN_ACCESS = "unknown_access"
    UNKNOWN_FILING = "unknown_filing"
    UNKNOWN_FUND_DECISION = "unknown_fund_decision"
    UNKNOWN_REFRESH = "unknown_refresh"
    UNKNOWN_RECORD = "unknown_record"
    RECORD_EXISTS = "record_exists"
    FILING_NOT_ACCEPTED = "filing_not_accepted"
    UNKNOWN_ITEMS = "unknown_items"
    # Catalogue rules (51号 sharing types).
    LEGAL_BASIS_REQUIRED = "legal_basis_required"
    NOT_SHAREABLE = "not_shareable"
    OWNER_MUST_BE_PROVIDER = "owner_must_be_provider"
    # Request and grant lifecycle.
    REQUEST_ALREADY_DECIDED = "request_already_decided"
    SCOPE_BEYOND_REQUEST = "scope_beyond_request"
    GRANT_NOT_IN_FORCE = "grant_not_in_force"
    GRANT_NOT_EXPIRED = "grant_not_expired"
    # Systems.
    SYSTEM_RETIRED = "system_retired"
    INTEGRATED_SYSTEM_MISMATCH = "integrated_system_mismatch"
    # Filings and funds.
    FILING_ALREADY_REVIEWED = "filing_already_reviewed"
    FILING_NOT_APPROVED = "filing_not_approved"
    FILING_ALREADY_ACCEPTED = "filing_already_accepted"
    ARCHITECTURE_REVIEW_REQUIRED = "architecture_review_required"
    FUND_TARGET_REQUIRED = "fund_target_required"
    # Anomaly reviews.
    UNKNOWN_ANOMALY = "unknown_anomaly"
    ANOMALY_CLOSED = "anomaly_closed"
    REVIEW_NOT_ALLOWED = "review_not_allowed"  # not a step of the review machine, or four eyes
    # Rectification (docs/facts.md §8).
    RECTIFICATION_CLOSED = "rectification_closed"
    RECTIFICATION_REPORT_PENDING = "rectification_report_pending"
    RECTIFICATION_NOT_REPORTED = "rectification_not_reported"
    # Data subjects (docs/ledger-format.md §9.1, docs/privacy.md).
    SUBJECTS_UNAVAILABLE = "subjects_unavailable"  # no index secret configured
    UNKNOWN_SUBJECT = "unknown_subject"
    SUBJECT_ALREADY_ERASED = "subject_already_erased"
    # Audit suggestions and their adoption (docs/facts.md §8).
    SUGGESTION_CLOSED = "suggestion_closed"
    SUGGESTION_RESPONSE_PENDING = "suggestion_response_pending"
    SUGGESTION_NOT_RESPONDED = "suggestion_not_responded"


class DomainError(LedgerError):
    """A command was refused; ``code`` is stable, ``detail`` is for people."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail


def require(condition: bool, code: ErrorCode, detail: str) -> None:
    """Raise :class:`DomainError` unless ``condition`` holds."""
    if not condition:
        raise DomainError(code, detail)
