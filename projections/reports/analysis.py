"""Figures both the risk and the annual report use: flagged accesses by month, request
answer times, resource risk scores (methods stated in the reports).

Every figure is read from the views at the report's position: accesses grouped in the
views' SQL (``AccessGroup``, projections/access_report.py), the rules the views give
each flagged access (``RuleGroup``), the requests of the zone (``RequestState``). No
rule is judged here a second time (issue #12 "one judgment").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from projections.access_report import AccessGroup, RuleGroup
from projections.model import RequestState, ResourceState
from projections.reports.common import local
from projections.reports.model import Chart, ChartKind
from projections.reports.terms import MONTHS
from projections.schema import TOUCHES_NONE

SEVERITY_WEIGHT = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}
RESPONSE_BUCKETS = ("当日答复", "1–5天", "6–10天", "11–20天", "20天以上", "未答复")
TOP_RESOURCES = 10


def total(groups: Iterable[AccessGroup]) -> int:
    return sum(g.count for g in groups)


def flagged(groups: Iterable[AccessGroup]) -> int:
    return sum(g.count for g in groups if g.flagged)


def personal(groups: Iterable[AccessGroup]) -> list[AccessGroup]:
    """Groups of accesses that read personal or sensitive personal items."""
    return [g for g in groups if g.touches != TOUCHES_NONE]


def by(groups: Iterable[AccessGroup], key: str) -> dict[str, list[AccessGroup]]:
    out: dict[str, list[AccessGroup]] = defaultdict(list)
    for g in groups:
        out[getattr(g, key)].append(g)
    return out


def cited(rules: Iterable[RuleGroup]) -> tuple[int, ...]:
    """A few positions of the flagged accesses behind a row (first and last of groups)."""
    return tuple(sorted({p for g in rules for p in g.sample}))[:40]


def monthly_flagged(groups: Sequence[AccessGroup], rules: Sequence[RuleGroup]) -> Chart:
    """Flagged accesses per month (the views' groups) and the trend chart."""
    months = [0] * 12
    for g in groups:
        if g.flagged and 1 <= g.month <= 12:
            months[g.month - 1] += g.count
    return Chart(
        "未授权访问月度趋势",
        ChartKind.LINE,
        MONTHS,
        tuple(float(n) for n in months),
        "次数",
        cited(rules),
    )


def requests_in(requests: Iterable[RequestState], year: int) -> list[RequestState]:
    return sorted(
        (r for r in requests if local(r.submitted_at).year == year), key=lambda r: r.positions
    )


def answer_days(request: RequestState) -> int | None:
    if request.decided_at is None:
        return None
    return (local(request.decided_at).date() - local(request.submitted_at).date()).days


def answered_on_time(request: RequestState) -> bool:
    return (
        request.decided_at is not None and local(request.decided_at).date() <= request.response_due
    )


def response_bucket(request: RequestState) -> str:
    days = answer_days(request)
    if days is None:
        return RESPONSE_BUCKETS[-1]
    for limit, bucket in ((0, 0), (5, 1), (10, 2), (20, 3)):
        if days <= limit:
            return RESPONSE_BUCKETS[bucket]
    return RESPONSE_BUCKETS[4]


def response_chart(requests: Sequence[RequestState]) -> Chart:
    counts = Counter(response_bucket(r) for r in requests)
    return Chart(
        "共享申请按答复时长分布（自然日）",
        ChartKind.BAR,
        RESPONSE_BUCKETS,
        tuple(float(counts[b]) for b in RESPONSE_BUCKETS),
        "申请数",
        tuple(p for r in requests for p in r.positions),
    )


@dataclass(frozen=True)
class ResourceRisk:
    code: str
    name: str
    accesses: int
    flagged: int
    score: int
    positions: tuple[int, ...]  # some of the flagged accesses


def resource_risks(
    resources: Mapping[str, ResourceState],
    groups: Sequence[AccessGroup],
    rules: Sequence[RuleGroup],
) -> list[ResourceRisk]:
    """Score = sum over the views' findings on the resource's accesses of the weight of
    each rule's severity (critical 10, high 5, medium 2, low 1); highest first."""
    score: Counter[str] = Counter()
    by_resource: dict[str, list[RuleGroup]] = defaultdict(list)
    for g in rules:
        score[g.resource] += SEVERITY_WEIGHT.get(g.severity, 0) * g.accesses
        by_resource[g.resource].append(g)
    risks = [
        ResourceRisk(
            code,
            resources[code].name if code in resources else "（目录外资源）",
            total(group),
            flagged(group),
            score[code],
            cited(by_resource[code]),
        )
        for code, group in by(groups, "resource").items()
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
