"""The ledger read once, in order, into what the reports need (read-only).

The views helper's read models answer the console and API; a report needs a
few things they do not keep — above all the state of a system or filing *at
the position of each fund decision* (F1–F5 are judged at decision time) and
the exact position and hash of every fact it counts. So reports replay the
ledger themselves, through the domain's own events: each event is applied to
its aggregate with ``event.mutate`` (the same code the application runs), and
data accesses, which are create-only facts, are kept as compact records.

``at`` cuts the replay at a ledger position: a report as of position N.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from ledger.application import GovLedger
from ledger.chain import RowTuple
from ledger.domain.access import AccessReason, DataAccess
from ledger.domain.catalogue import Resource, RiskLevel
from ledger.domain.funding import FundDecision, ProjectFiling
from ledger.domain.organisation import Department, InformationSystem
from ledger.domain.sharing import SharingRequest
from ledger.store.base import RowReader
from projections.query import Finding
from projections.reports.funds import FundCheck, checks_from_views

BATCH_SIZE = 5000
T = TypeVar("T", bound=Aggregate)
ACCESS_TOPIC_SUFFIX = "DataAccess.Recorded"


@dataclass(frozen=True, slots=True)
class AccessFact:
    """One data access as the reports count it."""

    position: int
    platform_event_id: str
    accessor_id: str
    department: str
    system: str | None
    resource_code: str
    items: tuple[str, ...]
    row_count: int
    purpose: str | None
    grant_id: UUID | None
    accessed_at: datetime
    reasons: tuple[AccessReason, ...]

    @property
    def authorized(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class AssessmentFact:
    """One 网信办 risk assessment recorded on a resource."""

    position: int
    resource_code: str
    reference: str
    risk_level: RiskLevel
    summary: str


@dataclass(frozen=True, slots=True)
class DecisionFact:
    """One fund decision with the views' F1–F5 findings on it."""

    position: int
    decision: FundDecision
    checks: tuple[FundCheck, ...]
    system_name: str | None
    filing_name: str | None


@dataclass
class LedgerFacts:
    """Aggregates as of ``position``, with the positions of their events."""

    ledger_id: str
    hash_algorithm: str
    position: int = 0
    head_hash: bytes = b""
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    positions: dict[UUID, list[int]] = field(default_factory=dict)
    accesses: list[AccessFact] = field(default_factory=list)
    assessments: list[AssessmentFact] = field(default_factory=list)
    decisions: list[DecisionFact] = field(default_factory=list)

    def of_type(self, cls: type[T]) -> list[T]:
        return [a for a in self.aggregates.values() if isinstance(a, cls)]

    def departments(self) -> dict[str, Department]:
        return {d.code: d for d in self.of_type(Department)}

    def systems(self) -> list[InformationSystem]:
        return self.of_type(InformationSystem)

    def resources(self) -> dict[str, Resource]:
        return {r.code: r for r in self.of_type(Resource)}

    def requests(self) -> list[SharingRequest]:
        return self.of_type(SharingRequest)

    def filings(self) -> list[ProjectFiling]:
        return self.of_type(ProjectFiling)

    def positions_of(self, aggregate_id: UUID) -> tuple[int, ...]:
        return tuple(self.positions.get(aggregate_id, ()))


def read_facts(
    app: GovLedger,
    reader: RowReader,
    *,
    at: int | None = None,
    progress: Callable[[int], None] = lambda _n: None,
) -> LedgerFacts:
    """Replay rows 1..``at`` (default: the head) into :class:`LedgerFacts`."""
    genesis = reader.genesis()
    facts = LedgerFacts(genesis.ledger_id, genesis.hash_algorithm)
    stop = reader.max_position() if at is None else min(at, reader.max_position())
    for batch in reader.iter_batches(0, BATCH_SIZE):
        for row in batch:
            if row[0] > stop:
                progress(len(batch))
                return facts
            _apply_row(app, facts, row)
        progress(len(batch))
    return facts


def _apply_row(app: GovLedger, facts: LedgerFacts, row: RowTuple) -> None:
    position, oid, version, topic, state, _prev, row_hash = row
    facts.position, facts.head_hash = position, bytes(row_hash)
    event: Any = app.mapper.to_domain_event(
        StoredEvent(originator_id=UUID(oid), originator_version=version, topic=topic, state=state)
    )
    if isinstance(event, DataAccess.Recorded):
        facts.accesses.append(_access_fact(position, event))
        return
    originator = event.originator_id
    facts.positions.setdefault(originator, []).append(position)
    if isinstance(event, FundDecision.Decided):
        _record_decision(facts, position, event)
    aggregate = event.mutate(facts.aggregates.get(originator))
    if aggregate is not None:
        facts.aggregates[originator] = aggregate
    if isinstance(event, Resource.RiskAssessed):
        facts.assessments.append(
            AssessmentFact(
                position,
                aggregate.code,
                event.reference,
                RiskLevel(event.risk_level),
                event.summary,
            )
        )


def _access_fact(position: int, event: DataAccess.Recorded) -> AccessFact:
    return AccessFact(
        position=position,
        platform_event_id=event.platform_event_id,
        accessor_id=event.accessor_id,
        department=event.department,
        system=event.system,
        resource_code=event.resource_code,
        items=tuple(event.items),
        row_count=event.row_count,
        purpose=event.purpose,
        grant_id=event.grant_id,
        accessed_at=event.accessed_at,
        reasons=tuple(AccessReason(r) for r in event.verdict.reasons),
    )


def _record_decision(facts: LedgerFacts, position: int, event: FundDecision.Decided) -> None:
    """Keep the decision with the names of its system and filing as they stand before it;
    its F1–F5 checks are the views' (``with_checks``)."""
    system = facts.aggregates.get(event.system_id) if event.system_id else None
    filing = facts.aggregates.get(event.filing_id) if event.filing_id else None
    decision = event.mutate(None)
    assert isinstance(decision, FundDecision)
    facts.decisions.append(
        DecisionFact(
            position,
            decision,
            (),
            system.inventory.name if isinstance(system, InformationSystem) else None,
            filing.name if isinstance(filing, ProjectFiling) else None,
        )
    )


def with_checks(facts: LedgerFacts, findings: Mapping[str, Sequence[Finding]]) -> None:
    """Give each decision the views' F1–F5 findings on it (one judgment, issue #12)."""
    facts.decisions = [
        replace(
            d,
            checks=checks_from_views(
                d.decision.id.hex,
                d.decision.filing_id.hex if d.decision.filing_id else None,
                findings,
            ),
        )
        for d in facts.decisions
    ]
