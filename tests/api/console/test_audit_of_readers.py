"""Every reader audited (issue #16): console reads of personal data are ledger events like
the API's; failed sign-ins and refused commands go to the refusal record, rate-limited,
the ledger unchanged."""

from __future__ import annotations

import json

from ledger.domain.actor import Role
from projections.query import open_views
from security.audit_log import RefusalLog
from tests.api.console.conftest import Console


def _views_recorded(console: Console) -> list[dict[str, str]]:
    with open_views(console.settings, catch_up=True) as views:
        m = views.moment()
        lines = views.audit_trail(m, text="查阅个人信息记录", limit=100)
    return [{"actor": line.actor_id, "summary": line.summary} for line in lines]


def test_opening_anomaly_evidence_and_the_trail_is_recorded(demo_console: Console) -> None:
    with open_views(demo_console.settings, catch_up=True) as views:
        anomaly = views.anomalies(views.moment())[0]
    demo_console.login(Role.AUDITOR)
    assert demo_console.client.get(f"/console/anomalies/{anomaly.anomaly_id}").status_code == 200
    demo_console.client.get("/console/audit?q=登记部门")
    demo_console.client.get("/console/audit?q=登记部门&export=csv")
    recorded = _views_recorded(demo_console)
    summaries = " ".join(r["summary"] for r in recorded)
    assert f"查阅内容 console:anomaly；目标 {anomaly.anomaly_id}" in summaries
    assert "console:audit_trail" in summaries and "console:audit_trail_export" in summaries
    assert all(r["actor"].startswith("apikey:") for r in recorded)


def test_failed_sign_ins_and_refusals_are_recorded_not_in_the_ledger(console: Console) -> None:
    head = _head(console)
    form = console.client.get("/console/login")
    nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
    console.client.post("/console/login", data={"credential": "glk_0123456789abcdef_x" * 1,
                                                "nonce": nonce})  # fmt: skip
    api = console.client.get(
        "/api/v1/views/anomalies",
        headers={"Authorization": "Bearer glk_fedcba9876543210_secretpart"},
    )
    assert api.status_code == 401
    token = console.token(Role.AUDITOR)
    refused = console.client.post(
        "/api/v1/anomalies/00000000000000000000/review",
        headers={"Authorization": f"Bearer {token}"},
        json={"action": "acknowledge", "comment": "x"},
    )
    assert refused.status_code == 403
    rows = [r for _, r, _ in RefusalLog(console.settings).rows()]
    kinds = [(r.kind, r.credential_id) for r in rows]
    assert ("sign_in_failed", "0123456789abcdef") in kinds
    assert ("sign_in_failed", "fedcba9876543210") in kinds
    command = next(r for r in rows if r.kind == "command_refused")
    assert command.subject.startswith("apikey:") and "review" in command.path
    assert "secretpart" not in json.dumps([r.__dict__ for r in rows])
    assert RefusalLog(console.settings).verify() is None
    assert _head(console) == head  # a refusal leaves the ledger unchanged


def test_a_flood_of_bad_keys_is_bounded(console: Console) -> None:
    for n in range(60):
        console.client.get(
            "/api/v1/views/anomalies",
            headers={"Authorization": f"Bearer glk_{n:016x}_nope"},
        )
    rows = RefusalLog(console.settings).rows(limit=1000)
    assert 0 < len(rows) <= 20


def _head(console: Console) -> int:
    return int(console.client.get("/api/v1/ledger").json()["head_position"])


def test_people_are_shown_by_name_not_by_key(demo_console: Console) -> None:
    with open_views(demo_console.settings, catch_up=True) as views:
        anomaly = views.anomalies(views.moment())[0]
    demo_console.login(Role.SECURITY_OFFICER)
    name = "console test security_officer"  # the label conftest.mint gives the key
    ledger = demo_console.client.get("/console/ledger").text
    assert 'class="subject" title="apikey:' in ledger and f">{name}</span>" in ledger
    path = f"/console/anomalies/{anomaly.anomaly_id}"
    csrf = demo_console.csrf(path)
    page = demo_console.client.post(
        f"{path}/review", data={"csrf": csrf, "action": "note", "comment": "已询问"}
    )
    assert f">{name}</td>" in page.text
    trail = demo_console.client.get("/console/audit?q=异常复核处置").text
    assert name in trail
