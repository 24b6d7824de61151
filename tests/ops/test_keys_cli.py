"""``govledger keys create|list|revoke`` on both backends: token once, secrets never."""

from __future__ import annotations

import argparse
import json

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.actor import Actor, Role
from ledger.errors import LedgerError
from ledger.store.connect import application_env, init_ledger
from ops.keys_cli import register
from security.apikeys import HASH_SCHEME, open_api_keys, parse_token
from security.principal import AuthenticationFailed, SecurityCode


def parser() -> argparse.ArgumentParser:
    """A parser shaped like ``govledger``'s, with only the keys commands."""
    root = argparse.ArgumentParser(prog="govledger")
    register(root.add_subparsers(dest="command", required=True))
    return root


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = parser().parse_args(list(argv))
    code: int = args.func(settings, args)
    out, err = capsys.readouterr()
    return code, out, err


REGISTERED = ("D01", "D03")  # departments the ledger knows; keys may be made for these only


@pytest.fixture
def ledger_settings(settings: Settings) -> Settings:
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        ndrc = Actor("ndrc-1", Role.NDRC, None)
        for code in REGISTERED:
            app.register_department(ndrc, code, f"部门 {code}")
    finally:
        app.close()
    return settings


def create(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(settings, capsys, "keys", "create", *argv)
    assert code == 0
    token = out.removesuffix("\n")
    assert out.count("\n") == 1 and token.startswith("glk_")  # the token, alone
    assert token not in err and parse_token(token)[1] not in err
    return token


def test_create_prints_the_token_once_and_it_works(
    ledger_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    token = create(ledger_settings, capsys, "--role", "data_provider", "--department", "D03")
    key_id, _ = parse_token(token)
    with open_api_keys(ledger_settings) as keys:
        principal = keys.authenticate(token)
    assert principal.role == "data_provider" and principal.department_code == "D03"
    assert principal.credential_id == key_id


def test_list_shows_keys_and_no_secret(
    ledger_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = [
        create(ledger_settings, capsys, "--role", "department_clerk", "--department", "D01"),
        create(ledger_settings, capsys, "--role", "exchange_platform", "--label", "平台 A"),
    ]
    code, text, _ = run(ledger_settings, capsys, "keys", "list")
    assert code == 0
    code, as_json, _ = run(ledger_settings, capsys, "keys", "list", "--json")
    assert code == 0
    listed = json.loads(as_json)
    assert {k["key_id"] for k in listed} == {parse_token(t)[0] for t in tokens}
    assert {(k["role"], k["department"]) for k in listed} == {
        ("department_clerk", "D01"),
        ("exchange_platform", None),
    }
    assert "平台 A" in text and "平台 A" in as_json
    for token in tokens:
        key_id, secret = parse_token(token)
        assert key_id in text
        for output in (text, as_json):
            assert secret not in output and token not in output
    assert HASH_SCHEME not in text + as_json


def test_list_on_a_ledger_without_keys(
    ledger_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(ledger_settings, capsys, "keys", "list")[1] == "no API keys\n"
    assert json.loads(run(ledger_settings, capsys, "keys", "list", "--json")[1]) == []


def test_revoke_then_the_token_fails(
    ledger_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    token = create(ledger_settings, capsys, "--role", "auditor")
    key_id, _ = parse_token(token)
    code, out, _ = run(ledger_settings, capsys, "keys", "revoke", key_id)
    assert code == 0 and out.startswith(f"revoked API key {key_id} at ")
    listed = json.loads(run(ledger_settings, capsys, "keys", "list", "--json")[1])
    assert listed[0]["revoked_at"] is not None
    assert "revoked" in run(ledger_settings, capsys, "keys", "list")[1]
    with open_api_keys(ledger_settings) as keys, pytest.raises(AuthenticationFailed) as caught:
        keys.authenticate(token)
    assert caught.value.code is SecurityCode.REVOKED_CREDENTIALS


@pytest.mark.parametrize(
    "argv",
    [
        ("keys", "create", "--role", "root"),
        ("keys", "create", "--role", "cio"),
        ("keys", "create", "--role", "finance", "--department", "D01"),
        ("keys", "create", "--role", "department_clerk", "--department", "nosuchdept"),
        ("keys", "create", "--role", "data_provider", "--department", "d03"),
        ("keys", "revoke", "0123456789abcdef"),
        ("keys", "revoke", "not-a-key-id"),
    ],
)
def test_bad_input_is_a_ledger_error(
    ledger_settings: Settings, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    with pytest.raises(LedgerError):
        run(ledger_settings, capsys, *argv)
    assert capsys.readouterr().out == ""


def test_a_key_for_an_unregistered_department_is_refused_and_nothing_written(
    ledger_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(LedgerError, match="no department 'nosuchdept' is registered"):
        run(
            ledger_settings, capsys, "keys", "create", "--role", "cio", "--department", "nosuchdept"
        )
    with open_api_keys(ledger_settings) as keys:
        assert keys.list_keys() == []


def test_revoke_with_the_token_pasted_leaks_nothing(
    ledger_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    token = create(ledger_settings, capsys, "--role", "ndrc")
    with pytest.raises(LedgerError) as caught:
        run(ledger_settings, capsys, "keys", "revoke", token)
    assert parse_token(token)[1] not in str(caught.value)
    with open_api_keys(ledger_settings) as keys:
        assert keys.authenticate(token).role == "ndrc"  # not revoked by accident


def test_keys_public_is_not_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["keys", "public"])
    assert "invalid choice" in capsys.readouterr().err
