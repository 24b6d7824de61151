"""Who is asking: the authenticated principal, and the typed errors of asking.

A :class:`Principal` is what authentication (API key or bearer JWT) yields and
what authorization (:mod:`security.policy`) judges. It is not stored; the
domain :class:`~ledger.domain.actor.Actor` it turns into is, in every event
(GB/T 22239-2019 8.1.4.3: each record names its user).

The errors live here, the lowest module of the package, so that key store,
JWT verifier, authenticator and policy raise the same types without
importing one another. Each carries a stable machine ``code`` and a
``detail`` for people; an API layer maps :class:`AuthenticationFailed` to
401 and :class:`PermissionDenied` to 403 ``{"error": code, "detail": detail}``.
No detail ever contains a token or a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledger.domain.actor import DEPARTMENT_BOUND_ROLES, Actor, Role
from ledger.errors import LedgerError


class SecurityCode(StrEnum):
    """The closed set of machine codes of security failures."""

    # Authentication (401).
    MISSING_CREDENTIALS = "missing_credentials"
    MALFORMED_CREDENTIALS = "malformed_credentials"
    INVALID_CREDENTIALS = "invalid_credentials"
    EXPIRED_CREDENTIALS = "expired_credentials"
    REVOKED_CREDENTIALS = "revoked_credentials"
    # Authorization (403); values shared with ledger.domain.errors.ErrorCode.
    ROLE_NOT_PERMITTED = "role_not_permitted"
    DEPARTMENT_MISMATCH = "department_mismatch"
    # Key management (operator input).
    INVALID_PRINCIPAL = "invalid_principal"
    UNKNOWN_KEY = "unknown_key"


class SecurityError(LedgerError):
    """A security failure with a stable ``code`` and a non-leaking ``detail``."""

    def __init__(self, code: SecurityCode, detail: str) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail


class AuthenticationFailed(SecurityError):  # noqa: N818 - the name the API maps to 401
    """No acceptable credential: the API answers 401."""


class PermissionDenied(SecurityError):  # noqa: N818 - the name the API maps to 403
    """An authenticated principal may not do this: the API answers 403."""


class InvalidPrincipalError(SecurityError):
    """A role/department combination that no credential may carry (bad operator input)."""

    def __init__(self, detail: str) -> None:
        super().__init__(SecurityCode.INVALID_PRINCIPAL, detail)


class UnknownApiKeyError(SecurityError):
    """An operator named an API key id that does not exist."""

    def __init__(self, key_id: str) -> None:
        super().__init__(SecurityCode.UNKNOWN_KEY, f"no API key with id {key_id!r}")
        self.key_id = key_id


class CredentialKind(StrEnum):
    """How the principal proved who it is; recorded nowhere but useful in logs."""

    API_KEY = "api_key"
    JWT = "jwt"


def parse_role(value: object) -> Role:
    """A :class:`Role` from untrusted text, or :class:`InvalidPrincipalError` naming the choices."""
    try:
        return Role(str(value))
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidPrincipalError(f"unknown role {str(value)[:40]!r} (one of: {known})") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``department_code`` is required for department-bound roles
    (department_clerk, data_provider, cio) and always None for district-level
    roles, so that the policy's department check and the recorded
    :class:`Actor` never disagree. ``credential_id`` is the API key id or the
    JWT's ``jti`` (its ``sub`` when it has none): enough to find and revoke
    the credential, never the secret itself.
    """

    subject: str
    role: Role
    department_code: str | None
    credential_id: str
    kind: CredentialKind

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", parse_role(self.role))
        if not self.subject.strip():
            raise InvalidPrincipalError("the subject id is empty")
        if not self.credential_id.strip():
            raise InvalidPrincipalError("the credential id is empty")
        check_department(self.role, self.department_code)

    @property
    def is_department_bound(self) -> bool:
        return self.role in DEPARTMENT_BOUND_ROLES

    def to_actor(self, client_address: str | None = None, request_id: str | None = None) -> Actor:
        """The domain actor that the events of this request record."""
        return Actor(
            actor_id=self.subject,
            role=self.role,
            department_code=self.department_code,
            client_address=client_address,
            request_id=request_id,
        )


def check_department(role: Role, department_code: str | None) -> None:
    """Department-bound roles need a department; district roles must not have one."""
    if role in DEPARTMENT_BOUND_ROLES:
        if not (department_code and department_code.strip()):
            raise InvalidPrincipalError(f"role {role.value} needs a department code")
    elif department_code is not None:
        raise InvalidPrincipalError(
            f"role {role.value} is district-level and takes no department code"
        )
