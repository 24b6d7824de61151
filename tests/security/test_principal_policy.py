"""Principals and the permission table: who may do what, and for which department."""

from __future__ import annotations

import pytest

from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Actor, Role
from ledger.errors import LedgerError
from security.policy import (
    POLICY,
    Permission,
    authorize,
    format_matrix,
    is_allowed,
    permission_matrix,
    permissions_of,
)
from security.principal import (
    CredentialKind,
    InvalidPrincipalError,
    PermissionDenied,
    Principal,
    SecurityCode,
)


def principal(role: Role, department: str | None = None) -> Principal:
    return Principal(f"user-{role.value}", role, department, "cred-1", CredentialKind.JWT)


def any_principal(role: Role) -> Principal:
    return principal(role, "D01" if role in DEPARTMENT_BOUND_ROLES else None)


# -- principal ---------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(DEPARTMENT_BOUND_ROLES))
def test_department_bound_roles_need_a_department(role: Role) -> None:
    with pytest.raises(InvalidPrincipalError, match="needs a department"):
        principal(role, None)
    with pytest.raises(InvalidPrincipalError):
        principal(role, "  ")


def test_district_roles_take_no_department() -> None:
    with pytest.raises(InvalidPrincipalError, match="district-level"):
        principal(Role.FINANCE, "D01")


def test_unknown_role_and_empty_subject_are_refused() -> None:
    with pytest.raises(InvalidPrincipalError, match="unknown role"):
        Principal("u", "superuser", None, "c", CredentialKind.API_KEY)  # type: ignore[arg-type]
    with pytest.raises(InvalidPrincipalError, match="subject"):
        Principal(" ", Role.NDRC, None, "c", CredentialKind.API_KEY)
    with pytest.raises(InvalidPrincipalError, match="credential"):
        Principal("u", Role.NDRC, None, "", CredentialKind.API_KEY)


def test_role_given_as_text_becomes_the_enum() -> None:
    p = Principal("u", "auditor", None, "c", CredentialKind.JWT)  # type: ignore[arg-type]
    assert p.role is Role.AUDITOR


def test_to_actor_carries_request_context() -> None:
    p = principal(Role.DATA_PROVIDER, "D07")
    actor = p.to_actor(client_address="10.0.0.8", request_id="req-42")
    assert actor == Actor("user-data_provider", Role.DATA_PROVIDER, "D07", "10.0.0.8", "req-42")
    assert actor.is_department_bound
    assert principal(Role.NDRC).to_actor().department_code is None


# -- the table ---------------------------------------------------------------


def test_every_permission_has_a_row_and_the_matrix_prints() -> None:
    assert set(POLICY) == set(Permission)
    text = format_matrix()
    print(text)  # the review artefact: pytest -s shows it
    for p in Permission:
        assert p.value in text
    matrix = permission_matrix()
    assert set(matrix) == set(Role)
    assert all(set(row) == set(Permission) for row in matrix.values())


def test_table_follows_the_issue() -> None:
    assert permissions_of(Role.EXCHANGE_PLATFORM) == {
        Permission.INGEST_ACCESS,
        Permission.REPORT_REFRESH,  # S11: only the platform sees a refresh land
        Permission.RECORD_CONNECTION,  # issue 14: the platform's fact, not the department's
    }
    assert permissions_of(Role.FINANCE) == {Permission.DECIDE_FUNDS, Permission.READ_AUDIT_VIEWS}
    assert Permission.REVIEW_PROJECT in permissions_of(Role.NDRC)
    auditor = permissions_of(Role.AUDITOR)
    reads = {p for p in Permission if p.value.startswith("read_")}
    assert reads | {Permission.VERIFY, Permission.EXPORT} <= auditor
    assert not auditor & {Permission.DECIDE_FUNDS, Permission.INGEST_ACCESS}
    officer = permissions_of(Role.SECURITY_OFFICER)
    assert {
        Permission.READ_ANOMALIES,
        Permission.REVIEW_ANOMALY,
        Permission.RECORD_RISK_ASSESSMENT,
    } <= officer
    # Admin manages departments and keys, and reads no records.
    assert POLICY[Permission.MANAGE_KEYS] == frozenset({Role.ADMIN})
    assert POLICY[Permission.MANAGE_DEPARTMENTS] == frozenset({Role.ADMIN})
    # The console's ledger-health page shows only what is public (head, checkpoints).
    assert permissions_of(Role.ADMIN) == {
        Permission.MANAGE_KEYS,
        Permission.MANAGE_DEPARTMENTS,
        Permission.OPEN_CONSOLE,
    }
    # Departments never read the raw feed or personal-data views.
    for role in DEPARTMENT_BOUND_ROLES:
        assert Permission.READ_LEDGER_FEED not in permissions_of(role)
        assert Permission.READ_PERSONAL_DATA_VIEWS not in permissions_of(role)


# -- authorize ---------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_authorize_agrees_with_the_table(role: Role, permission: Permission) -> None:
    p = any_principal(role)
    if role in POLICY[permission]:
        authorize(p, permission)
        assert is_allowed(p, permission)
    else:
        with pytest.raises(PermissionDenied) as caught:
            authorize(p, permission)
        assert caught.value.code is SecurityCode.ROLE_NOT_PERMITTED
        assert not is_allowed(p, permission)


def test_refusal_is_a_typed_ledger_error_with_a_machine_code() -> None:
    with pytest.raises(LedgerError) as caught:
        authorize(principal(Role.DEPARTMENT_CLERK, "D01"), Permission.DECIDE_FUNDS)
    error = caught.value
    assert isinstance(error, PermissionDenied)
    assert error.code == "role_not_permitted"
    assert error.detail == "role department_clerk may not decide_funds"


def test_department_bound_principal_acts_only_for_its_department() -> None:
    clerk = principal(Role.DEPARTMENT_CLERK, "D01")
    authorize(clerk, Permission.SUBMIT_REQUEST, department="D01")
    with pytest.raises(PermissionDenied) as caught:
        authorize(clerk, Permission.SUBMIT_REQUEST, department="D02")
    assert caught.value.code is SecurityCode.DEPARTMENT_MISMATCH
    assert "D02" in caught.value.detail
    # Role is checked before department: a wrong role is not reported as a mismatch.
    with pytest.raises(PermissionDenied) as caught:
        authorize(clerk, Permission.DECIDE_REQUEST, department="D02")
    assert caught.value.code is SecurityCode.ROLE_NOT_PERMITTED


def test_district_roles_act_for_any_department() -> None:
    authorize(principal(Role.NDRC), Permission.REGISTER_CATALOGUE, department="D09")
    authorize(principal(Role.FINANCE), Permission.DECIDE_FUNDS, department="D03")
