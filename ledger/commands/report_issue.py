"""Issuing a report: one ledger event per rendered file, in one transaction (docs/reports.md).

The 审计局, 网信办 and 区发改局 issue the reports they sign (auditor, security
officer, ndrc). Each file's issuance is keyed by its SHA-256, so issuing the same
bytes again records nothing and answers the first issuance's position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from ledger.commands.rectification import RectificationCommands
from ledger.domain.actor import Actor, Role
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.report_issue import (
    IssuedFormat,
    IssuedKind,
    IssuedReport,
    issued_report_id,
)
from ledger.domain.values import parse_enum


class PositionLookup(Protocol):
    """What the chained recorders (ledger/store/sqlite.py, postgres.py) answer by key."""

    def position_of_originator(self, originator_id: UUID, version: int = 1) -> int | None: ...


REPORT_YEARS = range(2000, 2101)
ISSUERS = frozenset({Role.AUDITOR, Role.SECURITY_OFFICER, Role.NDRC})


@dataclass(frozen=True, slots=True)
class IssuedFile:
    """One file's issuance: its hash and the position of the event that records it."""

    sha256: str
    format: str
    position: int
    recorded: bool  # False: these bytes were issued before


class ReportIssueCommands(RectificationCommands):
    """``issue_report`` and ``issuance_position``."""

    def issue_report(
        self,
        actor: Actor,
        *,
        kind: str,
        year: int,
        as_of_position: int,
        files: Sequence[tuple[str, bytes]],
        issued_at: datetime | None = None,
    ) -> list[IssuedFile]:
        """Record ``files`` ((format, rendered bytes)) as issued: one event each, one save."""
        self._require_role(actor, ISSUERS, "issue a report")
        report_kind = parse_enum(IssuedKind, kind, "kind")
        if not files:
            raise DomainError(ErrorCode.INVALID_VALUE, "no file to issue")
        if not 1 <= as_of_position <= (self.recorder.max_notification_id() or 0):
            raise DomainError(ErrorCode.INVALID_VALUE, f"no ledger position {as_of_position}")
        if year not in REPORT_YEARS:
            raise DomainError(ErrorCode.INVALID_VALUE, f"year {year} is not within 2000-2100")
        at = self.business_time(issued_at, "issued_at")
        issue_id = uuid4().hex
        listed = [
            (hashlib.sha256(content).hexdigest(), parse_enum(IssuedFormat, fmt, "format"), content)
            for fmt, content in files
        ]
        unique: dict[str, tuple[IssuedFormat, int]] = {}
        for sha, fmt, content in listed:
            unique.setdefault(sha, (fmt, len(content)))  # in the order given
        recorded: set[str] = set()
        for attempt in range(2):
            todo = [sha for sha in unique if not self._exists(issued_report_id(sha))]
            issuances = [
                IssuedReport.issue(
                    actor, kind=report_kind, year=year, format=unique[sha][0], sha256=sha,
                    size=unique[sha][1], as_of_position=as_of_position, issue_id=issue_id,
                    issued_at=at,
                )
                for sha in todo
            ]  # fmt: skip
            try:
                if issuances:
                    self.save(*issuances)
                recorded = set(todo)
                break
            except IntegrityError:
                # Another issuer recorded some of these bytes meanwhile: they are issued; the
                # rest are recorded on the second attempt (one transaction each time).
                if attempt:
                    raise
        return [
            IssuedFile(sha, fmt.value, self._issuance_position(sha), sha in recorded)
            for sha, fmt, _ in listed
        ]

    def issued(self, sha256: str) -> IssuedReport | None:
        """The issuance of the file with this hash, if any."""
        rid = issued_report_id(sha256)
        if not self._exists(rid):
            return None
        found: IssuedReport = self.repository.get(rid)
        return found

    def _issuance_position(self, sha256: str) -> int:
        position = self.issuance_position(sha256)
        assert position is not None, "an issuance just saved has a position"
        return position

    def issuance_position(self, sha256: str) -> int | None:
        """The ledger position of the file's issuance event, or None: its aggregate's first
        event found by the events' primary key (originator id, version 1), so the cost of
        ``report verify`` does not grow with the ledger."""
        recorder: PositionLookup = self.recorder  # type: ignore[assignment]  # chained stores
        return recorder.position_of_originator(issued_report_id(sha256))
