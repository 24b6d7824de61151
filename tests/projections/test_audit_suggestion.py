"""Audit suggestions across two years: their adoption as of dates, and next year's audit
report, on both backends.

docs/facts.md §8; projections/audit_suggestion.py, Views.audit_suggestions,
projections/reports/audit_sections.py (section 五 and 八). Year 1 (2026): the audit of
2026 (审〔2026〕9号) makes three suggestions to 区民政局 on 20 December. Year 2 (2027):
item 1 is adopted (confirmed on 1 February); item 2 is adopted in part, the auditor does
not accept the explanation, and the department answers again that it does not adopt it
(confirmed on 1 March); item 3 is never answered. The audit report of 2027 reports the
adoption of these earlier suggestions; the report of 2026 lists them as its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Actor, Role
from ledger.domain.fact_intake import record_fields
from ledger.store.connect import application_env, init_ledger
from projections.query import Views, forget_folds, open_views
from projections.reports import ReportKind, generate
from projections.reports.model import Section
from tests.ledger.domain.builders import NDRC, FakeClock
from tests.projections.scenario import scenario_settings

AUDITOR = Actor("audit-1", Role.AUDITOR, None)
CLERK = Actor("mz-clerk", Role.DEPARTMENT_CLERK, "minzheng")
TEXTS = ("核对系统接入情况后再安排运维经费", "清理僵尸系统", "完善项目备案")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


@pytest.fixture
def ledger(settings: Settings) -> Settings:
    settings = scenario_settings(settings)
    init_ledger(settings)
    app = GovLedger(
        env=application_env(settings), clock=FakeClock(datetime(2027, 6, 1, tzinfo=UTC))
    )
    try:
        app.register_department(NDRC, "minzheng", "区民政局", occurred_at=t("2026-01-05T09:00:00"))
        bodies = [
            {
                "reference": "审〔2026〕9号", "number": n, "department": "minzheng",
                "year": 2026, "suggestion": text, "issued_at": "2026-12-20T10:00:00+08:00",
            }
            for n, text in enumerate(TEXTS, start=1)
        ]  # fmt: skip
        ids = [
            app.issue_audit_suggestion(AUDITOR, **record_fields("audit_suggestion", body))
            for body in bodies
        ]
        adopted, partly, _silent = ids
        app.respond_audit_suggestion(
            CLERK, adopted, reference="民函〔2027〕1号", adoption="adopted",
            explanation="已建立核对机制", responded_at=t("2027-01-15T10:00:00"),
        )  # fmt: skip
        app.confirm_audit_suggestion(
            AUDITOR, adopted, confirmed=True, reason="核实", confirmed_at=t("2027-02-01T10:00:00")
        )
        app.respond_audit_suggestion(
            CLERK, partly, reference="民函〔2027〕2号", adoption="partially",
            explanation="已清理两套", responded_at=t("2027-01-20T10:00:00"),
        )  # fmt: skip
        app.confirm_audit_suggestion(
            AUDITOR, partly, confirmed=False, reason="未说明其余系统",
            confirmed_at=t("2027-02-05T10:00:00"),
        )  # fmt: skip
        app.respond_audit_suggestion(
            CLERK, partly, reference="民函〔2027〕3号", adoption="not_adopted",
            explanation="其余系统仍在使用，不宜清理", responded_at=t("2027-02-20T10:00:00"),
        )  # fmt: skip
        app.confirm_audit_suggestion(
            AUDITOR, partly, confirmed=True, reason="属实", confirmed_at=t("2027-03-01T10:00:00")
        )
    finally:
        app.close()
    forget_folds()
    return settings


@pytest.fixture
def views(ledger: Settings) -> Iterator[Views]:
    with open_views(ledger, catch_up=True) as opened:
        yield opened


def adoption(views: Views, as_of: date) -> dict[int, tuple[str, str | None, int]]:
    return {
        e.number: (e.status, e.adoption, e.responses)
        for e in views.audit_suggestions(views.moment(as_of=as_of))
    }


def test_adoption_as_of_dates_across_two_years(views: Views) -> None:
    assert adoption(views, date(2026, 12, 19)) == {}
    issued = ("issued", None, 0)
    assert adoption(views, date(2026, 12, 31)) == {1: issued, 2: issued, 3: issued}
    assert adoption(views, date(2027, 1, 20)) == {
        1: ("responded", "adopted", 1), 2: ("responded", "partially", 1), 3: issued,
    }  # fmt: skip
    assert adoption(views, date(2027, 2, 5))[2] == ("returned", "partially", 1)
    assert adoption(views, date(2027, 2, 20))[2] == ("responded", "not_adopted", 2)
    assert adoption(views, date(2027, 3, 1)) == {
        1: ("confirmed", "adopted", 1), 2: ("confirmed", "not_adopted", 2), 3: issued,
    }  # fmt: skip
    head = views.audit_suggestions(views.moment())
    assert [e.explanation for e in head] == ["已建立核对机制", "其余系统仍在使用，不宜清理", ""]
    assert all(e.department == "minzheng" and e.year == 2026 for e in head)
    assert views.audit_suggestions(views.moment(), department="gongan") == []


def section(settings: Settings, year: int, title: str) -> Section:
    report = generate(settings, ReportKind.AUDIT, year, catch_up=True)
    return next(s for s in report.sections if s.title == title)


def test_next_years_audit_report_says_how_earlier_suggestions_were_adopted(
    ledger: Settings,
) -> None:
    previous = section(ledger, 2027, "以往审计决定执行情况和审计建议采纳情况")
    said = "\n".join(previous.paragraphs)
    assert "不在账本记录范围" not in said
    assert (
        "以往年度审计建议 3 项：已采纳 1 项，部分采纳 0 项，未采纳 1 项，"
        "被审计单位尚未反馈 1 项；采纳情况经审计核实的 2 项。"
    ) in said
    (table,) = previous.tables
    assert table.title == "以往审计建议采纳情况"
    assert [r.cells for r in table.rows] == [
        ("审〔2026〕9号 第 1 项（2026 年度）", "区民政局（minzheng）", TEXTS[0], "已采纳",
         "已建立核对机制", "已核实"),
        ("审〔2026〕9号 第 2 项（2026 年度）", "区民政局（minzheng）", TEXTS[1], "未采纳",
         "其余系统仍在使用，不宜清理", "已核实"),
        ("审〔2026〕9号 第 3 项（2026 年度）", "区民政局（minzheng）", TEXTS[2], "未反馈", "—",
         "待反馈"),
    ]  # fmt: skip
    assert len(table.rows[1].positions) == 5  # suggested, answered, returned, answered, checked


def test_the_audited_years_report_lists_them_as_its_own_suggestions(ledger: Settings) -> None:
    own = section(ledger, 2026, "审计建议").paragraphs
    assert own[-4] == "已向被审计单位提出并记入账本的本年度审计建议 3 项："
    assert own[-3] == f"审〔2026〕9号 第 1 项（区民政局（minzheng））：{TEXTS[0]}"
    previous = section(ledger, 2026, "以往审计决定执行情况和审计建议采纳情况")
    assert previous.tables == ()
    assert "无以往年度审计建议记录" in "\n".join(previous.paragraphs)
