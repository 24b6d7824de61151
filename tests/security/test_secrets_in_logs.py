"""No secret reaches the logs or the ledger (issue #7 item 5; docs/security.md "Secrets").

A real ``govledger serve`` runs with a database password in its URL, a JWT
issuer, and a checkpoint signing key, at the debug-free default log level an
operator uses. Logins succeed and fail (wrong API-key secret, revoked key,
expired and forged JWTs, malformed headers); the database goes briefly
missing for one request path. Then the server's whole output, and every row
of the chain, is searched for each secret.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ledger.checkpoints import generate_key_file
from ledger.config import DatabaseURL, Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger, open_reader
from security.apikeys import open_api_keys
from security.jwt import CLAIM_DEPARTMENT, CLAIM_ROLE
from tests.api.conftest import access
from tests.served import Server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
PASSWORD = "Pg-S3cret-7f2b9c"  # the shared test server trusts loopback: any password works
ISSUER = "https://idp.example.gov.cn/realms/govledger"


def with_password(url: str) -> str:
    db = DatabaseURL.parse(url)
    return f"postgresql://{db.user}:{PASSWORD}@{db.host}:{db.port}/{db.dbname}"


def signed(key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "govledger",
        "sub": "wang.fang",
        "iat": now,
        "exp": now + 300,
        "jti": f"j{now}",
        CLAIM_ROLE: "auditor",
        CLAIM_DEPARTMENT: None,
    }
    claims.update(overrides)
    return str(pyjwt.encode({k: v for k, v in claims.items() if v is not None}, key, "RS256"))


@pytest.fixture
def secret_settings(postgres_settings: Settings, tmp_path: Path) -> tuple[Settings, Any]:
    idp = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "idp.pem"
    public.write_bytes(
        idp.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    key_file = tmp_path / "checkpoint.key"
    generate_key_file(str(key_file), "govledger.test/log")
    settings = postgres_settings.with_overrides(
        database_url=with_password(postgres_settings.database_url),
        jwt_issuer=ISSUER,
        jwt_public_key_file=str(public),
        jwt_algorithms="RS256",
        checkpoint_key_file=str(key_file),
        checkpoint_interval_seconds=1,
    )
    init_ledger(settings)
    return settings, idp


def test_no_secret_in_logs_or_ledger(secret_settings: tuple[Settings, Any], tmp_path: Path) -> None:
    settings, idp = secret_settings
    with open_api_keys(settings) as keys:
        platform = keys.create(Role.EXCHANGE_PLATFORM, label="secrets-test")
        auditor = keys.create(Role.AUDITOR, label="secrets-test")
        revoked = keys.create(Role.AUDITOR, label="secrets-test")
        keys.revoke(revoked.record.key_id)
    key_id, _, secret = platform.token.removeprefix("glk_").partition("_")
    good_jwt = signed(idp)
    expired_jwt = signed(idp, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    forged_jwt = signed(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    wrong_secret = f"glk_{key_id}_{'x' * len(secret)}"
    log_path = tmp_path / "server.log"

    attempts = [  # (bearer credential or whole header, status expected)
        (f"Bearer {auditor.token}", 200),
        (f"Bearer {good_jwt}", 200),
        (f"Bearer {expired_jwt}", 401),
        (f"Bearer {forged_jwt}", 401),
        (f"Bearer {wrong_secret}", 401),
        (f"Bearer {revoked.token}", 401),
        (f"Basic {secret}", 401),
    ]
    with (
        log_path.open("wb") as log,
        Server(settings, log=log) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        headers = {"Authorization": f"Bearer {platform.token}"}
        assert client.post("/api/v1/accesses", json=access("s-1"), headers=headers).is_success
        for header, status in attempts:
            reply = client.get("/api/v1/ledger/events", headers={"Authorization": header})
            assert reply.status_code == status, header[:20]
        # A client that misplaces its key in the URL: refused, and not logged either.
        misplaced = client.get("/api/v1/ledger/events", params={"token": platform.token})
        assert misplaced.status_code == 401
        wait_for_checkpoint(client)
    logged = log_path.read_text(encoding="utf-8", errors="replace")
    assert '"route": "/api/v1/ledger/events"' in logged, "no request line logged: the test is blind"

    signing_key = Path(settings.checkpoint_key_file).read_text(encoding="ascii").strip()
    secrets = {
        "API key token": platform.token,
        "API key secret": secret,
        "revoked API key secret": revoked.token.rsplit("_", 1)[1],
        "guessed secret": wrong_secret.rsplit("_", 1)[1],
        "JWT": good_jwt,
        "JWT signature": good_jwt.rsplit(".", 1)[1],
        "expired JWT": expired_jwt,
        "checkpoint signing key": signing_key,
        # PRIVATE+KEY+<name>+<id>+<base64>: base64 itself may hold "+", so split from the left.
        "checkpoint signing key material": signing_key.split("+", 4)[4],
        "database password": PASSWORD,
    }
    in_logs = [name for name, value in secrets.items() if value in logged]
    assert not in_logs, f"secrets in the server log: {in_logs}"
    stored = chain_text(settings)
    in_ledger = [name for name, value in secrets.items() if value in stored]
    assert not in_ledger, f"secrets in the ledger: {in_ledger}"


def wait_for_checkpoint(client: httpx.Client) -> None:
    """The signing thread has run at least once (so its logging was exercised)."""
    deadline = time.monotonic() + 30
    while client.get("/api/v1/checkpoints/latest").status_code != 200:
        assert time.monotonic() < deadline, "no checkpoint issued within 30 s"
        time.sleep(0.1)  # polling interval of a condition with a deadline


def chain_text(settings: Settings) -> str:
    reader = open_reader(settings)
    try:
        return "\n".join(
            repr(row) + bytes(row[4]).decode("utf-8", "replace")
            for rows in reader.iter_batches(0, 1000)
            for row in rows
        )
    finally:
        reader.close()
