"""api/refusals.py: what the refusal record keeps of a refused request."""

from __future__ import annotations

from ledger.config import Settings
from ledger.domain.actor import Role
from security.audit_log import RefusalLog
from tests.api.conftest import Api


def test_a_credential_misplaced_in_the_path_is_not_stored(api: Api, settings: Settings) -> None:
    """docs/security.md "Secrets": an API-key secret never reaches the database. A client that
    put its token in the path of a refused request (401, 403) left it in security_refusals."""
    token = api.headers(Role.AUDITOR)["Authorization"].removeprefix("Bearer ")
    secret = token.rsplit("_", 1)[1]
    anonymous = api.client.get(f"/api/v1/accesses/{token}")
    assert anonymous.status_code == 401
    refused = api.call("GET", f"/resources/{token}", Role.DEPARTMENT_CLERK)
    assert refused.status_code == 403
    rows = [refusal for _, refusal, _ in RefusalLog(settings).rows()]
    paths = [row.path for row in rows]
    assert "/api/v1/accesses/glk_***" in paths and "/api/v1/resources/glk_***" in paths
    assert not [row for row in rows if secret in repr(row)]
    assert RefusalLog(settings).verify() is None
