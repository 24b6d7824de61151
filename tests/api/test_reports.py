"""GET /api/v1/reports/{kind}: the three reports, one replay per ledger position."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.config import Settings
from ledger.domain.actor import Role
from projections.reports import ReportKind, generate
from projections.reports import cache as report_cache
from projections.runner import run_projections
from tests.api.conftest import Api
from tests.projections.scenario import Scenario, build_scenario


@pytest.fixture
def zone(api: Api, settings: Settings) -> Scenario:
    """The scenario, and the worker's run over it: a report reads the kept views."""
    built = build_scenario(settings)
    run_projections(settings)
    return built


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int | None]]:
    """Each replay of the ledger the reports make, as (kind, position)."""
    seen: list[tuple[str, int | None]] = []

    def counted(settings: Settings, kind: ReportKind, year: int, **kw: Any) -> Any:
        seen.append((kind.value, kw.get("at")))
        return generate(settings, kind, year, **kw)

    monkeypatch.setattr(report_cache, "generate", counted)
    monkeypatch.setattr(report_cache, "REPORTS", report_cache.ReportCache())
    return seen


def test_json_report_is_anchored_at_the_head(
    api: Api, zone: Scenario, replays: list[tuple[str, int | None]]
) -> None:
    reply = api.call("GET", "/reports/risk", Role.SECURITY_OFFICER, params={"year": 2026})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["title"] == "2026年度政务数据共享风险评估报告" and body["year"] == 2026
    assert body["anchor"]["position"] == api.head()
    assert replays == [("risk", api.head())]


def test_downloads_share_one_replay(
    api: Api, zone: Scenario, replays: list[tuple[str, int | None]]
) -> None:
    for fmt, magic in (("xlsx", b"PK"), ("pdf", b"%PDF")):
        reply = api.call(
            "GET", "/reports/audit", Role.AUDITOR, params={"year": 2026, "format": fmt}
        )
        assert reply.status_code == 200 and reply.content.startswith(magic)
        disposition = reply.headers["content-disposition"]
        assert disposition == f'attachment; filename="govledger-audit-2026.{fmt}"'
    assert replays == [("audit", api.head())]


def test_as_of_a_position_reports_on_that_prefix(api: Api, zone: Scenario) -> None:
    before = zone.positions["r1_revoked"] - 1
    reply = api.call("GET", "/reports/annual", Role.AUDITOR, params={"year": 2026, "at": before})
    assert reply.status_code == 200 and reply.json()["anchor"]["position"] == before


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"year": 2026, "at": 10**9}, "invalid_value"),
        ({"year": 1999}, "invalid_request"),
        ({"year": 2026, "format": "docx"}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_bad_parameters_are_422_with_an_error_body(
    api: Api, zone: Scenario, params: dict[str, Any], error: str
) -> None:
    head = api.head()
    reply = api.call("GET", "/reports/risk", Role.AUDITOR, params=params)
    assert reply.status_code == 422 and reply.json()["error"] == error
    assert api.head() == head


def test_unknown_kind_is_422_and_clerks_get_403(api: Api, zone: Scenario) -> None:
    unknown = api.call("GET", "/reports/weekly", Role.AUDITOR, params={"year": 2026})
    assert unknown.status_code == 422
    clerk = api.call(
        "GET", "/reports/risk", Role.DEPARTMENT_CLERK, "minzheng", params={"year": 2026}
    )
    assert clerk.status_code == 403 and clerk.json()["error"] == "role_not_permitted"
