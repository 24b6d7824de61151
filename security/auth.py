"""From an ``Authorization`` header to a :class:`Principal`.

One scheme, ``Bearer`` (RFC 6750), carries both kinds of credential: a token
starting ``glk_`` is an API key, anything else is tried as a JWT (when an
issuer is configured). Every failure is :class:`AuthenticationFailed` with a
message that names what was wrong and never repeats the credential. The
header is refused by length before any parsing, so an oversized value costs
nothing but a ``len``.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Final

from ledger.config import Settings
from security.apikeys import TOKEN_PREFIX, ApiKeys, open_api_keys
from security.jwt import JwtVerifier
from security.principal import (
    AuthenticationFailed,
    PermissionDenied,
    Principal,
    SecurityCode,
    SecurityError,
)

__all__ = [
    "MAX_CREDENTIAL_BYTES",
    "AuthenticationFailed",
    "Authenticator",
    "PermissionDenied",
    "SecurityError",
]

MAX_CREDENTIAL_BYTES: Final = 8 * 1024
_SCHEME: Final = "bearer"
# Token characters of RFC 6750 b64token: nothing else reaches a parser.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _fail(code: SecurityCode, detail: str) -> AuthenticationFailed:
    return AuthenticationFailed(code, detail)


def bearer_token(authorization: str | None) -> str:
    """The token of a ``Bearer`` header, checked for size and charset only."""
    if authorization is None or not authorization.strip():
        raise _fail(SecurityCode.MISSING_CREDENTIALS, "an Authorization: Bearer header is required")
    if len(authorization) > MAX_CREDENTIAL_BYTES + len(_SCHEME) + 1:
        raise _fail(SecurityCode.MALFORMED_CREDENTIALS, "the credential is too long")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != _SCHEME:
        raise _fail(SecurityCode.MALFORMED_CREDENTIALS, "the Authorization scheme must be Bearer")
    token = token.strip()
    if not token:
        raise _fail(SecurityCode.MISSING_CREDENTIALS, "the bearer token is empty")
    if not _B64TOKEN.fullmatch(token):
        raise _fail(SecurityCode.MALFORMED_CREDENTIALS, "the bearer token has invalid characters")
    return token


class Authenticator:
    """Authenticates requests against the key store and, if configured, the JWT issuer.

    Holds the key store's connections: build one per process and close it.
    Keys are read on every call (no cache), so a revocation is effective at
    the next request.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        api_keys: ApiKeys | None = None,
        jwt_verifier: JwtVerifier | None = None,
    ) -> None:
        self.jwt = jwt_verifier if jwt_verifier is not None else JwtVerifier.from_settings(settings)
        self.api_keys = api_keys if api_keys is not None else open_api_keys(settings)

    def __enter__(self) -> Authenticator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.api_keys.close()

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an ``Authorization`` header value."""
        token = bearer_token(authorization)
        if token.startswith(f"{TOKEN_PREFIX}_"):
            return self.api_keys.authenticate(token)
        if self.jwt is None:
            raise _fail(SecurityCode.INVALID_CREDENTIALS, "only govledger API keys are accepted")
        if not _JWT_SHAPE.fullmatch(token):
            raise _fail(SecurityCode.MALFORMED_CREDENTIALS, "not an API key or a JWT")
        return self.jwt.verify(token)
