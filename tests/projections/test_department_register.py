"""Views.department_register (projections/department_register.py) as of several dates, on
both backends: the facts on record at the moment's business time, and the year's due dates."""

from __future__ import annotations

from datetime import date, datetime

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.actor import Actor, Role
from ledger.store.connect import application_env, init_ledger
from projections.department_register import DepartmentRegister
from projections.facts import CST
from projections.query import open_views
from tests.projections.scenario import ADMIN, MINZHENG, Clock

NDRC = Actor("ndrc-1", Role.NDRC, None)


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=CST)


def test_cio_reports_and_due_dates_as_of_several_dates(settings: Settings) -> None:
    init_ledger(settings)
    app = GovLedger(env=application_env(settings), clock=Clock(at(2027, 6, 30)))
    try:
        app.register_department(ADMIN, "minzheng", "区民政局", occurred_at=at(2025, 3, 1))
        app.name_cio(MINZHENG, "minzheng", "王芳", occurred_at=at(2025, 5, 1))
        app.submit_department_report(MINZHENG, department="minzheng", year=2025,
                                     reference="mz-2025", summary="年度共享情况",
                                     submitted_at=at(2026, 1, 5))  # fmt: skip
        app.submit_zone_report(NDRC, year=2025, reference="zone-2025", summary="全区汇总",
                               submitted_at=at(2026, 1, 20))  # fmt: skip
        app.approve_zone_report(NDRC, 2025, approving_body="领导小组", reference="批复-1",
                                approved_at=at(2026, 2, 10))  # fmt: skip
        app.declare(MINZHENG, "self_inspection", department="minzheng", reference="自查-1",
                    summary="系统自查", systems_inventoried=0,
                    declared_at=at(2025, 9, 1))  # fmt: skip
    finally:
        app.close()

    def register(on: date, year: int | None = None) -> DepartmentRegister:
        with open_views(settings, catch_up=True) as views:
            return views.department_register(views.moment(as_of=on), year=year)

    early = register(date(2025, 4, 30))
    assert early.year == 2024  # 2025's reports are not due before 2025-12-31
    (d,) = early.departments
    assert (d.cio_name, d.annual_report, d.self_inspection) == (None, None, None)
    mid = register(date(2026, 2, 1))
    assert (mid.year, mid.report_due, mid.zone_report_due) == (
        2025, date(2025, 12, 31), date(2026, 1, 31))  # fmt: skip
    (d,) = mid.departments
    assert d.cio_name == "王芳" and d.cio_named_at == at(2025, 5, 1)
    assert d.annual_report is not None and d.annual_report.submitted_at == at(2026, 1, 5)
    assert d.self_inspection is not None and d.self_inspection.reference == "自查-1"
    assert mid.zone_report is not None and mid.zone_report.approved_at is None  # not yet
    later = register(date(2026, 3, 1))
    assert later.zone_report is not None and later.zone_report.approved_at == at(2026, 2, 10)
    assert len(later.zone_report.positions) == 2  # the report and its approval
    assert register(date(2026, 3, 1), year=2026).departments[0].annual_report is None


def test_a_predecessor_recorded_late_does_not_replace_the_cio(settings: Settings) -> None:
    """The CIO is the one named latest in business time, whatever the recording order
    (recorded late = recorded live); I6's first naming is the earliest."""
    init_ledger(settings)
    app = GovLedger(env=application_env(settings), clock=Clock(at(2026, 6, 30)))
    try:
        app.register_department(ADMIN, "minzheng", "区民政局", occurred_at=at(2025, 3, 1))
        app.name_cio(MINZHENG, "minzheng", "李娜", occurred_at=at(2025, 9, 1))  # the successor
        app.name_cio(MINZHENG, "minzheng", "王芳", occurred_at=at(2025, 5, 1))  # back-filled
    finally:
        app.close()
    with open_views(settings, catch_up=True) as views:
        (head,) = views.department_register(views.moment()).departments
        assert (head.cio_name, head.cio_named_at) == ("李娜", at(2025, 9, 1))
        assert views.zone(views.moment()).departments["minzheng"].cio_name == "李娜"
        (june,) = views.department_register(views.moment(as_of=date(2025, 6, 1))).departments
        assert (june.cio_name, june.cio_named_at) == ("王芳", at(2025, 5, 1))
        (april,) = views.department_register(views.moment(as_of=date(2025, 4, 1))).departments
        assert april.cio_name is None
        assert not views.findings(views.moment(as_of=date(2025, 12, 31)), rule="I6")
