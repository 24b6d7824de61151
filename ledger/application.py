"""``GovLedger``: the commands that write the ledger, and queries by id.

Every command takes the :class:`Actor` who asks, checks who may act (roles,
department), loads what it needs, lets the aggregates enforce their invariants
and saves once. A refused command saves nothing.

Configuration comes in through the constructor only: the ``env`` mapping for
the persistence layer, a :class:`ResponseDeadlinePolicy` and a clock. Unlike
the library's default, ``os.environ`` is never read here (architecture rule:
configuration is read once, in one place, and passed down).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder
from eventsourcing.utils import Environment, EnvType

from ledger.domain.access import AccessReport, AccessVerdict, DataAccess, check_report
from ledger.domain.access_state import AccessStateWriter
from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Actor, Role
from ledger.domain.calendar import ResponseDeadlinePolicy
from ledger.domain.catalogue import CatalogueEntry, Resource, RiskLevel, SharingType
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.funding import FundDecision, FundKind, FundOutcome, ProjectFiling
from ledger.domain.ids import anomaly_review_id, data_access_id, department_id, resource_id
from ledger.domain.organisation import (
    Department,
    InformationSystem,
    SystemInventory,
    ZombieReason,
)
from ledger.domain.oversight import PersonalDataView
from ledger.domain.review import AnomalyReview, ReviewAction
from ledger.domain.sharing import SharingRequest
from ledger.domain.transcodings import register_domain_transcodings
from ledger.errors import ChainWriteError
from ledger.idempotency import create_id_for, requested_fields

A = TypeVar("A", bound=Aggregate)

# A concurrent writer can insert some of a batch's access ids between our
# existence check and our save; each retry re-checks, so a few suffice.
DEFAULT_DUPLICATE_RETRIES = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AccessBatchResult:
    """Ids recorded by this call, and ids that were already in the ledger (or repeated)."""

    recorded: tuple[UUID, ...]
    already_recorded: tuple[UUID, ...]
    ids: tuple[UUID, ...] = ()  # the id of every entry, in the order given


class GovLedger(Application[UUID]):
    """The govledger application over eventsourcing 9.5 (one save = one transaction)."""

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        deadline: ResponseDeadlinePolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
        duplicate_retries: int = DEFAULT_DUPLICATE_RETRIES,
    ) -> None:
        self.deadline = deadline or ResponseDeadlinePolicy()
        self.clock = clock
        self.duplicate_retries = duplicate_retries
        super().__init__(env)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The library merges ``os.environ`` in here; we take only what is passed."""
        merged = dict(type(self).env)
        merged.update(env or {})
        return Environment(name, merged)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # -- who may act ---------------------------------------------------------

    @staticmethod
    def _check_acts_for(actor: Actor, department: str) -> None:
        """A department-bound actor (clerk, provider, CIO) acts only for its own department."""
        if actor.role in DEPARTMENT_BOUND_ROLES and actor.department_code != department:
            raise DomainError(
                ErrorCode.DEPARTMENT_MISMATCH,
                f"{actor.actor_id} of {actor.department_code} cannot act for {department}",
            )

    @staticmethod
    def _require_role(actor: Actor, allowed: Collection[Role], command: str) -> None:
        if actor.role not in allowed:
            raise DomainError(ErrorCode.ROLE_NOT_PERMITTED, f"{actor.role.value} may not {command}")

    # -- loading -------------------------------------------------------------

    def _exists(self, aggregate_id: UUID) -> bool:
        """Cheaper than ``id in repository``: reads one stored event, replays nothing."""
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _existing(self, aggregate_ids: Sequence[UUID]) -> set[UUID]:
        """Which ids already have events: one query on the chained stores, else one per id."""
        bulk = getattr(self.recorder, "existing_originators", None)
        if bulk is not None:
            found: set[UUID] = bulk(aggregate_ids)
            return found
        return {i for i in aggregate_ids if self._exists(i)}

    def _load(self, cls: type[A], aggregate_id: UUID, missing: ErrorCode) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise DomainError(missing, f"no {cls.__name__} {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise DomainError(missing, f"{aggregate_id} is not a {cls.__name__}")
        return aggregate

    def _require_department(self, code: str) -> None:
        if not self._exists(department_id(code)):
            raise DomainError(ErrorCode.UNKNOWN_DEPARTMENT, f"no department {code!r}")

    def _save_created(self, aggregate: Aggregate, idempotency_key: str | None) -> UUID:
        """Save a new aggregate once per Idempotency-Key (ledger/idempotency.py).

        A keyed aggregate's id is derived from the key: if it is stored already
        (a retry, or an identical request that won the race to the event
        store's unique (id, version 1)), the first record's id is the answer,
        provided the request is the same; another request under the key is refused.
        """
        created = aggregate.pending_events[0]
        if idempotency_key is None or not self._exists(aggregate.id):
            try:
                self.save(aggregate)
                return aggregate.id
            except IntegrityError:
                if idempotency_key is None:
                    raise
        first = next(self.events.get(aggregate.id, lte=1))
        encode = self.mapper.transcoder.encode
        if encode(requested_fields(first)) != encode(requested_fields(created)):
            raise DomainError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                f"Idempotency-Key {idempotency_key!r} was used for a different request",
            )
        return aggregate.id

    # -- queries by id -------------------------------------------------------

    def department(self, code: str) -> Department:
        return self._load(Department, department_id(code), ErrorCode.UNKNOWN_DEPARTMENT)

    def system(self, system_id: UUID) -> InformationSystem:
        return self._load(InformationSystem, system_id, ErrorCode.UNKNOWN_SYSTEM)

    def resource(self, code: str) -> Resource:
        return self._load(Resource, resource_id(code), ErrorCode.UNKNOWN_RESOURCE)

    def request(self, request_id: UUID) -> SharingRequest:
        return self._load(SharingRequest, request_id, ErrorCode.UNKNOWN_REQUEST)

    def access(self, platform_event_id: str) -> DataAccess:
        access_id = data_access_id(platform_event_id)
        return self._load(DataAccess, access_id, ErrorCode.UNKNOWN_ACCESS)

    def filing(self, filing_id: UUID) -> ProjectFiling:
        return self._load(ProjectFiling, filing_id, ErrorCode.UNKNOWN_FILING)

    def fund_decision(self, decision_id: UUID) -> FundDecision:
        return self._load(FundDecision, decision_id, ErrorCode.UNKNOWN_FUND_DECISION)

    # -- departments ---------------------------------------------------------

    def register_department(self, actor: Actor, code: str, name: str) -> UUID:
        self._check_acts_for(actor, code)
        if self._exists(department_id(code)):
            raise DomainError(ErrorCode.DEPARTMENT_EXISTS, f"department {code!r} exists")
        department = Department.register(actor, code, name)
        self.save(department)
        return department.id

    def name_cio(
        self, actor: Actor, department_code: str, cio_name: str, cio_actor_id: str | None = None
    ) -> None:
        self._check_acts_for(actor, department_code)
        department = self.department(department_code)
        department.name_cio(actor, cio_name, cio_actor_id)
        self.save(department)

    # -- information systems -------------------------------------------------

    def register_system(
        self,
        actor: Actor,
        department_code: str,
        inventory: SystemInventory,
        *,
        required_to_connect: bool = False,
        holds_personal_data: bool = False,
        holds_important_data: bool = False,
        idempotency_key: str | None = None,
    ) -> UUID:
        """Seed §三(一)1: a department inventories its systems (once per Idempotency-Key)."""
        self._check_acts_for(actor, department_code)
        self._require_department(department_code)
        system = InformationSystem.register(
            actor,
            department_code,
            inventory,
            required_to_connect=required_to_connect,
            holds_personal_data=holds_personal_data,
            holds_important_data=holds_important_data,
            aggregate_id=create_id_for("system", actor, idempotency_key),
        )
        return self._save_created(system, idempotency_key)

    def _change_system(
        self, actor: Actor, system_id: UUID, change: Callable[[InformationSystem], None]
    ) -> None:
        system = self.system(system_id)
        self._check_acts_for(actor, system.department)
        change(system)
        self.save(system)

    def set_connection_requirement(
        self, actor: Actor, system_id: UUID, required_to_connect: bool
    ) -> None:
        self._change_system(
            actor, system_id, lambda s: s.set_connection_requirement(actor, required_to_connect)
        )

    def connect_system(self, actor: Actor, system_id: UUID) -> None:
        self._change_system(actor, system_id, lambda s: s.connect(actor))

    def move_system_on_cloud(self, actor: Actor, system_id: UUID) -> None:
        self._change_system(actor, system_id, lambda s: s.move_on_cloud(actor))

    def mark_system_zombie(
        self, actor: Actor, system_id: UUID, reasons: Sequence[ZombieReason]
    ) -> None:
        self._change_system(actor, system_id, lambda s: s.mark_zombie(actor, reasons))

    def merge_system(self, actor: Actor, system_id: UUID, integrated_system_id: UUID) -> None:
        integrated = self.system(integrated_system_id)
        self._change_system(actor, system_id, lambda s: s.merge_into(actor, integrated))

    def decommission_system(self, actor: Actor, system_id: UUID, reason: str) -> None:
        self._change_system(actor, system_id, lambda s: s.decommission(actor, reason))

    def record_mlps(self, actor: Actor, system_id: UUID, mlps_level: int, mlps_filed: bool) -> None:
        self._change_system(
            actor, system_id, lambda s: s.record_mlps(actor, mlps_level, mlps_filed)
        )

    def declare_data_holdings(
        self, actor: Actor, system_id: UUID, holds_personal_data: bool, holds_important_data: bool
    ) -> None:
        self._change_system(
            actor,
            system_id,
            lambda s: s.declare_data_holdings(actor, holds_personal_data, holds_important_data),
        )

    # -- catalogue -----------------------------------------------------------

    def register_resource(self, actor: Actor, entry: CatalogueEntry) -> UUID:
        """Seed §三(二)5: providers list their resources in the catalogue."""
        self._check_acts_for(actor, entry.provider_department)
        self._require_department(entry.provider_department)
        if self._exists(resource_id(entry.code)):
            raise DomainError(ErrorCode.RESOURCE_EXISTS, f"resource {entry.code!r} exists")
        resource = Resource.register(actor, entry)
        self.save(resource)
        return resource.id

    def _change_resource(self, actor: Actor, code: str, change: Callable[[Resource], None]) -> None:
        resource = self.resource(code)
        self._check_acts_for(actor, resource.provider_department)
        change(resource)
        self.save(resource)

    def assign_resource_owner(self, actor: Actor, code: str, owner_department: str) -> None:
        self._change_resource(actor, code, lambda r: r.assign_owner(actor, owner_department))

    def assign_resource_controller(self, actor: Actor, code: str, controller: str) -> None:
        self._change_resource(actor, code, lambda r: r.assign_controller(actor, controller))

    def reclassify_resource(
        self,
        actor: Actor,
        code: str,
        *,
        sharing_type: SharingType,
        legal_basis: str | None,
        share_condition: str,
        reason: str,
    ) -> None:
        self._change_resource(
            actor,
            code,
            lambda r: r.reclassify(actor, sharing_type, legal_basis, share_condition, reason),
        )

    def record_risk_assessment(
        self, actor: Actor, code: str, reference: str, risk_level: RiskLevel, summary: str
    ) -> bool:
        """Seed §三(五)16: the 网信办 (security_officer) assesses sharing risk.

        Once per (resource, reference): a replay records nothing and returns False
        (``Resource.record_risk_assessment``). A replay racing its original loses on
        the event store's unique (id, version) and is judged again on the stored state.
        """
        self._require_role(actor, {Role.SECURITY_OFFICER}, "record a risk assessment")
        try:
            return self._assess(actor, code, reference, risk_level, summary)
        except IntegrityError:  # another change of the resource won: judge again on it
            return self._assess(actor, code, reference, risk_level, summary)

    def _assess(
        self, actor: Actor, code: str, reference: str, risk_level: RiskLevel, summary: str
    ) -> bool:
        resource = self.resource(code)
        self._check_acts_for(actor, resource.provider_department)
        if not resource.record_risk_assessment(actor, reference, risk_level, summary):
            return False
        self.save(resource)
        return True

    # -- sharing requests and grants -----------------------------------------

    def submit_request(
        self,
        actor: Actor,
        *,
        requester_department: str,
        resource_code: str,
        items: Sequence[str],
        purpose: str,
        legal_basis: str,
        period_start: date,
        period_end: date,
        idempotency_key: str | None = None,
    ) -> UUID:
        """51号 conditional sharing: the user applies; the deadline policy fixes the due date.

        Once per Idempotency-Key (a retry keeps the first submission time and deadline).
        """
        self._check_acts_for(actor, requester_department)
        self._require_department(requester_department)
        request = SharingRequest.submit(
            actor=actor,
            requester_department=requester_department,
            resource=self.resource(resource_code),
            items=items,
            purpose=purpose,
            legal_basis=legal_basis,
            period_start=period_start,
            period_end=period_end,
            submitted_at=self.clock(),
            deadline=self.deadline,
            aggregate_id=create_id_for("sharing_request", actor, idempotency_key),
        )
        return self._save_created(request, idempotency_key)

    def _provider_request(self, actor: Actor, request_id: UUID, command: str) -> SharingRequest:
        """The provider department answers and revokes (51号 §14)."""
        self._require_role(actor, DEPARTMENT_BOUND_ROLES, command)
        request = self.request(request_id)
        self._check_acts_for(actor, request.provider_department)
        return request

    def approve_request(
        self, actor: Actor, request_id: UUID, items: Sequence[str], expires_at: datetime
    ) -> None:
        request = self._provider_request(actor, request_id, "approve a request")
        resource = self.resource(request.resource_code)
        request.approve(actor, resource, items, expires_at, decided_at=self.clock())
        self.save(request)

    def reject_request(self, actor: Actor, request_id: UUID, reason: str) -> None:
        request = self._provider_request(actor, request_id, "reject a request")
        request.reject(actor, reason, decided_at=self.clock())
        self.save(request)

    def revoke_grant(self, actor: Actor, request_id: UUID, reason: str) -> None:
        request = self._provider_request(actor, request_id, "revoke a grant")
        request.revoke(actor, reason, revoked_at=self.clock())
        self.save(request)

    def expire_grant(self, actor: Actor, request_id: UUID) -> None:
        """Housekeeping by any role (e.g. a scheduler): records that a grant ran out."""
        request = self.request(request_id)
        request.expire(actor, at=self.clock())
        self.save(request)

    # -- data accesses -------------------------------------------------------

    def record_access(self, actor: Actor, report: AccessReport, verdict: AccessVerdict) -> UUID:
        """Record one reported access (idempotent); returns its id, new or not."""
        self.record_accesses(actor, [(report, verdict)])
        return data_access_id(report.platform_event_id)

    def record_accesses(
        self, actor: Actor, entries: Iterable[tuple[AccessReport, AccessVerdict]]
    ) -> AccessBatchResult:
        """Record a batch of accesses in ONE save (one transaction), idempotently.

        Accesses are facts: never refused for their verdict, only when malformed
        (then the whole batch is refused, nothing saved). Ids are uuid5 of the
        platform event id, so a retry maps to the same ids; ids already stored
        are skipped. On PostgreSQL the check runs inside the chained insert,
        under the head's serialisation. Elsewhere, if a concurrent writer stores
        one of our ids between the check and the save, the recorder raises
        ``IntegrityError`` on (originator_id, version 1), the transaction rolls
        back whole, and we re-check and save the rest again (``ChainWriteError``
        after ``duplicate_retries`` lost races in a row).
        """
        self._require_role(actor, {Role.EXCHANGE_PLATFORM}, "record data accesses")
        batch = list(entries)
        for report, _ in batch:
            check_report(report)
        ids = tuple(data_access_id(report.platform_event_id) for report, _ in batch)
        unique, repeated = _split_repeats(ids, batch)
        writer = AccessStateWriter(self.mapper, actor)
        for _attempt in range(self.duplicate_retries + 1):
            try:
                existing = self._save_new_accesses(writer, unique)
            except IntegrityError:
                continue  # lost a race on some id: re-check, then save the rest
            recorded = tuple(i for i in unique if i not in existing)
            stored = tuple(i for i in unique if i in existing)
            return AccessBatchResult(recorded, stored + repeated, ids)
        raise ChainWriteError(
            f"access batch still colliding after {self.duplicate_retries} retries"
        )

    def _save_new_accesses(
        self, writer: AccessStateWriter, unique: dict[UUID, tuple[AccessReport, AccessVerdict]]
    ) -> set[UUID]:
        """Store, in one transaction, the accesses not stored yet; return the ids that were.

        Stored events are built directly (ledger/domain/access_state.py).
        """
        insert_new = getattr(self.recorder, "insert_new_aggregates", None)
        if insert_new is not None:
            # The chained PostgreSQL store checks existence inside its insert: one round trip.
            found: set[UUID] = insert_new(writer.stored_events(unique)).existing
            return found
        existing = self._existing(list(unique))
        fresh = {i: entry for i, entry in unique.items() if i not in existing}
        if fresh:
            self.recorder.insert_events(writer.stored_events(fresh))
        return existing

    def record_personal_data_view(self, actor: Actor, view: str, target: str) -> UUID:
        """Who opened which personal-data view, and when (GB/T 22239-2019 8.1.4.3)."""
        viewed = PersonalDataView(actor=actor, view=view, target=target, viewed_at=self.clock())
        self.save(viewed)
        return viewed.id

    # -- anomaly reviews -----------------------------------------------------

    def review_anomaly(
        self, actor: Actor, anomaly_id: str, action: ReviewAction, comment: str
    ) -> UUID:
        """A security officer (网信办) acknowledges, dismisses or escalates an anomaly.

        The ledger does not know which anomalies exist (projections find them):
        the caller checks the id against the anomalies view first.
        """
        self._require_role(actor, {Role.SECURITY_OFFICER}, "review an anomaly")
        review_id = anomaly_review_id(anomaly_id)
        if self._exists(review_id):
            review = self._load(AnomalyReview, review_id, ErrorCode.UNKNOWN_ANOMALY)
            review.review(actor, action, comment, self.clock())
        else:
            review = AnomalyReview.start(actor, anomaly_id, action, comment, self.clock())
        self.save(review)
        return review.id

    # -- filings and funds ---------------------------------------------------

    def file_project(
        self,
        actor: Actor,
        *,
        name: str,
        builder: str,
        investment_fen: int,
        om_cost_fen: int,
        funding_channel: str,
        resource_codes: Sequence[str],
        system_ids: Sequence[UUID],
        mlps_filed: bool,
        catalogue_preregistered: bool,
        idempotency_key: str | None = None,
    ) -> UUID:
        """Seed §三(五)17: 全口径备案 with ndrc before funds are requested (once per key)."""
        self._check_acts_for(actor, builder)
        self._require_department(builder)
        for system_id in system_ids:
            self.system(system_id)
        filing = ProjectFiling.file(
            actor=actor,
            name=name,
            builder=builder,
            investment_fen=investment_fen,
            om_cost_fen=om_cost_fen,
            funding_channel=funding_channel,
            resource_codes=resource_codes,
            system_ids=system_ids,
            mlps_filed=mlps_filed,
            catalogue_preregistered=catalogue_preregistered,
            aggregate_id=create_id_for("filing", actor, idempotency_key),
        )
        return self._save_created(filing, idempotency_key)

    def review_project(
        self, actor: Actor, filing_id: UUID, approved: bool, architecture_review: str
    ) -> None:
        self._require_role(actor, {Role.NDRC}, "review a project")
        filing = self.filing(filing_id)
        filing.review(actor, approved, architecture_review)
        self.save(filing)

    def accept_project(self, actor: Actor, filing_id: UUID) -> None:
        self._require_role(actor, {Role.NDRC}, "accept a project")
        filing = self.filing(filing_id)
        filing.accept(actor, accepted_at=self.clock())
        self.save(filing)

    def decide_funds(
        self,
        actor: Actor,
        *,
        kind: FundKind,
        year: int,
        department: str,
        amount_fen: int,
        outcome: FundOutcome,
        rationale: str,
        system_id: UUID | None = None,
        project_name: str | None = None,
        filing_id: UUID | None = None,
        idempotency_key: str | None = None,
    ) -> UUID:
        """区财政局 decides; F1–F5 are judged later against the ledger, never refused here.

        Once per Idempotency-Key (a retry keeps the first decision time).
        """
        self._require_role(actor, {Role.FINANCE}, "decide funds")
        self._require_department(department)
        if system_id is not None:
            self.system(system_id)
        if filing_id is not None:
            self.filing(filing_id)
        decision = FundDecision.decide(
            actor=actor,
            kind=kind,
            year=year,
            department=department,
            amount_fen=amount_fen,
            outcome=outcome,
            rationale=rationale,
            decided_at=self.clock(),
            system_id=system_id,
            project_name=project_name,
            filing_id=filing_id,
            aggregate_id=create_id_for("fund_decision", actor, idempotency_key),
        )
        return self._save_created(decision, idempotency_key)


def _split_repeats(
    ids: Sequence[UUID],
    batch: Sequence[tuple[AccessReport, AccessVerdict]],
) -> tuple[dict[UUID, tuple[AccessReport, AccessVerdict]], tuple[UUID, ...]]:
    """The first entry per platform event id (batch order), and the ids seen again."""
    unique: dict[UUID, tuple[AccessReport, AccessVerdict]] = {}
    repeated: list[UUID] = []
    for access_id, (report, verdict) in zip(ids, batch, strict=True):
        if access_id in unique:
            repeated.append(access_id)
        else:
            unique[access_id] = (report, verdict)
    return unique, tuple(repeated)
