"""The demo's plants of F8, I6, D3, S13 and I7 (issue 14; docs/rules-inputs.md).

The other issue-14 plants are ``ops.demo.obligations``; these follow the same
pattern: the facts a compliant zone records, except a few, which the summary counts
in ``findings`` and names in ``planted`` (the findings' subjects), each found as of
the date named here:

- I6 (seed 四(四) 明确各部门信息主管): 区编办 (it runs no system) never names its CIO;
  found ``cio_grace_days`` after its registration (as of the year's end).
- D3 (数据安全法 §40; 个人信息保护法 §21): four departments entrust the O&M or
  storage of a system to a 受托方; one contract ended 10-31 and the department
  records no end of it (found 30 days later, as of the year's end); one ended
  contract is closed on record; two run into the next year.
- S13 (51号 数据质量异议): three using departments dispute a resource's data in
  December; two providers answer within days, one never (found after 10 working
  days, as of the year's end).
- F8 (seed §三(五)17 利用程度低…的运维经费): in January of the next year 区财政局
  grants that year's O&M funds to two systems no one used in the demo year
  (judged once a system is a year on record: found as of 01-31 of the next year).
- I7 (seed §三(二)6–8): not every system moved to the government cloud by the year's
  end, two departments' public services are partly off it, and two base resources'
  data is not on it: three zone-level findings of 100% targets missed (as of 01-31
  of the next year).
- I8 (seed §三(一)4): 区发改局's survey finds the market regulator's food-safety system
  kept under a 科's name (the civil-affairs one it also finds is merged that day).
- I9 (seed §三(一)1 自查报告): every department reports in March but the planning
  bureau (May, late) and the Huxuguan zone (never), due 90 days after registration.
- I10 (seed §三(五)17 分级保护): 区网信办's situational-awareness platform is declared
  classified (秘密) with no 分级保护 filing; the police video platform is filed.
"""

from __future__ import annotations

from datetime import date, datetime, time
from uuid import UUID

from ledger.domain import FundKind, FundOutcome, SharingType
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ops.demo.obligations import Loader
from ops.demo.zone import DEMO_YEAR, DEPARTMENTS, FEN_PER_WAN, SETUP_DAY, SYSTEMS

NO_CIO = "staffing_office"  # I6: 区编办 names no CIO (it registers no system)
NEXT = DEMO_YEAR + 1
# D3: (department, system, tasks, period start, period end, ended on), one never ended.
ENTRUSTED: tuple[tuple[str, str, tuple[str, ...], date, date, date | None], ...] = (
    ("ndrc", "数据共享交换平台", ("operate",), date(DEMO_YEAR, 1, 1), date(NEXT, 12, 31), None),
    ("psb", "人口信息管理系统", ("operate", "store"), date(DEMO_YEAR, 1, 1), date(NEXT, 6, 30),
     None),
    ("health", "全民健康信息平台", ("build",), date(DEMO_YEAR, 2, 1), date(DEMO_YEAR, 9, 30),
     date(DEMO_YEAR, 10, 15)),
    ("housing", "房屋交易管理系统", ("operate",), date(DEMO_YEAR, 1, 1), date(DEMO_YEAR, 10, 31),
     None),
)  # fmt: skip
# I9: (department, report day) late; the second never reports.
SELF_INSPECTION_LATE, SELF_INSPECTION_MISSING = ("planning", date(DEMO_YEAR, 5, 12)), "hsg"
# I8: (system, 处室) found by ndrc's survey; the second is merged into its 大系统.
INTERNAL_UNITS = (("食品安全监管系统", "食品经营监管科"), ("养老补贴发放系统", "养老服务科"))
# I10: (system, 密级, filed)
CLASSIFIED = (("网络安全态势感知平台", "mimi", False), ("视频监控联网共享平台", "jimi", True))
# I7: departments whose public services are partly off the cloud (of, on); base
# resources whose data is not on the cloud.
SERVICES_OFF_CLOUD = {"amr": (20, 12), "hsg": (8, 3)}
BASE_DATA_OFF_CLOUD = 2
UNRESOLVED_OBJECTIONS = 1  # S13: the last objection is never answered
LITTLE_USED = 2  # F8: next year's O&M for two systems unused in the demo year


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), CST)


