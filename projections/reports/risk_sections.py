"""What 《网络数据安全管理条例》 第三十三条 asks of the annual risk assessment report,
beyond what risk.py's analysis shows (issue #15).

The processor's 网络数据安全负责人 and contact; the storage period and location of the
data; the management rules and technical measures (encryption, backup, labelling,
access control, authentication) and their effectiveness; the risk assessments of
providing, entrusting (受托方, 数据安全法 §40) and jointly processing data; and
cross-border transfer (数据出境). Each is filled from what the views keep at the
report's position; a fact the ledger does not hold is said to be 未记录 — never
guessed. Entrustments are the views' trail lines of ``ContractedProcessor`` events
(``Views.audit_trail``), read, not decoded here.
"""

from __future__ import annotations

from collections import Counter

from ledger.domain.security_facts import ZONE_SCOPE
from projections.model import AuditLine
from projections.reports.common import department_label, local
from projections.reports.model import Row, Section, Table
from projections.reports.views_facts import ReportFacts

NOT_RECORDED = "未记录（不在账本记录范围）"
ENTRUSTED = "ContractedProcessor.Entrusted"
RULES_ON_RECORD = (
    "管理制度：区级依据苏高新办〔2019〕2号开展共享与项目管理；"
    f"各部门自行制定的数据安全管理制度{NOT_RECORDED}。"
)


def security_lead(facts: ReportFacts) -> str:
    """第三十三条(一): the 网络数据安全负责人 and contact, as declared (docs/facts.md §10);
    not the CIO. A department without a declaration is said to be 未记录."""
    leads = facts.security.leads
    zone = leads.get(ZONE_SCOPE)
    zone_text = (
        f"区级网络数据安全负责人：{zone.fields['name']}（联系方式：{zone.fields['contact']}）。"
        if zone
        else f"区级网络数据安全负责人及其联系方式：{NOT_RECORDED}。"
    )
    codes = sorted(facts.zone.departments)
    named = [c for c in codes if c in leads]
    listed = "；".join(
        f"{department_label(facts, c)}：{leads[c].fields['name']}（{leads[c].fields['contact']}）"
        for c in named
    )
    departments = (
        f"已登记网络数据安全负责人的部门 {len(named)} 个：{listed}；"
        if named
        else "各部门网络数据安全负责人均未登记；"
    )
    return (
        f"{zone_text}{departments}其余部门 {len(codes) - len(named)} 个{NOT_RECORDED}。"
        "各部门首席信息官负责信息化工作，不等同于网络数据安全负责人。"
    )


def storage(facts: ReportFacts) -> tuple[str, ...]:
    """第三十三条(二): scope, storage period and location of the data."""
    resources = list(facts.zone.resources.values())
    providers = {r.provider_department for r in resources}
    recipients = {g.department for g in facts.accesses}
    systems = [s for s in facts.zone.systems.values() if s.status != "decommissioned"]
    on_cloud = sum(1 for s in systems if s.on_cloud)
    return (
        f"处理范围：提供部门 {len(providers)} 个、目录资源 {len(resources)} 项，"
        f"本年度经交换平台访问数据的接收部门 {len(recipients)} 个。",
        _storage_declared(facts, len(resources)),
        f"系统部署：在用政务信息系统 {len(systems)} 个，其中部署于政务云 {on_cloud} 个。",
    )


def _storage_declared(facts: ReportFacts, resources: int) -> str:
    """Storage period and location as the providers declared them, grouped."""
    declared = [d for code, d in facts.security.storage.items() if code in facts.zone.resources]
    if not declared:
        return f"存储期限与存储地点：各资源的存储期限及存储地点{NOT_RECORDED}。"
    groups = Counter((d.fields["storage_period"], d.fields["storage_location"]) for d in declared)
    listed = "；".join(
        f"存储期限{period}、存储地点{place}：{n} 项"
        for (period, place), n in sorted(groups.items(), key=lambda g: (-g[1], g[0]))
    )
    return (
        f"存储期限与存储地点：已登记 {len(declared)} 项资源（{listed}）；"
        f"其余 {resources - len(declared)} 项资源{NOT_RECORDED}。"
    )


