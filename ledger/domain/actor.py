"""Who did it: the actor stored in every event (GB/T 22239-2019 8.1.4.3: user, event, time)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.domain.errors import DomainError, ErrorCode


class Role(StrEnum):
    """Roles of domain.md's actor table."""

    NDRC = "ndrc"
    FINANCE = "finance"
    SECURITY_OFFICER = "security_officer"  # 区网信办 (cac)
    AUDITOR = "auditor"  # 区审计局
    PERFORMANCE_OFFICE = "performance_office"
    APPROVAL_BUREAU = "approval_bureau"
    DEPARTMENT_CLERK = "department_clerk"
    DATA_PROVIDER = "data_provider"
    CIO = "cio"
    EXCHANGE_PLATFORM = "exchange_platform"
    ADMIN = "admin"  # registers departments and manages API keys; reads no records


# Roles that act only for their own department; the application refuses them
# when a command concerns another department.
DEPARTMENT_BOUND_ROLES = frozenset({Role.DEPARTMENT_CLERK, Role.DATA_PROVIDER, Role.CIO})


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal behind a command, as authenticated by the caller.

    ``department_code`` is None for district-level roles (ndrc, finance, …);
    ``client_address`` and ``request_id`` tie the ledger record to the request log.
    """

    actor_id: str
    role: Role
    department_code: str | None
    client_address: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        if not self.actor_id.strip():
            raise DomainError(ErrorCode.INVALID_ACTOR, "actor_id is empty")
        try:
            # Coerce a plain string (an API body, a decoded event) to the enum.
            object.__setattr__(self, "role", Role(self.role))
        except ValueError:
            raise DomainError(ErrorCode.INVALID_ACTOR, f"unknown role {self.role!r}") from None
        if self.role in DEPARTMENT_BOUND_ROLES and not self.department_code:
            raise DomainError(
                ErrorCode.INVALID_ACTOR, f"role {self.role.value} needs a department_code"
            )

    @property
    def is_department_bound(self) -> bool:
        return self.role in DEPARTMENT_BOUND_ROLES
