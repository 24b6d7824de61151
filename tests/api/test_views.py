"""GET /api/v1/views/... and POST /api/v1/anomalies/{id}/review on the hand-worked scenario."""

from __future__ import annotations

from collections import Counter

import pytest

from ledger.config import Settings
from ledger.domain.actor import Role
from projections.zone import stable_id
from tests.api.conftest import Api
from tests.projections.scenario import Scenario, build_scenario

BEYOND = stable_id("items_beyond_grant", "evt-2")  # the anomaly of evt-2 (scenario docstring)


@pytest.fixture
def zone(api: Api, settings: Settings) -> Scenario:
    return build_scenario(settings)


def get(api: Api, path: str, role: Role = Role.AUDITOR, **params: object) -> object:
    reply = api.call("GET", path, role, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_findings_as_of_a_date(api: Api, zone: Scenario) -> None:
    body = get(api, "/views/findings", as_of="2026-06-20")
    assert isinstance(body, dict)
    assert body["moment"]["as_of"] == "2026-06-20"
    rules = Counter(f["rule"] for f in body["result"])
    # As in tests/projections/test_views.py: S2 evt-3, S3, S5, S6 R2, S7 R3, S9, S12, I2, and
    # P2 (R1's grant of RK-0001's personal items, no PIA on record), I6 x3 (no CIO named).
    assert rules == {
        "S2": 1, "S3": 1, "S5": 1, "S6": 1, "S7": 1, "S9": 1, "S12": 1, "I2": 1, "P2": 1,
        "I6": 3,
    }  # fmt: skip
    s2 = next(f for f in body["result"] if f["rule"] == "S2")
    assert s2["positions"][-1] == zone.positions["evt-3"] and s2["severity"] == "high"


def test_findings_come_a_page_at_a_time_of_one_moment(api: Api, zone: Scenario) -> None:
    """Pages cut in SQL (with the state's findings merged in) concatenate to the whole."""
    whole = get(api, "/views/findings", as_of="2026-06-20", limit=10_000)
    assert isinstance(whole, dict)
    assert whole["page"] == {"offset": 0, "limit": 10_000, "total": len(whole["result"])}
    at = whole["moment"]["position"]
    pages = []
    for offset in range(0, len(whole["result"]) + 3, 3):
        body = get(api, "/views/findings", as_of="2026-06-20", at=at, limit=3, offset=offset)
        assert isinstance(body, dict) and body["page"]["total"] == len(whole["result"])
        pages.extend(body["result"])
    assert pages == whole["result"]  # I6 (state) and stored findings interleave by time
    assert [f["finding_id"] for f in pages] != sorted(f["finding_id"] for f in pages)
    i6 = get(api, "/views/findings", as_of="2026-06-20", rule="I6", limit=2)
    assert isinstance(i6, dict) and len(i6["result"]) == 2 and i6["page"]["total"] == 3
    far = api.call("GET", "/views/findings", Role.AUDITOR, params={"offset": 10**12})
    assert far.status_code == 200 and far.json()["result"] == []
    for bad in ({"limit": 0}, {"limit": 10_001}, {"offset": -1}, {"offset": 10**12 + 1}):
        reply = api.call("GET", "/views/findings", Role.AUDITOR, params=bad)
        assert reply.status_code == 422 and reply.json()["error"] == "invalid_request"


def test_rights_register_either_side_of_the_revocation(api: Api, zone: Scenario) -> None:
    def holders(**when: object) -> list[str]:
        body = get(api, "/views/rights-register", **when)
        assert isinstance(body, dict)
        entry = next(e for e in body["result"] if e["resource_code"] == "RK-0001")
        return [u["holder_department"] for u in entry["use_rights"]]

    assert holders(as_of="2026-06-10") == ["minzheng"]
    assert holders(as_of="2026-06-20") == []
    assert holders(at=zone.positions["r1_revoked"] - 1) == ["minzheng"]
    assert holders(at=zone.positions["r1_revoked"]) == []


def test_other_views_answer(api: Api, zone: Scenario) -> None:
    trail = get(api, "/views/audit-trail", entity=zone.r1.hex)
    assert isinstance(trail, dict)
    assert [line["topic"] for line in trail["result"]][-1] == "SharingRequest.Revoked"
    assert all(len(line["hash"]) == 64 for line in trail["result"])
    by_resource = get(api, "/views/audit-trail", resource="FR-0002")
    assert isinstance(by_resource, dict)
    topics = [line["topic"] for line in by_resource["result"]]
    assert topics == ["Resource.Registered", "DataAccess.Recorded"]
    bad = api.call("GET", "/views/audit-trail", Role.AUDITOR, params={"resource": "RK 1;--"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
    counts = get(api, "/views/access-counts", start="2026-06-01", end="2026-06-30")
    assert isinstance(counts, dict) and counts["result"]["total"]["total"] == 8
    inventory = get(api, "/views/inventory")
    assert isinstance(inventory, dict) and inventory["result"]["in_service"] == 1
    state = get(api, "/views/zone", as_of="2026-06-01")
    assert isinstance(state, dict) and list(state["result"]["requests"]) == [zone.r1.hex]
    status = get(api, "/views/projections")
    assert isinstance(status, dict) and status["projections"]["zone"]["lag"] == 0


def test_clerks_read_no_views(api: Api, zone: Scenario) -> None:
    for path in ("/views/findings", "/views/anomalies", "/views/audit-trail"):
        reply = api.call("GET", path, Role.DEPARTMENT_CLERK, "minzheng")
        assert reply.status_code == 403, path
        assert reply.json()["error"] == "role_not_permitted"


def test_bad_moments_are_4xx_with_an_error_body(api: Api, zone: Scenario) -> None:
    both = api.call("GET", "/views/findings", Role.AUDITOR, params={"as_of": "2026-06-01", "at": 3})
    assert both.status_code == 200 and both.json()["moment"]["position"] == 3  # bitemporal
    beyond = api.call("GET", "/views/findings", Role.AUDITOR, params={"at": 10**9})
    assert beyond.status_code == 422 and "outside" in beyond.json()["detail"]
    bad_date = api.call("GET", "/views/findings", Role.AUDITOR, params={"as_of": "2026-13-01"})
    assert bad_date.status_code == 422 and bad_date.json()["error"] == "invalid_request"


def test_days_past_the_input_contracts_range_are_422_not_500(api: Api, zone: Scenario) -> None:
    """A day past 2100 (``bounds.content_date``) overflowed the views' end-of-day arithmetic:
    ``as_of=9999-12-31`` on every view, and the audit trail's or access counts' ``end``."""
    head = api.head()
    asked = [
        (path, {"as_of": day})
        for path in (
            "/views/audit-trail", "/views/rights-register", "/views/rectifications",
            "/views/audit-suggestions", "/views/findings", "/views/anomalies",
            "/views/inventory", "/views/zone", "/views/declared/self_inspection",
        )
        for day in ("9999-12-31", "0001-01-01")
    ]  # fmt: skip
    asked += [
        ("/views/audit-trail", {"end": "9999-12-31"}),
        ("/views/audit-trail", {"start": "0001-01-01"}),
        ("/views/access-counts", {"start": "2026-01-01", "end": "9999-12-31"}),
        (
            "/views/access-counts",
            {"start": "2026-01-01", "end": "2026-12-31", "as_of": "2101-01-01"},
        ),
    ]
    for path, params in asked:
        reply = api.call("GET", path, Role.AUDITOR, params=params)
        assert reply.status_code == 422, (path, params, reply.text)
        assert set(reply.json()) == {"error", "detail"}
        assert "2100-12-31" in reply.text, reply.text
    within = get(api, "/views/findings", as_of="2100-12-31")
    assert isinstance(within, dict) and within["moment"]["as_of"] == "2100-12-31"
    assert api.head() == head


def test_anomalies_come_a_page_at_a_time(api: Api, zone: Scenario) -> None:
    whole = get(api, "/views/anomalies", Role.SECURITY_OFFICER, limit=10_000)
    assert isinstance(whole, dict) and whole["page"]["total"] == len(whole["result"]) >= 2
    at = whole["moment"]["position"]
    pages = [
        a
        for offset in range(len(whole["result"]))
        for a in get(api, "/views/anomalies", Role.SECURITY_OFFICER, at=at, limit=1,
                     offset=offset)["result"]  # type: ignore[index]
    ]  # fmt: skip
    assert pages == whole["result"]
    none = get(api, "/views/anomalies", Role.SECURITY_OFFICER, status="dismissed")
    assert isinstance(none, dict) and none["page"]["total"] == 0 == len(none["result"])


def test_review_workflow_writes_ledger_events(api: Api, zone: Scenario) -> None:
    anomalies = get(api, "/views/anomalies", Role.SECURITY_OFFICER)
    assert isinstance(anomalies, dict)
    assert {a["anomaly_id"]: a["status"] for a in anomalies["result"]}[BEYOND] == "open"
    head = api.head()
    path = f"/anomalies/{BEYOND}/review"
    reply = api.call(
        "POST", path, Role.SECURITY_OFFICER, json={"action": "escalate", "comment": "转审计局核查"}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["status"] == "escalated"
    assert api.head() == head + 1
    trail = get(api, "/views/audit-trail", after=head)
    assert isinstance(trail, dict)
    assert [line["topic"] for line in trail["result"]] == ["AnomalyReview.Started"]
    dismiss = {"action": "dismiss", "comment": "误报：已补办授权"}
    alone = api.call("POST", path, Role.SECURITY_OFFICER, json=dismiss)
    assert alone.status_code == 409 and alone.json()["error"] == "review_not_allowed"
    second = {"Authorization": f"Bearer {api.keys.create(Role.SECURITY_OFFICER, None).token}"}
    by_other = api.client.post(f"/api/v1{path}", headers=second, json=dismiss)
    assert by_other.status_code == 201, by_other.text
    again = api.client.post(f"/api/v1{path}", headers=second, json=dismiss)
    assert again.status_code == 409 and again.json()["error"] == "anomaly_closed"
    assert api.head() == head + 2


def test_bad_reviews_change_nothing(api: Api, zone: Scenario) -> None:
    head = api.head()
    body = {"action": "acknowledge", "comment": "已阅"}
    malformed = api.call("POST", "/anomalies/nope/review", Role.SECURITY_OFFICER, json=body)
    assert malformed.status_code == 422  # anomaly ids are 20 hex digits
    unknown = api.call("POST", f"/anomalies/{'0' * 20}/review", Role.SECURITY_OFFICER, json=body)
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_anomaly"
    path = f"/anomalies/{BEYOND}/review"
    for bad in ({"action": "forget", "comment": "x"}, {"action": "dismiss", "comment": ""}):
        assert api.call("POST", path, Role.SECURITY_OFFICER, json=bad).status_code == 422
    assert api.call("POST", path, Role.AUDITOR, json=body).status_code == 403
    assert api.head() == head
