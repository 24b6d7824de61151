"""The demo's audit follow-up: rectification notices and earlier audit suggestions.

Why (issue 15): the audit report's §五 以往审计决定执行情况和审计建议采纳情况
(《国家审计准则》第一百二十二条) reads the rectification register and the suggestions
of earlier years' audits (docs/facts.md §8); a demo recording neither shows only
"无…记录". The demo records them through the real commands, each step by the role
that owns it (ledger/commands/rectification.py): 区审计局 notifies, verifies,
suggests and confirms; the notified department's clerk reports and answers.

- Rectifications (《审计法》第四十五条; §§160–164): on 12-15 the auditor notifies the
  departments of three findings the demo planted (ops/demo/obligations.py), each
  named by the id the views give it (``projections.facts.stable_id``, rule and
  subject): F6 and I4 are reported on 12-22 and accepted on 12-29; F7's report is not
  accepted and its deadline (12-24) passes — R1 planted (overdue as of the year's end;
  its subject is the rectification's id).
- Audit suggestions: 区审计局's report on the 2024 audit (issued 03-20) made three
  suggestions; the departments answer 已采纳, 部分采纳 and 未采纳 in April; the auditor
  confirms the first two and returns the third (reason insufficient).
"""

from __future__ import annotations

from datetime import date, datetime, time
from uuid import UUID

from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.domain.rectification import rectification_id
from ops.demo.obligations import Loader
from ops.demo.zone import DEMO_YEAR, DEPARTMENT_NAMES
from projections.facts import stable_id

NOTICE_DAY, REPORT_DAY, VERIFY_DAY = (date(DEMO_YEAR, 12, d) for d in (15, 22, 29))
# (rule planted, deadline, accepted): the last is not accepted by its deadline (R1).
NOTICES = (
    ("F6", date(DEMO_YEAR, 12, 26), True),
    ("I4", date(DEMO_YEAR, 12, 26), True),
    ("F7", date(DEMO_YEAR, 12, 24), False),
)
REQUIREMENT = {
    "F6": ("备案项目尚未通过架构评审即安排建设经费", "暂停拨付，待架构评审通过后再行安排"),
    "I4": ("已批复项目未按要求报送建设进展", "补报建设进展，建立季度报送机制"),
    "F7": ("安排建设经费超出备案总投资", "收回超出备案投资部分的经费"),
}
AUDIT_REPORT = f"苏高新审报〔{DEMO_YEAR}〕5号"  # the 2024 audit's report
# (number, department, suggestion, adoption, explanation, confirmed)
SUGGESTIONS = (
    (1, "ndrc", "建立政务信息化项目建设进展跟踪和绩效评价机制", "adopted",
     "已印发项目跟踪评价办法，按季度报送进展", True),
    (2, "finance", "对未接入共享平台的政务信息系统暂停安排运维经费", "partially",
     "新增系统已执行；存量系统分两年清理", True),
    (3, "housing", "清理整合建筑工地扬尘监测系统等使用率低的系统", "not_adopted",
     "系统仍承担扬尘监测任务，暂不整合", False),
)  # fmt: skip


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), CST)


def record(loader: Loader) -> None:
    """After the year's other facts: the suggestions, then the rectifications."""
    suggestions(loader)
    rectifications(loader)


def rectifications(loader: Loader) -> None:
    """Three notices of planted findings; R1 planted for the one never accepted."""
    app, auditor = loader.app, loader.cast.auditor
    for n, (rule, deadline, accepted) in enumerate(NOTICES, start=1):
        subject = sorted(loader.tally[f"planted:{rule}"])[0]
        department = (
            app.filing(UUID(subject)).builder
            if rule == "I4"
            else app.fund_decision(UUID(subject)).department
        )
        finding, requirement = REQUIREMENT[rule]
        notice = app.notify_rectification(
            auditor, finding_id=stable_id(rule, subject), rule=rule, department=department,
            reference=f"苏高新审整〔{DEMO_YEAR}〕{n}号", finding=finding,
            requirement=requirement, deadline=deadline, notified_at=_at(NOTICE_DAY),
        )  # fmt: skip
        app.report_rectification(
            loader.cast.clerk(department), notice,
            reference=f"{DEPARTMENT_NAMES[department]}整改报告〔{DEMO_YEAR}〕{n}号",
            summary="已按整改要求完成整改", reported_at=_at(REPORT_DAY),
        )  # fmt: skip
        app.verify_rectification(
            auditor, notice, accepted=accepted,
            reason="整改到位" if accepted else "超出部分尚未收回，整改不到位",
            verified_at=_at(VERIFY_DAY),
        )  # fmt: skip
        loader.tally["counts"]["rectifications"] += 1
        if not accepted:
            loader.tally["findings"]["R1"] += 1
            loader.tally["planted:R1"][rectification_id(stable_id(rule, subject)).hex] += 1


def suggestions(loader: Loader) -> None:
    """The 2024 audit's suggestions and the departments' answers."""
    app, auditor = loader.app, loader.cast.auditor
    for number, department, text, adoption, explanation, confirmed in SUGGESTIONS:
        suggestion = app.issue_audit_suggestion(
            auditor, reference=AUDIT_REPORT, number=number, department=department,
            year=DEMO_YEAR - 1, suggestion=text, issued_at=_at(date(DEMO_YEAR, 3, 20)),
        )  # fmt: skip
        app.respond_audit_suggestion(
            loader.cast.clerk(department), suggestion,
            reference=f"{DEPARTMENT_NAMES[department]}采纳反馈〔{DEMO_YEAR}〕{number}号",
            adoption=adoption, explanation=explanation, responded_at=_at(date(DEMO_YEAR, 4, 18)),
        )  # fmt: skip
        app.confirm_audit_suggestion(
            auditor, suggestion, confirmed=confirmed,
            reason="经核实属实" if confirmed else "未采纳理由不充分，请重新反馈",
            confirmed_at=_at(date(DEMO_YEAR, 4, 30)),
        )  # fmt: skip
        loader.tally["counts"]["audit_suggestions"] += 1
