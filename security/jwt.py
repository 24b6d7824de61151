"""Bearer JWTs from the district's existing OIDC provider, verified with PyJWT.

Claims
    ``iss`` must equal ``Settings.jwt_issuer``; ``aud`` must contain
    ``Settings.jwt_audience``; ``exp`` and ``sub`` are required; ``nbf`` and
    ``iat`` are honoured when present. Clock skew up to 60 s is tolerated.
    ``govledger_role`` (required) names a :class:`~ledger.domain.actor.Role`
    value; ``govledger_department`` (required for department_clerk,
    data_provider and cio) is the department code. For district-level roles a
    department claim is ignored: those roles act for the whole district.
    ``jti``, when present, is the credential id; otherwise ``sub`` is.

Algorithms
    Only asymmetric signatures that fit the configured public key. ``none``
    and the HMAC family are refused even if configured: with HMAC, anyone
    holding the verification key (here, a public key) could mint tokens.
    The allowed list is also narrowed to the key's type (RSA: RS*/PS*; EC:
    the ES* of its curve; Ed25519/Ed448: EdDSA), closing algorithm-confusion
    attacks before PyJWT ever sees the header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import jwt as pyjwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ledger.config import Settings
from ledger.domain.actor import DEPARTMENT_BOUND_ROLES
from ledger.errors import ConfigurationError
from security.principal import (
    AuthenticationFailed,
    CredentialKind,
    InvalidPrincipalError,
    Principal,
    SecurityCode,
    parse_role,
)

CLAIM_ROLE: Final = "govledger_role"
CLAIM_DEPARTMENT: Final = "govledger_department"
REQUIRED_CLAIMS: Final = ("exp", "iss", "aud", "sub")
MAX_LEEWAY_SECONDS: Final = 60
MAX_SUBJECT_LENGTH: Final = 255
# API-key principals are "apikey:<id>"; a token must not pose as one in the records.
RESERVED_SUBJECT_PREFIX: Final = "apikey:"

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)

_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS: Final = {
    "secp256r1": frozenset({"ES256"}),
    "secp384r1": frozenset({"ES384"}),
    "secp521r1": frozenset({"ES512", "ES521"}),
    "secp256k1": frozenset({"ES256K"}),
}
_ALWAYS_REFUSED: Final = frozenset({"none", "HS256", "HS384", "HS512"})


def algorithms_for_key(key: PublicKey) -> frozenset[str]:
    """The signature algorithms that can be verified with ``key``."""
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _EC_ALGORITHMS.get(key.curve.name, frozenset())
    return frozenset({"EdDSA"})


def accepted_algorithms(configured: Iterable[str], key: PublicKey) -> list[str]:
    """Configured algorithms, checked: never none/HMAC, only those the key can verify."""
    names = [a.strip() for a in configured if a.strip()]
    refused = sorted({a for a in names if a in _ALWAYS_REFUSED or a.upper().startswith("HS")})
    if refused:
        raise ConfigurationError(
            f"GOVLEDGER_JWT_ALGORITHMS: {', '.join(refused)} refused (none and HMAC never allowed)"
        )
    fitting = sorted(set(names) & algorithms_for_key(key))
    if not fitting:
        raise ConfigurationError(
            f"GOVLEDGER_JWT_ALGORITHMS={','.join(names)} has no algorithm for the issuer's key"
        )
    return fitting


def load_public_key(path: str) -> PublicKey:
    """The issuer's key from a PEM public key or certificate file."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigurationError(f"cannot read JWT public key file {path}: {e.strerror}") from e
    try:
        if b"BEGIN CERTIFICATE" in data:
            key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = load_pem_public_key(data)
    except ValueError as e:
        raise ConfigurationError(f"{path} is not a PEM public key or certificate") from e
    if not isinstance(key, PublicKey):
        raise ConfigurationError(f"{path}: JWTs need an RSA, EC or EdDSA public key")
    return key


