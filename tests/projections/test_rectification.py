"""Rectification across two years: the register and rule R1 as of dates, both backends.

docs/facts.md §8; projections/rectification.py (fold, register, R1), Views.rectifications,
``GET /views/rectifications``. Year 1 (2026): a finding is notified with a deadline of
31 December, the department reports; year 2 (2027): the report is not accepted, the
department reports again, and the auditor accepts it on 1 March.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Actor, Role
from ledger.domain.fact_intake import record_fields
from ledger.store.connect import application_env, init_ledger
from projections.query import Views, forget_folds, open_views
from tests.ledger.domain.builders import NDRC, FakeClock
from tests.projections.scenario import scenario_settings

AUDITOR = Actor("audit-1", Role.AUDITOR, None)
CLERK = Actor("mz-clerk", Role.DEPARTMENT_CLERK, "minzheng")


@dataclass
class Ledger:
    settings: Settings
    fixed: UUID  # rectified over two years
    ignored: UUID  # never reported


def notice(finding_id: str, deadline: str, notified_at: str) -> dict[str, object]:
    return record_fields(
        "rectification_notice",
        {
            "finding_id": finding_id,
            "rule": "F1",
            "department": "minzheng",
            "reference": f"审整〔2026〕{finding_id}",
            "finding": "向未接入共享交换平台的系统拨付运维经费",
            "requirement": "接入平台或停止拨付",
            "deadline": deadline,
            "notified_at": notified_at,
        },
    )


def t(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


@pytest.fixture
def ledger(settings: Settings) -> Ledger:
    settings = scenario_settings(settings)
    init_ledger(settings)
    app = GovLedger(
        env=application_env(settings), clock=FakeClock(datetime(2027, 6, 1, tzinfo=UTC))
    )
    try:
        app.register_department(NDRC, "minzheng", "区民政局", occurred_at=t("2026-01-05T09:00:00"))
        fixed = app.notify_rectification(
            AUDITOR, **notice("F1-a", "2026-12-31", "2026-11-10T10:00:00+08:00")
        )
        ignored = app.notify_rectification(
            AUDITOR, **notice("F1-b", "2027-01-31", "2026-11-12T10:00:00+08:00")
        )
        app.report_rectification(
            CLERK, fixed, reference="民整〔2026〕1号", summary="已制定方案",
            reported_at=t("2026-12-20T10:00:00"),
        )  # fmt: skip
        app.verify_rectification(
            AUDITOR, fixed, accepted=False, reason="平台尚未接入",
            verified_at=t("2027-01-10T10:00:00"),
        )  # fmt: skip
        app.report_rectification(
            CLERK, fixed, reference="民整〔2027〕1号", summary="系统已接入平台",
            reported_at=t("2027-02-15T10:00:00"),
        )  # fmt: skip
        app.verify_rectification(
            AUDITOR, fixed, accepted=True, reason="核实已接入",
            verified_at=t("2027-03-01T10:00:00"),
        )  # fmt: skip
    finally:
        app.close()
    forget_folds()
    return Ledger(settings, fixed, ignored)


@pytest.fixture
def views(ledger: Ledger) -> Iterator[Views]:
    with open_views(ledger.settings, catch_up=True) as opened:
        yield opened


def status(views: Views, as_of: date) -> dict[str, tuple[str, str, int]]:
    return {
        e.finding_id: (e.status, e.step, e.reports)
        for e in views.rectifications(views.moment(as_of=as_of))
    }


def overdue(views: Views, as_of: date) -> list[tuple[str, date]]:
    found = views.findings(views.moment(as_of=as_of), rule="R1")
    return sorted((f.subject, f.time.date()) for f in found)


def test_the_register_as_of_dates_across_two_years(views: Views, ledger: Ledger) -> None:
    assert status(views, date(2026, 11, 9)) == {}
    assert status(views, date(2026, 11, 11)) == {"F1-a": ("open", "notified", 0)}
    assert status(views, date(2026, 12, 31))["F1-a"] == ("open", "reported", 1)
    assert status(views, date(2027, 1, 1))["F1-a"] == ("overdue", "reported", 1)
    assert status(views, date(2027, 1, 10))["F1-a"] == ("overdue", "not_accepted", 1)
    assert status(views, date(2027, 2, 1)) == {
        "F1-a": ("overdue", "not_accepted", 1),
        "F1-b": ("overdue", "notified", 0),
    }
    assert status(views, date(2027, 2, 28))["F1-a"] == ("overdue", "reported", 2)
    assert status(views, date(2027, 3, 1))["F1-a"] == ("accepted", "accepted", 2)
    head = views.rectifications(views.moment())
    assert [(e.finding_id, e.status) for e in head] == [("F1-a", "accepted"), ("F1-b", "overdue")]
    assert all(e.department == "minzheng" for e in head)
    assert views.rectifications(views.moment(), department="gongan") == []


def test_rule_r1_finds_each_overdue_rectification_from_the_day_after_its_deadline(
    views: Views, ledger: Ledger
) -> None:
    fixed, ignored = ledger.fixed.hex, ledger.ignored.hex
    assert overdue(views, date(2026, 12, 31)) == []  # the last day on time
    assert overdue(views, date(2027, 1, 1)) == [(fixed, date(2027, 1, 1))]
    assert overdue(views, date(2027, 2, 1)) == sorted(
        [(fixed, date(2027, 1, 1)), (ignored, date(2027, 2, 1))]
    )
    assert overdue(views, date(2027, 2, 28)) == sorted(
        [(fixed, date(2027, 1, 1)), (ignored, date(2027, 2, 1))]
    )
    # Accepted on 1 March (late): closed from then on; the other stays overdue.
    assert overdue(views, date(2027, 3, 1)) == [(ignored, date(2027, 2, 1))]
    (finding,) = views.findings(views.moment(), rule="R1")
    assert (finding.severity, finding.department, finding.subject_kind) == (
        "high",
        "minzheng",
        "rectification",
    )
    tally = views.finding_tally(views.moment(as_of=date(2027, 2, 1)))
    assert tally[("R1", "high")] == 2
