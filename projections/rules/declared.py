"""I7–I10: the rules judged from the plan's declared records, at the moment asked about.

docs/facts.md §11 and docs/rules-inputs.md; the declarations are folded by
``projections.declarations`` and the limits are ``projections.rules.limits``'s.

- I7 (seed §三(二)6–8 上云): at each year end passed, the share on the government
  cloud of the zone's systems (``InformationSystem.MovedOnCloud``), of its public
  services (each department's ``service_cloud`` in force) and of its base data
  resources (each base resource's ``resource_cloud`` in force) is below its target.
  One zone-level finding per kind and year, citing what is not on the cloud.
- I8 (seed §三(一)4 杜绝以处室等内设机构名义存在的独立信息系统, due 2019-12-31): a
  system still in use that 区发改局 found kept under an internal division's name.
- I9 (seed §三(一)1 自查报告, 附件1 第1项, due 2018-11-30): a department with no
  self-inspection report by the plan's date, or within ``self_inspection_grace_days``
  of its registration if it was registered later. A late report stays a finding.
- I10 (seed §三(五)17 分级保护备案; 保守国家秘密法 (2024) 第三十条 涉密信息系统分级保护): a system
  still in use, declared to store or process state secrets, with no 分级保护 filing.

Every finding is dated when it became due, and cites the positions of the facts
that prove it (the system's or department's registration and the declaration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from projections.declarations import first_dated, in_force
from projections.facts import CST
from projections.rules.limits import (
    CLOUD_DATA_TARGET_PERCENT,
    CLOUD_FIRST_TARGET_YEAR,
    CLOUD_SERVICES_TARGET_2019_PERCENT,
    CLOUD_SERVICES_TARGET_PERCENT,
    CLOUD_TARGET_2019_PERCENT,
    CLOUD_TARGET_PERCENT,
    INTERNAL_UNIT_SYSTEMS_DUE_YEAR,
    SELF_INSPECTION_DUE,
    SELF_INSPECTION_DUE_YEAR,
    SELF_INSPECTION_GRACE_DAYS,
    end_of_day,
    limit,
    month_day,
)

State = dict[str, Any]
Row = Callable[[str, str, str, "str | None", list[int], datetime, str], Any]
ZONE = "zone"
_JUST_BEFORE = timedelta(microseconds=1)


def _before(iso: str | None, moment: datetime) -> bool:
    return iso is not None and datetime.fromisoformat(iso) < moment


def _in_use(system: dict[str, Any], moment: datetime) -> bool:
    """Registered before ``moment`` and neither merged nor decommissioned by then."""
    return _before(system.get("registered_at"), moment) and not any(
        _before(system.get(f"{change}_at"), moment) for change in ("MergedInto", "Decommissioned")
    )


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, CST)


def _share(on: int, counted: int) -> str:
    return f"{on} of {counted} ({on * 100 / counted:.1f}%)"


def cloud_targets(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """I7 at ``reference``: each year end passed whose cloud share (systems, services,
    base data) is below its target."""
    for year in range(CLOUD_FIRST_TARGET_YEAR, reference.astimezone(CST).year):
        end = end_of_day(year, "12-31")
        first = year == CLOUD_FIRST_TARGET_YEAR
        yield from _systems_on_cloud(state, year, end, first, row)
        yield from _services_on_cloud(state, year, end, first, row)
        yield from _data_on_cloud(state, year, end, row)


def _target(state: State, end: datetime, first: bool, kind: str, firsts: int, later: int) -> int:
    name = f"cloud{kind}_target_2019_percent" if first else f"cloud{kind}_target_percent"
    return limit(state, end, name, firsts if first else later)


def _systems_on_cloud(
    state: State, year: int, end: datetime, first: bool, row: Row
) -> Iterator[Any]:
    """§三(二)6: 2019 50% of the applications, 2020 all."""
    target = _target(state, end, first, "", CLOUD_TARGET_2019_PERCENT, CLOUD_TARGET_PERCENT)
    counted, off = 0, []
    for system in state["systems"].values():
        if not _in_use(system, end):
            continue
        counted += 1
        if not _before(system.get("MovedOnCloud_at"), end):
            off.append(system["positions"][0])
    if counted and (counted - len(off)) * 100 < target * counted:
        yield row("I7", f"{ZONE}:{year}:cloud", "zone", "ndrc", sorted(off)[:100], end,
                  f"{year}-12-31: {_share(counted - len(off), counted)} systems on the cloud, "
                  f"target {target}%")  # fmt: skip


def _services_on_cloud(
    state: State, year: int, end: datetime, first: bool, row: Row
) -> Iterator[Any]:
    """§三(二)8: 2019 50% of the services, 2020 all; from the departments' lists in force."""
    target = _target(state, end, first, "_services", CLOUD_SERVICES_TARGET_2019_PERCENT,
                     CLOUD_SERVICES_TARGET_PERCENT)  # fmt: skip
    declared = in_force(state, "service_cloud", end - _JUST_BEFORE)
    counted = sum(int(d.content["services"]) for d in declared.values())
    on = sum(int(d.content["on_cloud"]) for d in declared.values())
    if counted and on * 100 < target * counted:
        short = [d.position for d in declared.values()
                 if d.content["on_cloud"] < d.content["services"]]  # fmt: skip
        yield row("I7", f"{ZONE}:{year}:cloud_services", "zone", "ndrc", sorted(short)[:100], end,
                  f"{year}-12-31: {_share(on, counted)} public services on the cloud "
                  f"({len(declared)} departments' lists), target {target}%")  # fmt: skip


