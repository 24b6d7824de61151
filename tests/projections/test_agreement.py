"""One judgment, everywhere (issue #12 item 5): on generated small zones, every figure of
every report equals the views' figure at the same position — findings by rule (all, and
on accesses), the access 台账's rules, use rights, fund totals, on-time rates, access
counts by resource, requester and purpose, flagged accesses, each department's use.

Each example is a fresh SQLite ledger: two departments, the scenario's catalogue
(R1 conditional with a sensitive personal item, R2 not shareable), three systems, two
filings (one rejected, one not pre-registered), then generated requests (approved,
rejected, revoked or pending, with generated expiries), accesses (generated month,
items, purpose and platform verdict) and fund decisions (generated target, kind and
outcome). Reports are generated at the head and at a generated earlier position.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import AccessReason, FundKind, FundOutcome, ZombieReason
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.store.connect import application_env, init_ledger
from projections import access_report, runner, view_rows
from projections.query import Finding, Moment, Views, open_views
from projections.reports import ReportKind, generate
from projections.reports.model import Report, Table
from projections.reports.terms import FUND_KIND, FUND_OUTCOME, percent, yuan
from tests.projections.reports.scenario import (
    ADMIN,
    FINANCE,
    GONGAN,
    MINZHENG,
    NDRC,
    PLATFORM,
    R1,
    R2,
    Clock,
    _access,
    _catalogue,
    _inventory,
    at,
)

YEAR = 2026
SMALL_BLOCK = 5
ITEMS = ("姓名", "身份证号", "户籍地")


@dataclass(frozen=True)
class RequestPlan:
    items: tuple[str, ...]
    outcome: str  # approve | reject | revoke | pending
    month: int
    expiry_month: int


@dataclass(frozen=True)
class AccessPlan:
    month: int
    resource: str
    items: tuple[str, ...]
    purpose: str | None
    reasons: tuple[AccessReason, ...]


@dataclass(frozen=True)
class FundPlan:
    target: str  # s_a | s_b | s_c | p1 | p2 | project | s_c+project
    kind: FundKind
    outcome: FundOutcome
    amount_fen: int


requests_st = st.builds(
    RequestPlan,
    st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True).map(tuple),
    st.sampled_from(("approve", "reject", "revoke", "pending")),
    st.integers(1, 6),
    st.integers(1, 12),
)
accesses_st = st.builds(
    AccessPlan,
    st.integers(1, 12),
    st.sampled_from((R1, R2)),
    st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True).map(tuple),
    st.sampled_from(("低保审核", None)),
    st.lists(st.sampled_from(list(AccessReason)), max_size=2, unique=True).map(tuple),
)
funds_st = st.builds(
    FundPlan,
    st.sampled_from(("s_a", "s_b", "s_c", "p1", "p2", "project", "s_c+project")),
    st.sampled_from(list(FundKind)),
    st.sampled_from(list(FundOutcome)),
    st.integers(1, 50_000_000),
)


def _build(
    root: Path, requests: list[RequestPlan], accesses: list[AccessPlan], funds: list[FundPlan]
) -> Settings:
    conf = Settings(database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "s"))
    init_ledger(conf)
    clock = Clock()
    app = GovLedger(env=application_env(conf), clock=clock)
    try:
        app.register_department(ADMIN, "gongan", "区公安局")
        app.register_department(ADMIN, "minzheng", "区民政局")
        s_a = app.register_system(  # ndrc's requirement (organisation.py)
            NDRC, "minzheng", _inventory("低保系统"), required_to_connect=True
        )
        s_b = app.register_system(GONGAN, "gongan", _inventory("旧户籍系统"))
        app.mark_system_zombie(NDRC, s_b, [ZombieReason.UNMAINTAINED])
        s_c = app.register_system(GONGAN, "gongan", _inventory("视频系统"))
        _catalogue(app)
        p1 = _filing(app, "低保系统升级", "minzheng", s_a, preregistered=False)
        app.review_project(NDRC, p1, approved=False, architecture_review="重复建设")
        p2 = _filing(app, "视频平台", "gongan", s_c, preregistered=True)
        grants = _requests(app, clock, requests)
        app.record_accesses(
            PLATFORM,
            [
                _access(
                    f"a{n}",
                    at(YEAR, a.month, 10, 9 + n % 12),
                    a.resource,
                    a.items,
                    a.purpose,
                    grants[n % len(grants)] if grants else None,
                    *a.reasons,
                )
                for n, a in enumerate(accesses)
            ],
        )
        targets: dict[str, dict[str, Any]] = {"s_a": {"system_id": s_a}, "s_b": {"system_id": s_b},
                   "s_c": {"system_id": s_c}, "p1": {"filing_id": p1}, "p2": {"filing_id": p2},
                   "project": {"project_name": "无备案项目"},
                   "s_c+project": {"system_id": s_c, "project_name": "无备案改造"}}  # fmt: skip
        clock.now = at(YEAR, 11, 2)
        for f in funds:
            app.decide_funds(
                FINANCE, kind=f.kind, year=YEAR, department="gongan", amount_fen=f.amount_fen,
                outcome=f.outcome, rationale="年度预算", **targets[f.target],
            )  # fmt: skip
    finally:
        app.close()
    return conf


def _filing(app: GovLedger, name: str, builder: str, system: UUID, *, preregistered: bool) -> UUID:
    actor = MINZHENG if builder == "minzheng" else GONGAN
    return app.file_project(
        actor, name=name, builder=builder, investment_fen=1_000_000, om_cost_fen=0,
        funding_channel="财政", resource_codes=[R1], system_ids=[system], mlps_filed=True,
        catalogue_preregistered=preregistered,
    )  # fmt: skip


def _requests(app: GovLedger, clock: Clock, plans: list[RequestPlan]) -> list[UUID]:
    granted = []
    for n, plan in enumerate(plans):
        clock.now = at(YEAR, plan.month, 2 + n % 20, 9)
        q = app.submit_request(
            MINZHENG, requester_department="minzheng", resource_code=R1, items=list(plan.items),
            purpose="低保审核", legal_basis="《社会救助暂行办法》",
            period_start=date(YEAR, 1, 1), period_end=date(YEAR, 12, 31),
        )  # fmt: skip
        if plan.outcome == "pending":
            continue
        clock.now = at(YEAR, plan.month, 3 + n % 20 + plan.expiry_month % 5, 9)
        if plan.outcome == "reject":
            app.reject_request(GONGAN, q, "不符合共享条件")
            continue
        expiry = max(at(YEAR, plan.expiry_month, 28, 23), clock.now.replace(hour=23))
        app.approve_request(GONGAN, q, list(plan.items), expiry)
        granted.append(q)
        if plan.outcome == "revoke":
            clock.now = clock.now.replace(hour=20)
            app.revoke_grant(GONGAN, q, "用途已完成")
    return granted


def _table(report: Report, title: str) -> Table:
    return next(t for _, t in report.tables() if t.title == title)


def _check(views: Views, conf: Settings, position: int) -> None:
    m = views.moment(at=position)
    in_year = [
        f
        for f in views.findings(m)
        if f.time.astimezone(CST).year == YEAR or f.time == m.reference_time
    ]
    risk = generate(conf, ReportKind.RISK, YEAR, at=position, catch_up=True)
    audit = generate(conf, ReportKind.AUDIT, YEAR, at=position, catch_up=True)
    annual = generate(conf, ReportKind.ANNUAL, YEAR, at=position, catch_up=True)
    for report in (risk, audit, annual):
        assert report.anchor.position == position

    # Findings by rule: the risk report's table and the views'.
    mine = {r.cells[0]: r.cells[3] for r in _table(risk, "合规发现与处置建议").rows}
    assert mine == dict(Counter(f.rule for f in in_year))
    # The access 台账: each flagged access carries the views' rules, no more, no fewer.
    theirs: dict[int, set[str]] = {}
    for f in in_year:
        if f.subject_kind == "access":
            # the access itself is the newest of its evidence (its grant was decided before)
            theirs.setdefault(max(f.positions), set()).add(f.rule)
    listed = {
        int(r.cells[0]): {part.split(" ")[0] for part in str(r.cells[-1]).split("；")}
        for r in _table(risk, "违规访问台账").rows
    }
    assert {p: rules for p, rules in listed.items() if p in theirs} == theirs
    # Accesses: the risk report's count equals the views' tally of the year.
    counts = views.access_counts(m, start=date(YEAR, 1, 1), end=date(YEAR, 12, 31))
    paragraph = next(
        p for s in risk.sections for p in s.paragraphs if "本年度经交换平台数据访问" in p
    )
    assert f"数据访问 {counts.total.total} 次" in paragraph

    # Use rights in force: the risk report's holder counts and the views' register.
    held = {r.cells[0]: r.cells[5] for r in _table(risk, "资源权属登记").rows}
    register = {e.resource_code: len(e.use_rights) for e in views.rights_register(m)}
    assert held == register

    # Fund totals and F1–F4: the audit report and the views' fund decisions and findings.
    zone = views.zone(m)
    decisions = [d for d in zone.fund_decisions.values() if d.year == YEAR]
    granted = [d for d in decisions if d.outcome == "granted"]
    total = _table(audit, "各部门经费决定").rows[-1].cells
    assert total[1:] == (
        len(decisions), len(granted), yuan(sum(d.amount_fen for d in granted)),
        len(decisions) - len(granted),
        yuan(sum(d.amount_fen for d in decisions if d.outcome != "granted")),
    )  # fmt: skip
    ids = {d.decision_id for d in decisions}
    fund_findings = [
        f for f in views.findings(m, subject_kinds=("fund_decision",)) if f.subject in ids
    ]
    by_rule = {r.cells[0]: r.cells[3] for r in _table(audit, "按规则统计").rows}
    for rule in ("F1", "F2", "F3", "F4"):
        assert by_rule[rule] == sum(1 for f in fund_findings if f.rule == rule), rule

    # On-time rate: the annual report's and the one from the views' requests.
    requests = [r for r in zone.requests.values() if r.submitted_at.astimezone(CST).year == YEAR]
    on_time = sum(
        1
        for r in requests
        if r.decided_at is not None and r.decided_at.astimezone(CST).date() <= r.response_due
    )
    paragraph = next(p for s in annual.sections for p in s.paragraphs if "按期答复率" in p)
    assert f"按期答复率 {percent(on_time, len(requests))}" in paragraph
    _check_accesses(views, m, risk, annual, in_year)
    _check_rights_and_funds(views, m, risk, annual)


def _code(label: object) -> str:
    """``区公安局（gongan）`` -> ``gongan``; ``GX-PSB-001 人口基础信息`` -> ``GX-PSB-001``."""
    text = str(label)
    return text[text.index("（") + 1 : -1] if "（" in text else text.split(" ", maxsplit=1)[0]


def _check_accesses(
    views: Views, m: Moment, risk: Report, annual: Report, in_year: list[Finding]
) -> None:
    """Access figures of both reports: the views' access counts and findings."""
    counts = views.access_counts(m, start=date(YEAR, 1, 1), end=date(YEAR, 12, 31))
    # Risk §5: each resource's and each requester's accesses and flagged accesses.
    for title, tallies in (
        ("资源风险矩阵", counts.by_resource),
        ("部门风险矩阵", counts.by_requester),
    ):
        mine = {_code(r.cells[0]): (r.cells[5], r.cells[6]) for r in _table(risk, title).rows}
        assert mine == {k: (t.total, t.unauthorized) for k, t in tallies.items()}, title
    # Risk §3: accesses and rows read by purpose.
    purposes = {
        r.cells[0]: (r.cells[1], r.cells[2]) for r in _table(risk, "按申报用途统计的数据访问").rows
    }
    assert purposes == {
        (k or "（未申报用途）"): (t.total, t.rows) for k, t in counts.by_purpose.items()
    }
    # Risk §8 by rule: the views' findings on the year's accesses.
    on_accesses = Counter(f.rule for f in in_year if f.subject_kind == "access")
    by_rule = {r.cells[0]: r.cells[3] for r in _table(risk, "违规访问按规则统计").rows}
    assert by_rule == dict(on_accesses)
    # Risk §8 anomalies by kind and review state: the views' anomalies of the year.
    anomalies = [a for a in views.anomalies(m) if a.time.astimezone(CST).year == YEAR]
    kinds = {r.cells[0]: r.cells[1:] for r in _table(risk, "访问异常及复核情况").rows}
    assert sum(int(c[0]) for c in kinds.values()) == len(anomalies)
    assert sum(int(c[1]) for c in kinds.values()) == sum(a.status == "open" for a in anomalies)
    # Annual 四, 六, 八: accesses, flagged accesses, findings by rule.
    paragraph = next(p for s in annual.sections for p in s.paragraphs if "访问共享数据" in p)
    assert f"访问共享数据 {counts.total.total} 次" in paragraph
    security = {r.cells[0]: r.cells[1] for r in _table(annual, "安全情况统计").rows}
    assert security["违规访问（事件）"] == counts.total.unauthorized
    assert security["合规发现"] == len(in_year)
    issues = {r.cells[0]: r.cells[3] for r in _table(annual, "问题清单").rows}
    assert issues == dict(Counter(f.rule for f in in_year))
    # Annual 九: each department's use and flagged use.
    scores = {
        _code(r.cells[0]): (r.cells[6], r.cells[7]) for r in _table(annual, "各部门共享评价").rows
    }
    for code, (used, flagged) in scores.items():
        tally = counts.by_requester.get(code)
        assert (used, flagged) == ((tally.total, tally.unauthorized) if tally else (0, 0)), code


