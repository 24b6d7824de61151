"""Figures both the risk and the annual report use: unauthorized accesses by rule and
month, request answer times, resource risk scores (methods stated in the reports).

Rule ids are domain.md's (S1–S7, P1); the access verdict recorded with each
access names its reasons (ledger/domain/access.py), so counting them needs no
re-evaluation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.domain.access import AccessReason
from ledger.domain.catalogue import Resource, Sensitivity
from ledger.domain.sharing import SharingRequest
from projections.reports.common import local
from projections.reports.facts import AccessFact, LedgerFacts
from projections.reports.model import Chart, ChartKind
from projections.reports.terms import ACCESS_REASON, MONTHS

# Severity weights for the risk score of a flagged access (domain.md severities).
RULE_SEVERITY = {
    "S1": "critical",
    "S2": "high",
    "S3": "high",
    "S4": "medium",
    "S5": "high",
    "P1": "high",
    "S6": "medium",
    "S7": "low",
}
SEVERITY_WEIGHT = {"critical": 10, "high": 5, "medium": 2, "low": 1}
RESPONSE_BUCKETS = ("当日答复", "1–5天", "6–10天", "11–20天", "20天以上", "未答复")
TOP_RESOURCES = 10


def rules_of(access: AccessFact, resource: Resource | None) -> tuple[str, ...]:
    """The rule ids an access's verdict proves; a purpose mismatch on sensitive personal
    items is P1 rather than S4, as the views judge it (projections/zone.py)."""
    sensitive = resource is not None and _touches(access, resource, Sensitivity.SENSITIVE_PERSONAL)
    return tuple(
        sorted(
            {
                "P1"
                if reason is AccessReason.PURPOSE_MISMATCH and sensitive
                else ACCESS_REASON[reason][0]
                for reason in access.reasons
            }
        )
    )


def _touches(access: AccessFact, resource: Resource, sensitivity: Sensitivity) -> bool:
    return bool(set(access.items) & resource.items_with(sensitivity))


def personal(access: AccessFact, resource: Resource | None) -> bool:
    return resource is not None and (
        _touches(access, resource, Sensitivity.PERSONAL)
        or _touches(access, resource, Sensitivity.SENSITIVE_PERSONAL)
    )


def monthly_unauthorized(accesses: Sequence[AccessFact]) -> tuple[list[list[int]], Chart]:
    """Positions of unauthorized accesses per month (index 0 = January), and the trend chart."""
    months: list[list[int]] = [[] for _ in MONTHS]
    for access in accesses:
        if not access.authorized:
            months[local(access.accessed_at).month - 1].append(access.position)
    chart = Chart(
        "未授权访问月度趋势",
        ChartKind.LINE,
        MONTHS,
        tuple(float(len(m)) for m in months),
        "次数",
        tuple(p for m in months for p in m),
    )
    return months, chart


def requests_in(facts: LedgerFacts, year: int) -> list[SharingRequest]:
    return [r for r in facts.requests() if local(r.submitted_at).year == year]


def answer_days(request: SharingRequest) -> int | None:
    if request.decided_at is None:
        return None
    return (local(request.decided_at).date() - local(request.submitted_at).date()).days


def answered_on_time(request: SharingRequest) -> bool:
    return (
        request.decided_at is not None and local(request.decided_at).date() <= request.response_due
    )


def response_bucket(request: SharingRequest) -> str:
    days = answer_days(request)
    if days is None:
        return RESPONSE_BUCKETS[-1]
    for limit, bucket in ((0, 0), (5, 1), (10, 2), (20, 3)):
        if days <= limit:
            return RESPONSE_BUCKETS[bucket]
    return RESPONSE_BUCKETS[4]


def response_chart(facts: LedgerFacts, requests: Sequence[SharingRequest]) -> Chart:
    counts = Counter(response_bucket(r) for r in requests)
    return Chart(
        "共享申请按答复时长分布（自然日）",
        ChartKind.BAR,
        RESPONSE_BUCKETS,
        tuple(float(counts[b]) for b in RESPONSE_BUCKETS),
        "申请数",
        tuple(p for r in requests for p in facts.positions_of(r.id)),
    )


@dataclass(frozen=True)
class ResourceRisk:
    code: str
    name: str
    accesses: int
    flagged: int
    score: int
    positions: tuple[int, ...]  # the flagged accesses


def resource_risks(facts: LedgerFacts, accesses: Sequence[AccessFact]) -> list[ResourceRisk]:
    """Score = sum over flagged accesses of the weight of each rule broken (critical 10,
    high 5, medium 2, low 1); highest first."""
    resources = facts.resources()
    total: Counter[str] = Counter()
    score: Counter[str] = Counter()
    flagged: dict[str, list[int]] = defaultdict(list)
    for access in accesses:
        total[access.resource_code] += 1
        rules = rules_of(access, resources.get(access.resource_code))
        if rules:
            flagged[access.resource_code].append(access.position)
            score[access.resource_code] += sum(SEVERITY_WEIGHT[RULE_SEVERITY[r]] for r in rules)
    risks = [
        ResourceRisk(
            code,
            resources[code].name if code in resources else "（目录外资源）",
            total[code],
            len(flagged[code]),
            score[code],
            tuple(flagged[code]),
        )
        for code in total
    ]
    return sorted(risks, key=lambda r: (-r.score, r.code))


def top_risk_chart(risks: Sequence[ResourceRisk]) -> Chart:
    top = [r for r in risks if r.score > 0][:TOP_RESOURCES]
    return Chart(
        f"风险最高的资源（前{TOP_RESOURCES}位，按风险分）",
        ChartKind.BARH,
        tuple(f"{r.code} {r.name}" for r in top),
        tuple(float(r.score) for r in top),
        "风险分",
        tuple(p for r in top for p in r.positions),
    )
