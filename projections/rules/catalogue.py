"""The one catalogue of the compliance rules: id, severity, Chinese name, inputs, evidence.

domain.md "Compliance rules the ledger evaluates" declares S1–S12, P1–P2, D1–D2,
F1–F5 and I1–I3; this module declares each of them once, and every output (the
views, the three reports, ``/metrics``, the console, the CLI) reads severities,
names and the evaluation state from here instead of keeping a table of its own
(issue 12, "One judgment, everywhere").

A rule that cannot be evaluated from the facts the ledger records is not "0
findings": it is a first-class state, 未评估, with the reason, and
:func:`rule_status` carries it next to the counts of the others. S11, P2, D1 and
I3 are judged from the facts of docs/facts.md §7 (refreshes, impact
assessments, core-data approvals, annual reports); F6–F8, I4 and I5 are the
checks issue 14 adds for projects after filing and O&M of little-used systems
(seed §三(五)17; docs/rules-inputs.md); I6 a department with no CIO (seed 四(四)),
D3 an entrustment past its period with no end on record (数据安全法 §40), S13 a
data-quality objection unresolved in time (51号), I7 the zone's cloud targets
(applications, services, base data) missed at a year end (seed §三(二)6–8); I8–I10
from the plan's declared records (docs/facts.md §11): a system kept under a 处室's
name (§三(一)4), no self-inspection report (§三(一)1), a classified system with no
分级保护 filing (§三(五)17).
L1 and L2 (the ledger's own integrity) are judged by verification and the
checkpoint monitor, not by the views; they are listed in :data:`LEDGER_RULES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
# When a rule is judged: at the fact that proves it (folded once, kept in the findings
# table) or at the moment asked about (judged from the zone's state then).
Timing = Literal["event", "moment"]

SEVERITY_ORDER: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
SEVERITY_ZH: dict[str, str] = {
    "critical": "严重",
    "high": "高",
    "medium": "中",
    "low": "低",
    "info": "提示",
}
NOT_EVALUATED = "not_evaluated"
# Why a rule is 未评估, in Chinese (reports, console); keyed by rule id.
NOT_EVALUABLE_ZH: dict[str, str] = {
    "L1": "由账本核验（govledger verify）与检查点监测判定",
    "L2": "由检查点监测（/metrics）判定",
}
NOT_EVALUATED_ZH = "未评估"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of domain.md, as every output names and ranks it."""

    id: str
    severity: Severity
    name_zh: str
    family: str  # the module of projections.rules (or zone fold) that judges it
    timing: Timing
    inputs: tuple[str, ...]  # short topics of the facts it reads
    evidence: str  # which ledger positions a finding cites
    source: str  # the text the rule comes from (domain.md's "source" column)
    # Why it cannot be judged from recorded facts; None when it is evaluated.
    not_evaluable: str | None = None

    @property
    def not_evaluable_zh(self) -> str | None:
        """The reason it is 未评估, in the words reports and the console print."""
        return NOT_EVALUABLE_ZH.get(self.id) if self.not_evaluable else None

    @property
    def evaluated(self) -> bool:
        return self.not_evaluable is None

    @property
    def label_zh(self) -> str:
        """``S3 访问授权范围以外的信息项``: how reports and the console title a rule."""
        return f"{self.id} {self.name_zh}"

    @property
    def severity_zh(self) -> str:
        return SEVERITY_ZH[self.severity]


_ACCESS = ("DataAccess.Recorded", "Resource.Registered", "Resource.Reclassified")
_GRANT = ("SharingRequest.Approved", "SharingRequest.Revoked")
_ACCESS_EVIDENCE = "the access, and the positions of the grant it cites"
_RESOURCE = ("Resource.Registered", "Resource.Reclassified")
_SYSTEM = ("InformationSystem.Registered", "InformationSystem.*")
_FUND = ("FundDecision.Decided",)
_FUND_EVIDENCE = "the decision, and the positions of the system or filing it names"
_PROVISION = (*_ACCESS, "SharingRequest.Approved")
_FILING = ("ProjectFiling.Filed", "ProjectFiling.ArchitectureApproved",
           "ProjectFiling.ArchitectureRejected", "ProjectFiling.Accepted")  # fmt: skip

