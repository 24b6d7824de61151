"""One input contract (ledger/domain/bounds.py): the API and ``govledger import`` accept and
refuse the same accesses (issue 13 items 3 and 8; docs/import-format.md, "Bounds").

Hypothesis draws access objects, valid or bent in one or more fields (types,
lengths, characters, counts, times, nesting, unknown and missing fields), and
sends each three ways: ``POST /accesses``, ``POST /accesses/batch`` and a
one-line file to ``govledger import``. All three must agree; a refusal writes
nothing, and an accepted access reads back the same whichever way it came.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from ledger.config import Settings
from ledger.configured import open_ledger
from ledger.domain.actor import Role
from ledger.errors import LedgerError
from ledger.store.connect import init_ledger
from ops.importer import import_file
from security.apikeys import open_api_keys
from tests.api.conftest import Api, access

NOW = datetime.now(UTC)
FIELDS = (
    "platform_event_id",
    "accessor_id",
    "department",
    "system",
    "resource_code",
    "items",
    "row_count",
    "purpose",
    "grant_id",
    "client_address",
    "accessed_at",
)

TEXTS = st.sampled_from(
    [
        "x",
        " padded ",
        "\t\n",
        "",
        "a\x00b",
        "a\x01b",
        "a\x7fb",
        "a\ud800b",
        "\udfff",
        "a\u2028b",
        "社保，。😀",
        "x" * 2000,
        "x" * 2001,
        " " + "x" * 2000 + " ",
        "line\nbreak",
        "tab\there",
    ]
) | st.text(max_size=12)
CODES = st.sampled_from(["minzheng", "RK-0001", "a.b_c-9", "a b", "x" * 64, "x" * 65, " RK-0001"])
COUNTS = st.sampled_from(
    [0, 12, 10**12, 10**12 + 1, -1, 2**63, 2**64, True, False, 5.0, "12", None, math.inf]
)
TIMES = st.sampled_from(
    [
        "2026-06-30T09:15:00+08:00",
        "2026-06-30T09:15:00Z",
        "2026-06-30T09:15:00.123456-03:30",
        "2026-06-30T09:15:00.1234567+08:00",
        "2026-06-30T09:15:00",
        "2026-06-30t09:15:00z",
        "2026-06-30 09:15:00+08:00",
        "2026-06-30T09:15+08:00",
        "2026-13-01T09:15:00+08:00",
        "2026-06-30T09:15:00+24:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2017-12-31T15:59:59Z",  # a second before the earliest business time (2018-01-01 CST)
        "2017-12-31T16:00:00Z",
        "2099-12-31T15:59:59Z",
        "2100-01-01T00:00:00+08:00",
        (NOW + timedelta(hours=8)).isoformat(),  # in the future: recorded and flagged
        1751246100,
        None,
    ]
)
UUIDS = st.sampled_from(
    [None, str(uuid4()), uuid4().hex, f"{{{uuid4()}}}", f"urn:uuid:{uuid4()}", "g-7", 7]
)
DEEP = "[" * 100_000 + "]" * 100_000


def _items() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(TEXTS, min_size=0, max_size=4),
        st.sampled_from([["姓名", "姓名"], ["x"] * 501, [f"i{n}" for n in range(500)], "姓名"]),
        st.just([1, 2]),
    )


BENT = {
    "platform_event_id": TEXTS,
    "accessor_id": TEXTS | st.just(None),
    "department": CODES,
    "system": TEXTS | st.just(None),
    "resource_code": CODES | st.just(7),
    "items": _items(),
    "row_count": COUNTS,
    "purpose": TEXTS | st.just(None),
    "grant_id": UUIDS,
    "client_address": TEXTS | st.just(None),
    "accessed_at": TIMES,
}


@st.composite
def accesses(draw: st.DrawFn) -> tuple[str, bytes]:
    """(the line as text, how it is encoded): an access, maybe bent."""
    body: dict[str, Any] = access(f"ev-{uuid4().hex}")
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        body[name] = draw(BENT[name])
    if draw(st.booleans()) and draw(st.booleans()):
        body.pop(draw(st.sampled_from(FIELDS)), None)
    if draw(st.integers(0, 9)) == 0:
        body["purpse"] = "typo"
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return "deep", DEEP.encode()
    if shape == 1:
        return "nested", json.dumps({**body, "items": [[["姓名"]]]}).encode()
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    # Raw lone surrogates are not UTF-8: 'surrogatepass' writes them as the bytes a broken
    # encoder would; both readers must refuse them.
    return "json", text.encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("contract")
    settings = Settings(database_url=f"sqlite:///{root / 'l.db'}", state_dir=str(root / "s"))
    init_ledger(settings)
    keys = open_api_keys(settings)
    from fastapi.testclient import TestClient  # noqa: PLC0415

    with TestClient(create_app(settings)) as client:
        api = Api(client, keys)
        ledger = open_ledger(settings, record_calendar=False)
        yield api, ledger, root
        ledger.close()
    keys.close()


def _api_single(api: Api, raw: bytes) -> bool:
    headers = {**api.headers(Role.EXCHANGE_PLATFORM), "Content-Type": "application/json"}
    reply = api.client.post("/api/v1/accesses", content=raw, headers=headers)
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert set(reply.json()) == {"error", "detail"}
    return reply.status_code in (200, 201)


def _api_batch(api: Api, raw: bytes) -> bool:
    headers = {**api.headers(Role.EXCHANGE_PLATFORM), "Content-Type": "application/json"}
    body = b'{"accesses": [' + raw + b"]}"
    reply = api.client.post("/api/v1/accesses/batch", content=body, headers=headers)
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert set(reply.json()) == {"error", "detail"}
    return reply.status_code == 200


def _import(ledger: Any, root: Path, raw: bytes) -> bool:
    path = root / f"{uuid4().hex}.jsonl"
    path.write_bytes(raw + b"\n")
    try:
        import_file(ledger, path)
    except LedgerError as error:
        assert "\n" not in str(error)
        return False
    return True


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=accesses())
def test_api_and_import_accept_and_refuse_the_same_accesses(
    world: Any, drawn: tuple[str, bytes]
) -> None:
    api, ledger, root = world
    _, raw = drawn
    head = api.head()
    by_import = _import(ledger, root, raw)
    after_import = api.head()
    single = _api_single(api, raw)
    batch = _api_batch(api, raw)
    assert single == batch == by_import, raw[:300]
    if not by_import:
        assert api.head() == after_import == head  # a refusal writes nothing


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(access("e-surrogate", accessor_id="\ud800")).encode(),
        json.dumps(access("e-old", accessed_at="0001-01-01T00:00:00+14:00")).encode(),
        json.dumps(access("e-rows", row_count=2**63)).encode(),
        json.dumps(access("e-long", accessor_id="x" * 20_000_000)).encode(),
        DEEP.encode(),
        # More digits than Python converts (sys.get_int_max_str_digits): json.loads raises a
        # bare ValueError, not a JSONDecodeError (the batch route once answered 500).
        b'{"platform_event_id": "e-digits", "row_count": ' + b"9" * 5_000 + b"}",
    ],
    ids=[
        "lone surrogate",
        "year 1 at +14:00",
        "rows 2**63",
        "20 MB accessor id",
        "deep",
        "5000 digits",
    ],
)
def test_the_inputs_the_attack_found_are_refused_by_both(world: Any, raw: bytes) -> None:
    api, ledger, root = world
    head = api.head()
    assert not _import(ledger, root, raw)
    assert not _api_single(api, raw)
    assert not _api_batch(api, raw)
    assert api.head() == head


def test_an_access_eight_hours_ahead_is_recorded_and_flagged_by_both(world: Any) -> None:
    api, ledger, root = world
    ahead = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    reply = api.call(
        "POST", "/accesses", Role.EXCHANGE_PLATFORM, json=access("e-ahead-api", accessed_at=ahead)
    )
    assert reply.status_code == 201 and reply.json()["flags"] == ["accessed_at_in_future"]
    batch = api.call(
        "POST",
        "/accesses/batch",
        Role.EXCHANGE_PLATFORM,
        json={"accesses": [access("e-ahead-batch", accessed_at=ahead), access("e-now")]},
    ).json()
    assert batch["dated_in_future"] == 1
    flags = {a["platform_event_id"]: a["flags"] for a in batch["flagged"]}
    assert flags["e-ahead-batch"] == ["accessed_at_in_future"] and not flags.get("e-now")
    path = root / "ahead.jsonl"
    path.write_text(json.dumps(access("e-ahead-import", accessed_at=ahead)) + "\n")
    assert import_file(ledger, path).dated_in_future == 1
    assert ledger.access("e-ahead-import").report.accessed_at.isoformat() == ahead
