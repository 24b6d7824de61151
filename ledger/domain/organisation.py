"""Departments and their information systems (seed §三(一): inventory, zombies, 大系统)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import bounds
from ledger.domain.actor import Actor, Role
from ledger.domain.errors import DomainError, ErrorCode, require
from ledger.domain.ids import department_id
from ledger.domain.values import DatedSinceV2, parse_enum, require_not_before, require_text


class Department(Aggregate):
    """A district department (各部门), keyed by its code."""

    class Registered(DatedSinceV2, Aggregate.Created):
        actor: Actor
        code: str
        name: str
        occurred_at: datetime

    class CioNamed(DatedSinceV2, Aggregate.Event):
        actor: Actor
        cio_name: str
        cio_actor_id: str | None
        occurred_at: datetime

    @staticmethod
    def create_id(code: str) -> UUID:
        return department_id(code)

    @classmethod
    def register(cls, actor: Actor, code: str, name: str, occurred_at: datetime) -> Department:
        return cls(
            actor=actor,
            code=require_text(code, "code"),
            name=require_text(name, "name"),
            occurred_at=occurred_at,
        )

    @event(Registered)
    def __init__(self, actor: Actor, code: str, name: str, occurred_at: datetime) -> None:
        self.code = code
        self.name = name
        self.registered_at = occurred_at
        self.cio_name: str | None = None
        self.cio_actor_id: str | None = None

    def name_cio(self, actor: Actor, cio_name: str, cio_actor_id: str | None, at: datetime) -> None:
        """Seed 四(四): each department names its information officer (信息主管)."""
        cio_name = require_text(cio_name, "cio_name")
        require_not_before(at, self.registered_at, "occurred_at")
        if (cio_name, cio_actor_id) == (self.cio_name, self.cio_actor_id):
            return  # already so named: a retried request records nothing (docs/security.md)
        self._name_cio(actor=actor, cio_name=cio_name, cio_actor_id=cio_actor_id, occurred_at=at)

    @event(CioNamed)
    def _name_cio(
        self, actor: Actor, cio_name: str, cio_actor_id: str | None, occurred_at: datetime
    ) -> None:
        self.cio_name = cio_name
        self.cio_actor_id = cio_actor_id


class SystemStatus(StrEnum):
    ACTIVE = "active"
    ZOMBIE = "zombie"
    MERGED = "merged"
    DECOMMISSIONED = "decommissioned"


class ZombieReason(StrEnum):
    """Seed §三(一)3: the five marks of a 僵尸 system."""

    DETACHED_FROM_BUSINESS = "detached_from_business"
    REPLACEABLE = "replaceable"
    IDLE_RESOURCES = "idle_resources"
    UNMAINTAINED = "unmaintained"
    LOW_USAGE = "low_usage"


RETIRED = frozenset({SystemStatus.MERGED, SystemStatus.DECOMMISSIONED})
MLPS_LEVELS = range(1, 5)


@dataclass(frozen=True, slots=True)
class SystemInventory:
    """Seed §三(一)1 self-inspection items (名称、功能、使用范围、使用频度、审批部门、审批时间、
    经费来源)."""

    name: str
    function: str
    scope_of_use: str
    usage_frequency: str
    approving_body: str
    approval_date: date | None
    funding_source: str


# Separation of duties (issue 14; security/policy.py): the inputs of F1 and F2 belong to
# ndrc (which lists the systems that must connect and marks zombies, seed §三(三)12,
# §三(一)3) and to the exchange platform's operator (which sees a connection), never to
# the department whose funds depend on them. Checked here, so the API, import and the
# Python API refuse alike; the fact keeps its actor (who) and reasons.
CONNECTION_REQUIREMENT_ROLES = frozenset({Role.NDRC})
CONNECTION_ROLES = frozenset({Role.EXCHANGE_PLATFORM})
ZOMBIE_ROLES = frozenset({Role.NDRC})


def _require_owner(actor: Actor, roles: frozenset[Role], what: str) -> None:
    require(
        actor.role in roles,
        ErrorCode.ROLE_NOT_PERMITTED,
        f"{actor.role.value} may not {what} (only {', '.join(sorted(r.value for r in roles))})",
    )


def _evidence(evidence: str) -> str:
    """Optional but recommended: a document reference or record id, within MAX_TEXT."""
    return bounds.text(evidence, "evidence", required=False)


class InformationSystem(Aggregate):
    """A department's IT system, from inventory to decommissioning."""

    class Registered(DatedSinceV2, Aggregate.Created):
        actor: Actor
        department: str
        name: str
        function: str
        scope_of_use: str
        usage_frequency: str
        approving_body: str
        approval_date: date | None
        funding_source: str
        required_to_connect: bool
        holds_personal_data: bool
        holds_important_data: bool
        occurred_at: datetime

    # ``evidence`` (issue 14): on what the owner records the fact (a 文号, the platform's
    # connection record id), "" when none was given. Added without a version bump: a
    # state stored before it has no key and reads the class default "" (docs/facts.md).
    class ConnectionRequirementSet(DatedSinceV2, Aggregate.Event):
        actor: Actor
        required_to_connect: bool
        evidence: str = field(default="", kw_only=True)
        occurred_at: datetime

    class Connected(DatedSinceV2, Aggregate.Event):
        actor: Actor
        evidence: str = field(default="", kw_only=True)
        occurred_at: datetime

    class MovedOnCloud(DatedSinceV2, Aggregate.Event):
        actor: Actor
        occurred_at: datetime

    class MarkedZombie(DatedSinceV2, Aggregate.Event):
        actor: Actor
        reasons: tuple[ZombieReason, ...]
        evidence: str = field(default="", kw_only=True)
        occurred_at: datetime

    class MergedInto(DatedSinceV2, Aggregate.Event):
        actor: Actor
        integrated_system_id: UUID
        occurred_at: datetime

    class Decommissioned(DatedSinceV2, Aggregate.Event):
        actor: Actor
        reason: str
        occurred_at: datetime

    class MlpsRecorded(DatedSinceV2, Aggregate.Event):
        actor: Actor
        mlps_level: int
        mlps_filed: bool
        occurred_at: datetime

    class DataHoldingsDeclared(DatedSinceV2, Aggregate.Event):
        actor: Actor
        holds_personal_data: bool
        holds_important_data: bool
        occurred_at: datetime

    @classmethod
    def register(
        cls,
        actor: Actor,
        department: str,
        inventory: SystemInventory,
        *,
        occurred_at: datetime,
        required_to_connect: bool = False,
        holds_personal_data: bool = False,
        holds_important_data: bool = False,
        aggregate_id: UUID | None = None,
    ) -> InformationSystem:
        """Only the name is required; gaps in the rest of the inventory are for review.

        ``aggregate_id`` is given for an idempotent create (ids.idempotent_create_id).
        ``required_to_connect`` is ndrc's fact (CONNECTION_REQUIREMENT_ROLES): any other
        registering actor that claims it is refused; an explicit False is the default
        (not listed yet) and claims nothing, so it is accepted from anyone.
        """
        if required_to_connect:
            _require_owner(actor, CONNECTION_REQUIREMENT_ROLES, "set a connection requirement")
        # _create, unlike cls(...), takes an explicit id; it checks nothing else.
        return cls._create(
            cls.Registered,
            id=aggregate_id,
            actor=actor,
            department=require_text(department, "department"),
            name=require_text(inventory.name, "name"),
            function=inventory.function,
            scope_of_use=inventory.scope_of_use,
            usage_frequency=inventory.usage_frequency,
            approving_body=inventory.approving_body,
            approval_date=inventory.approval_date,
            funding_source=inventory.funding_source,
            required_to_connect=required_to_connect,
            holds_personal_data=holds_personal_data,
            holds_important_data=holds_important_data,
            occurred_at=occurred_at,
        )

    @event(Registered)
    def __init__(
        self,
        *,
        actor: Actor,
        department: str,
        name: str,
        function: str,
        scope_of_use: str,
        usage_frequency: str,
        approving_body: str,
        approval_date: date | None,
        funding_source: str,
        required_to_connect: bool,
        holds_personal_data: bool,
        holds_important_data: bool,
        occurred_at: datetime,
    ) -> None:
        self.department = department
        self.inventory = SystemInventory(
            name,
            function,
            scope_of_use,
            usage_frequency,
            approving_body,
            approval_date,
            funding_source,
        )
        self.registered_at = occurred_at
        self.required_to_connect = required_to_connect
        self.holds_personal_data = holds_personal_data
        self.holds_important_data = holds_important_data
        self.status = SystemStatus.ACTIVE
        self.connected = False
        self.on_cloud = False
        self.zombie_reasons: tuple[ZombieReason, ...] = ()
        self.integrated_system_id: UUID | None = None
        self.mlps_level: int | None = None
        self.mlps_filed = False

    @property
    def is_retired(self) -> bool:
        return self.status in RETIRED

    def _require_in_service(self, at: datetime) -> None:
        """Not retired, and ``at`` not before the system's registration."""
        require(not self.is_retired, ErrorCode.SYSTEM_RETIRED, f"system is {self.status.value}")
        require_not_before(at, self.registered_at, "occurred_at")

    def set_connection_requirement(
        self, actor: Actor, required_to_connect: bool, at: datetime, evidence: str = ""
    ) -> None:
        """Seed §三(三)12: ndrc lists the systems that must connect (F1 checks it)."""
        _require_owner(actor, CONNECTION_REQUIREMENT_ROLES, "set a connection requirement")
        self._require_in_service(at)
        evidence = _evidence(evidence)
        if required_to_connect == self.required_to_connect:
            return  # unchanged: nothing to record (a retry, or a repeated listing)
        self._set_connection_requirement(
            actor=actor, required_to_connect=required_to_connect, evidence=evidence, occurred_at=at
        )

    @event(ConnectionRequirementSet)
    def _set_connection_requirement(
        self, actor: Actor, required_to_connect: bool, occurred_at: datetime, evidence: str = ""
    ) -> None:
        self.required_to_connect = required_to_connect

    def connect(self, actor: Actor, at: datetime, evidence: str = "") -> None:
        """Connected to the district exchange platform (接入共享交换平台)."""
        _require_owner(actor, CONNECTION_ROLES, "record a connection")
        self._require_in_service(at)
        evidence = _evidence(evidence)
        if not self.connected:  # connected already: a retry records nothing
            self._connect(actor=actor, evidence=evidence, occurred_at=at)

    @event(Connected)
    def _connect(self, actor: Actor, occurred_at: datetime, evidence: str = "") -> None:
        self.connected = True

    def move_on_cloud(self, actor: Actor, at: datetime) -> None:
        """Seed §三(二)6: migrated to the government cloud (上云)."""
        self._require_in_service(at)
        if not self.on_cloud:  # on the cloud already: a retry records nothing
            self._move_on_cloud(actor=actor, occurred_at=at)

    @event(MovedOnCloud)
    def _move_on_cloud(self, actor: Actor, occurred_at: datetime) -> None:
        self.on_cloud = True

    def mark_zombie(
        self, actor: Actor, reasons: Sequence[ZombieReason], at: datetime, evidence: str = ""
    ) -> None:
        """Seed §三(一)3: a zombie names at least one of the five marks."""
        _require_owner(actor, ZOMBIE_ROLES, "mark a zombie system")
        self._require_in_service(at)
        parsed = tuple(parse_enum(ZombieReason, reason, "reasons") for reason in reasons)
        require(bool(parsed), ErrorCode.INVALID_VALUE, "a zombie needs at least one reason")
        evidence = _evidence(evidence)
        if self.status is SystemStatus.ZOMBIE and parsed == self.zombie_reasons:
            return  # so marked already, for the same reasons: a retry records nothing
        self._mark_zombie(actor=actor, reasons=parsed, evidence=evidence, occurred_at=at)

    @event(MarkedZombie)
    def _mark_zombie(
        self,
        actor: Actor,
        reasons: tuple[ZombieReason, ...],
        occurred_at: datetime,
        evidence: str = "",
    ) -> None:
        self.status = SystemStatus.ZOMBIE
        self.zombie_reasons = tuple(ZombieReason(reason) for reason in reasons)

    def merge_into(self, actor: Actor, integrated: InformationSystem, at: datetime) -> None:
        """Seed §三(一)4: separate systems merge into the department's one 大系统."""
        self._require_in_service(at)
        if integrated.id == self.id or integrated.department != self.department:
            raise DomainError(
                ErrorCode.INTEGRATED_SYSTEM_MISMATCH,
                "a system merges into another system of its own department",
            )
        require(not integrated.is_retired, ErrorCode.SYSTEM_RETIRED, "target system is retired")
        require_not_before(at, integrated.registered_at, "occurred_at")
        self._merge_into(actor=actor, integrated_system_id=integrated.id, occurred_at=at)

    @event(MergedInto)
    def _merge_into(self, actor: Actor, integrated_system_id: UUID, occurred_at: datetime) -> None:
        self.status = SystemStatus.MERGED
        self.integrated_system_id = integrated_system_id

    def decommission(self, actor: Actor, reason: str, at: datetime) -> None:
        """Allowed from any state but decommissioned (a merged system is switched off later)."""
        require(
            self.status is not SystemStatus.DECOMMISSIONED,
            ErrorCode.SYSTEM_RETIRED,
            "system is already decommissioned",
        )
        require_not_before(at, self.registered_at, "occurred_at")
        self._decommission(actor=actor, reason=reason, occurred_at=at)

    @event(Decommissioned)
    def _decommission(self, actor: Actor, reason: str, occurred_at: datetime) -> None:
        self.status = SystemStatus.DECOMMISSIONED

    def record_mlps(self, actor: Actor, mlps_level: int, mlps_filed: bool, at: datetime) -> None:
        """等级保护 level 1–4 and whether it is filed with public security (I2 checks it)."""
        self._require_in_service(at)
        require(
            mlps_level in MLPS_LEVELS, ErrorCode.INVALID_MLPS_LEVEL, f"level {mlps_level} not 1-4"
        )
        if (mlps_level, mlps_filed) == (self.mlps_level, self.mlps_filed):
            return  # unchanged: a retry records nothing
        self._record_mlps(actor=actor, mlps_level=mlps_level, mlps_filed=mlps_filed, occurred_at=at)

    @event(MlpsRecorded)
    def _record_mlps(
        self, actor: Actor, mlps_level: int, mlps_filed: bool, occurred_at: datetime
    ) -> None:
        self.mlps_level = mlps_level
        self.mlps_filed = mlps_filed

    def declare_data_holdings(
        self, actor: Actor, holds_personal_data: bool, holds_important_data: bool, at: datetime
    ) -> None:
        self._require_in_service(at)
        self._declare_data_holdings(
            actor=actor,
            holds_personal_data=holds_personal_data,
            holds_important_data=holds_important_data,
            occurred_at=at,
        )

    @event(DataHoldingsDeclared)
    def _declare_data_holdings(
        self,
        actor: Actor,
        holds_personal_data: bool,
        holds_important_data: bool,
        occurred_at: datetime,
    ) -> None:
        self.holds_personal_data = holds_personal_data
        self.holds_important_data = holds_important_data
