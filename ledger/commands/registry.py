"""Commands on departments, information systems and the catalogue (seed §三(一), §三(二)).

Each takes an optional business time (``occurred_at``: when it happened,
docs/facts.md §1); without it, the command's own time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.commands.base import LedgerBase
from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Actor, Role
from ledger.domain.catalogue import CatalogueEntry, Resource, RiskLevel, SharingType
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.ids import department_id, resource_id
from ledger.domain.organisation import (
    Department,
    InformationSystem,
    SystemInventory,
    ZombieReason,
)
from ledger.idempotency import create_id_for

# Who may record a department's CIO (I6's input).
CIO_NAMERS = DEPARTMENT_BOUND_ROLES | {Role.NDRC, Role.ADMIN}


class RegistryCommands(LedgerBase):
    """Departments, their systems, and the resource catalogue."""

    # -- queries by id -------------------------------------------------------

    def department(self, code: str) -> Department:
        return self._load(Department, department_id(code), ErrorCode.UNKNOWN_DEPARTMENT)

    def system(self, system_id: UUID) -> InformationSystem:
        return self._load(InformationSystem, system_id, ErrorCode.UNKNOWN_SYSTEM)

    def resource(self, code: str) -> Resource:
        return self._load(Resource, resource_id(code), ErrorCode.UNKNOWN_RESOURCE)

    # -- departments ---------------------------------------------------------

    def register_department(
        self, actor: Actor, code: str, name: str, *, occurred_at: datetime | None = None
    ) -> UUID:
        self._check_acts_for(actor, code)
        at = self.business_time(occurred_at, "occurred_at")
        if self._exists(department_id(code)):
            raise DomainError(ErrorCode.DEPARTMENT_EXISTS, f"department {code!r} exists")
        department = Department.register(actor, code, name, at)
        self.save(department)
        return department.id

    def name_cio(
        self,
        actor: Actor,
        department_code: str,
        cio_name: str,
        cio_actor_id: str | None = None,
        *,
        occurred_at: datetime | None = None,
    ) -> None:
        """Seed 四(四): the department names its 信息主管 — itself, or ndrc or the admin
        for it; no other role (the API narrows it to the admin: security/policy.py)."""
        self._require_role(actor, CIO_NAMERS, "name a department's CIO")
        self._check_acts_for(actor, department_code)
        at = self.business_time(occurred_at, "occurred_at")
        department = self.department(department_code)
        department.name_cio(actor, cio_name, cio_actor_id, at)
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
        occurred_at: datetime | None = None,
    ) -> UUID:
        """Seed §三(一)1: a department inventories its systems (once per Idempotency-Key)."""
        self._check_acts_for(actor, department_code)
        at = self.business_time(occurred_at, "occurred_at")
        self._require_department(department_code)
        system = InformationSystem.register(
            actor,
            department_code,
            inventory,
            occurred_at=at,
            required_to_connect=required_to_connect,
            holds_personal_data=holds_personal_data,
            holds_important_data=holds_important_data,
            aggregate_id=create_id_for("system", actor, idempotency_key),
        )
        return self._save_created(system, idempotency_key)

    def _change_system(
        self,
        actor: Actor,
        system_id: UUID,
        occurred_at: datetime | None,
        change: Callable[[InformationSystem, datetime], None],
    ) -> None:
        at = self.business_time(occurred_at, "occurred_at")
        system = self.system(system_id)
        self._check_acts_for(actor, system.department)
        change(system, at)
        self.save(system)

    def set_connection_requirement(
        self,
        actor: Actor,
        system_id: UUID,
        required_to_connect: bool,
        *,
        evidence: str = "",
        occurred_at: datetime | None = None,
    ) -> None:
        """ndrc's listing; ``evidence`` (issue 14): on what, e.g. the listing's 文号."""
        self._change_system(
            actor,
            system_id,
            occurred_at,
            lambda s, at: s.set_connection_requirement(actor, required_to_connect, at, evidence),
        )

    def connect_system(
        self,
        actor: Actor,
        system_id: UUID,
        *,
        evidence: str = "",
        occurred_at: datetime | None = None,
    ) -> None:
        """The platform's fact; ``evidence``: e.g. its connection record id."""
        self._change_system(
            actor, system_id, occurred_at, lambda s, at: s.connect(actor, at, evidence)
        )

    def move_system_on_cloud(
        self, actor: Actor, system_id: UUID, *, occurred_at: datetime | None = None
    ) -> None:
        self._change_system(actor, system_id, occurred_at, lambda s, at: s.move_on_cloud(actor, at))

    def mark_system_zombie(
        self,
        actor: Actor,
        system_id: UUID,
        reasons: Sequence[ZombieReason],
        *,
        evidence: str = "",
        occurred_at: datetime | None = None,
    ) -> None:
        """ndrc's mark; ``evidence``: e.g. the 文号 of the finding."""
        self._change_system(
            actor, system_id, occurred_at, lambda s, at: s.mark_zombie(actor, reasons, at, evidence)
        )

    def merge_system(
        self,
        actor: Actor,
        system_id: UUID,
        integrated_system_id: UUID,
        *,
        occurred_at: datetime | None = None,
    ) -> None:
        integrated = self.system(integrated_system_id)
        self._change_system(
            actor, system_id, occurred_at, lambda s, at: s.merge_into(actor, integrated, at)
        )

    def decommission_system(
        self, actor: Actor, system_id: UUID, reason: str, *, occurred_at: datetime | None = None
    ) -> None:
        self._change_system(
            actor, system_id, occurred_at, lambda s, at: s.decommission(actor, reason, at)
        )

    def record_mlps(
        self,
        actor: Actor,
        system_id: UUID,
        mlps_level: int,
        mlps_filed: bool,
        *,
        occurred_at: datetime | None = None,
    ) -> None:
        self._change_system(
            actor,
            system_id,
            occurred_at,
            lambda s, at: s.record_mlps(actor, mlps_level, mlps_filed, at),
        )

    def declare_data_holdings(
        self,
        actor: Actor,
        system_id: UUID,
        holds_personal_data: bool,
        holds_important_data: bool,
        *,
        occurred_at: datetime | None = None,
    ) -> None:
        self._change_system(
            actor,
            system_id,
            occurred_at,
            lambda s, at: s.declare_data_holdings(
                actor, holds_personal_data, holds_important_data, at
            ),
        )

    # -- catalogue -----------------------------------------------------------

    def register_resource(
        self, actor: Actor, entry: CatalogueEntry, *, occurred_at: datetime | None = None
    ) -> UUID:
        """Seed §三(二)5: providers list their resources in the catalogue."""
        self._check_acts_for(actor, entry.provider_department)
        at = self.business_time(occurred_at, "occurred_at")
        self._require_department(entry.provider_department)
        if self._exists(resource_id(entry.code)):
            raise DomainError(ErrorCode.RESOURCE_EXISTS, f"resource {entry.code!r} exists")
        resource = Resource.register(actor, entry, at)
        self.save(resource)
        return resource.id

    def _change_resource(
        self,
        actor: Actor,
        code: str,
        occurred_at: datetime | None,
        change: Callable[[Resource, datetime], None],
    ) -> None:
        at = self.business_time(occurred_at, "occurred_at")
        resource = self.resource(code)
        self._check_acts_for(actor, resource.provider_department)
        change(resource, at)
        self.save(resource)

    def assign_resource_owner(
        self, actor: Actor, code: str, owner_department: str, *, occurred_at: datetime | None = None
    ) -> None:
        self._change_resource(
            actor, code, occurred_at, lambda r, at: r.assign_owner(actor, owner_department, at)
        )

    def assign_resource_controller(
        self, actor: Actor, code: str, controller: str, *, occurred_at: datetime | None = None
    ) -> None:
        self._change_resource(
            actor, code, occurred_at, lambda r, at: r.assign_controller(actor, controller, at)
        )

    def reclassify_resource(
        self,
        actor: Actor,
        code: str,
        *,
        sharing_type: SharingType,
        legal_basis: str | None,
        share_condition: str,
        reason: str,
        occurred_at: datetime | None = None,
    ) -> None:
        self._change_resource(
            actor,
            code,
            occurred_at,
            lambda r, at: r.reclassify(
                actor, sharing_type, legal_basis, share_condition, reason, at
            ),
        )

    def record_risk_assessment(
        self,
        actor: Actor,
        code: str,
        reference: str,
        risk_level: RiskLevel,
        summary: str,
        *,
        occurred_at: datetime | None = None,
    ) -> bool:
        """Seed §三(五)16: the 网信办 (security_officer) assesses sharing risk.

        Once per (resource, reference): a replay records nothing and returns False
        (``Resource.record_risk_assessment``). A replay racing its original loses on
        the event store's unique (id, version) and is judged again on the stored state.
        """
        self._require_role(actor, {Role.SECURITY_OFFICER}, "record a risk assessment")
        at = self.business_time(occurred_at, "occurred_at")
        try:
            return self._assess(actor, code, reference, risk_level, summary, at)
        except IntegrityError:  # another change of the resource won: judge again on it
            return self._assess(actor, code, reference, risk_level, summary, at)

    def _assess(
        self,
        actor: Actor,
        code: str,
        reference: str,
        risk_level: RiskLevel,
        summary: str,
        at: datetime,
    ) -> bool:
        resource = self.resource(code)
        self._check_acts_for(actor, resource.provider_department)
        if not resource.record_risk_assessment(actor, reference, risk_level, summary, at):
            return False
        self.save(resource)
        return True