_RULES: tuple[Rule, ...] = (
    Rule("S1", "critical", "跨部门访问不予共享的资源", "sharing", "event", _ACCESS,
         _ACCESS_EVIDENCE, "51号 sharing types"),
    Rule("S2", "high", "无有效授权访问有条件共享资源", "sharing", "event",
         (*_ACCESS, *_GRANT), _ACCESS_EVIDENCE, "51号 conditional sharing"),
    Rule("S3", "high", "访问授权范围以外的信息项", "sharing", "event", (*_ACCESS, *_GRANT),
         _ACCESS_EVIDENCE, "use only what was granted"),
    Rule("S4", "medium", "访问目的与授权目的不符", "sharing", "event", (*_ACCESS, *_GRANT),
         _ACCESS_EVIDENCE, "purpose limitation; PIPL §6, §34"),
    Rule("S5", "high", "访问目录以外的未知资源", "sharing", "event", _ACCESS,
         "the access", "catalogue completeness"),
    Rule("S6", "medium", "有条件共享申请超期未答复", "sharing", "moment",
         ("SharingRequest.Submitted", "SharingRequest.Approved", "SharingRequest.Rejected",
          "DistrictCalendar.Set"),
         "the request's positions", "51号 §14 response time limit"),
    Rule("S7", "low", "拒绝共享申请未说明理由", "sharing", "event",
         ("SharingRequest.Rejected",), "the request's positions", "51号 refusals state reasons"),
    Rule("S8", "medium", "不予共享资源未注明法律依据", "catalogue", "moment", _RESOURCE,
         "the resource's positions", "51号"),
    Rule("S9", "medium", "基础信息资源的基础信息项未无条件共享", "catalogue", "moment",
         _RESOURCE, "the resource's positions", "51号 base resources"),
    Rule("S10", "medium", "目录核心元数据缺失或共享条件为空", "catalogue", "moment",
         _RESOURCE, "the resource's positions", "编制指南"),
    Rule("S11", "medium", "资源未按更新周期更新", "catalogue", "moment",
         (*_RESOURCE, "ResourceRefresh.Reported", "DistrictCalendar.Set"),
         "the resource's positions and its last refresh", "编制指南 动态更新"),
    Rule("S12", "medium", "未明确权属或未经风险评估即共享", "sharing", "event",
         (*_RESOURCE, "Resource.OwnerAssigned", "Resource.ControllerAssigned",
          "Resource.RiskAssessed", "SharingRequest.Approved", "DataAccess.Recorded"),
         "the resource's positions and the sharing fact", "seed §三(五)16"),
    Rule("P1", "high", "无目的或超出授权目的访问敏感个人信息", "sharing", "event",
         (*_ACCESS, *_GRANT), _ACCESS_EVIDENCE, "PIPL §28, §34"),
    Rule("P2", "medium", "向其他部门提供个人信息未做个人信息保护影响评估", "sharing",
         "event", (*_PROVISION, "ImpactAssessment.Recorded"),
         "the sharing fact and the resource's positions", "PIPL §55"),
    Rule("D1", "critical", "核心数据未经专门审批即共享", "sharing", "event",
         (*_PROVISION, "CoreDataApproval.Granted", "CoreDataApproval.Withdrawn"),
         "the sharing fact, the resource's positions and a lapsed approval's",
         "数据安全法 §21"),
    Rule("D2", "high", "重要数据共享前未做风险评估", "sharing", "event",
         (*_RESOURCE, "Resource.RiskAssessed", "SharingRequest.Approved", "DataAccess.Recorded"),
         "the resource's positions and the sharing fact", "网络数据安全管理条例 §31"),
    Rule("F1", "high", "向应接入而未接入共享交换平台的系统安排运维经费", "funds", "event",
         (*_FUND, *_SYSTEM), _FUND_EVIDENCE, "seed §三(三)12"),
    Rule("F2", "high", "向僵尸或已停用系统安排经费", "funds", "event", (*_FUND, *_SYSTEM),
         _FUND_EVIDENCE, "seed §三(一)3, §三(五)17"),
    Rule("F3", "high", "项目未备案即安排建设或运维经费", "funds", "event",
         (*_FUND, "ProjectFiling.Filed"), _FUND_EVIDENCE, "seed §三(五)17 全口径备案"),
    Rule("F4", "critical", "架构治理审查未通过的项目仍安排经费", "funds", "event",
         (*_FUND, "ProjectFiling.ArchitectureRejected"), _FUND_EVIDENCE,
         "seed §三(五)17 不予审批, 不拨付"),
    Rule("F5", "medium", "项目备案未进行资源目录预编制", "funds", "event",
         ("ProjectFiling.Filed",), "the filing", "seed §三(五)17 目录预编制"),
    Rule("F6", "high", "项目架构治理审查未完成即安排经费", "funds", "event",
         (*_FUND, *_FILING), _FUND_EVIDENCE, "seed §三(五)17 审查通过后拨付"),
    Rule("F7", "high", "安排经费超过备案（调整）金额", "funds", "event",
         (*_FUND, "ProjectFiling.Filed", "FiledAmountsRevision.Recorded"),
         "the filing and every decision summed", "seed §三(五)17 全口径备案"),
    Rule("F8", "medium", "向利用程度低的系统安排运维经费", "funds", "event",
         (*_FUND, *_SYSTEM, "DataAccess.Recorded", "DistrictCalendar.Set"),
         _FUND_EVIDENCE, "seed §三(五)17 逐步减少直至取消利用程度低的运维经费"),
    Rule("I1", "info", "疑似僵尸系统（长期无数据访问）", "inventory", "moment",
         (*_SYSTEM, "DataAccess.Recorded", "DistrictCalendar.Set"),
         "the system's positions", "seed §三(一)3"),
    Rule("I2", "high", "处理个人信息或重要数据的系统未做等保备案", "inventory", "moment",
         _SYSTEM, "the system's positions", "seed §三(五)16; 网络安全法 §21"),
    Rule("I3", "medium", "部门未按期报送年度共享情况", "inventory", "moment",
         ("Department.Registered", "AnnualSharingReport.Submitted",
          "AnnualSharingReport.Approved", "DistrictCalendar.Set"),
         "the department's registration, or the late report", "seed 四(二)"),
    Rule("I4", "low", "项目建设进展未按期跟踪报告", "inventory", "moment",
         (*_FILING, "ProjectProgress.Reported", "DistrictCalendar.Set"),
         "the filing's positions and its last progress report", "seed §三(五)17 跟踪"),
    Rule("I5", "low", "项目验收后未按期评价", "inventory", "moment",
         (*_FILING, "ProjectEvaluation.Recorded", "DistrictCalendar.Set"),
         "the filing's positions", "seed §三(五)17 评价"),
    Rule("S13", "low", "数据质量异议逾期未处理", "inventory", "moment",
         ("QualityObjection.Raised", "QualityObjection.Resolved", "Resource.Registered",
          "DistrictCalendar.Set"),
         "the objection's positions", "国办发〔2016〕51号 数据质量异议 及时校核"),
    Rule("D3", "medium", "委托处理合同期满未终止或续签", "inventory", "moment",
         ("ContractedProcessor.Entrusted", "ContractedProcessor.Ended", "DistrictCalendar.Set"),
         "the entrustment's positions", "数据安全法 §40; 个人信息保护法 §21"),
    Rule("I7", "medium", "年底应用、服务或数据上云比例未达目标", "inventory", "moment",
         (*_SYSTEM, *_RESOURCE, "Declaration.Declared", "DistrictCalendar.Set"),
         "the systems, services' lists or base resources not on the cloud at the year end",
         "seed §三(二)6–8 上云目标; 附件1 第7项"),
    Rule("I8", "medium", "以处室等内设机构名义存在的独立信息系统", "inventory", "moment",
         (*_SYSTEM, "Declaration.Declared", "DistrictCalendar.Set"),
         "the system's registration and ndrc's declaration", "seed §三(一)4"),
    Rule("I9", "low", "部门未按期报送信息系统自查报告", "inventory", "moment",
         ("Department.Registered", "Declaration.Declared", "DistrictCalendar.Set"),
         "the department's registration, or the late report", "seed §三(一)1 自查报告"),
    Rule("I10", "high", "涉密信息系统未做分级保护备案", "inventory", "moment",
         (*_SYSTEM, "Declaration.Declared"),
         "the system's registration and the declaration", "seed §三(五)17 分级保护备案; "
         "保守国家秘密法第三十条 涉密信息系统分级保护"),
    Rule("I6", "low", "部门未明确信息主管（首席信息官）", "inventory", "moment",
         ("Department.Registered", "Department.CioNamed", "DistrictCalendar.Set"),
         "the department's registration", "seed 四(四) 明确各部门信息主管(CIO)"),
    Rule("R1", "high", "审计整改逾期未完成", "rectification", "moment",
         ("Rectification.Notified", "Rectification.Reported", "Rectification.Verified"),
         "the rectification's positions", "审计法 §45; docs/facts.md §8"),
)  # fmt: skip

