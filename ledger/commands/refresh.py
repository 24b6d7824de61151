"""Recording the resource refreshes the exchange platform reports (S11; docs/facts.md §7).

Like accesses (ledger/commands/accesses.py), refreshes are the platform's facts:
recorded in batches of one transaction, idempotent by platform event id, never
refused for what they say. A refresh of a resource the catalogue does not hold,
or dated later than the ledger's clock plus the clock skew, is recorded and
flagged back to the caller; only a malformed report, or one dated before the
earliest business time, is refused (the whole batch, nothing saved).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.commands.base import LedgerBase
from ledger.domain.actor import Actor, Role
from ledger.domain.errors import ErrorCode
from ledger.domain.ids import resource_id
from ledger.domain.refresh import RefreshReport, ResourceRefresh, resource_refresh_id
from ledger.errors import ChainWriteError

FLAG_IN_FUTURE = "refreshed_at_in_future"
FLAG_UNKNOWN_RESOURCE = "unknown_resource"


@dataclass(frozen=True, slots=True)
class RefreshBatchResult:
    """Ids in the order given; which were new; each id's flags (only ids with any)."""

    ids: tuple[UUID, ...]
    recorded: tuple[UUID, ...]
    already_recorded: tuple[UUID, ...]
    flags: dict[UUID, tuple[str, ...]]


class RefreshCommands(LedgerBase):
    """``record_refreshes`` and reading one refresh back."""

    def refresh(self, platform_event_id: str) -> ResourceRefresh:
        refresh_id = resource_refresh_id(platform_event_id)
        return self._load(ResourceRefresh, refresh_id, ErrorCode.UNKNOWN_REFRESH)

    def record_refreshes(
        self, actor: Actor, reports: Iterable[RefreshReport]
    ) -> RefreshBatchResult:
        """Record a batch of refreshes in one save (one transaction), idempotently."""
        self._require_role(actor, {Role.EXCHANGE_PLATFORM}, "record resource refreshes")
        checked = [report.check() for report in reports]
        latest = self.clock() + self.time_bounds.clock_skew
        first: dict[UUID, RefreshReport] = {}
        ids: list[UUID] = []
        for report in checked:
            self.time_bounds.check_past(report.refreshed_at, "refreshed_at")
            refresh_id = resource_refresh_id(report.platform_event_id)
            ids.append(refresh_id)
            first.setdefault(refresh_id, report)
        known = self._existing([resource_id(code) for code in {r.resource_code for r in checked}])
        flags: dict[UUID, tuple[str, ...]] = {}
        for refresh_id, report in first.items():
            marks = (FLAG_IN_FUTURE,) * (report.refreshed_at > latest) + (
                FLAG_UNKNOWN_RESOURCE,
            ) * (resource_id(report.resource_code) not in known)
            if marks:
                flags[refresh_id] = marks
        for _attempt in range(self.duplicate_retries + 1):
            existing = self._existing(list(first))
            fresh = [
                ResourceRefresh.report(actor, r) for i, r in first.items() if i not in existing
            ]
            try:
                if fresh:
                    self.save(*fresh)
            except IntegrityError:
                continue  # a concurrent writer stored one of ours: re-check, save the rest
            new = {agg.id for agg in fresh}
            recorded = tuple(i for i in first if i in new)
            already = list(ids)  # every id given, less one occurrence of each new one
            for refresh_id in recorded:
                already.remove(refresh_id)
            return RefreshBatchResult(tuple(ids), recorded, tuple(already), flags)
        raise ChainWriteError(
            f"refresh batch still colliding after {self.duplicate_retries} retries"
        )
