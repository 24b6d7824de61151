"""Issued reports anchored in the ledger (docs/reports.md "Issuance and verification").

A report put under an official's name must be provable later: issuing it records,
for each rendered file, one ``IssuedReport.Issued`` event carrying the file's
SHA-256, its format and size, the report's kind and year, and the ledger
position the report is as of. The event is a row of the hash-chained ledger, so
an inclusion proof of it against a signed checkpoint (checkpoint-format §13,
ledger/evidence.py) shows that this exact file was issued, and when; one byte
changed gives another hash, which no issuance names.

One aggregate per file hash (uuid5(ns, ``issued_report:<sha256>``)): verifying a
file looks its issuance up by its hash, and issuing the same bytes twice is one
issuance. The file's hash covers the file as rendered, so what the file shows of
its anchor is the as-of position (and the checkpoint before it), never its own hash.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.obligations import natural_id

ISSUED_TOPIC = "ledger.domain.report_issue:IssuedReport.Issued"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class IssuedKind(StrEnum):
    RISK = "risk"  # 风险评估报告
    ANNUAL = "annual"  # 年度报告
    AUDIT = "audit"  # 经费审计报告


class IssuedFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"
    XLSX = "xlsx"
    JSON = "json"


def issued_report_id(sha256: str) -> UUID:
    """The issuance of the file with this SHA-256 (lower-case hex)."""
    return natural_id("issued_report", require_sha256(sha256))


def require_sha256(text: str) -> str:
    if not isinstance(text, str) or _SHA256.fullmatch(text) is None:
        raise DomainError(ErrorCode.INVALID_VALUE, "sha256 must be 64 lower-case hex digits")
    return text


class IssuedReport(Aggregate):
    """One issued file of a report."""

    class Issued(Aggregate.Created):
        actor: Actor
        kind: IssuedKind
        year: int
        format: IssuedFormat
        sha256: str
        size: int
        as_of_position: int
        issue_id: str
        issued_at: datetime

    @classmethod
    def issue(
        cls,
        actor: Actor,
        *,
        kind: IssuedKind,
        year: int,
        format: IssuedFormat,
        sha256: str,
        size: int,
        as_of_position: int,
        issue_id: str,
        issued_at: datetime,
    ) -> IssuedReport:
        return cls._create(
            cls.Issued,
            id=issued_report_id(sha256),
            actor=actor,
            kind=IssuedKind(kind),
            year=year,
            format=IssuedFormat(format),
            sha256=sha256,
            size=size,
            as_of_position=as_of_position,
            issue_id=issue_id,
            issued_at=issued_at,
        )

    @event(Issued)
    def __init__(
        self,
        *,
        actor: Actor,
        kind: IssuedKind,
        year: int,
        format: IssuedFormat,
        sha256: str,
        size: int,
        as_of_position: int,
        issue_id: str,
        issued_at: datetime,
    ) -> None:
        self.kind = IssuedKind(kind)
        self.year = year
        self.format = IssuedFormat(format)
        self.sha256 = sha256
        self.size = size
        self.as_of_position = as_of_position
        self.issue_id = issue_id
        self.issued_at = issued_at