RULES: Mapping[str, Rule] = {rule.id: rule for rule in _RULES}
RULE_IDS: tuple[str, ...] = tuple(RULES)
SEVERITY: Mapping[str, Severity] = {rule.id: rule.severity for rule in _RULES}
RULE_ZH: Mapping[str, str] = {rule.id: rule.name_zh for rule in _RULES}
EVALUATED: tuple[str, ...] = tuple(rule.id for rule in _RULES if rule.evaluated)
NOT_EVALUABLE: tuple[str, ...] = tuple(rule.id for rule in _RULES if not rule.evaluated)

LEDGER_RULES: Mapping[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("L1", "critical", "账本核验失败或与签名检查点不一致", "ledger", "moment", (),
             "the first break's position", "GB/T 22239-2019 8.1.4.3 c)",
             not_evaluable="judged by `govledger verify` and the checkpoint monitor"),
        Rule("L2", "high", "超过规定间隔未产生新的签名检查点", "ledger", "moment", (),
             "the latest checkpoint", "tamper evidence",
             not_evaluable="judged by the checkpoint monitor (/metrics)"),
        # L3: declared by projections.set_aside, which emits it while folding.
        Rule("L3", "high", "账本事实无法使用，已搁置待核查", "ledger", "event", (),
             "the fact set aside", "docs/projections.md 'Facts set aside'"),
        # L4: judged by projections.business_time, raised by the fold.
        Rule("L4", "medium", "数据访问业务时间晚于记录时间（超出允许时钟偏差）", "ledger",
             "event", ("DataAccess.Recorded", "DistrictCalendar.Set"), "the access",
             "docs/facts.md §6 'dated in the future'"),
    )
}  # fmt: skip

