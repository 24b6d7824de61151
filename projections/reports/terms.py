"""Official Chinese terms for the identifiers of domain.md, and number formats."""

from __future__ import annotations

from datetime import datetime

from ledger.domain.access import AccessReason
from ledger.domain.catalogue import OpenType, RiskLevel, Sensitivity, SharingType
from ledger.domain.funding import FilingStatus, FundKind, FundOutcome
from ledger.domain.organisation import SystemStatus
from ledger.domain.sharing import RequestStatus

SHARING_TYPE = {
    SharingType.UNCONDITIONAL: "无条件共享",
    SharingType.CONDITIONAL: "有条件共享",
    SharingType.NOT_SHAREABLE: "不予共享",
}
OPEN_TYPE = {
    OpenType.UNCONDITIONAL: "无条件开放",
    OpenType.CONDITIONAL: "有条件开放",
    OpenType.NOT_OPEN: "不予开放",
}
SENSITIVITY = {
    Sensitivity.GENERAL: "一般数据",
    Sensitivity.IMPORTANT: "重要数据",
    Sensitivity.CORE: "核心数据",
    Sensitivity.PERSONAL: "个人信息",
    Sensitivity.SENSITIVE_PERSONAL: "敏感个人信息",
}
RISK_LEVEL = {RiskLevel.HIGH: "高", RiskLevel.MEDIUM: "中", RiskLevel.LOW: "低"}
SYSTEM_STATUS = {
    SystemStatus.ACTIVE: "在用",
    SystemStatus.ZOMBIE: "僵尸系统",
    SystemStatus.MERGED: "已整合",
    SystemStatus.DECOMMISSIONED: "已停用",
}
REQUEST_STATUS = {
    RequestStatus.PENDING: "待答复",
    RequestStatus.APPROVED: "已授权",
    RequestStatus.REJECTED: "已拒绝",
    RequestStatus.REVOKED: "已撤销",
    RequestStatus.EXPIRED: "已到期",
}
FILING_STATUS = {
    FilingStatus.FILED: "已备案",
    FilingStatus.APPROVED: "审查通过",
    FilingStatus.REJECTED: "审查未通过",
    FilingStatus.ACCEPTED: "已验收",
}
FUND_KIND = {FundKind.CONSTRUCTION_FUNDS: "建设经费", FundKind.OM_FUNDS: "运维经费"}
FUND_OUTCOME = {FundOutcome.GRANTED: "拨付", FundOutcome.WITHHELD: "不予拨付"}
# The rule each reason proves (ledger/domain/access.py) and its Chinese wording.
ACCESS_REASON = {
    AccessReason.RESOURCE_NOT_SHAREABLE: ("S1", "访问不予共享资源"),
    AccessReason.NO_GRANT: ("S2", "无授权访问有条件共享资源"),
    AccessReason.GRANT_EXPIRED: ("S2", "授权到期后访问"),
    AccessReason.GRANT_REVOKED: ("S2", "授权撤销后访问"),
    AccessReason.ITEMS_BEYOND_GRANT: ("S3", "超出授权信息项访问"),
    AccessReason.PURPOSE_MISMATCH: ("S4", "超出授权用途访问"),
    AccessReason.UNKNOWN_RESOURCE: ("S5", "访问目录外资源"),
}
MONTHS = tuple(f"{m}月" for m in range(1, 13))


def yuan(fen: int) -> str:
    """Whole fen as 元 with two decimals and thousands separators."""
    return f"{fen // 100:,}.{fen % 100:02d}"


def percent(numerator: int, denominator: int) -> str:
    return "—" if denominator == 0 else f"{100 * numerator / denominator:.1f}%"


def day(moment: datetime | None) -> str:
    return "—" if moment is None else moment.date().isoformat()
