"""Every integer the API reads from a query or a path is bounded (ledger/domain/bounds.py):
a number past what the stores keep (signed 64 bits) is refused with 422 and the JSON error
body, never passed on to the database (where SQLite raises "Python int too large")."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.domain.bounds import MAX_POSITION
from tests.api.conftest import Api


def _integer_parameters(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                declared = parameter.get("schema", {})
                options = declared.get("anyOf", [declared])
                for option in options:
                    if option.get("type") == "integer":
                        found.append((f"{method.upper()} {path}", parameter["name"], option))
    return found


def test_every_integer_parameter_declares_a_maximum_the_stores_can_hold(
    settings: Settings,
) -> None:
    parameters = _integer_parameters(create_app(settings).openapi())
    assert parameters, "the API reads integers from queries (positions, sizes, pages)"
    unbounded = [
        (where, name)
        for where, name, option in parameters
        if option.get("maximum", float("inf")) > MAX_POSITION
    ]
    assert unbounded == []


@pytest.mark.parametrize(
    "path",
    [
        f"/ledger/events?after={MAX_POSITION + 1}",
        f"/ledger/events?after={2**70}",
        f"/proofs/inclusion?position={MAX_POSITION + 1}",
        f"/proofs/consistency?from=1&to={MAX_POSITION + 1}",
        f"/views/findings?at={MAX_POSITION + 1}",
    ],
)
def test_a_number_past_64_bits_is_refused_with_the_json_error(api: Api, path: str) -> None:
    head = api.head()
    answer = api.call("GET", path, Role.AUDITOR)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert set(body) >= {"error", "detail"}
    assert api.head() == head


def test_the_largest_position_is_an_answer_not_an_error(api: Api) -> None:
    answer = api.call("GET", f"/ledger/events?after={MAX_POSITION}", Role.AUDITOR)
    assert answer.status_code == 200, answer.text
    assert answer.json()["events"] == []
