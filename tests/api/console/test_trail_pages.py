"""审计轨迹 as an auditor reads it (issue #16): Chinese event names, CST, search, export."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook

from ledger.domain.actor import Role
from tests.api.console.conftest import Console

RAW = re.compile(r"_type_|class_version|[A-Za-z]+\.[A-Z][A-Za-z]+</td>|\w+=&#34;|\w+=\[")


def test_the_trail_reads_in_chinese_without_dumps(demo_console: Console) -> None:
    demo_console.login(Role.AUDITOR)
    page = demo_console.client.get("/console/audit")
    assert page.status_code == 200
    assert "登记部门" in page.text and "时间（北京时间）" in page.text
    body = page.text.split('id="trail"')[1]
    assert not RAW.search(body), RAW.search(body)
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", body), "no microseconds"


def test_text_search_finds_events_by_chinese_name(demo_console: Console) -> None:
    demo_console.login(Role.AUDITOR)
    page = demo_console.client.get("/console/audit?q=撤销共享授权")
    rows = re.findall(r'<td class="nowrap" title="([^"]+)">', page.text)
    assert rows and set(rows) == {"SharingRequest.Revoked"}
    nothing = demo_console.client.get("/console/audit?q=没有这种事件zzz")
    assert "没有符合条件的记录" in nothing.text


def test_export_csv_and_xlsx_hold_the_filtered_lines(demo_console: Console) -> None:
    demo_console.login(Role.AUDITOR)
    reply = demo_console.client.get("/console/audit?q=登记部门&export=csv")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["账本位置", "时间", "事件"]
    assert len(rows) > 1 and {r[2] for r in rows[1:]} == {"登记部门"}
    book = demo_console.client.get("/console/audit?q=登记部门&export=xlsx")
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [str(v[0]) for v in values[1:]] == [r[0] for r in rows[1:]]
    bad = demo_console.client.get("/console/audit?export=pdf")
    assert bad.status_code == 422
