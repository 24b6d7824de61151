"""The resource catalogue (政务信息资源目录, compiled per the national 编制指南).

A ``Resource`` aggregate is one catalogue entry, keyed by its code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from operator import itemgetter
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.actor import Actor
from ledger.domain.errors import DomainError, ErrorCode, require
from ledger.domain.ids import resource_id
from ledger.domain.values import (
    DatedSinceV2,
    parse_enum,
    require_item_names,
    require_not_before,
    require_text,
)


class Sensitivity(StrEnum):
    """数据安全法 §21 data grades, and PIPL §28 personal / sensitive personal information."""

    GENERAL = "general"
    IMPORTANT = "important"
    CORE = "core"
    PERSONAL = "personal"
    SENSITIVE_PERSONAL = "sensitive_personal"


class SharingType(StrEnum):
    """51号 sharing types."""

    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_SHAREABLE = "not_shareable"


class OpenType(StrEnum):
    """开放属性: open to the public unconditionally, conditionally, or not open."""

    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_OPEN = "not_open"


class UpdateCycle(StrEnum):
    """更新周期 values of the 编制指南."""

    REAL_TIME = "real_time"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    IRREGULAR = "irregular"


class RiskLevel(StrEnum):
    """Risk levels of the 网信办 assessment (高/中/低)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class ResourceItem:
    """One 信息项. ``base_item`` marks the base items of a base resource (S9)."""

    name: str
    sensitivity: Sensitivity
    base_item: bool = False


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What a provider registers for one resource (编制指南 metadata items)."""

    code: str
    name: str
    provider_department: str
    items: Sequence[ResourceItem]
    sharing_type: SharingType
    legal_basis: str | None
    open_type: OpenType
    update_cycle: UpdateCycle
    summary: str = ""
    format: str = ""
    publish_date: date | None = None
    share_condition: str = ""
    share_method: str = ""
    base_resource: bool = False
    related_resource_codes: Sequence[str] = ()


def _check_classification(sharing_type: SharingType, legal_basis: str | None) -> None:
    """51号: a not_shareable classification must cite a law, regulation or central policy."""
    if sharing_type is SharingType.NOT_SHAREABLE and not (legal_basis or "").strip():
        raise DomainError(ErrorCode.LEGAL_BASIS_REQUIRED, "not_shareable needs a legal_basis")


def _check_items(items: Sequence[ResourceItem]) -> tuple[ResourceItem, ...]:
    require_item_names(item.name for item in items)
    return tuple(
        ResourceItem(
            item.name,
            parse_enum(Sensitivity, item.sensitivity, "sensitivity"),
            bool(item.base_item),
        )
        for item in items
    )


class Resource(Aggregate):
    """A catalogue entry: metadata, classification, ownership and risk assessments."""

    class Registered(DatedSinceV2, Aggregate.Created):
        actor: Actor
        code: str
        name: str
        provider_department: str
        items: tuple[ResourceItem, ...]
        sharing_type: SharingType
        legal_basis: str | None
        open_type: OpenType
        update_cycle: UpdateCycle
        summary: str
        format: str
        publish_date: date | None
        share_condition: str
        share_method: str
        base_resource: bool
        related_resource_codes: tuple[str, ...]
        occurred_at: datetime

    class OwnerAssigned(DatedSinceV2, Aggregate.Event):
        actor: Actor
        owner_department: str
        occurred_at: datetime

    class ControllerAssigned(DatedSinceV2, Aggregate.Event):
        actor: Actor
        controller: str
        occurred_at: datetime

    class Reclassified(DatedSinceV2, Aggregate.Event):
        actor: Actor
        sharing_type: SharingType
        legal_basis: str | None
        share_condition: str
        reason: str
        occurred_at: datetime

    class RiskAssessed(DatedSinceV2, Aggregate.Event):
        actor: Actor
        reference: str
        risk_level: RiskLevel
        summary: str
        occurred_at: datetime

    @staticmethod
    def create_id(code: str) -> UUID:
        return resource_id(code)

    @classmethod
    def register(cls, actor: Actor, entry: CatalogueEntry, occurred_at: datetime) -> Resource:
        """Validate and create. Missing metadata is allowed: S10 finds it later."""
        sharing = parse_enum(SharingType, entry.sharing_type, "sharing_type")
        _check_classification(sharing, entry.legal_basis)
        return cls(
            actor=actor,
            code=require_text(entry.code, "code"),
            name=require_text(entry.name, "name"),
            provider_department=require_text(entry.provider_department, "provider_department"),
            items=_check_items(entry.items),
            sharing_type=sharing,
            legal_basis=entry.legal_basis,
            open_type=parse_enum(OpenType, entry.open_type, "open_type"),
            update_cycle=parse_enum(UpdateCycle, entry.update_cycle, "update_cycle"),
            summary=entry.summary,
            format=entry.format,
            publish_date=entry.publish_date,
            share_condition=entry.share_condition,
            share_method=entry.share_method,
            base_resource=entry.base_resource,
            related_resource_codes=tuple(entry.related_resource_codes),
            occurred_at=occurred_at,
        )

    @event(Registered)
    def __init__(
        self,
        *,
        actor: Actor,
        code: str,
        name: str,
        provider_department: str,
        items: tuple[ResourceItem, ...],
        sharing_type: SharingType,
        legal_basis: str | None,
        open_type: OpenType,
        update_cycle: UpdateCycle,
        summary: str,
        format: str,
        publish_date: date | None,
        share_condition: str,
        share_method: str,
        base_resource: bool,
        related_resource_codes: tuple[str, ...],
        occurred_at: datetime,
    ) -> None:
        # Enum and tuple coercions: decoded JSON gives plain strings and lists.
        self.code = code
        self.name = name
        self.provider_department = provider_department
        self.items: tuple[ResourceItem, ...] = tuple(items)
        self.sharing_type = SharingType(sharing_type)
        self.legal_basis = legal_basis
        self.open_type = OpenType(open_type)
        self.update_cycle = UpdateCycle(update_cycle)
        self.summary = summary
        self.format = format
        self.publish_date = publish_date
        self.share_condition = share_condition
        self.share_method = share_method
        self.base_resource = base_resource
        self.related_resource_codes: tuple[str, ...] = tuple(related_resource_codes)
        self.registered_at = occurred_at
        # Each classification with the business time it is in force from (docs/facts.md
        # §1), sorted by it: security.access judges an access by the one at its time.
        self.classified: tuple[tuple[datetime, SharingType], ...] = (
            (occurred_at, self.sharing_type),
        )
        self.owner_department: str | None = None
        self.controller: str | None = None
        self.risk_assessments: tuple[str, ...] = ()
        self.risk_level: RiskLevel | None = None
        # Each recorded reference's (level, summary): a replay of it is recognised as one.
        self._assessed: dict[str, tuple[RiskLevel, str]] = {}

    @property
    def item_names(self) -> frozenset[str]:
        return frozenset(item.name for item in self.items)

    def items_with(self, sensitivity: Sensitivity) -> frozenset[str]:
        return frozenset(item.name for item in self.items if item.sensitivity is sensitivity)

    def assign_owner(self, actor: Actor, owner_department: str, at: datetime) -> None:
        """Seed §三(五)16: ownership is made explicit; 51号: it stays with the provider."""
        require_not_before(at, self.registered_at, "occurred_at")
        require(
            owner_department == self.provider_department,
            ErrorCode.OWNER_MUST_BE_PROVIDER,
            f"owner {owner_department!r} is not provider {self.provider_department!r}",
        )
        if owner_department != self.owner_department:  # the same owner again records nothing
            self._assign_owner(actor=actor, owner_department=owner_department, occurred_at=at)

    @event(OwnerAssigned)
    def _assign_owner(self, actor: Actor, owner_department: str, occurred_at: datetime) -> None:
        self.owner_department = owner_department

    def assign_controller(self, actor: Actor, controller: str, at: datetime) -> None:
        """Control right: the custodian department code or system id (seed §三(五)16)."""
        controller = require_text(controller, "controller")
        require_not_before(at, self.registered_at, "occurred_at")
        if controller != self.controller:  # the same controller again records nothing
            self._assign_controller(actor=actor, controller=controller, occurred_at=at)

    @event(ControllerAssigned)
    def _assign_controller(self, actor: Actor, controller: str, occurred_at: datetime) -> None:
        self.controller = controller

    def reclassify(
        self,
        actor: Actor,
        sharing_type: SharingType,
        legal_basis: str | None,
        share_condition: str,
        reason: str,
        at: datetime,
    ) -> None:
        sharing = parse_enum(SharingType, sharing_type, "sharing_type")
        _check_classification(sharing, legal_basis)
        require_not_before(at, self.registered_at, "occurred_at")
        unchanged = (sharing, legal_basis, share_condition) == (
            self.sharing_type,
            self.legal_basis,
            self.share_condition,
        )
        if unchanged:
            return  # classified so already: a retry (whatever its reason) records nothing
        self._reclassify(
            actor=actor,
            sharing_type=sharing,
            legal_basis=legal_basis,
            share_condition=share_condition,
            reason=reason,
            occurred_at=at,
        )

    @event(Reclassified)
    def _reclassify(
        self,
        actor: Actor,
        sharing_type: SharingType,
        legal_basis: str | None,
        share_condition: str,
        reason: str,
        occurred_at: datetime,
    ) -> None:
        self.sharing_type = SharingType(sharing_type)
        self.legal_basis = legal_basis
        self.share_condition = share_condition
        classified = (*self.classified, (occurred_at, self.sharing_type))
        self.classified = tuple(sorted(classified, key=itemgetter(0)))  # stable: ties in order

    def record_risk_assessment(
        self, actor: Actor, reference: str, risk_level: RiskLevel, summary: str, at: datetime
    ) -> bool:
        """网信办's sharing risk assessment (seed §三(五)16; S12, D2 look for it).

        Once per reference: the 网信办 document number names one assessment, so the
        same reference, level and summary again is a replay (nothing recorded, False);
        the reference with another level or summary is refused (a revised assessment
        is a new document with its own number).
        """
        reference = require_text(reference, "reference")
        level = parse_enum(RiskLevel, risk_level, "risk_level")
        recorded = self._assessed.get(reference)
        if recorded is not None:
            require(
                recorded == (level, summary),
                ErrorCode.RISK_ASSESSMENT_EXISTS,
                f"risk assessment {reference!r} of {self.code} is recorded with another "
                "level or summary",
            )
            return False
        require_not_before(at, self.registered_at, "occurred_at")
        self._record_risk_assessment(
            actor=actor, reference=reference, risk_level=level, summary=summary, occurred_at=at
        )
        return True

    @event(RiskAssessed)
    def _record_risk_assessment(
        self,
        actor: Actor,
        reference: str,
        risk_level: RiskLevel,
        summary: str,
        occurred_at: datetime,
    ) -> None:
        self.risk_assessments = (*self.risk_assessments, reference)
        self.risk_level = RiskLevel(risk_level)
        self._assessed = {**self._assessed, reference: (self.risk_level, summary)}
