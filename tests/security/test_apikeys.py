"""API keys on both backends: format, hash-only storage, revocation, no leaks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.errors import ForeignStoreError, LedgerError, StoreUnavailableError
from ledger.store.connect import init_ledger
from security.apikeys import (
    HASH_SCHEME,
    ApiKeyRecord,
    ApiKeys,
    PostgresApiKeyStore,
    hash_secret,
    open_api_keys,
    parse_token,
    secret_matches,
)
from security.auth import Authenticator
from security.principal import (
    AuthenticationFailed,
    CredentialKind,
    InvalidPrincipalError,
    SecurityCode,
    UnknownApiKeyError,
)
from tests.conftest import PostgresURLs, pg_connect

NOW = datetime(2026, 11, 25, tzinfo=UTC)


@pytest.fixture
def keys(settings: Settings) -> Iterator[ApiKeys]:
    init_ledger(settings)
    with open_api_keys(settings) as opened:
        yield opened


def raw_rows(settings: Settings) -> list[tuple[Any, ...]]:
    """Every column of every row, as an attacker with a database dump sees them."""
    db = settings.database
    if db.backend == "sqlite":
        with closing(sqlite3.connect(db.path)) as conn:
            return conn.execute("SELECT * FROM api_keys").fetchall()
    with pg_connect(settings.database_url) as conn:
        return conn.execute(f"SELECT * FROM {settings.postgres_schema}.api_keys").fetchall()


def run_sql(settings: Settings, statement: str, params: tuple[Any, ...]) -> None:
    db = settings.database
    if db.backend == "sqlite":
        with closing(sqlite3.connect(db.path)) as conn, conn:
            conn.execute(statement.format(t="api_keys"), params)
        return
    table = f"{settings.postgres_schema}.api_keys"
    with pg_connect(settings.database_url) as pg:
        pg.execute(statement.format(t=table).replace("?", "%s"), params)


# -- tokens and hashes -------------------------------------------------------


def test_token_format_and_entropy(keys: ApiKeys) -> None:
    issued = keys.create(Role.EXCHANGE_PLATFORM, label="exchange platform")
    prefix, key_id, secret = issued.token.split("_", 2)
    assert (prefix, key_id) == ("glk", issued.record.key_id)
    assert len(key_id) == 16 and int(key_id, 16) >= 0
    assert len(secret) >= 43  # token_urlsafe(32): 256 bits
    assert parse_token(issued.token) == (key_id, secret)
    other = keys.create(Role.EXCHANGE_PLATFORM)
    assert other.record.key_id != key_id and other.token != issued.token


def test_hash_is_keyed_by_key_id_and_versioned() -> None:
    record = ApiKeyRecord("0123456789abcdef", Role.AUDITOR, None, "", NOW, None)
    stored = hash_secret("0123456789abcdef", "s3cret", Role.AUDITOR, None)
    assert stored.startswith(f"{HASH_SCHEME}$") and "s3cret" not in stored
    assert secret_matches("0123456789abcdef", "s3cret", record, stored)
    assert not secret_matches("0123456789abcdef", "s3cret!", record, stored)
    # A hash copied onto another key's row does not verify there.
    assert not secret_matches("fedcba9876543210", "s3cret", record, stored)


def test_only_the_hash_is_stored(settings: Settings, keys: ApiKeys) -> None:
    issued = keys.create(Role.DATA_PROVIDER, "D01", "provider app")
    _, secret = parse_token(issued.token)
    rows = raw_rows(settings)
    assert len(rows) == 1
    flat = " ".join(str(v) for v in rows[0])
    assert secret not in flat and issued.token not in flat
    assert hash_secret(issued.record.key_id, secret, Role.DATA_PROVIDER, "D01") in flat
    assert "token" not in repr(issued) and secret not in repr(issued)


# -- authenticate ------------------------------------------------------------


def test_authenticate_gives_the_key_principal(keys: ApiKeys) -> None:
    issued = keys.create("cio", "D05", "cio of D05")
    principal = keys.authenticate(issued.token)
    assert principal.role is Role.CIO and principal.department_code == "D05"
    assert principal.subject == f"apikey:{issued.record.key_id}"
    assert principal.credential_id == issued.record.key_id
    assert principal.kind is CredentialKind.API_KEY
    actor = principal.to_actor("192.0.2.1", "r-1")
    assert (actor.actor_id, actor.client_address) == (principal.subject, "192.0.2.1")


def test_wrong_secret_and_unknown_key_fail_alike(keys: ApiKeys) -> None:
    issued = keys.create(Role.AUDITOR)
    key_id, secret = parse_token(issued.token)
    wrong_secret = f"glk_{key_id}_{'A' * len(secret)}"
    unknown_key = f"glk_{'0' * 16}_{secret}"
    messages = set()
    for token in (wrong_secret, unknown_key):
        with pytest.raises(AuthenticationFailed) as caught:
            keys.authenticate(token)
        assert caught.value.code is SecurityCode.INVALID_CREDENTIALS
        assert secret not in str(caught.value) and token not in str(caught.value)
        messages.add(str(caught.value))
    assert len(messages) == 1  # no oracle for which key ids exist


@pytest.mark.parametrize(
    "token",
    [
        "",
        "glk_",
        "glk_0123456789abcdef_",
        "glk_XYZ_" + "a" * 43,
        "abc",
        "glk_0123456789abcdef_" + "a" * 44,
    ],
)
def test_malformed_tokens_fail(keys: ApiKeys, token: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        keys.authenticate(token)
    assert caught.value.code is SecurityCode.MALFORMED_CREDENTIALS


def test_revocation_is_effective_at_once_for_a_long_lived_authenticator(
    settings: Settings, keys: ApiKeys
) -> None:
    issued = keys.create(Role.EXCHANGE_PLATFORM)
    with Authenticator(settings) as auth:  # a serving process, opened before the revocation
        assert auth.authenticate(f"Bearer {issued.token}").role is Role.EXCHANGE_PLATFORM
        with open_api_keys(settings) as operator:  # another process: the CLI
            revoked = operator.revoke(issued.record.key_id)
        assert revoked.revoked_at is not None and not revoked.active
        with pytest.raises(AuthenticationFailed) as caught:
            auth.authenticate(f"Bearer {issued.token}")
        assert caught.value.code is SecurityCode.REVOKED_CREDENTIALS


def test_revoke_is_idempotent_and_unknown_keys_are_named(keys: ApiKeys) -> None:
    issued = keys.create(Role.NDRC)
    first = keys.revoke(issued.record.key_id)
    again = keys.revoke(issued.record.key_id)
    assert first.revoked_at == again.revoked_at
    with pytest.raises(UnknownApiKeyError, match="0000000000000000"):
        keys.revoke("0000000000000000")


def test_revoke_given_the_token_does_not_echo_it(keys: ApiKeys) -> None:
    issued = keys.create(Role.NDRC)
    _, secret = parse_token(issued.token)
    with pytest.raises(InvalidPrincipalError) as caught:
        keys.revoke(issued.token)
    assert secret not in str(caught.value)
    assert keys.authenticate(issued.token).role is Role.NDRC  # still valid


def test_list_shows_every_key_but_no_secret(keys: ApiKeys) -> None:
    a = keys.create(Role.DEPARTMENT_CLERK, "D01", "clerk")
    b = keys.create(Role.FINANCE, label="finance bureau")
    keys.revoke(b.record.key_id)
    listed = {r.key_id: r for r in keys.list_keys()}
    assert set(listed) == {a.record.key_id, b.record.key_id}
    assert listed[a.record.key_id].active and not listed[b.record.key_id].active
    text = repr(list(listed.values())) + str([r.to_json() for r in listed.values()])
    for issued in (a, b):
        assert parse_token(issued.token)[1] not in text
    assert HASH_SCHEME not in text


@pytest.mark.parametrize(
    ("column", "value"), [("role", "admin"), ("role", "auditor"), ("department_code", "D02")]
)
def test_tampered_role_or_department_fails_authentication(
    settings: Settings, keys: ApiKeys, column: str, value: str
) -> None:
    """Role and department are inside the MAC: a database writer cannot escalate a key."""
    issued = keys.create(Role.DATA_PROVIDER, "D01")
    run_sql(
        settings, f"UPDATE {{t}} SET {column} = ? WHERE key_id = ?", (value, issued.record.key_id)
    )
    with pytest.raises(AuthenticationFailed) as caught:
        keys.authenticate(issued.token)
    assert caught.value.code is SecurityCode.INVALID_CREDENTIALS


# -- create: operator input --------------------------------------------------


@pytest.mark.parametrize(
    ("role", "department", "label", "match"),
    [
        ("department_clerk", None, "", "needs a department"),
        ("finance", "D01", "", "district-level"),
        ("superuser", None, "", "unknown role"),
        ("cio", "D 01", "", "department code"),
        ("ndrc", None, "evil\x1b[2J", "control characters"),
        ("ndrc", None, "x" * 201, "longer"),
    ],
)
def test_create_refuses_bad_input(
    keys: ApiKeys, role: str, department: str | None, label: str, match: str
) -> None:
    with pytest.raises(InvalidPrincipalError, match=match):
        keys.create(role, department, label)
    assert keys.list_keys() == []


# -- where keys live ---------------------------------------------------------


def test_keys_need_an_initialised_ledger(settings: Settings) -> None:
    with open_api_keys(settings) as keys:
        if settings.database.backend == "sqlite":
            with pytest.raises(StoreUnavailableError, match="govledger init"):
                keys.create(Role.NDRC)
            with pytest.raises(StoreUnavailableError):
                keys.list_keys()
            assert not Path(settings.database.path).exists()  # no stray file created
        else:
            with pytest.raises(ForeignStoreError, match="govledger init"):
                keys.create(Role.NDRC)
            assert keys.list_keys() == []


def test_authentication_before_any_key_exists_fails_cleanly(settings: Settings) -> None:
    init_ledger(settings)
    with open_api_keys(settings) as keys, pytest.raises(AuthenticationFailed) as caught:
        keys.authenticate("glk_0123456789abcdef_" + "a" * 43)
    assert caught.value.code is SecurityCode.INVALID_CREDENTIALS


def test_ledger_still_opens_with_the_key_table(settings: Settings, keys: ApiKeys) -> None:
    keys.create(Role.NDRC)
    assert init_ledger(settings).hash_algorithm  # the foreign-file guard accepts api_keys


def test_errors_are_ledger_errors(keys: ApiKeys) -> None:
    with pytest.raises(LedgerError):
        keys.authenticate("nope")
    with pytest.raises(LedgerError):
        keys.revoke("0000000000000000")


def test_application_role_reads_keys_but_cannot_change_them(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    init_ledger(postgres_settings)
    with open_api_keys(postgres_settings) as owner:
        issued = owner.create(Role.EXCHANGE_PLATFORM)
        store = owner.store
        assert isinstance(store, PostgresApiKeyStore)
        store.grant_read("govledger_app")
    app = postgres_settings.with_overrides(database_url=postgres_urls.app)
    with open_api_keys(app) as service:
        assert service.authenticate(issued.token).role is Role.EXCHANGE_PLATFORM
        with pytest.raises(LedgerError):
            service.revoke(issued.record.key_id)
    with open_api_keys(postgres_settings) as owner:
        assert owner.list_keys()[0].active
