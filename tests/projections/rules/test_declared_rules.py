"""The plan's declared records worked by hand, as of several dates (both backends).

I7 for services and base data (seed §三(二)7–8), I8 a system kept under a 处室's name
(§三(一)4), I9 no self-inspection report (§三(一)1), I10 a classified system with no
分级保护 filing (§三(五)17). docs/facts.md §11 and docs/rules-inputs.md give the
inputs and the defaults used here; who may declare each kind is checked too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Actor, DomainError, ResourceItem, Role, Sensitivity, SharingType
from ledger.domain.errors import ErrorCode
from ledger.store.connect import application_env, init_ledger
from projections.facts import CST
from projections.query import Finding, open_views
from tests.projections.rules.test_issue14_rules import INVENTORY
from tests.projections.scenario import ADMIN, GONGAN, MINZHENG, OFFICER, Clock, _entry

NDRC = Actor("ndrc-1", Role.NDRC, None)
GONGAN_CLERK = Actor("gongan-clerk", Role.DEPARTMENT_CLERK, "gongan")


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=CST)


@pytest.fixture
def app(settings: Settings) -> Iterator[GovLedger]:
    init_ledger(settings)
    ledger = GovLedger(env=application_env(settings), clock=Clock(at(2027, 6, 30)))
    for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局"), ("jiaoyu", "区教育局")):
        ledger.register_department(ADMIN, code, name, occurred_at=at(2019, 3, 1))
    try:
        yield ledger
    finally:
        ledger.close()


def found(settings: Settings, rule: str, on: date) -> list[Finding]:
    with open_views(settings, catch_up=True) as views:
        return views.findings(views.moment(as_of=on), rule=rule)


def subjects(settings: Settings, rule: str, on: date) -> set[str]:
    return {f.subject for f in found(settings, rule, on)}


def system(app: GovLedger, name: str, registered: datetime) -> UUID:
    inventory = replace(INVENTORY, name=name)
    return app.register_system(GONGAN_CLERK, "gongan", inventory, occurred_at=registered)


def test_i8_a_system_kept_under_a_divisions_name(settings: Settings, app: GovLedger) -> None:
    a, b, c = (system(app, n, at(2019, 3, 2)) for n in ("治安科系统", "户政系统", "大系统"))
    late = system(app, "出入境科系统", at(2021, 1, 5))
    for sid, unit, when in ((a, "治安科", at(2019, 6, 1)), (b, "", at(2019, 6, 1)),
                            (late, "出入境科", at(2021, 3, 1))):  # fmt: skip
        app.declare(NDRC, "system_unit", system_id=sid, reference=f"专项调查-{sid.hex[:6]}",
                    internal_unit=unit, evidence="专项调查记录", declared_at=when)  # fmt: skip
    with pytest.raises(DomainError) as refused:  # the department does not clear its own finding
        app.declare(GONGAN_CLERK, "system_unit", system_id=a, reference="自报", internal_unit="")
    assert refused.value.code is ErrorCode.ROLE_NOT_PERMITTED
    # due at the end of 2019-12-31 (§三(一)4)
    assert subjects(settings, "I8", date(2019, 12, 31)) == set()
    (kept,) = found(settings, "I8", date(2020, 1, 1))
    assert (kept.subject, kept.department, kept.severity) == (a.hex, "gongan", "medium")
    assert kept.time.isoformat().startswith("2020-01-01T00:00") and "治安科" in kept.detail
    app.merge_system(GONGAN_CLERK, a, c, occurred_at=at(2020, 5, 1))  # merged: cleared
    assert subjects(settings, "I8", date(2020, 4, 30)) == {a.hex}
    assert subjects(settings, "I8", date(2020, 5, 1)) == set()
    (later,) = found(settings, "I8", date(2021, 3, 1))  # found after the date: from its finding
    assert later.subject == late.hex and later.time.isoformat().startswith("2021-03-01T10:00")
    # ndrc's re-inspection finds it integrated: cleared from then, still found before
    app.declare(NDRC, "system_unit", system_id=late, reference="复查-1", internal_unit="",
                declared_at=at(2021, 9, 1))  # fmt: skip
    assert subjects(settings, "I8", date(2021, 8, 31)) == {late.hex}
    assert subjects(settings, "I8", date(2021, 9, 1)) == set()


def test_i9_self_inspection_report_missing_or_late(settings: Settings, app: GovLedger) -> None:
    gongan_system = system(app, "户政系统", at(2019, 3, 2))
    app.declare(GONGAN_CLERK, "self_inspection", department="gongan", reference="自查-1",
                summary="系统自查", systems_inventoried=1, to_integrate=[gongan_system],
                declared_at=at(2019, 4, 1))  # fmt: skip
    app.declare(MINZHENG, "self_inspection", department="minzheng", reference="自查-2",
                summary="系统自查", systems_inventoried=0, declared_at=at(2019, 7, 1))  # fmt: skip
    with pytest.raises(DomainError) as other:  # not the department's system
        app.declare(MINZHENG, "self_inspection", department="minzheng", reference="自查-3",
                    summary="x", systems_inventoried=1, to_connect=[gongan_system])  # fmt: skip
    assert other.value.code is ErrorCode.DEPARTMENT_MISMATCH
    with pytest.raises(DomainError):  # another department's report
        app.declare(MINZHENG, "self_inspection", department="jiaoyu", reference="自查-4",
                    summary="x", systems_inventoried=0)  # fmt: skip
    # registered 2019-03-01 10:00, after the plan's 2018-11-30: due 90 days on, 05-30 10:00
    assert subjects(settings, "I9", date(2019, 5, 29)) == set()
    assert subjects(settings, "I9", date(2019, 5, 30)) == {"minzheng", "jiaoyu"}
    by_subject = {f.subject: f for f in found(settings, "I9", date(2019, 7, 2))}
    assert set(by_subject) == {"minzheng", "jiaoyu"}  # a late report stays a finding
    assert "late" in by_subject["minzheng"].detail and "no self" in by_subject["jiaoyu"].detail
    assert len(by_subject["minzheng"].positions) == 2 == len(by_subject["jiaoyu"].positions) + 1
    assert by_subject["jiaoyu"].time.isoformat().startswith("2019-05-30T10:00")
    assert by_subject["jiaoyu"].severity == "low"


def test_i10_a_classified_system_without_its_filing(settings: Settings, app: GovLedger) -> None:
    secret, plain = system(app, "涉密办公系统", at(2026, 1, 5)), system(app, "门户", at(2026, 1, 5))
    app.declare(GONGAN_CLERK, "classified_protection", system_id=secret, reference="定密-1",
                classified=True, level="jimi", declared_at=at(2026, 2, 1))  # fmt: skip
    app.declare(OFFICER, "classified_protection", system_id=plain, reference="定密-2",
                classified=False, declared_at=at(2026, 2, 1))  # fmt: skip
    for bad in ({"classified": True}, {"classified": False, "filed": True},
                {"classified": True, "level": "restricted"}):  # fmt: skip
        with pytest.raises(DomainError) as invalid:
            app.declare(GONGAN_CLERK, "classified_protection", system_id=plain,
                        reference="定密-x", **bad)  # fmt: skip
        assert invalid.value.code is ErrorCode.INVALID_VALUE
    with pytest.raises(DomainError) as refused:
        app.declare(NDRC, "classified_protection", system_id=plain, reference="定密-y",
                    classified=False)  # fmt: skip
    assert refused.value.code is ErrorCode.ROLE_NOT_PERMITTED
    assert subjects(settings, "I10", date(2026, 1, 31)) == set()
    (unfiled,) = found(settings, "I10", date(2026, 2, 1))
    assert (unfiled.subject, unfiled.severity) == (secret.hex, "high")
    assert unfiled.time.isoformat().startswith("2026-02-01T10:00") and "jimi" in unfiled.detail
    app.declare(OFFICER, "classified_protection", system_id=secret, reference="分保备案-1",
                classified=True, level="jimi", filed=True, declared_at=at(2026, 4, 1))  # fmt: skip
    assert subjects(settings, "I10", date(2026, 3, 31)) == {secret.hex}
    assert subjects(settings, "I10", date(2026, 4, 1)) == set()


def test_i7_services_and_base_data_on_the_cloud(settings: Settings, app: GovLedger) -> None:
    base = [ResourceItem("姓名", Sensitivity.GENERAL, True)]
    for code in ("RK-0001", "RK-0002", "RK-0003"):
        entry = replace(_entry(code, f"资源{code[-1]}", base, SharingType.UNCONDITIONAL),
                        base_resource=code != "RK-0003")  # fmt: skip
        app.register_resource(GONGAN, entry, occurred_at=at(2019, 5, 1))
    app.declare(GONGAN, "resource_cloud", resource_code="RK-0001", reference="上云-1",
                on_cloud=True, declared_at=at(2019, 10, 1))  # fmt: skip
    app.declare(NDRC, "resource_cloud", resource_code="RK-0002", reference="上云-2",
                on_cloud=True, declared_at=at(2020, 6, 1))  # fmt: skip
    lists = (("gongan", GONGAN_CLERK, 4, at(2019, 10, 1)),
             ("minzheng", MINZHENG, 8, at(2019, 11, 1)),
             ("gongan", NDRC, 10, at(2020, 12, 31, 23)))  # fmt: skip
    for n, (department, who, on, when) in enumerate(lists):
        app.declare(who, "service_cloud", department=department, reference=f"服务清单-{n}",
                    services=10, on_cloud=on, declared_at=when)  # fmt: skip
    with pytest.raises(DomainError):  # more on the cloud than there are
        app.declare(MINZHENG, "service_cloud", department="minzheng", reference="服务清单-x",
                    services=3, on_cloud=4)  # fmt: skip
    # 2019-12-31: services 12 of 20 (60% ≥ 50%); base data 1 of 2 (RK-0003 is not base)
    (data,) = found(settings, "I7", date(2020, 1, 1))
    assert data.subject == "zone:2019:cloud_data" and "1 of 2" in data.detail
    assert subjects(settings, "I7", date(2020, 12, 31)) == {"zone:2019:cloud_data"}
    # 2020-12-31: services 18 of 20 (gongan's new list counts: dated 23:00), data 2 of 2
    by_subject = {f.subject: f for f in found(settings, "I7", date(2021, 1, 1))}
    assert set(by_subject) == {"zone:2019:cloud_data", "zone:2020:cloud_services"}
    services = by_subject["zone:2020:cloud_services"]
    assert "18 of 20" in services.detail and services.department == "ndrc"
    assert services.time.isoformat().startswith("2021-01-01T00:00")
    assert len(services.positions) == 1  # minzheng's list, the one short of the cloud
