"""Hostile input at the HTTP edge (issue #7 item 4; docs/security.md).

Oversized, deep and huge bodies; SQL-injection and path-traversal strings in
every string path and query parameter; malformed, expired and foreign tokens;
replayed requests. Each refused request leaves the ledger head where it was.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from projections.runner import run_projections
from security.apikeys import open_api_keys
from security.jwt import CLAIM_DEPARTMENT, CLAIM_ROLE
from tests.api.conftest import (
    PROVIDER,
    USER,
    Api,
    access,
    population_resource,
    setup_departments,
    sharing_request,
)

LIMIT = 256 * 1024  # a small body limit keeps the oversized cases cheap
MAX_BATCH = 50
ISSUER = "https://idp.example.gov.cn/realms/govledger"
HOSTILE_STRINGS = [
    "' OR '1'='1",
    "1; DROP TABLE ledger_events; --",
    "gongan' UNION SELECT secret_hash FROM api_keys --",
    '"; DELETE FROM stored_events; --',
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "$(rm -rf /)",
    "\x00",
    "😀" * 100,
    "A" * 5000,
]
ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def hostile(settings: Settings, tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> Iterator[Api]:
    public = tmp_path / "idp.pem"
    public.write_bytes(
        signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    configured = settings.with_overrides(
        max_request_bytes=LIMIT,
        max_batch_size=MAX_BATCH,
        jwt_issuer=ISSUER,
        jwt_public_key_file=str(public),
        jwt_algorithms="RS256",
    )
    init_ledger(configured)
    keys = open_api_keys(configured)
    with TestClient(create_app(configured)) as client:
        api = Api(client, keys)
        setup_departments(api)
        reply = api.call(
            "POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource()
        )
        assert reply.status_code == 201, reply.text
        run_projections(configured)  # the worker: views to read (reading never writes)
        yield api
    keys.close()


def jwt_for(key: Any, role: Role, department: str | None, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "govledger",
        "sub": "li.na",
        "iat": now,
        "exp": now + 300,
        "jti": f"t-{now}",
        CLAIM_ROLE: role.value,
        CLAIM_DEPARTMENT: department,
    }
    claims.update(overrides)
    return str(pyjwt.encode({k: v for k, v in claims.items() if v is not None}, key, "RS256"))


def error_body(reply: Any) -> dict[str, Any]:
    body: dict[str, Any] = reply.json()
    assert set(body) == {"error", "detail"}, body
    return body


def batch_of(n: int, prefix: str = "h") -> dict[str, Any]:
    return {"accesses": [access(f"{prefix}-{i}") for i in range(n)]}


# ------------------------------------------------------------------ body size and shape


def test_oversized_bodies_are_413_before_parsing(hostile: Api) -> None:
    head = hostile.head()
    platform = hostile.headers(Role.EXCHANGE_PLATFORM)
    big = json.dumps(batch_of(1)).encode() + b" " * LIMIT
    declared = hostile.client.post(
        "/api/v1/accesses/batch",
        content=big,
        headers={**platform, "Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert error_body(declared)["error"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"accesses": ['
        for _ in range(LIMIT // 1000 + 1):
            yield b" " * 1000

    streamed = hostile.client.post(
        "/api/v1/accesses/batch",
        content=chunks(),
        headers={**platform, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    too_many = hostile.call(
        "POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json=batch_of(MAX_BATCH + 1)
    )
    assert too_many.status_code == 413 and error_body(too_many)["error"] == "batch_too_large"
    assert hostile.head() == head


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="deep-array"),
        pytest.param('{"a":' * 50_000 + "1" + "}" * 50_000, id="deep-object"),
        pytest.param(json.dumps({"accesses": [1] * (LIMIT // 3)}), id="huge-array"),
        pytest.param(json.dumps({"accesses": [{"x": "y" * (LIMIT - 100)}]}), id="huge-string"),
        pytest.param('{"accesses": [' + "1e999999999," * 1000 + "1]}", id="huge-numbers"),
        pytest.param('{"accesses": "\\ud800"}', id="lone-surrogate"),
        pytest.param("\xff\xfe not json", id="not-utf8"),
    ],
)
def test_deep_or_huge_json_is_4xx_fast(hostile: Api, body: str) -> None:
    head = hostile.head()
    started = time.monotonic()
    reply = hostile.client.post(
        "/api/v1/accesses/batch",
        content=body.encode("utf-8", "surrogatepass"),
        headers={**hostile.headers(Role.EXCHANGE_PLATFORM), "Content-Type": "application/json"},
    )
    elapsed = time.monotonic() - started
    assert 400 <= reply.status_code < 500, reply.text[:200]
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert len(reply.content) < 64 * 1024, "the error echoes the hostile body back"
    error_body(reply)
    assert hostile.head() == head


# ------------------------------------------------- injection and traversal in parameters


def string_parameters(api: Api) -> list[tuple[str, str, str, str]]:
    """(method, path template, location, name) for every string path and query parameter."""
    schema = api.client.get("/openapi.json").json()
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for p in operation.get("parameters", []):
                if p["in"] in ("path", "query"):
                    found.append((method.upper(), path, p["in"], p["name"]))
    return found


def concrete(path: str, name: str, value: str) -> str:
    filled = path.replace("{" + name + "}", quote(value, safe=""))
    return re.sub(r"\{[^}]+\}", ZERO, filled)


# Parameters matched verbatim against free text the exchange platform reported (an
# accessor id may be any string): a hostile value is a search that finds nothing.
VERBATIM_SEARCHES = {("/api/v1/views/audit-trail", "actor")}


def test_injection_and_traversal_in_every_parameter(hostile: Api) -> None:
    parameters = string_parameters(hostile)
    assert len(parameters) >= 20, parameters  # every id, code and query parameter
    head = hostile.head()
    tokens = {role: hostile.headers(role) for role in (Role.AUDITOR, Role.ADMIN)}
    wrong = []
    for method, path, location, name in parameters:
        for value in HOSTILE_STRINGS:
            url = path if location == "query" else concrete(path, name, value)
            params = {name: value} if location == "query" else None
            if location == "query":
                url = re.sub(r"\{[^}]+\}", ZERO, url)
            for headers in tokens.values():
                reply = hostile.client.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    json={} if method == "POST" else None,
                )
                if (path, name) in VERBATIM_SEARCHES and reply.status_code == 200:
                    if reply.json()["result"]:  # a search for that literal text finds nothing
                        wrong.append(f"{method} {url} {name}={value[:30]!r}: found something")
                elif reply.status_code >= 500 or reply.status_code < 400:
                    wrong.append(f"{method} {url} {name}={value[:30]!r}: {reply.status_code}")
                elif reply.headers["content-type"].startswith("application/json"):
                    error_body(reply)
    assert not wrong, "\n".join(wrong)
    assert hostile.head() == head
    # The tables are where they were: the chain still reads and the data is intact.
    assert hostile.call("GET", f"/departments/{PROVIDER}", Role.AUDITOR).status_code == 200
    assert hostile.call("GET", "/ledger/events", Role.AUDITOR).json()["events"]


def test_hostile_strings_in_bodies_are_data_not_code(hostile: Api) -> None:
    """A department name or an event id is stored and read back byte for byte."""
    name = "区公安分局'; DROP TABLE ledger_events; --"
    reply = hostile.call("POST", "/departments", Role.ADMIN, json={"code": "evil", "name": name})
    assert reply.status_code == 201, reply.text
    assert hostile.call("GET", "/departments/evil", Role.AUDITOR).json()["name"] == name
    event_id = "x' OR '1'='1"
    reply = hostile.call("POST", "/accesses", Role.EXCHANGE_PLATFORM, json=access(event_id))
    assert reply.status_code == 201, reply.text
    stored = hostile.call("GET", f"/accesses/{quote(event_id, safe='')}", Role.AUDITOR)
    assert stored.status_code == 200, stored.text
    assert event_id in json.dumps(stored.json(), ensure_ascii=False)


# ----------------------------------------------------------------------- credentials


MALFORMED = [
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer glk_",
    "Bearer glk_0000000000000000_wrongsecret",
    "Bearer not.a.jwt",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",  # alg none
    "Bearer " + "A" * 20_000,
    "Bearer ' OR 1=1 --",
    "Bearer \u4e2d\u6587",
]


def test_malformed_credentials_are_401_and_write_nothing(hostile: Api) -> None:
    head = hostile.head()
    for header in MALFORMED:
        reply = hostile.client.post(
            "/api/v1/accesses",
            json=access("m-1"),
            headers={"Authorization": header.encode("utf-8")},
        )  # type: ignore[dict-item]
        assert reply.status_code == 401, (header[:40], reply.status_code)
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        credential = header.removeprefix("Bearer ")
        if len(credential) > 8:  # the refusal never repeats the credential
            assert credential[:40] not in json.dumps(error_body(reply), ensure_ascii=False)
    assert hostile.head() == head


def test_expired_forged_and_foreign_jwts(hostile: Api, signing_key: rsa.RSAPrivateKey) -> None:
    head = hostile.head()
    submit = sharing_request(items=["姓名"])
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    past = int((datetime.now(UTC) - timedelta(hours=2)).timestamp())
    refused = {
        "expired": (
            jwt_for(signing_key, Role.DEPARTMENT_CLERK, USER, iat=past, exp=past + 60),
            401,
        ),
        "foreign signer": (jwt_for(other_key, Role.DEPARTMENT_CLERK, USER), 401),
        "wrong audience": (jwt_for(signing_key, Role.DEPARTMENT_CLERK, USER, aud="other"), 401),
        "another department": (jwt_for(signing_key, Role.DEPARTMENT_CLERK, "zhujian"), 403),
        "wrong role": (jwt_for(signing_key, Role.AUDITOR, None), 403),
    }
    for what, (token, status) in refused.items():
        reply = hostile.client.post(
            "/api/v1/sharing-requests", json=submit, headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status_code == status, (what, reply.text)
        assert token not in reply.text
        error_body(reply)
    assert hostile.head() == head
    # The same request with a good token for the right department goes through.
    good = jwt_for(signing_key, Role.DEPARTMENT_CLERK, USER)
    reply = hostile.client.post(
        "/api/v1/sharing-requests", json=submit, headers={"Authorization": f"Bearer {good}"}
    )
    assert reply.status_code == 201, reply.text


def test_api_key_of_another_department_cannot_act_for_this_one(hostile: Api) -> None:
    head = hostile.head()
    reply = hostile.call(
        "POST", "/resources", Role.DATA_PROVIDER, USER, json=population_resource(code="RK-0002")
    )
    assert reply.status_code == 403, reply.text
    assert error_body(reply)["error"] == "department_mismatch"
    assert hostile.head() == head


# --------------------------------------------------------------------------- replays


def test_replayed_requests_apply_once(hostile: Api) -> None:
    batch = batch_of(5, prefix="replay")
    first = hostile.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json=batch)
    assert first.json()["recorded"] == 5
    head = hostile.head()
    again = hostile.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json=batch)
    assert (again.json()["recorded"], again.json()["already_recorded"]) == (0, 5)
    single = hostile.call("POST", "/accesses", Role.EXCHANGE_PLATFORM, json=access("replay-0"))
    assert single.status_code == 200 and not single.json()["newly_recorded"]
    department = hostile.call(
        "POST", "/departments", Role.ADMIN, json={"code": PROVIDER, "name": "区公安分局"}
    )
    assert department.status_code == 409
    resource = hostile.call(
        "POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource()
    )
    assert resource.status_code == 409
    assert hostile.head() == head

    request_id = _submitted_request(hostile)
    approve = {
        "items": ["姓名"],
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    path = f"/sharing-requests/{request_id}/approve"
    assert hostile.call("POST", path, Role.DATA_PROVIDER, PROVIDER, json=approve).status_code == 200
    head = hostile.head()
    replay = hostile.call("POST", path, Role.DATA_PROVIDER, PROVIDER, json=approve)
    assert replay.status_code == 409 and error_body(replay)["error"] == "request_already_decided"
    assert hostile.head() == head


RISK_PATH = "/resources/RK-0001/risk-assessments"
ASSESSMENT = {"reference": "网信办风评〔2026〕12号", "risk_level": "high", "summary": "含身份证号"}


def test_a_replayed_risk_assessment_records_once(hostile: Api) -> None:
    """An assessment is named by its 网信办 reference: a retry records nothing and says so;
    the reference with another level or summary is 409; a new reference is a new record."""
    first = hostile.call("POST", RISK_PATH, Role.SECURITY_OFFICER, json=ASSESSMENT)
    assert (first.status_code, first.json()) == (200, {"status": "recorded"}), first.text
    head = hostile.head()
    for _retry in range(2):
        replay = hostile.call("POST", RISK_PATH, Role.SECURITY_OFFICER, json=ASSESSMENT)
        assert (replay.status_code, replay.json()) == (200, {"status": "already_recorded"})
    for change in ({"risk_level": "low"}, {"summary": "另一结论"}):
        changed = hostile.call("POST", RISK_PATH, Role.SECURITY_OFFICER, json=ASSESSMENT | change)
        assert changed.status_code == 409, changed.text
        assert error_body(changed)["error"] == "risk_assessment_exists"
    assert hostile.head() == head
    resource = hostile.call("GET", "/resources/RK-0001", Role.SECURITY_OFFICER).json()
    assert resource["risk_assessments"] == [ASSESSMENT["reference"]]
    revised = ASSESSMENT | {"reference": "网信办风评〔2026〕13号", "risk_level": "medium"}
    second = hostile.call("POST", RISK_PATH, Role.SECURITY_OFFICER, json=revised)
    assert second.json() == {"status": "recorded"} and hostile.head() == head + 1


def test_concurrent_replays_of_a_risk_assessment_record_once(hostile: Api) -> None:
    """Copies sent at once race to the store: one records, the losers answer as replays."""
    copies = 6
    hostile.headers(Role.SECURITY_OFFICER)  # one credential, minted before the race
    head = hostile.head()
    start = threading.Barrier(copies)

    def send(_: int) -> Any:
        start.wait()
        return hostile.call("POST", RISK_PATH, Role.SECURITY_OFFICER, json=ASSESSMENT)

    with ThreadPoolExecutor(copies) as pool:
        replies = list(pool.map(send, range(copies)))
    assert {r.status_code for r in replies} == {200}, [r.text for r in replies]
    statuses = sorted(r.json()["status"] for r in replies)
    assert statuses == ["already_recorded"] * (copies - 1) + ["recorded"]
    assert hostile.head() == head + 1


def test_replayed_creates_with_an_idempotency_key_apply_once(
    hostile: Api, signing_key: rsa.RSAPrivateKey
) -> None:
    """A create retried under its key, even with a refreshed token, is one record.

    The key belongs to the token's subject: another subject's same key is its own
    record, so a key cannot be used to read or block someone else's create.
    """

    def submit(token: str, key: str, **changes: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        body = sharing_request(items=["姓名"], **changes)
        return hostile.client.post("/api/v1/sharing-requests", json=body, headers=headers)

    key = "' OR '1'='1; DROP TABLE ledger_events; --"
    first = submit(jwt_for(signing_key, Role.DEPARTMENT_CLERK, USER, jti="t-1"), key)
    assert first.status_code == 201, first.text
    head = hostile.head()
    refreshed = jwt_for(signing_key, Role.DEPARTMENT_CLERK, USER, jti="t-2")
    replay = submit(refreshed, key)
    assert (replay.status_code, replay.json()) == (201, first.json())
    changed = submit(refreshed, key, purpose="另一用途")
    assert changed.status_code == 409 and error_body(changed)["error"] == "idempotency_key_reused"
    for hostile_key in ("A" * 5000, "\x00", "line\r\nX-Injected: 1", "😀"):
        reply = hostile.client.post(
            "/api/v1/sharing-requests",
            json=sharing_request(items=["姓名"]),
            headers={
                "Authorization": f"Bearer {refreshed}",
                "Idempotency-Key": hostile_key.encode(),  # sent raw, as an attacker would
            },
        )
        assert 400 <= reply.status_code < 500, (hostile_key[:20], reply.text)
        error_body(reply)
    assert hostile.head() == head
    someone_else = jwt_for(signing_key, Role.DEPARTMENT_CLERK, USER, sub="wang.wei")
    theirs = submit(someone_else, key)
    assert theirs.status_code == 201 and theirs.json() != first.json()
    assert hostile.head() == head + 1


def _submitted_request(api: Api) -> str:
    reply = api.call(
        "POST",
        "/sharing-requests",
        Role.DEPARTMENT_CLERK,
        USER,
        json=sharing_request(items=["姓名"]),
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])