def _check_rights_and_funds(views: Views, m: Moment, risk: Report, annual: Report) -> None:
    """Use rights in force (the register) and fund totals (the zone's decisions)."""
    in_force: Counter[str] = Counter(
        str(r.cells[0]) for r in _table(risk, "使用权台账").rows if r.cells[5] == "已授权"
    )
    register = {e.resource_code: len(e.use_rights) for e in views.rights_register(m)}
    assert {k: v for k, v in register.items() if v} == dict(in_force)
    zone = views.zone(m)
    decisions = [d for d in zone.fund_decisions.values() if d.year == YEAR]
    funds = {
        (r.cells[0], r.cells[1]): (r.cells[2], r.cells[3])
        for r in _table(annual, "经费安排与不予安排").rows
    }
    for kind in FundKind:
        for outcome in FundOutcome:
            group = [d for d in decisions if d.kind == kind and d.outcome == outcome]
            expected = (len(group), yuan(sum(d.amount_fen for d in group)))
            assert funds[FUND_KIND[kind], FUND_OUTCOME[outcome]] == expected
    # P2 is judged from the PIA facts (issue 14): the risk report prints the views' count.
    personal = next(p for s in risk.sections for p in s.paragraphs if "（P2）" in p)
    assert "未评估" not in personal and re.search(r"（P2）：[0-9]+ 项", personal)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(requests_st, max_size=4),
    st.lists(accesses_st, min_size=1, max_size=8),
    st.lists(funds_st, max_size=5),
    st.integers(0, 100),
)
def test_every_report_figure_equals_the_views(
    requests: list[RequestPlan], accesses: list[AccessPlan], funds: list[FundPlan], cut: int
) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        # Small blocks: the reports read the access totals kept at block ends, and the tail.
        mock.patch.object(runner, "BLOCK", SMALL_BLOCK),
        mock.patch.object(view_rows, "BLOCK", SMALL_BLOCK),
        mock.patch.object(access_report, "BLOCK", SMALL_BLOCK),
    ):
        conf = _build(Path(directory), requests, accesses, funds)
        with open_views(conf, catch_up=True) as views:
            head = views.position
            for position in sorted({head, max(1, head * cut // 100)}):
                _check(views, conf, position)