def plant(loader: Loader) -> None:
    """Record the facts after the demo year's accesses; tally what they plant."""
    without_cio(loader)
    processors(loader)
    objections(loader)
    little_used_om(loader)
    cloud_share(loader)
    declared_records(loader)


def without_cio(loader: Loader) -> None:
    """I6: ``ops.demo.registration`` names every department's CIO but :data:`NO_CIO`'s."""
    loader.tally["findings"]["I6"] += 1
    loader.tally["planted:I6"][NO_CIO] += 1


def processors(loader: Loader) -> None:
    """D3: the entrustments, the health bureau's ended on record, the housing one not."""
    app = loader.app
    for n, (department, system, tasks, start, end, ended) in enumerate(ENTRUSTED, start=1):
        processor_id = app.entrust_processor(
            loader.cast.cio(department), department=department,
            contract_reference=f"{department}-运维-{DEMO_YEAR}-{n:02d}",
            processor_name=f"苏州某信息技术有限公司{n}", processor_credit_code=f"91320505MA{n:08d}",
            tasks=tasks, system_ids=(loader.system_ids[system],), resource_codes=(),
            approval_reference=f"{department}-委托审批-{DEMO_YEAR}-{n}", period_start=start,
            period_end=end, occurred_at=_at(start),
        )  # fmt: skip
        loader.tally["counts"]["processors"] += 1
        if ended is not None:
            app.end_processor(
                loader.cast.cio(department), processor_id, reason="合同期满，数据已返还并删除",
                occurred_at=_at(ended),
            )  # fmt: skip
        elif end.year == DEMO_YEAR:
            loader.tally["findings"]["D3"] += 1
            loader.tally["planted:D3"][processor_id.hex] += 1


def objections(loader: Loader) -> None:
    """S13: three objections to unconditional resources of three providers, one unanswered."""
    app, cast = loader.app, loader.cast
    disputed: list[tuple[str, str]] = []
    for code in sorted(loader.codes.values()):
        resource = app.resource(code)
        provider = resource.provider_department
        unconditional = resource.sharing_type is SharingType.UNCONDITIONAL
        if unconditional and provider not in {p for _, p in disputed}:
            disputed.append((code, provider))
        if len(disputed) == 3:
            break
    departments = sorted(loader.using_system)
    for n, (code, provider) in enumerate(disputed):
        user = next(d for d in departments[n:] + departments if d != provider)
        raised = _at(date(DEMO_YEAR, 12, 1 + n))
        objection = app.raise_quality_objection(
            cast.clerk(user), idempotency_key=f"demo-{DEMO_YEAR}-S13-{n}", department=user,
            resource_code=code, items=(app.resource(code).items[0].name,),
            description="数据与实际登记情况不一致", raised_at=raised,
        )  # fmt: skip
        loader.tally["counts"]["quality_objections"] += 1
        if n < len(disputed) - UNRESOLVED_OBJECTIONS:
            app.resolve_quality_objection(
                cast.provider(provider), objection, resolution="已核实并更正源数据",
                resolved_at=_at(date(DEMO_YEAR, 12, 5 + n), 16),
            )  # fmt: skip
        else:
            loader.tally["findings"]["S13"] += 1
            loader.tally["planted:S13"][objection.hex] += 1


def little_used_om(loader: Loader) -> None:
    """F8: next year's O&M funds for the first systems no access named in the demo year
    (active, not required to connect or connected, and in no filing: no F1, F2 or F7)."""
    app = loader.app
    used = set(loader.using_system.values())
    filed = {s for f in loader.filing_ids.values() for s in app.filing(f).system_ids}
    idle: list[tuple[str, UUID]] = [
        (s.department, loader.system_ids[s.name])
        for s in SYSTEMS
        if not s.fate and s.connection != "unconnected"
        and str(loader.system_ids[s.name]) not in used and loader.system_ids[s.name] not in filed
    ][:LITTLE_USED]  # fmt: skip
    for n, (department, system_id) in enumerate(idle):
        decided = app.decide_funds(
            loader.cast.finance, kind=FundKind.OM_FUNDS, year=NEXT, department=department,
            amount_fen=20 * FEN_PER_WAN, outcome=FundOutcome.GRANTED,
            rationale=f"{NEXT}年度运维经费", system_id=system_id,
            decided_at=_at(date(NEXT, 1, 12), 10 + n), idempotency_key=f"demo-{NEXT}-F8-{n}",
        )  # fmt: skip
        loader.tally["funds"]["om_funds_granted"] += 1
        loader.tally["counts"]["fund_decisions"] += 1
        loader.tally["findings"]["F8"] += 1
        loader.tally["planted:F8"][decided.hex] += 1


