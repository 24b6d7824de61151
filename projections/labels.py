"""The one Chinese label table of the console and the reports (issue #16, guide: "Reports
and web console speak Simplified Chinese with the official terms").

Identifiers stay English in code, API and ledger; what a person reads is named here, once:
roles and event kinds (domain.md §Actors, §Events), event fields, the enums of the catalogue,
sharing and funding (domain.md glossary), anomaly kinds, review states and actions
(docs/projections.md Anomaly), severities and rule names (``projections.rules.catalogue``,
the rules' own declaration). ``event_summary`` turns one ledger event's fields into a line
an auditor reads (labelled fields, CST times, no ``{"_type_":…}`` dumps).

Console (``api.console``) and reports (``projections.reports``) import from here;
``api.console.labels`` re-exports the console's old names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from ledger.domain.actor import Role
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from projections.rules.catalogue import RULE_ZH, SEVERITY_ZH

ROLE_NAMES: Final[dict[Role, str]] = {
    Role.NDRC: "区发改局",
    Role.FINANCE: "区财政局",
    Role.SECURITY_OFFICER: "区网信办（安全专员）",
    Role.AUDITOR: "区审计局（审计人员）",
    Role.PERFORMANCE_OFFICE: "区绩效办",
    Role.APPROVAL_BUREAU: "区行政审批局",
    Role.DEPARTMENT_CLERK: "部门经办人员",
    Role.DATA_PROVIDER: "数据提供部门",
    Role.CIO: "首席信息官",
    Role.EXCHANGE_PLATFORM: "数据共享交换平台",
    Role.ADMIN: "系统管理员",
}
assert set(ROLE_NAMES) == set(Role), "every role has a Chinese name"

SEVERITY_NAMES: Final[Mapping[str, str]] = SEVERITY_ZH
RULE_NAMES: Final[Mapping[str, str]] = RULE_ZH

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
    "assign": "指派",
    "note": "案件备注",
}

# Enums of the catalogue, sharing, organisation and funding (domain.md glossary).
SENSITIVITY: Final[dict[str, str]] = {
    "general": "一般数据",
    "important": "重要数据",
    "core": "核心数据",
    "personal": "个人信息",
    "sensitive_personal": "敏感个人信息",
}
SHARING_TYPES: Final[dict[str, str]] = {
    "unconditional": "无条件共享",
    "conditional": "有条件共享",
    "not_shareable": "不予共享",
}
OPEN_TYPES: Final[dict[str, str]] = {
    "unconditional": "无条件开放",
    "conditional": "有条件开放",
    "not_open": "不予开放",
}
UPDATE_CYCLES: Final[dict[str, str]] = {
    "real_time": "实时",
    "daily": "每日",
    "weekly": "每周",
    "monthly": "每月",
    "quarterly": "每季度",
    "semiannual": "每半年",
    "annual": "每年",
    "irregular": "不定期",
}
RISK_LEVELS: Final[dict[str, str]] = {"high": "高", "medium": "中", "low": "低"}
REQUEST_STATUS: Final[dict[str, str]] = {
    "pending": "待答复",
    "approved": "已授权",
    "rejected": "已拒绝",
    "revoked": "已撤销",
    "expired": "已到期",
}
FILING_STATUS: Final[dict[str, str]] = {
    "filed": "已备案",
    "approved": "审查通过",
    "rejected": "不予审批",  # seed §三(五)17: 架构治理审查不通过的不予审批
    "accepted": "已验收",
}
FUND_KINDS: Final[dict[str, str]] = {"construction_funds": "建设经费", "om_funds": "运维经费"}
FUND_OUTCOMES: Final[dict[str, str]] = {"granted": "予以安排", "withheld": "不予安排"}
SYSTEM_STATUS: Final[dict[str, str]] = {
    "active": "在用",
    "zombie": "僵尸系统",
    "merged": "已整合",
    "decommissioned": "已停用",
}
ZOMBIE_REASONS: Final[dict[str, str]] = {
    "detached_from_business": "与业务脱节",
    "replaceable": "可被替代",
    "idle_resources": "资源闲置",
    "unmaintained": "无人维护",
    "low_usage": "使用率低",
}
# Why an access was not authorized (ledger/domain/access.py): the rule it proves, its wording.
ACCESS_REASON_RULES: Final[dict[str, tuple[str, str]]] = {
    "resource_not_shareable": ("S1", "访问不予共享资源"),
    "no_grant": ("S2", "无授权访问有条件共享资源"),
    "grant_expired": ("S2", "授权到期后访问"),
    "grant_revoked": ("S2", "授权撤销后访问"),
    "items_beyond_grant": ("S3", "超出授权信息项访问"),
    "purpose_mismatch": ("S4", "超出授权用途访问"),
    "unknown_resource": ("S5", "访问目录外资源"),
}
ACCESS_REASONS: Final[dict[str, str]] = {k: v[1] for k, v in ACCESS_REASON_RULES.items()}
PIA_CONCLUSIONS: Final[dict[str, str]] = {
    "acceptable": "可接受",
    "acceptable_with_measures": "采取措施后可接受",
    "not_acceptable": "不可接受",
}
PROCESSOR_TASKS: Final[dict[str, str]] = {
    "build": "建设",
    "operate": "运维",
    "store": "存储",
    "process": "加工处理",
}
PROJECT_STAGES: Final[dict[str, str]] = {
    "preparation": "前期准备",
    "construction": "建设中",
    "trial_operation": "试运行",
    "completed": "已完成",
    "suspended": "已暂停",
}
EVALUATION_RATINGS: Final[dict[str, str]] = {
    "excellent": "优秀",
    "good": "良好",
    "qualified": "合格",
    "unqualified": "不合格",
}
# Rights of the register (docs/projections.md rights): who holds which right, and its state.
RIGHTS: Final[dict[str, str]] = {"ownership": "所有权", "control": "管理权", "use": "使用权"}
RIGHT_STATES: Final[dict[str, str]] = {
    "held": "有效",
    "active": "有效",
    "granted": "已授予",
    "expired": "已到期",
    "revoked": "已撤销",
}

# Ledger event kinds: ``Aggregate.Event`` (the topic's class path) -> what happened.
EVENT_NAMES: Final[dict[str, str]] = {
    "DistrictCalendar.Started": "建立区工作日历",
    "DistrictCalendar.Set": "设定工作日历",
    "Department.Registered": "登记部门",
    "Department.CioNamed": "任命首席信息官",
    "InformationSystem.Registered": "登记信息系统",
    "InformationSystem.ConnectionRequirementSet": "设定接入共享平台要求",
    "InformationSystem.Connected": "系统接入共享交换平台",
    "InformationSystem.MovedOnCloud": "系统迁移上云",
    "InformationSystem.MarkedZombie": "认定僵尸系统",
    "InformationSystem.MergedInto": "系统整合并入",
    "InformationSystem.Decommissioned": "系统停用",
    "InformationSystem.MlpsRecorded": "记录等级保护定级备案",
    "InformationSystem.DataHoldingsDeclared": "申报系统数据持有情况",
    "Resource.Registered": "登记政务信息资源",
    "Resource.OwnerAssigned": "确定资源所有权部门",
    "Resource.ControllerAssigned": "确定资源管理部门",
    "Resource.Reclassified": "调整资源共享属性",
    "Resource.RiskAssessed": "资源共享风险评估",
    "ResourceRefresh.Reported": "报送资源数据更新",
    "SharingRequest.Submitted": "提交共享申请",
    "SharingRequest.Approved": "批准共享申请",
    "SharingRequest.Rejected": "驳回共享申请",
    "SharingRequest.Revoked": "撤销共享授权",
    "SharingRequest.Expired": "共享授权到期",
    "DataAccess.Recorded": "数据访问记录",
    "PersonalDataView.Recorded": "查阅个人信息记录",
    "DataSubject.Erased": "删除个人信息（销毁密钥）",
    "AnomalyReview.Started": "异常复核处置",
    "AnomalyReview.Reviewed": "异常复核处置",
    "ProjectFiling.Filed": "项目备案",
    "ProjectFiling.ArchitectureApproved": "架构治理审查通过",
    "ProjectFiling.ArchitectureRejected": "架构治理审查未通过",
    "ProjectFiling.Accepted": "项目验收",
    "FundDecision.Decided": "经费安排决定",
    "ImpactAssessment.Recorded": "个人信息保护影响评估",
    "CoreDataApproval.Granted": "核心数据共享专门审批",
    "CoreDataApproval.Withdrawn": "撤回核心数据共享审批",
    "AnnualSharingReport.Submitted": "报送年度共享情况",
    "AnnualSharingReport.Approved": "年度共享情况审核通过",
    "ContractedProcessor.Entrusted": "委托数据处理单位",
    "ContractedProcessor.Ended": "终止委托处理",
    "ProjectProgress.Reported": "报送项目进度",
    "ProjectEvaluation.Recorded": "项目绩效评价",
    "FiledAmountsRevision.Recorded": "调整备案金额",
    "QualityObjection.Raised": "提出数据质量异议",
    "QualityObjection.Resolved": "数据质量异议处理完毕",
    "Rectification.Notified": "下达整改通知",
    "Rectification.Reported": "报送整改报告",
    "Rectification.Verified": "整改核验",
    "AuditSuggestion.Issued": "提出审计建议",
    "AuditSuggestion.Responded": "反馈审计建议采纳情况",
    "AuditSuggestion.Confirmed": "核实审计建议采纳情况",
    "IssuedReport.Issued": "签发报告",
    "SecurityLead.Appointed": "登记网络数据安全负责人",
    "ResourceStorage.Declared": "登记资源存储期限与地点",
    "SystemMeasures.Declared": "登记系统技术措施",
    "Declaration.Declared": "登记整合共享事项",
}
RECTIFICATION_STATUS: Final[dict[str, str]] = {
    "notified": "已下达整改通知",
    "reported": "已报送整改报告",
    "not_accepted": "整改未通过",
    "accepted": "整改已通过",
}
# The rectification register's status as of a date (projections/rectification.py; R1).
RECTIFICATION_REGISTER: Final[dict[str, str]] = {
    "open": "整改中",
    "overdue": "逾期未完成",
    "accepted": "已通过",
}
# 审计建议采纳情况 (ledger/domain/audit_suggestion.py, projections/audit_suggestion.py).
ADOPTION: Final[dict[str, str]] = {
    "adopted": "已采纳",
    "partially": "部分采纳",
    "not_adopted": "未采纳",
}
SUGGESTION_STATUS: Final[dict[str, str]] = {
    "issued": "待反馈",
    "responded": "已反馈待核实",
    "returned": "核实未通过",
    "confirmed": "已核实",
}

FIELD_NAMES: Final[dict[str, str]] = {
    "accepted_at": "验收时间", "accessed_at": "访问时间", "accessor_id": "访问人员",
    "action": "处置", "amount_fen": "金额", "anomaly_id": "异常编号",
    "approval_date": "批准日期", "approval_reference": "批准文号",
    "approving_authority": "审批机关", "approving_body": "审批单位",
    "architecture_review": "架构审查意见", "assignee": "承办人", "base_resource": "基础资源",
    "builder": "建设单位", "catalogue_preregistered": "已预编目录",
    "cio_actor_id": "信息主管账号", "cio_name": "信息主管", "client_address": "客户端地址",
    "code": "编码", "comment": "意见", "conclusion": "结论",
    "contract_reference": "合同编号", "controller": "管理部门", "decided_at": "决定时间",
    "department": "部门", "description": "说明", "evaluated_at": "评价时间",
    "evidence": "依据",
    "erased_at": "删除时间", "key_ids": "密钥编号", "subjects": "数据主体（已加密）",
    "expired_at": "到期时间", "expires_at": "有效期至", "filing_id": "备案编号",
    "format": "格式", "function": "功能", "funding_channel": "资金渠道",
    "funding_source": "资金来源", "grant_id": "授权编号",
    "holds_important_data": "含重要数据", "holds_personal_data": "含个人信息",
    "integrated_system_id": "并入系统", "investment_fen": "投资额", "items": "信息项",
    "kind": "类别", "legal_basis": "法定依据", "mlps_filed": "已等保备案",
    "mlps_level": "等保级别", "name": "名称", "occurred_at": "发生时间",
    "om_cost_fen": "运维费用", "open_type": "开放属性", "outcome": "结果",
    "owner_department": "所有权部门", "period_end": "期限止", "period_start": "期限起",
    "platform_event_id": "平台事件号", "processor_credit_code": "受托方信用代码",
    "processor_name": "受托方", "progress_percent": "进度（%）", "project_name": "项目名称",
    "provider_department": "提供部门", "publish_date": "发布日期", "purpose": "用途",
    "raised_at": "提出时间", "rating": "评价等级", "rationale": "理由", "reason": "原因",
    "reasons": "原因", "recipient_department": "接收部门", "reference": "文号",
    "refreshed_at": "更新时间", "related_resource_codes": "相关资源",
    "reported_at": "报送时间", "request_id": "申请编号",
    "requester_department": "申请部门", "required_to_connect": "应接入共享平台",
    "resolution": "处理结果", "resolved_at": "处理时间", "resource_code": "信息资源代码",
    "resource_codes": "信息资源代码", "response_due": "答复期限",
    "response_working_days": "答复时限（工作日）", "reviewed_at": "复核时间",
    "revised_at": "调整时间", "revoked_at": "撤销时间", "risk_level": "风险等级",
    "row_count": "记录条数", "scope": "范围", "scope_of_use": "使用范围",
    "share_condition": "共享条件", "share_method": "共享方式", "sharing_type": "共享属性",
    "spent_fen": "已支出", "stage": "阶段", "submitted_at": "提交时间", "summary": "摘要",
    "system": "系统", "system_id": "系统", "system_ids": "系统", "target": "目标",
    "tasks": "委托事项", "update_cycle": "更新周期", "usage_frequency": "使用频率",
    "valid_until": "有效期至", "verdict": "判定", "view": "查阅内容", "viewed_at": "查阅时间",
    "withdrawn_at": "撤回时间", "year": "年度", "in_force_from": "施行起",
    "years": "年份", "holidays": "节假日", "adjusted_working_days": "调休工作日",
    "time_limits": "时限", "sources": "依据", "sensitivity": "敏感程度",
    "due_at": "处置期限", "note": "备注", "accepted": "核验通过", "as_of_position": "截至账本位置",
    "deadline": "整改期限", "finding": "问题", "finding_id": "问题编号", "issue_id": "签发编号",
    "issued_at": "签发时间", "notified_at": "通知时间", "requirement": "整改要求", "rule": "规则",
    "size": "文件大小（字节）", "verified_at": "核验时间", "sha256": "文件哈希",
    "clock_skew_seconds": "时钟偏差容限（秒）", "department_report_due": "部门年度报告报送期限",
    "zone_report_due": "全区年度报告报送期限", "zombie_idle_days": "僵尸系统认定闲置天数",
    "appointed_at": "任命时间", "contact": "联系方式", "declared_at": "登记时间",
    "storage_period": "存储期限", "storage_location": "存储地点", "measures": "技术措施",
    "encryption": "加密", "backup": "备份", "labelling": "数据标识", "access_control": "访问控制",
    "authentication": "身份认证", "in_place": "已采取",
    # docs/facts.md §11 declared records
    "subject": "对象", "content": "内容", "internal_unit": "所属处室（内设机构）",
    "systems_inventoried": "自查系统数", "to_integrate": "拟清理整合系统",
    "to_connect": "拟接入共享平台系统", "classified": "涉密", "level": "密级",
    "filed": "已分级保护备案", "on_cloud": "已上云", "services": "政务服务事项数",
    "adoption": "采纳情况", "explanation": "说明", "confirmed": "核实确认", "number": "序号",
    "suggestion": "审计建议", "responded_at": "反馈时间", "confirmed_at": "核实时间",
}  # fmt: skip
# The declared records' kinds (ledger/domain/declarations.py; docs/facts.md §11).
DECLARATION_KINDS: Final[dict[str, str]] = {
    "system_unit": "以处室名义存在的系统", "self_inspection": "信息系统自查报告",
    "classified_protection": "分级保护备案", "resource_cloud": "数据上云",
    "service_cloud": "服务上云",
}  # fmt: skip
CLASSIFIED_LEVELS: Final[dict[str, str]] = {"mimi": "秘密", "jimi": "机密", "juemi": "绝密"}
# What a finding is about (``Finding.subject_kind``; projections/rules/catalogue.py).
FINDING_SUBJECTS: Final[dict[str, str]] = {
    "access": "数据访问", "resource": "政务信息资源", "request": "共享申请",
    "fund_decision": "经费决定", "filing": "项目备案", "system": "政务信息系统",
    "department": "部门", "annual_report": "年度共享情况报告", "processor": "委托处理",
    "objection": "数据质量异议", "zone": "全区", "rectification": "审计整改",
    "fact": "搁置的账本事实",
}  # fmt: skip

# Field -> the table its values are named in.
VALUE_NAMES: Final[dict[str, Mapping[str, str]]] = {
    "action": REVIEW_ACTIONS,
    "sensitivity": SENSITIVITY,
    "sharing_type": SHARING_TYPES,
    "open_type": OPEN_TYPES,
    "update_cycle": UPDATE_CYCLES,
    "risk_level": RISK_LEVELS,
    "outcome": FUND_OUTCOMES,
    "adoption": ADOPTION,
    "reasons": {**ZOMBIE_REASONS, **ACCESS_REASONS},
    "conclusion": PIA_CONCLUSIONS,
    "tasks": PROCESSOR_TASKS,
    "stage": PROJECT_STAGES,
    "rating": EVALUATION_RATINGS,
    "level": CLASSIFIED_LEVELS,
}
# ``kind`` names a fund kind on a fund decision, an anomaly kind or a declaration's
# kind elsewhere.
_KIND_NAMES: Final[Mapping[str, str]] = {**FUND_KINDS, **ANOMALY_KINDS, **DECLARATION_KINDS}

# Fields an auditor does not read in the summary: the line shows them in its own columns,
# or they are the codec's bookkeeping.
_SKIPPED: Final = frozenset(
    {"timestamp", "originator_topic", "originator_id", "originator_version", "actor",
     "class_version"}
)  # fmt: skip
_LIST_SHOWN: Final = 8
_MONEY_FIELDS: Final = re.compile(r"_fen$")


def event_name(topic: str) -> str:
    """The Chinese name of the event kind ``topic`` (``module:Class.Event`` or
    ``Class.Event``); an unknown kind shows its class path, never nothing."""
    kind = topic.rsplit(":", 1)[-1]
    return EVENT_NAMES.get(kind, kind)


def label(field: str, value: str) -> str:
    """``value`` of ``field`` in Chinese where the table names it."""
    names = _KIND_NAMES if field == "kind" else VALUE_NAMES.get(field, {})
    return names.get(value, value)


def cst_text(at: datetime | str | None) -> str:
    """A moment as China Standard Time to the second: the one way times are shown. ISO text
    is parsed (naive text is taken as UTC, as the ledger writes it); nothing shows as —."""
    if at is None or at == "":
        return "—"
    if isinstance(at, datetime):
        moment = at
    else:
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def _key_name(key: str) -> str:
    return FIELD_NAMES.get(key) or SHARING_TYPES.get(key) or ANOMALY_KINDS.get(key, key)


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and "_data_" in value:
        return value["_data_"]
    return value


def _dict_text(value: dict[str, Any]) -> str:
    if "authorized" in value:  # an access verdict
        if value["authorized"]:
            return "授权访问"
        reasons = "、".join(label("reasons", r) for r in value.get("reasons", ()))
        return f"未授权（{reasons}）" if reasons else "未授权"
    if "name" in value and "sensitivity" in value:  # a resource item
        return f"{value['name']}（{label('sensitivity', value['sensitivity'])}）"
    return "；".join(f"{_key_name(k)} {_scalar(k, v)}" for k, v in value.items())


_ISO_MOMENT: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")


def _text(field: str, value: str) -> str:
    if _ISO_MOMENT.fullmatch(value):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
        return cst_text(at) if at.tzinfo else value.replace("T", " ")[:19]
    return label(field, value)


def _scalar(field: str, value: Any) -> str:
    value = _unwrap(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float) and _MONEY_FIELDS.search(field):
        return f"{value / 100:,.2f} 元"
    if isinstance(value, dict):
        return _dict_text(value)
    return _text(field, value) if isinstance(value, str) else str(value)


def _value(field: str, value: Any) -> str:
    value = _unwrap(value)
    if field == "subjects" and isinstance(value, list):  # key ids (docs/privacy.md): a count only
        return f"{len(value)} 人（不存身份信息，经个人信息查阅可见）"
    if isinstance(value, list):
        shown = "、".join(_scalar(field, v) for v in value[:_LIST_SHOWN])
        more = len(value) - _LIST_SHOWN
        return f"{shown} 等{len(value)}项" if more > 0 else shown
    return _scalar(field, value)


def event_fields(state: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The event's own fields as (Chinese label, shown value), empty ones left out."""
    fields = []
    for key, value in state.items():
        if key in _SKIPPED or value is None or value in ([], ""):
            continue
        fields.append((FIELD_NAMES.get(key, key), _value(key, value)))
    return fields


def event_summary(topic: str, state: Mapping[str, Any] | bytes | str) -> str:
    """One line an auditor reads: the event's Chinese name, then its labelled fields."""
    data = json.loads(state) if isinstance(state, bytes | str) else state
    fields = event_fields(data)
    body = "；".join(f"{name} {shown}" for name, shown in fields)
    return f"{event_name(topic)}：{body}" if body else event_name(topic)


def topics_matching(text: str) -> set[str]:
    """Event kinds whose Chinese name or class path contains ``text`` (the trail's search)."""
    needle = text.strip().lower()
    return {kind for kind, name in EVENT_NAMES.items() if needle in name or needle in kind.lower()}
