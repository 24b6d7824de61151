"""整改台账 in the console (api/console/rectification_pages.py; docs/facts.md §8)."""

from __future__ import annotations

from datetime import datetime

from ledger.application import GovLedger
from ledger.domain import Actor, Role
from ledger.domain.fact_intake import record_fields
from ledger.store.connect import application_env
from projections.query import open_views
from tests.api.console.conftest import Console
from tests.ledger.domain.builders import NDRC

AUDITOR = Actor("audit-1", Role.AUDITOR, None)


def _record(console: Console) -> None:
    app = GovLedger(env=application_env(console.settings))
    try:
        app.register_department(
            NDRC,
            "minzheng",
            "区民政局",
            occurred_at=datetime.fromisoformat("2026-01-02T09:00+08:00"),
        )
        rid = app.notify_rectification(
            AUDITOR,
            **record_fields(
                "rectification_notice",
                {
                    "finding_id": "F3-x",
                    "rule": "F3",
                    "department": "minzheng",
                    "reference": "审整〔2026〕7号",
                    "finding": "项目未备案即拨付",
                    "requirement": "补办备案手续",
                    "deadline": "2026-02-28",
                    "notified_at": "2026-01-10T10:00:00+08:00",
                },
            ),
        )
        app.report_rectification(
            Actor("mz", Role.CIO, "minzheng"), rid, reference="民报1号", summary="已补办",
            reported_at=datetime.fromisoformat("2026-02-20T10:00+08:00"),
        )  # fmt: skip
        sid = app.issue_audit_suggestion(
            AUDITOR,
            **record_fields(
                "audit_suggestion",
                {
                    "reference": "审〔2026〕2号", "number": 3, "department": "minzheng",
                    "year": 2025, "suggestion": "备案前不予拨付",
                    "issued_at": "2026-01-10T10:00:00+08:00",
                },
            ),
        )  # fmt: skip
        app.respond_audit_suggestion(
            Actor("mz", Role.CIO, "minzheng"), sid, reference="民函2号", adoption="partially",
            explanation="新项目已执行，存量项目逐步补办",
            responded_at=datetime.fromisoformat("2026-02-15T10:00+08:00"),
        )  # fmt: skip
    finally:
        app.close()
    with open_views(console.settings, catch_up=True):
        pass  # the projection worker's part: reading never writes (docs/projections.md)


def test_the_register_shows_each_rectification_with_its_status_as_of_a_date(
    console: Console,
) -> None:
    _record(console)
    console.login(Role.AUDITOR)
    page = console.client.get("/console/rectifications?as_of=2026-02-01")
    assert page.status_code == 200
    text = page.text
    assert "整改台账" in text and "审整〔2026〕7号" in text and "补办备案手续" in text
    assert "区民政局" in text and "已下达整改通知" in text
    assert "整改中 1 项 · 逾期未完成 0 项 · 已通过 0 项" in text
    later = console.client.get("/console/rectifications?as_of=2026-03-01").text
    assert "逾期未完成 1 项" in later and "已报送整改报告" in later
    # 审计建议采纳情况 below it: unanswered on 1 February, adopted in part by 1 March.
    assert "审〔2026〕2号 第 3 项" in text and "备案前不予拨付" in text and "未反馈" in text
    assert "部分采纳" in later and "存量项目逐步补办" in later and "已反馈待核实" in later
    other = console.client.get("/console/rectifications?department=gongan").text
    assert "没有整改事项" in other and "没有审计建议" in other
    assert 'href="/console/rectifications"' in console.client.get("/console/ledger").text


def test_the_administrator_reads_no_records_and_may_not_open_it(console: Console) -> None:
    console.login(Role.ADMIN)
    page = console.client.get("/console/rectifications", follow_redirects=False)
    assert page.status_code == 403 and "整改通知文号" not in page.text
    assert 'href="/console/rectifications"' not in console.client.get("/console/ledger").text


def test_report_check_answers_an_issued_file_and_refuses_a_changed_copy(console: Console) -> None:
    content = b'{"title": "2026 audit"}\n'
    app = GovLedger(env=application_env(console.settings))
    try:
        head = app.recorder.max_notification_id() or 0
        (issued,) = app.issue_report(
            AUDITOR, kind="audit", year=2026, as_of_position=head, files=[("json", content)]
        )
    finally:
        app.close()
    console.login(Role.AUDITOR)
    assert "报告核验" in console.client.get("/console/report-check").text
    csrf = console.csrf("/console/report-check")
    found = console.client.post(
        "/console/report-check", data={"csrf": csrf}, files={"report": ("a.json", content)}
    )
    assert found.status_code == 200 and "已签发" in found.text
    assert f'<dd id="report-position">{issued.position}</dd>' in found.text
    assert "2026 年度经费审计报告" in found.text and "尚无覆盖该记录的签名检查点" in found.text
    changed = console.client.post(
        "/console/report-check",
        data={"csrf": csrf},
        files={"report": ("b.json", content.replace(b"2026", b"2027"))},
    )
    assert changed.status_code == 422 and "未找到签发记录" in changed.text
    no_csrf = console.client.post("/console/report-check", files={"report": ("a.json", content)})
    assert no_csrf.status_code in (400, 403)
