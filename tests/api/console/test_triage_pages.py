"""The triage queue over HTTP (issue #16, docs/console.md "Anomaly triage"): filters, sort,
bulk acknowledge, assignment, notes, four eyes, overdue, export of the filtered set."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter

from ledger.domain.actor import Role
from projections.query import open_views
from security.apikeys import open_api_keys
from tests.api.console.conftest import Console

QUEUE_ROW = re.compile(r'<td class="num"><a href="/console/anomalies/([0-9a-f]+)">')


def _queue(console: Console) -> list:  # type: ignore[type-arg]
    with open_views(console.settings, catch_up=True) as views:
        return views.anomalies(views.moment(), status="open", by_score=True)


def test_filters_narrow_the_queue_to_exactly_the_matching_anomalies(
    demo_console: Console,
) -> None:
    queue = _queue(demo_console)
    demo_console.login(Role.SECURITY_OFFICER)
    kind = Counter(a.kind for a in queue).most_common(1)[0][0]
    page = demo_console.client.get(f"/console/anomalies?kind={kind}")
    expected = [a.anomaly_id for a in queue if a.kind == kind]
    assert QUEUE_ROW.findall(page.text) == expected[:50]
    assert f'id="total">{len(expected)}<' in page.text
    severity = queue[0].severity
    both = demo_console.client.get(f"/console/anomalies?kind={kind}&severity={severity}")
    assert set(QUEUE_ROW.findall(both.text)) == {
        a.anomaly_id for a in queue if a.kind == kind and a.severity == severity
    }
    accessor = queue[0].subject
    mine = demo_console.client.get(f"/console/anomalies?accessor={accessor}")
    assert set(QUEUE_ROW.findall(mine.text)) == {
        a.anomaly_id for a in queue if a.subject == accessor
    }
    day = queue[0].time.date().isoformat()
    dated = demo_console.client.get(f"/console/anomalies?start={day}&end={day}")
    assert set(QUEUE_ROW.findall(dated.text)) == {
        a.anomaly_id for a in queue if a.time.date().isoformat() == day
    }
    oldest = demo_console.client.get("/console/anomalies?sort=oldest")
    first = QUEUE_ROW.findall(oldest.text)[0]
    assert first == min(queue, key=lambda a: (a.time, a.anomaly_id)).anomaly_id
    bad = demo_console.client.get("/console/anomalies?start=yesterday")
    assert "日期格式应为" in bad.text


def test_demo_anomalies_are_overdue_against_the_response_time(demo_console: Console) -> None:
    queue = _queue(demo_console)
    demo_console.login(Role.AUDITOR)
    page = demo_console.client.get("/console/anomalies?overdue=1")
    assert f'id="total">{len(queue)}<' in page.text  # the demo year is long past 72 hours
    assert 'class="badge overdue">超时<' in page.text


def test_bulk_acknowledge_writes_one_event_per_selected_anomaly(demo_console: Console) -> None:
    queue = _queue(demo_console)
    chosen = [a.anomaly_id for a in queue[:3]]
    demo_console.login(Role.SECURITY_OFFICER)
    csrf = demo_console.csrf("/console/anomalies")
    empty = demo_console.client.post(
        "/console/anomalies/bulk", data={"csrf": csrf, "ids": chosen, "comment": " "}
    )
    assert "批量确认需要填写处置意见" in empty.text
    reply = demo_console.client.post(
        "/console/anomalies/bulk",
        data={"csrf": csrf, "ids": chosen, "comment": "已核实，属正常业务", "back": "kind="},
    )
    assert reply.status_code == 200 and "已确认 3 条异常访问" in reply.text
    with open_views(demo_console.settings, catch_up=True) as views:
        statuses = {i: views.anomaly(i).status for i in chosen}  # type: ignore[union-attr]
    assert set(statuses.values()) == {"acknowledged"}


def test_assignment_notes_and_four_eyes_in_the_console(demo_console: Console) -> None:
    queue = _queue(demo_console)
    anomaly = queue[0]
    with open_api_keys(demo_console.settings) as keys:
        keys.create(Role.SECURITY_OFFICER, None, label="王丽华")
    demo_console.login(Role.SECURITY_OFFICER)
    path = f"/console/anomalies/{anomaly.anomaly_id}"
    page = demo_console.client.get(path)
    assert '<option value="王丽华">' in page.text
    csrf = demo_console.csrf(path)
    assigned = demo_console.client.post(
        f"{path}/review", data={"csrf": csrf, "action": "assign", "assignee": "王丽华"}
    )
    assert 'id="assignee-now">王丽华<' in assigned.text and "指派给 王丽华" in assigned.text
    noted = demo_console.client.post(
        f"{path}/review", data={"csrf": csrf, "action": "note", "comment": "已电话询问访问人员"}
    )
    assert "已电话询问访问人员" in noted.text and "待处置" in noted.text
    mine = demo_console.client.get("/console/anomalies?assignee=王丽华")
    assert QUEUE_ROW.findall(mine.text) == [anomaly.anomaly_id]
    escalated = demo_console.client.post(
        f"{path}/review", data={"csrf": csrf, "action": "escalate", "comment": "移交核查"}
    )
    assert "已升级" in escalated.text
    alone = demo_console.client.post(
        f"{path}/review", data={"csrf": csrf, "action": "dismiss", "comment": "误报"}
    )
    assert alone.status_code == 422 and "已升级的异常只能由其他安全专员排除" in alone.text
    with open_views(demo_console.settings, catch_up=True) as views:
        assert views.anomaly(anomaly.anomaly_id).status == "escalated"  # type: ignore[union-attr]


def test_export_holds_the_filtered_set(demo_console: Console) -> None:
    queue = _queue(demo_console)
    kind = queue[-1].kind
    demo_console.login(Role.SECURITY_OFFICER)
    reply = demo_console.client.get(f"/console/anomalies?kind={kind}&export=csv")
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert rows[0][0] == "异常编号"
    assert [r[0] for r in rows[1:]] == [a.anomaly_id for a in queue if a.kind == kind]
    xlsx = demo_console.client.get(f"/console/anomalies?kind={kind}&export=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
