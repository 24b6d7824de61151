"""The msgspec batch decoder agrees with the pydantic models, or leaves the body to them."""

from __future__ import annotations

import json
import random
from typing import Any
from uuid import uuid4

import pytest

from api.access_wire import decode_reports
from api.schemas import AccessBatchIn
from ledger.domain.access import AccessReport
from ledger.domain.actor import Role
from tests.api.conftest import Api, access

# Text the contract takes (ledger/domain/bounds.py): no NUL, other controls or DEL.
AWKWARD = 'a"\\/\t\n\u2028😀社保，。-_.Z9'


def _by_pydantic(body: bytes) -> list[AccessReport]:
    """What the endpoint did before: json.loads, the pydantic models, ``report()``."""
    return [a.report() for a in AccessBatchIn.model_validate(json.loads(body)).accesses]


def _fields(report: AccessReport) -> tuple[Any, ...]:
    """Every field, the time by its stored text (the offset matters, not only the instant)."""
    values = [getattr(report, name) for name in report.__struct_fields__]
    return (*values, report.accessed_at.isoformat())


def _varied_access(rng: random.Random, n: int) -> dict[str, Any]:
    # Inner whitespace only: padded text is left to pydantic (tested below).
    text = lambda: "k" + "".join(rng.choice(AWKWARD) for _ in range(rng.randint(0, 9))) + "z"  # noqa: E731
    fraction = rng.choice(["", ".5", ".123", ".123456"])
    offset = rng.choice(["Z", "+08:00", "-03:30", "+00:00"])
    return access(
        f"ev-{n}-{text()}",
        accessor_id=text(),
        department=rng.choice(["minzheng", "gong_an.1", "A-9"]),
        items=list(dict.fromkeys(text() for _ in range(rng.randint(1, 3)))),  # distinct
        row_count=rng.choice([0, 7, 10**12]),
        purpose=rng.choice([None, "", text()]),
        system=rng.choice([None, text()]),
        grant_id=rng.choice([None, str(uuid4()), uuid4().hex]),
        accessed_at=f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:15:59"
        f"{fraction}{offset}",
    )


def test_valid_batches_decode_to_what_the_pydantic_models_give():
    rng = random.Random(1129)
    for round_ in range(40):
        batch = [_varied_access(rng, round_ * 100 + n) for n in range(rng.randint(1, 20))]
        body = json.dumps({"accesses": batch}, ensure_ascii=rng.random() < 0.5).encode()
        fast = decode_reports(body)
        assert fast is not None, body
        assert [_fields(r) for r in fast] == [_fields(r) for r in _by_pydantic(body)]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"accessor_id": " padded "}, "pydantic strips whitespace"),
        ({"items": ["姓名\n"]}, "pydantic strips whitespace in list items too"),
        ({"department": "minzheng\n"}, "a trailing newline passes Python's `$`"),
        ({"accessed_at": "2026-06-30T09:15:00.1234567Z"}, "msgspec rounds, pydantic truncates"),
        ({"accessed_at": "2026-06-30t09:15:00z"}, "lower-case separators: pydantic's call"),
        ({"accessed_at": "2026-06-30T09:15+08:00"}, "no seconds: pydantic accepts"),
        ({"row_count": "12"}, "pydantic's lax coercion"),
        ({"row_count": 12.0}, "pydantic's lax coercion"),
        ({"accessed_at": "2026-06-30T09:15:00"}, "no offset: pydantic explains the refusal"),
        ({"colour": "red"}, "unknown field: pydantic explains the refusal"),
        ({"row_count": -1}, "out of range: pydantic explains the refusal"),
        ({"department": "min zheng"}, "not a code: pydantic explains the refusal"),
        ({"resource_code": "R-POP/2"}, "not a code, in the batch's second access"),
    ],
)
def test_bodies_where_the_decoders_could_differ_are_left_to_pydantic(
    change: dict[str, Any], why: str
):
    body = json.dumps({"accesses": [access("ok-1"), access("odd-1", **change)]}).encode()
    assert decode_reports(body) is None, why


def test_a_batch_with_padded_text_is_recorded_stripped_as_before(api: Api) -> None:
    padded = access(" pad-1 ", accessor_id="\tclerk-9 ", items=[" 姓名"])
    reply = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": [padded]})
    assert reply.status_code == 200, reply.text
    stored = api.call("GET", "/accesses/pad-1", Role.AUDITOR).json()
    assert (stored["report"]["accessor_id"], stored["report"]["items"]) == ("clerk-9", ["姓名"])


@pytest.mark.parametrize(
    ("content", "headers", "location"),
    [
        (b'{"accesses": [', {"Content-Type": "application/json"}, ["body", 14]),
        (b"", {"Content-Type": "application/json"}, ["body"]),
        (b'{"accesses": []}', {"Content-Type": "application/json"}, ["body", "accesses"]),
        (b'{"accesses": [{"row_count": 1}]}', {}, ["body"]),  # no content type: not JSON
        (b'{"accesses": [{}]}', {"Content-Type": "text/plain"}, ["body"]),
    ],
)
def test_bad_batch_bodies_are_422_in_the_error_shape_and_write_nothing(
    api: Api, content: bytes, headers: dict[str, str], location: list[Any]
) -> None:
    head = api.head()
    headers = {**api.headers(Role.EXCHANGE_PLATFORM), **headers}
    reply = api.client.post("/api/v1/accesses/batch", content=content, headers=headers)
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["error"] == "invalid_request"
    assert body["detail"][0]["loc"] == location
    assert api.head() == head


def test_openapi_still_declares_the_batch_body(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    body = schema["paths"]["/api/v1/accesses/batch"]["post"]["requestBody"]
    declared = body["content"]["application/json"]["schema"]
    assert body["required"] is True
    assert declared["properties"]["accesses"]["items"] == {"$ref": "#/components/schemas/AccessIn"}
    assert "AccessIn" in schema["components"]["schemas"]
