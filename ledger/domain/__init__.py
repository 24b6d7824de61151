"""Aggregates and events of the ledger, with English identifiers from docs/domain.md.

Every event carries the :class:`Actor` who caused it. Commands by people are
checked here and refused with :class:`DomainError`; facts (data accesses) are
recorded whatever their verdict.
"""

from ledger.domain.access import (
    AccessReason,
    AccessReport,
    AccessVerdict,
    DataAccess,
)
from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Actor, Role
from ledger.domain.calendar import ResponseDeadlinePolicy, WorkingCalendar
from ledger.domain.catalogue import (
    CatalogueEntry,
    OpenType,
    Resource,
    ResourceItem,
    RiskLevel,
    Sensitivity,
    SharingType,
    UpdateCycle,
)
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.funding import (
    FilingStatus,
    FundDecision,
    FundKind,
    FundOutcome,
    ProjectFiling,
)
from ledger.domain.organisation import (
    Department,
    InformationSystem,
    SystemInventory,
    SystemStatus,
    ZombieReason,
)
from ledger.domain.review import AnomalyReview, ReviewAction, ReviewStatus
from ledger.domain.sharing import RequestStatus, SharingRequest

__all__ = [
    "DEPARTMENT_BOUND_ROLES",
    "AccessReason",
    "AccessReport",
    "AccessVerdict",
    "Actor",
    "AnomalyReview",
    "CatalogueEntry",
    "DataAccess",
    "Department",
    "DomainError",
    "ErrorCode",
    "FilingStatus",
    "FundDecision",
    "FundKind",
    "FundOutcome",
    "InformationSystem",
    "OpenType",
    "ProjectFiling",
    "RequestStatus",
    "Resource",
    "ResourceItem",
    "ResponseDeadlinePolicy",
    "ReviewAction",
    "ReviewStatus",
    "RiskLevel",
    "Role",
    "Sensitivity",
    "SharingRequest",
    "SharingType",
    "SystemInventory",
    "SystemStatus",
    "UpdateCycle",
    "WorkingCalendar",
    "ZombieReason",
]
