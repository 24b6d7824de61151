"""Chinese names the console shows (domain.md §Actors); identifiers stay English in code."""

from __future__ import annotations

from typing import Final

from ledger.domain.actor import Role

ROLE_NAMES: Final[dict[Role, str]] = {
    Role.NDRC: "区发改局",
    Role.FINANCE: "区财政局",
    Role.SECURITY_OFFICER: "区网信办（安全专员）",
    Role.AUDITOR: "区审计局（审计人员）",
    Role.PERFORMANCE_OFFICE: "区绩效办",
    Role.APPROVAL_BUREAU: "区行政审批局",
    Role.DEPARTMENT_CLERK: "部门经办人员",
    Role.DATA_PROVIDER: "数据提供部门",
    Role.CIO: "部门信息主管（CIO）",
    Role.EXCHANGE_PLATFORM: "数据共享交换平台",
    Role.ADMIN: "系统管理员",
}
assert set(ROLE_NAMES) == set(Role), "every role has a Chinese name"

# Failure kinds of ledger/chain.py BREAK_KINDS, plus ``checkpoint`` (ledger/verify.py).
BREAK_NAMES: Final[dict[str, str]] = {
    "missing": "记录缺失",
    "reordered": "顺序被调换",
    "inserted": "插入了记录",
    "altered": "记录被篡改",
    "truncated": "尾部被截断",
    "genesis": "创世记录不符",
    "checkpoint": "与签名检查点不符",
}

SIGNATURE_STANDINGS: Final[dict[str, str]] = {
    "log": "账本签名（可信密钥）",
    "witness": "见证人副署（可信）",
    "unknown": "未知密钥（未核验）",
    "invalid": "签名无效",
}

# Access anomalies (docs/projections.md Anomaly.kind), their review state and actions.
ANOMALY_KINDS: Final[dict[str, str]] = {
    "off_hours_sensitive": "非工作时间访问敏感个人信息",
    "after_revocation": "授权撤销后访问",
    "after_expiry": "授权到期后访问",
    "items_beyond_grant": "超出授权信息项访问",
    "refused_burst": "短时间内多次被拒访问",
    "actor_volume": "人员访问量远超基线",
    "resource_volume": "资源被访问量远超基线",
    "first_sensitive_access": "首次访问敏感资源",
}
ANOMALY_STATUS: Final[dict[str, str]] = {
    "open": "待处置",
    "acknowledged": "已确认",
    "dismissed": "已排除",
    "escalated": "已升级",
}
REVIEW_ACTIONS: Final[dict[str, str]] = {
    "acknowledge": "确认",
    "dismiss": "排除（误报）",
    "escalate": "升级处置",
}
