"""Bearer JWTs and the Authorization header: tokens the tests sign with their own keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.errors import ConfigurationError
from ledger.store.connect import init_ledger
from security.auth import MAX_CREDENTIAL_BYTES, Authenticator, bearer_token
from security.jwt import CLAIM_DEPARTMENT, CLAIM_ROLE, JwtVerifier, accepted_algorithms
from security.principal import AuthenticationFailed, CredentialKind, SecurityCode

ISSUER = "https://idp.sndhz.gov.cn/realms/govledger"
AUDIENCE = "govledger"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: Any) -> bytes:
    public: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "zhang.wei",
        "iat": now,
        "exp": now + 300,
        "jti": "tok-1",
        CLAIM_ROLE: "department_clerk",
        CLAIM_DEPARTMENT: "D01",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, algorithm: str = "RS256", **overrides: Any) -> str:
    return pyjwt.encode(claims(**overrides), key, algorithm=algorithm)


def verifier(key: Any, algorithms: str = "RS256,ES256,EdDSA") -> JwtVerifier:
    return JwtVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        public_key=key.public_key(),
        algorithms=algorithms.split(","),
    )


def refused(v: JwtVerifier, token: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        v.verify(token)
    assert token not in str(caught.value)
    return caught.value


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- accepted tokens ---------------------------------------------------------


def test_valid_token_gives_principal(rsa_key: rsa.RSAPrivateKey) -> None:
    principal = verifier(rsa_key).verify(sign(rsa_key))
    assert (principal.subject, principal.role, principal.department_code) == (
        "zhang.wei",
        Role.DEPARTMENT_CLERK,
        "D01",
    )
    assert principal.credential_id == "tok-1" and principal.kind is CredentialKind.JWT


def test_without_jti_the_subject_is_the_credential(rsa_key: rsa.RSAPrivateKey) -> None:
    assert verifier(rsa_key).verify(sign(rsa_key, jti=None)).credential_id == "zhang.wei"


def test_district_role_ignores_a_department_claim(rsa_key: rsa.RSAPrivateKey) -> None:
    principal = verifier(rsa_key).verify(sign(rsa_key, govledger_role="finance"))
    assert principal.role is Role.FINANCE and principal.department_code is None


@pytest.mark.parametrize(
    ("make_key", "algorithm"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (ed25519.Ed25519PrivateKey.generate, "EdDSA"),
    ],
)
def test_ec_and_eddsa_keys(make_key: Any, algorithm: str) -> None:
    key = make_key()
    assert verifier(key).verify(sign(key, algorithm)).role is Role.DEPARTMENT_CLERK


def test_clock_skew_of_up_to_60_seconds(rsa_key: rsa.RSAPrivateKey) -> None:
    v = verifier(rsa_key)
    now = int(time.time())
    assert v.verify(sign(rsa_key, exp=now - 30)).subject == "zhang.wei"
    assert refused(v, sign(rsa_key, exp=now - 90)).code is SecurityCode.EXPIRED_CREDENTIALS
    with pytest.raises(ConfigurationError):
        JwtVerifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            public_key=rsa_key.public_key(),
            algorithms=["RS256"],
            leeway_seconds=61,
        )


# -- refused tokens ----------------------------------------------------------


def test_expired(rsa_key: rsa.RSAPrivateKey) -> None:
    error = refused(verifier(rsa_key), sign(rsa_key, exp=int(time.time()) - 3600))
    assert error.code is SecurityCode.EXPIRED_CREDENTIALS and "expired" in error.detail


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"aud": "another-service"}, "audience"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"exp": None}, "'exp'"),
        ({"sub": None}, "'sub'"),
        ({"iss": None}, "'iss'"),
        ({"aud": None}, "'aud'"),
        ({CLAIM_ROLE: "superuser"}, "not a known role"),
        ({CLAIM_ROLE: None}, "not a known role"),
        ({CLAIM_DEPARTMENT: None}, "needs a department"),
        ({"govledger_role": "cio", CLAIM_DEPARTMENT: ""}, "needs a department"),
        ({"sub": "apikey:0123456789abcdef"}, "reserved"),
        ({"sub": "  "}, "sub"),
    ],
)
def test_refused_claims(
    rsa_key: rsa.RSAPrivateKey, overrides: dict[str, Any], fragment: str
) -> None:
    error = refused(verifier(rsa_key), sign(rsa_key, **overrides))
    assert error.code is SecurityCode.INVALID_CREDENTIALS
    assert fragment in error.detail


def test_wrong_key(rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey) -> None:
    error = refused(verifier(rsa_key), sign(other_rsa_key))
    assert error.code is SecurityCode.INVALID_CREDENTIALS and "signature" in error.detail


def test_alg_none(rsa_key: rsa.RSAPrivateKey) -> None:
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    error = refused(verifier(rsa_key), token)
    assert error.code is SecurityCode.INVALID_CREDENTIALS and "algorithm" in error.detail


def test_hmac_signed_with_the_public_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    """The classic confusion: HS256 keyed with the issuer's (public) PEM."""
    header = b64({"alg": "HS256", "typ": "JWT"})
    body = b64(claims())
    mac = hmac.new(pem(rsa_key), f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert refused(verifier(rsa_key), token).code is SecurityCode.INVALID_CREDENTIALS


def test_algorithm_that_does_not_fit_the_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    # ES256 is configured but the issuer's key is RSA: never tried.
    v = verifier(rsa_key, "RS256,ES256")
    assert v.algorithms == ["RS256"]
    assert refused(v, sign(ec_key, "ES256")).code is SecurityCode.INVALID_CREDENTIALS


@pytest.mark.parametrize("token", ["abc.def.ghi", "a.b.c", "x" * 40])
def test_garbage(rsa_key: rsa.RSAPrivateKey, token: str) -> None:
    assert refused(verifier(rsa_key), token).code in {
        SecurityCode.MALFORMED_CREDENTIALS,
        SecurityCode.INVALID_CREDENTIALS,
    }


# -- configuration -----------------------------------------------------------


@pytest.mark.parametrize("configured", ["none", "HS256,RS256", "hs512", "RS256,none"])
def test_none_and_hmac_can_never_be_configured(rsa_key: rsa.RSAPrivateKey, configured: str) -> None:
    with pytest.raises(ConfigurationError, match="refused"):
        accepted_algorithms(configured.split(","), rsa_key.public_key())


def test_no_algorithm_for_the_key(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError, match="no algorithm"):
        accepted_algorithms(["ES256", "EdDSA"], rsa_key.public_key())


def test_from_settings(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    assert JwtVerifier.from_settings(Settings()) is None  # API keys only
    with pytest.raises(ConfigurationError, match="PUBLIC_KEY_FILE"):
        JwtVerifier.from_settings(Settings(jwt_issuer=ISSUER))
    with pytest.raises(ConfigurationError, match="cannot read"):
        JwtVerifier.from_settings(
            Settings(jwt_issuer=ISSUER, jwt_public_key_file=str(tmp_path / "absent.pem"))
        )
    private = tmp_path / "private.pem"
    private.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigurationError, match="not a PEM public key"):
        JwtVerifier.from_settings(Settings(jwt_issuer=ISSUER, jwt_public_key_file=str(private)))
    public = tmp_path / "issuer.pem"
    public.write_bytes(pem(rsa_key))
    v = JwtVerifier.from_settings(Settings(jwt_issuer=ISSUER, jwt_public_key_file=str(public)))
    assert v is not None and v.algorithms == ["RS256"] and v.audience == "govledger"


# -- the Authorization header ------------------------------------------------


@pytest.fixture
def authenticator(
    sqlite_settings: Settings, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> Iterator[Authenticator]:
    init_ledger(sqlite_settings)  # a missing database is a server fault (503), not a 401
    public = tmp_path / "issuer.pem"
    public.write_bytes(pem(rsa_key))
    with Authenticator(
        sqlite_settings.with_overrides(jwt_issuer=ISSUER, jwt_public_key_file=str(public))
    ) as opened:
        yield opened


def test_bearer_jwt_through_the_authenticator(
    authenticator: Authenticator, rsa_key: rsa.RSAPrivateKey
) -> None:
    principal = authenticator.authenticate(f"Bearer {sign(rsa_key)}")
    assert principal.role is Role.DEPARTMENT_CLERK
    assert authenticator.authenticate(f"bearer   {sign(rsa_key)}  ").subject == "zhang.wei"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, SecurityCode.MISSING_CREDENTIALS),
        ("", SecurityCode.MISSING_CREDENTIALS),
        ("Bearer", SecurityCode.MISSING_CREDENTIALS),
        ("Bearer    ", SecurityCode.MISSING_CREDENTIALS),
        ("Basic dXNlcjpwYXNz", SecurityCode.MALFORMED_CREDENTIALS),
        ("Token abc", SecurityCode.MALFORMED_CREDENTIALS),
        ("Bearer a b", SecurityCode.MALFORMED_CREDENTIALS),
        ("Bearer ☃", SecurityCode.MALFORMED_CREDENTIALS),
        ("Bearer abc\ndef", SecurityCode.MALFORMED_CREDENTIALS),
        ("Bearer not-a-jwt", SecurityCode.MALFORMED_CREDENTIALS),
        ("Bearer glk_garbage", SecurityCode.MALFORMED_CREDENTIALS),
        ("Bearer glk_0123456789abcdef_" + "a" * 43, SecurityCode.INVALID_CREDENTIALS),
    ],
)
def test_bad_headers(authenticator: Authenticator, header: str | None, code: SecurityCode) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticator.authenticate(header)
    assert caught.value.code is code
    if header and len(header) > 12:
        assert header.split(" ", 1)[1] not in str(caught.value)


def test_oversized_header_is_refused_fast(authenticator: Authenticator) -> None:
    just_fits = "Bearer " + "a" * MAX_CREDENTIAL_BYTES
    assert bearer_token(just_fits) == "a" * MAX_CREDENTIAL_BYTES
    huge = "Bearer " + "a" * (MAX_CREDENTIAL_BYTES + 1)
    with pytest.raises(AuthenticationFailed, match="too long"):
        authenticator.authenticate(huge)
    enormous = "Bearer " + "eyJ" * 20_000_000  # 60 MB: refused by length, never parsed
    started = time.perf_counter()
    with pytest.raises(AuthenticationFailed, match="too long"):
        authenticator.authenticate(enormous)
    assert time.perf_counter() - started < 0.05


def test_jwt_refused_when_no_issuer_is_configured(
    sqlite_settings: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    with Authenticator(sqlite_settings) as auth, pytest.raises(AuthenticationFailed) as caught:
        auth.authenticate(f"Bearer {sign(rsa_key)}")
    assert caught.value.code is SecurityCode.INVALID_CREDENTIALS
    assert "API keys" in caught.value.detail