# What each rule's findings are about (``Finding.subject_kind``): the console shows every
# kind somewhere (api/console/finding_pages.py ``CONSOLE_SECTIONS``, tested against this).
# L1 and L2 raise no finding row: verification and the checkpoint monitor report them.
_BY_KIND: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("access", ("S1", "S2", "S3", "S4", "S5", "P1", "L4")),
    ("resource", ("S8", "S9", "S10", "S11", "S12", "P2", "D1", "D2")),
    ("request", ("S6", "S7")),
    ("fund_decision", ("F1", "F2", "F3", "F4", "F6", "F7", "F8")),
    ("filing", ("F5", "I4", "I5")),
    ("system", ("I1", "I2", "I8", "I10")),
    ("department", ("I6", "I9")),
    ("annual_report", ("I3",)),
    ("processor", ("D3",)),
    ("objection", ("S13",)),
    ("zone", ("I7",)),
    ("rectification", ("R1",)),
    ("fact", ("L3",)),
)
SUBJECT_KINDS: Mapping[str, tuple[str, ...]] = {
    rule_id: tuple(kind for kind, rules in _BY_KIND if rule_id in rules)
    for rule_id in (*RULES, *LEDGER_RULES)
}
FINDING_SUBJECT_KINDS: tuple[str, ...] = tuple(kind for kind, _ in _BY_KIND)


def rule(rule_id: str) -> Rule:
    """The rule ``rule_id`` (S1…I3, L1, L2); KeyError for an id domain.md does not have."""
    found = RULES.get(rule_id) or LEDGER_RULES.get(rule_id)
    if found is None:
        raise KeyError(f"no rule {rule_id!r} in domain.md")
    return found


def rules_in(family: str) -> tuple[Rule, ...]:
    return tuple(r for r in _RULES if r.family == family)


@dataclass(frozen=True, slots=True)
class RuleStatus:
    """One rule's result: how many findings, or 未评估 and why (never a 0 for it)."""

    rule: Rule
    count: int | None  # None: not evaluated
    by_severity: Mapping[str, int]

    @property
    def evaluated(self) -> bool:
        return self.count is not None

    @property
    def reason(self) -> str | None:
        return self.rule.not_evaluable

    @property
    def reason_zh(self) -> str | None:
        return self.rule.not_evaluable_zh

    @property
    def count_zh(self) -> str:
        """``3`` / ``0`` for an evaluated rule, ``未评估`` for one that is not."""
        return NOT_EVALUATED_ZH if self.count is None else str(self.count)

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule.id,
            "name_zh": self.rule.name_zh,
            "severity": self.rule.severity,
            "status": "evaluated" if self.evaluated else NOT_EVALUATED,
            "count": self.count,
            "reason": self.reason,
            "reason_zh": self.reason_zh,
        }


def rule_status(
    tally: Mapping[tuple[str, str], int] | Iterable[tuple[tuple[str, str], int]],
) -> list[RuleStatus]:
    """Every rule of the catalogue, in its order, with the count a findings tally
    ((rule, severity) -> n, as ``Views.finding_tally`` gives) has for it."""
    items = tally.items() if isinstance(tally, Mapping) else tally
    by_rule: dict[str, dict[str, int]] = {}
    for (rule_id, severity), n in items:
        by_rule.setdefault(rule_id, {})[severity] = by_rule.get(rule_id, {}).get(severity, 0) + n
    return [
        RuleStatus(
            r,
            sum(by_rule.get(r.id, {}).values()) if r.evaluated else None,
            dict(by_rule.get(r.id, {})) if r.evaluated else {},
        )
        for r in _RULES
    ]