def cloud_share(loader: Loader) -> None:
    """I7: the systems' share on the cloud at the year's end, against the 100% target."""
    if any(not s.on_cloud and not s.fate.startswith(("merged", "decommissioned")) for s in SYSTEMS):
        loader.tally["findings"]["I7"] += 1
        loader.tally["planted:I7"][f"zone:{DEMO_YEAR}:cloud"] += 1


def declared_records(loader: Loader) -> None:
    """I7 (services, data), I8, I9 and I10 from the plan's declared records (§11)."""
    app, cast, tally = loader.app, loader.cast, loader.tally
    for code, _, _ in DEPARTMENTS:
        if code == SELF_INSPECTION_MISSING:
            continue
        day = SELF_INSPECTION_LATE[1] if code == SELF_INSPECTION_LATE[0] else date(DEMO_YEAR, 3, 10)
        app.declare(
            cast.clerk(code), "self_inspection", department=code, declared_at=_at(day),
            reference=f"{code}-自查-{DEMO_YEAR}", summary="本部门政务信息系统自查",
            systems_inventoried=sum(1 for s in SYSTEMS if s.department == code),
        )  # fmt: skip
        tally["counts"]["self_inspections"] += 1
    for code in (SELF_INSPECTION_LATE[0], SELF_INSPECTION_MISSING):
        tally["findings"]["I9"] += 1
        tally["planted:I9"][code] += 1
    for n, (name, unit) in enumerate(INTERNAL_UNITS):
        survey = _at(date(DEMO_YEAR, 3, 20)) if n == 0 else _at(SETUP_DAY, 14)
        app.declare(
            cast.ndrc, "system_unit", system_id=loader.system_ids[name], internal_unit=unit,
            reference=f"整合共享专项调查-{DEMO_YEAR}-{n + 1}", declared_at=survey,
            evidence=f"苏高新发改〔{DEMO_YEAR}〕专项调查记录",
        )  # fmt: skip
    tally["findings"]["I8"] += 1
    tally["planted:I8"][INTERNAL_UNITS[0][0]] += 1  # by name: system ids are uuid4
    for name, level, filed in CLASSIFIED:
        spec = next(s for s in SYSTEMS if s.name == name)
        app.declare(
            cast.cio(spec.department), "classified_protection", system_id=loader.system_ids[name],
            reference=f"定密-{spec.department}-{DEMO_YEAR}", classified=True, level=level,
            filed=filed, declared_at=_at(date(DEMO_YEAR, 2, 10)),
        )  # fmt: skip
        if not filed:
            tally["findings"]["I10"] += 1
            tally["planted:I10"][name] += 1
    cloud_lists(loader)


def cloud_lists(loader: Loader) -> None:
    """I7: the departments' service lists and the base resources' data on the cloud."""
    app, cast, tally = loader.app, loader.cast, loader.tally
    for n, (code, _, _) in enumerate(DEPARTMENTS):
        services, on = SERVICES_OFF_CLOUD.get(code, (10 + n % 5, 10 + n % 5))
        app.declare(
            cast.clerk(code), "service_cloud", department=code, services=services, on_cloud=on,
            reference=f"{code}-服务清单-{DEMO_YEAR}", declared_at=_at(date(DEMO_YEAR, 12, 15)),
        )  # fmt: skip
    base = sorted(c for c in loader.codes.values() if app.resource(c).base_resource)
    for n, code in enumerate(base):
        app.declare(
            cast.provider(app.resource(code).provider_department), "resource_cloud",
            resource_code=code, on_cloud=n >= BASE_DATA_OFF_CLOUD,
            reference=f"{code}-上云-{DEMO_YEAR}", declared_at=_at(date(DEMO_YEAR, 11, 20)),
        )  # fmt: skip
    tally["counts"]["declarations"] += len(DEPARTMENTS) + len(base)
    for kind in ("cloud_services", "cloud_data"):
        tally["findings"]["I7"] += 1
        tally["planted:I7"][f"zone:{DEMO_YEAR}:{kind}"] += 1