class JwtVerifier:
    """Turns a bearer JWT into a :class:`Principal`, or raises AuthenticationFailed."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key: PublicKey,
        algorithms: Iterable[str],
        leeway_seconds: int = MAX_LEEWAY_SECONDS,
    ) -> None:
        if not issuer or not audience:
            raise ConfigurationError("JWTs need both an issuer and an audience")
        if not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ConfigurationError(f"JWT clock skew must be 0..{MAX_LEEWAY_SECONDS} s")
        self.issuer = issuer
        self.audience = audience
        self.public_key = public_key
        self.algorithms = accepted_algorithms(algorithms, public_key)
        self.leeway = leeway_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier | None:
        """None when no issuer is configured (API keys only)."""
        if not settings.jwt_issuer:
            return None
        if not settings.jwt_public_key_file:
            raise ConfigurationError(
                "GOVLEDGER_JWT_ISSUER is set but GOVLEDGER_JWT_PUBLIC_KEY_FILE is not"
            )
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            public_key=load_public_key(settings.jwt_public_key_file),
            algorithms=settings.jwt_algorithms.split(","),
        )

    def verify(self, token: str) -> Principal:
        return principal_from_claims(self.decode(token))

    def decode(self, token: str) -> dict[str, Any]:
        """Verified claims; every PyJWT failure becomes a non-leaking AuthenticationFailed."""
        try:
            claims: dict[str, Any] = pyjwt.decode(
                token,
                self.public_key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except pyjwt.PyJWTError as e:
            raise _failure(e) from None
        return claims


def _failure(error: pyjwt.PyJWTError) -> AuthenticationFailed:
    """One message per kind of failure; never the token, never PyJWT's own text."""
    if isinstance(error, pyjwt.ExpiredSignatureError):
        return AuthenticationFailed(SecurityCode.EXPIRED_CREDENTIALS, "the token has expired")
    if isinstance(error, pyjwt.MissingRequiredClaimError):
        return AuthenticationFailed(
            SecurityCode.INVALID_CREDENTIALS, f"the token has no {error.claim!r} claim"
        )
    messages: list[tuple[type[pyjwt.PyJWTError], str]] = [
        (pyjwt.InvalidIssuerError, "the token's issuer is not accepted"),
        (pyjwt.InvalidAudienceError, "the token's audience is not accepted"),
        (pyjwt.InvalidAlgorithmError, "the token's signature algorithm is not accepted"),
        (pyjwt.InvalidSignatureError, "the token's signature does not verify"),
        (pyjwt.ImmatureSignatureError, "the token is not valid yet"),
    ]
    for kind, message in messages:
        if isinstance(error, kind):
            return AuthenticationFailed(SecurityCode.INVALID_CREDENTIALS, message)
    if isinstance(error, pyjwt.DecodeError):
        return AuthenticationFailed(SecurityCode.MALFORMED_CREDENTIALS, "not a well-formed JWT")
    return AuthenticationFailed(SecurityCode.INVALID_CREDENTIALS, "the token is not accepted")


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Role and department from the govledger claims of a verified token."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_LENGTH:
        raise AuthenticationFailed(SecurityCode.INVALID_CREDENTIALS, "the token's sub is unusable")
    if subject.startswith(RESERVED_SUBJECT_PREFIX):
        raise AuthenticationFailed(SecurityCode.INVALID_CREDENTIALS, "the token's sub is reserved")
    try:
        role = parse_role(claims.get(CLAIM_ROLE))
    except InvalidPrincipalError:
        raise AuthenticationFailed(
            SecurityCode.INVALID_CREDENTIALS, f"the token's {CLAIM_ROLE} is not a known role"
        ) from None
    department = claims.get(CLAIM_DEPARTMENT) if role in DEPARTMENT_BOUND_ROLES else None
    if department is not None and not isinstance(department, str):
        department = None
    jti = claims.get("jti")
    credential = jti if isinstance(jti, str) and jti.strip() else subject
    try:
        return Principal(subject, role, department, credential, CredentialKind.JWT)
    except InvalidPrincipalError as e:
        raise AuthenticationFailed(
            SecurityCode.INVALID_CREDENTIALS, f"the token: {e.detail}"
        ) from None
