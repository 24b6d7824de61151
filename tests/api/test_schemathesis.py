"""Property-based fuzzing of every operation in ``/openapi.json`` (issue #7 item 4).

schemathesis generates requests from the schema of ``create_app``; each is sent
with a token of a role the operation admits (found by probing, so the fuzzing
reaches validation and the domain, not only the 403 gate). Checked: no 5xx,
status codes, content types and bodies as the schema declares them. Examples
per operation are bounded so the whole module runs in about a minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from projections.runner import run_projections
from security.apikeys import open_api_keys
from tests.api.conftest import USER

ZERO = "00000000-0000-0000-0000-000000000000"


class Fuzzed:
    """One ledger and app for the whole module, and a permitted token per operation."""

    def __init__(self, root: Path) -> None:
        self.settings = Settings(
            database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "state")
        )
        init_ledger(self.settings)
        # Reading never writes: the views exist once the projection worker has run, as in
        # a deployment (before that, /views answers 503 store_unavailable by design).
        run_projections(self.settings)
        self.app: FastAPI = create_app(self.settings)
        with open_api_keys(self.settings) as keys:
            self.tokens = {
                role: keys.create(role, USER if role.value in _BOUND else None).token
                for role in Role
            }
        self.client = TestClient(self.app)
        self.permitted: dict[tuple[str, str], str] = {}

    def token_for(self, method: str, path: str) -> str:
        """The first role this operation does not forbid (401/403), probed with an empty body."""
        key = (method, path)
        if key not in self.permitted:
            concrete = re.sub(r"\{[^}]+\}", ZERO, path)
            self.permitted[key] = self.tokens[Role.AUDITOR]
            for token in self.tokens.values():
                reply = self.client.request(
                    method,
                    concrete,
                    headers={"Authorization": f"Bearer {token}"},
                    json={} if method != "GET" else None,
                )
                if reply.status_code not in (401, 403):
                    self.permitted[key] = token
                    break
        return self.permitted[key]


_BOUND = {"department_clerk", "data_provider", "cio"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    yield Fuzzed(tmp_path_factory.mktemp("fuzz"))


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Valid requests reach the domain; invalid ones the validators: both, bounded.
MODES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}


def fuzz(fuzzed: Fuzzed, operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    token = fuzzed.token_for(operation.method.upper(), operation.path)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MODES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        # A first PDF render (fonts, WeasyPrint) takes seconds on a loaded machine: the
        # fuzzer's 10 s default read timeout would report the machine, not the service.
        case.call_and_validate(checks=CHECKS, timeout=120)

    run()


def test_no_5xx_and_responses_match_the_schema(fuzzed: Fuzzed) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, "the schema lost its operations"
    failures: list[str] = []
    for operation in operations:
        for mode in MODES:
            try:
                fuzz(fuzzed, operation, mode)
            except Unsatisfiable:
                # Only plain strings and no body: there is no invalid request to generate.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as e:  # collect all, report together
                failures.append(f"{operation.label} [{mode.value}]: {str(e)[:600]}")
    assert not failures, "\n\n".join(failures)
