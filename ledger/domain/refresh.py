"""Resource refreshes the exchange platform reports (动态更新; rule S11, docs/facts.md §7).

The 编制指南 gives every catalogue entry an ``update_cycle``; S11 asks whether the
provider refreshed the resource within it. Only the district exchange platform
sees a refresh land, so it is the one source of this fact, as it is of data
accesses: a refresh is recorded whatever it says (an unknown resource, a time
later than the ledger's clock), never refused for its content, only when
malformed. One aggregate per platform event id, so a retried report is the
same fact; refreshes are many (daily resources), so they are not events of the
Resource aggregate, whose replay stays short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain import bounds
from ledger.domain.actor import Actor
from ledger.domain.ids import LEDGER_NAMESPACE


def resource_refresh_id(platform_event_id: str) -> UUID:
    """One ResourceRefresh per platform event id (a retried report maps to it)."""
    return uuid5(LEDGER_NAMESPACE, f"resource_refresh:{platform_event_id}")


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What the platform says about one refresh; checked by :meth:`check`."""

    platform_event_id: str
    resource_code: str
    refreshed_at: datetime
    row_count: int | None = None

    def check(self) -> RefreshReport:
        """The report within the input contract (texts stripped); ``BoundsError`` if not."""
        rows = self.row_count
        return RefreshReport(
            bounds.text(self.platform_event_id, "platform_event_id"),
            bounds.code(self.resource_code, "resource_code"),
            bounds.instant(self.refreshed_at, "refreshed_at"),
            None if rows is None else bounds.count(rows, "row_count", maximum=bounds.MAX_ROW_COUNT),
        )


class ResourceRefresh(Aggregate):
    """One refresh of a catalogue resource, as the exchange platform saw it land."""

    class Reported(Aggregate.Created):
        actor: Actor
        platform_event_id: str
        resource_code: str
        row_count: int | None
        refreshed_at: datetime

    @classmethod
    def report(cls, actor: Actor, report: RefreshReport) -> ResourceRefresh:
        checked = report.check()
        return cls._create(
            cls.Reported,
            id=resource_refresh_id(checked.platform_event_id),
            actor=actor,
            platform_event_id=checked.platform_event_id,
            resource_code=checked.resource_code,
            row_count=checked.row_count,
            refreshed_at=checked.refreshed_at,
        )

    @event(Reported)
    def __init__(
        self,
        *,
        actor: Actor,
        platform_event_id: str,
        resource_code: str,
        row_count: int | None,
        refreshed_at: datetime,
    ) -> None:
        self.platform_event_id = platform_event_id
        self.resource_code = resource_code
        self.row_count = row_count
        self.refreshed_at = refreshed_at
