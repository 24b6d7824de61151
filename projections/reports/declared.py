"""The plan's declared records as report sentences (docs/facts.md §11; rules I7–I10).

The annual report's §一 (系统清理与接入) states the self-inspection reports, the
systems kept under a 处室's name and the services and base data on the cloud; the
risk report's §7 (安全措施) states 分级保护 beside 等级保护. What no declaration
covers is said to be 未记录, never counted as compliant.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.domain import SystemStatus
from projections.declarations import Declared
from projections.model import ZoneState

Declarations = Mapping[str, Mapping[str, Declared]]
KINDS = ("system_unit", "self_inspection", "classified_protection", "resource_cloud",
         "service_cloud")  # fmt: skip


def _in_use(zone: ZoneState) -> list[str]:
    return [
        sid
        for sid, s in zone.systems.items()
        if s.status in (SystemStatus.ACTIVE, SystemStatus.ZOMBIE)
    ]


def integration_sentence(zone: ZoneState, declared: Declarations) -> str:
    """§一: 自查报告, 处室 systems (I8), services and base data on the cloud (I7)."""
    inspected = declared.get("self_inspection", {})
    units = declared.get("system_unit", {})
    kept = sum(1 for sid in _in_use(zone) if sid in units and units[sid].content["internal_unit"])
    lists = declared.get("service_cloud", {}).values()
    services = sum(int(d.content["services"]) for d in lists)
    on = sum(int(d.content["on_cloud"]) for d in lists)
    base = [r.code for r in zone.resources.values() if r.base_resource]
    clouds = declared.get("resource_cloud", {})
    base_on = sum(1 for code in base if code in clouds and clouds[code].content["on_cloud"])
    service_text = f"{on} 项（共 {services} 项）" if lists else "未记录"
    return (
        f"报送信息系统自查报告的部门 {len(inspected)} 个（共 {len(zone.departments)} 个，I9）；"
        f"经区发改局调查仍以处室等内设机构名义存在的独立系统 {kept} 个（I8）；"
        f"政务服务上云 {service_text}；基础信息资源数据上云 {base_on} 项"
        f"（共 {len(base)} 项，I7）。"
    )


def classified_sentence(zone: ZoneState, declared: Declarations) -> str:
    """§7: 分级保护 beside 等级保护 (I10)."""
    found = declared.get("classified_protection", {})
    in_use = _in_use(zone)
    on_record = [found[sid] for sid in in_use if sid in found]
    classified = [d for d in on_record if d.content["classified"]]
    unfiled = sum(1 for d in classified if not d.content["filed"])
    return (
        f"分级保护：在用系统中申报为涉密信息系统 {len(classified)} 个，"
        f"未做分级保护备案 {unfiled} 个（I10）；"
        f"{len(in_use) - len(on_record)} 个系统未记录涉密情况。"
    )