def _data_on_cloud(state: State, year: int, end: datetime, row: Row) -> Iterator[Any]:
    """附件1 第7项 (2019-12 基础数据资源上云): every base resource's data on the cloud."""
    target = limit(state, end, "cloud_data_target_percent", CLOUD_DATA_TARGET_PERCENT)
    declared = in_force(state, "resource_cloud", end - _JUST_BEFORE)
    counted, off = 0, []
    for resource in state["resources"].values():
        if not resource["base_resource"] or not _before(resource.get("registered_at"), end):
            continue
        counted += 1
        found = declared.get(resource["code"])
        if found is None or not found.content["on_cloud"]:
            off.append(resource["positions"][0] if found is None else found.position)
    if counted and (counted - len(off)) * 100 < target * counted:
        yield row("I7", f"{ZONE}:{year}:cloud_data", "zone", "ndrc", sorted(off)[:100], end,
                  f"{year}-12-31: {_share(counted - len(off), counted)} base data resources "
                  f"on the cloud, target {target}%")  # fmt: skip


def internal_unit_systems(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """I8 at ``reference``: in use, found kept under a 处室's name, past the plan's date."""
    year = limit(state, reference, "internal_unit_systems_due_year", INTERNAL_UNIT_SYSTEMS_DUE_YEAR)
    due = end_of_day(year, "12-31")
    if reference < due:
        return
    for sid, found in in_force(state, "system_unit", reference).items():
        unit = str(found.content["internal_unit"])
        system = state["systems"].get(sid)
        if not unit or system is None or not _in_use(system, reference):
            continue
        yield row("I8", sid, "system", system["department"],
                  [system["positions"][0], found.position], max(due, _at(found.at)),
                  f"{system['name']}: kept under {unit}'s name, not merged into the "
                  f"department's integrated system (due {year}-12-31)")  # fmt: skip


def self_inspections(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """I9 at ``reference``: no self-inspection report by its due date, or a late one."""
    planned = end_of_day(
        limit(state, reference, "self_inspection_due_year", SELF_INSPECTION_DUE_YEAR),
        month_day(state, reference, "self_inspection_due", SELF_INSPECTION_DUE),
    )
    grace = limit(state, reference, "self_inspection_grace_days", SELF_INSPECTION_GRACE_DAYS)
    for department in state["departments"].values():
        registered = department.get("registered_at")
        if not registered:
            continue
        due = max(planned, datetime.fromisoformat(registered) + timedelta(days=grace))
        if reference < due:
            continue
        code = department["code"]
        report = first_dated(state, "self_inspection", code)
        if report is not None and report.at > reference.timestamp():
            report = None  # not submitted yet at the moment asked
        if report is not None and report.at < due.timestamp():
            continue
        deadline = f"{(due - _JUST_BEFORE).astimezone(CST):%Y-%m-%d}"
        if report is None:
            detail, positions = f"department {code}: no self-inspection report by {deadline}", []
        else:
            detail = f"department {code}: self-inspection report late ({_at(report.at):%Y-%m-%d})"
            positions = report.positions
        yield row("I9", code, "department", code, [department["position"], *positions], due,
                  detail)  # fmt: skip


def classified_unfiled(state: State, reference: datetime, row: Row) -> Iterator[Any]:
    """I10 at ``reference``: in use, declared classified (涉密), no 分级保护 filing."""
    for sid, found in in_force(state, "classified_protection", reference).items():
        system = state["systems"].get(sid)
        content = found.content
        if system is None or not content["classified"] or content["filed"]:
            continue
        if not _in_use(system, reference):
            continue
        yield row("I10", sid, "system", system["department"],
                  [system["positions"][0], found.position], _at(found.at),
                  f"{system['name']}: classified ({content['level']}), "
                  "no 分级保护 filing")  # fmt: skip