def measures_table(facts: ReportFacts, flagged: int, total: int) -> Table:
    """第三十三条(三): each technical measure, what the ledger shows of it and its effect."""
    resources = list(facts.zone.resources.values())
    labelled = sum(1 for r in resources if r.items)
    rows = (
        _declared_row(facts, "加密", "encryption"),
        _declared_row(facts, "备份", "backup"),
        Row(
            (
                "数据标识",
                f"目录资源 {len(resources)} 项中 {labelled} 项已逐项标注信息项敏感程度"
                + _also_declared(facts, "labelling"),
                "敏感程度用于判定访问规则与风险影响程度",
            ),
            tuple(r.position for r in resources),
        ),
        Row(
            (
                "访问控制",
                "交换平台按共享授权（信息项、用途、期限）核验每次访问并将结论写入账本"
                + _also_declared(facts, "access_control"),
                f"本年度访问 {total} 次，标记违规 {flagged} 次，均已记录",
            )
        ),
        Row(
            (
                "身份认证",
                "每次访问记录访问者标识及所属部门" + _also_declared(facts, "authentication"),
                f"认证方式的有效性{NOT_RECORDED}",
            )
        ),
        Row(
            (
                "记录防篡改",
                "全部事实写入哈希链账本（只增不改），定期签发签名检查点",
                "可按附录方法独立核验",
            )
        ),
    )
    return Table("技术措施及其有效性", ("措施", "账本所示情况", "有效性"), rows)


def _in_use(facts: ReportFacts) -> list[str]:
    return [i for i, s in facts.zone.systems.items() if s.status != "decommissioned"]


def _declared_text(facts: ReportFacts, measure: str) -> str:
    """What the systems' departments declared of one measure (docs/facts.md §10)."""
    systems = _in_use(facts)
    declared = [facts.security.measures[i] for i in systems if i in facts.security.measures]
    if not declared:
        return f"各系统的该项措施{NOT_RECORDED}"
    taken = [d.fields["measures"][measure] for d in declared]
    yes = [m for m in taken if m["in_place"]]
    described = "、".join(sorted({m["description"] for m in yes})[:3])
    return (
        f"在用系统 {len(systems)} 个中已登记 {len(declared)} 个，其中采取 {len(yes)} 个、"
        f"未采取 {len(taken) - len(yes)} 个"
        + (f"（{described}）" if described else "")
        + f"，未登记 {len(systems) - len(declared)} 个{NOT_RECORDED}"
    )


def _also_declared(facts: ReportFacts, measure: str) -> str:
    """A measure the ledger shows on its own, plus what the systems declared of it, if any
    did (none declared: the row keeps its length; encryption and backup say 未记录)."""
    return f"；{_declared_text(facts, measure)}" if facts.security.measures else ""


def _declared_row(facts: ReportFacts, label: str, measure: str) -> Row:
    systems = _in_use(facts)
    positions = tuple(
        facts.security.measures[i].position for i in systems if i in facts.security.measures
    )
    return Row((label, _declared_text(facts, measure), NOT_RECORDED), positions)


def entrusting(facts: ReportFacts, number: str) -> Section:
    """第三十三条(五): providing, entrusting and jointly processing, each assessed."""
    resources = list(facts.zone.resources.values())
    shared = {g.resource for g in facts.accesses} | {
        r.resource_code for r in facts.zone.requests.values() if r.granted_items
    }
    assessed = [r for r in resources if r.code in shared and r.risk_assessments]
    entrusted = [line for line in facts.entrustments if line.topic == ENTRUSTED]
    ended = len(facts.entrustments) - len(entrusted)
    paragraphs = (
        f"提供数据：本年度被共享（获授权或被访问）的资源 {len(shared)} 项，"
        f"其中已有网信办风险评估结论的 {len(assessed)} 项（评估结论见第 13 节）。",
        (
            f"委托处理：账本记录委托数据处理单位（受托方）{len(entrusted)} 项，终止委托 {ended} 项"
            f"（见下表）；对受托方数据安全保护能力的评估结论{NOT_RECORDED}。"
            if facts.entrustments
            else "委托处理：账本中无委托数据处理单位（受托方）的记录。"
        ),
        f"共同处理：{NOT_RECORDED}。",
    )
    tables: tuple[Table, ...] = ()
    if facts.entrustments:
        tables = (
            Table(
                "委托处理记录",
                ("时间", "部门", "记录"),
                tuple(_entrustment_row(facts, line) for line in facts.entrustments),
                ledger_list=True,
            ),
        )
    return Section(number, "提供、委托处理与共同处理数据的风险评估", paragraphs, tables)


def _entrustment_row(facts: ReportFacts, line: AuditLine) -> Row:
    department = department_label(facts, line.department) if line.department else "—"
    when = local(line.time).strftime("%Y-%m-%d")
    return Row((when, department, line.summary), (line.position,))


def cross_border(number: str) -> Section:
    """第三十三条(六): 数据出境, stated explicitly."""
    return Section(
        number,
        "数据出境情况",
        ("无。账本中无向境外提供数据的记录。",),
    )
