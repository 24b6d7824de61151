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
