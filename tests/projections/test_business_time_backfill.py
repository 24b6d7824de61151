"""Back-filling gives the views that recording live gives (issue 12 item 3; hypothesis).

The same facts — departments, a conditional resource, requests submitted, approved,
rejected or revoked, and the exchange platform's accesses with their verdicts — are
recorded twice: live (each on the day it happened, in business-time order) and late
(all of them on one later day, each with its own business time, aggregates interleaved
in a random order; within one aggregate the order is the domain's). The views as of
every day the facts name, and at the head, must be equal: findings (rule, subject,
time), the rights register and the requests' states (docs/projections.md §As-of
semantics). Anomalies are not compared: the detector's rolling baselines follow the
order in which accesses arrive (docs/projections.md §Anomalies).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import AccessVerdict, ResourceItem, Sensitivity, SharingType
from ledger.store.connect import application_env, init_ledger
from projections.query import Views, as_json, open_views
from projections.runner import run_projections
from projections.sharing_terms import SharingTerms
from security.access import evaluate_access
from tests.projections.scenario import (
    ADMIN,
    GONGAN,
    JIAOYU,
    MINZHENG,
    PLATFORM,
    PURPOSE,
    Clock,
    _entry,
    cst,
    report,
)

ITEMS = ("姓名", "住址", "身份证号")
CLERKS = {"minzheng": MINZHENG, "jiaoyu": JIAOYU}
LATE = cst(11, 30, 9)  # the day the late ledger records everything


@dataclass(frozen=True)
class RequestPlan:
    key: str
    department: str
    day: int  # June day of submission
    items: tuple[str, ...]
    answer: str  # "none" | "approve" | "reject"
    answer_after: int
    granted: tuple[str, ...]
    lasts: int  # days the grant runs
    revoke_after: int | None


@dataclass(frozen=True)
class AccessPlan:
    event_id: str
    department: str
    day: int
    hour: int
    items: tuple[str, ...]
    cites: int | None  # index of the request whose grant it cites


@st.composite
def zones(draw: Any) -> tuple[list[RequestPlan], list[AccessPlan], list[int]]:
    requests = []
    for i in range(draw(st.integers(1, 3))):
        items = tuple(draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True)))
        requests.append(
            RequestPlan(
                f"req-{i}", draw(st.sampled_from(sorted(CLERKS))), draw(st.integers(2, 12)),
                items, draw(st.sampled_from(("none", "approve", "reject"))),
                draw(st.integers(0, 3)),
                tuple(draw(st.lists(st.sampled_from(items), min_size=1, unique=True))),
                draw(st.integers(1, 20)), draw(st.none() | st.integers(1, 10)),
            )
        )  # fmt: skip
    accesses = [
        AccessPlan(
            f"evt-{j}", draw(st.sampled_from(sorted(CLERKS))), draw(st.integers(2, 28)),
            draw(st.integers(7, 22)),
            tuple(draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=2, unique=True))),
            draw(st.none() | st.integers(0, len(requests) - 1)),
        )
        for j in range(draw(st.integers(0, 6)))
    ]  # fmt: skip
    # The order of the late ledger: a random interleaving of the aggregates' steps.
    order = draw(st.permutations(range(len(requests) + len(accesses))))
    return requests, accesses, list(order)


Step = tuple[datetime, str, Callable[[GovLedger, bool], None]]


def _steps(
    requests: list[RequestPlan], accesses: list[AccessPlan], verdicts: dict[str, AccessVerdict]
) -> list[list[Step]]:
    """Each aggregate's steps in its own order: (business time, what, record it)."""
    ids: dict[int, UUID] = {}
    chains: list[list[Step]] = []
    for i, r in enumerate(requests):
        submitted = cst(6, r.day, 10)
        clerk = CLERKS[r.department]

        def submit(app: GovLedger, late: bool, i: int = i, r: RequestPlan = r) -> None:
            ids[i] = app.submit_request(
                CLERKS[r.department], requester_department=r.department,
                resource_code="RK-0001", items=list(r.items), purpose=PURPOSE,
                legal_basis="《社会救助暂行办法》", period_start=date(2026, 6, 1),
                period_end=date(2026, 12, 31), idempotency_key=r.key,
                submitted_at=cst(6, r.day, 10) if late else None,
            )  # fmt: skip

        chain: list[Step] = [(submitted, f"submit {r.key}", submit)]
        decided = submitted + timedelta(days=r.answer_after, hours=1)
        if r.answer == "approve":
            expires = decided + timedelta(days=r.lasts)

            def approve(
                app: GovLedger,
                late: bool,
                i: int = i,
                r: RequestPlan = r,
                decided: datetime = decided,
                expires: datetime = expires,
            ) -> None:
                app.approve_request(GONGAN, ids[i], list(r.granted), expires,
                                    decided_at=decided if late else None)  # fmt: skip

            chain.append((decided, f"approve {r.key}", approve))
            if r.revoke_after is not None and r.revoke_after < r.lasts:
                revoked = decided + timedelta(days=r.revoke_after, hours=2)

                def revoke(
                    app: GovLedger, late: bool, i: int = i, revoked: datetime = revoked
                ) -> None:
                    app.revoke_grant(GONGAN, ids[i], "用途已完成",
                                     revoked_at=revoked if late else None)  # fmt: skip

                chain.append((revoked, f"revoke {r.key}", revoke))
        elif r.answer == "reject":

            def reject(app: GovLedger, late: bool, i: int = i, decided: datetime = decided) -> None:
                app.reject_request(GONGAN, ids[i], "不符合条件",
                                   decided_at=decided if late else None)  # fmt: skip

            chain.append((decided, f"reject {r.key}", reject))
        del clerk
        chains.append(chain)
    for a in accesses:
        at = cst(6, a.day, a.hour, 5)

        def access(app: GovLedger, late: bool, a: AccessPlan = a, at: datetime = at) -> None:
            grant = ids.get(a.cites) if a.cites is not None else None
            seen = report(a.event_id, at, "u-1", a.department, "RK-0001", a.items, PURPOSE, grant)
            if not late:  # live: judged by the platform's terms then; late: the same verdict
                verdicts[a.event_id] = evaluate_access(seen, SharingTerms(app).current())
            app.record_accesses(PLATFORM, [(seen, verdicts[a.event_id])])

        chains.append([(at, f"access {a.event_id}", access)])
    return chains


def _catalogue(app: GovLedger, at: datetime | None) -> None:
    for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局"), ("jiaoyu", "区教育局")):
        app.register_department(ADMIN, code, name, occurred_at=at)
    items = [ResourceItem(n, Sensitivity.PERSONAL) for n in ITEMS[:2]]
    items.append(ResourceItem(ITEMS[2], Sensitivity.SENSITIVE_PERSONAL))
    entry = _entry("RK-0001", "人口基础信息", items, SharingType.CONDITIONAL)
    app.register_resource(GONGAN, entry, occurred_at=at)


def _record(conf: Settings, steps: list[Step], late: bool) -> None:
    init_ledger(conf)
    clock = Clock(LATE if late else cst(6, 1, 8))
    app = GovLedger(env=application_env(conf), clock=clock)
    try:
        _catalogue(app, cst(6, 1, 8) if late else None)
        for when, _, record in steps:
            if not late:
                clock.now = when
            record(app, late)
    finally:
        app.close()
    run_projections(conf)


def _without_positions(value: Any) -> Any:
    """Positions are where each ledger put a fact: they differ between the two by design."""
    if isinstance(value, dict):
        return {k: _without_positions(v) for k, v in value.items() if "position" not in k}
    if isinstance(value, list):
        return [_without_positions(v) for v in value]
    return value


def _answers(views: Views, as_of: date | None) -> dict[str, Any]:
    m = views.moment(as_of=as_of)
    return {
        "findings": sorted((f.rule, f.subject, f.time.isoformat()) for f in views.findings(m)),
        "rights": _without_positions(as_json(views.rights_register(m))),
        "requests": sorted(
            (r.request_id, r.status, str(r.decided_at), str(r.revoked_at))
            for r in views.zone(m).requests.values()
        ),
    }


def _views_of(conf: Settings, days: list[date]) -> dict[str, Any]:
    with open_views(conf) as views:
        found = {str(d): _answers(views, d) for d in days}
        found["head"] = _answers(views, None)["findings"]  # reference time: now
    return found


def _live_and_late(
    requests: list[RequestPlan],
    accesses: list[AccessPlan],
    order: list[int],
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    verdicts: dict[str, AccessVerdict] = {}
    chains = _steps(requests, accesses, verdicts)
    live = sorted((s for chain in chains for s in chain), key=lambda s: s[0])
    queues = [list(c) for c in chains]
    late = [queues[i].pop(0) for i in order for _ in range(len(chains[i]))]
    days = sorted({s[0].date() for s in live} | {date(2026, 6, 1), date(2026, 7, 31)})
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, steps, is_late in (("live", live, False), ("late", late, True)):
            where = Path(tmp, name)
            where.mkdir()
            conf = Settings(database_url=f"sqlite:///{where / 'l.db'}", state_dir=str(where))
            _record(conf, steps, is_late)
            found.append(_views_of(conf, days))
    return found[0], found[1], [s[1] for s in late]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(zones())
def test_recording_history_late_gives_the_views_recorded_live(
    zone: tuple[list[RequestPlan], list[AccessPlan], list[int]],
) -> None:
    live, late, order = _live_and_late(*zone)
    assert late == live, (zone[0], zone[1], order)


# An access on 06-04 under a grant of 06-02 that expired on 06-03, reading an item the
# grant never gave: S2 and S3 live; recorded before the grant, the late fold sees no grant.
_LAPSED = (
    [RequestPlan("req-0", "jiaoyu", 2, ("姓名",), "approve", 0, ("姓名",), 1, None)],
    [AccessPlan("evt-0", "jiaoyu", 4, 7, ("住址",), 0)],
    [1, 0],
)
# A grant approved on 06-02 and an access on 06-04: S12 and P2 are dated 06-02 live, by the
# access (06-04) when the access is recorded first.
_FIRST_SHARE = (
    [RequestPlan("req-0", "jiaoyu", 2, ("姓名",), "approve", 0, ("姓名",), 20, None)],
    [AccessPlan("evt-0", "jiaoyu", 4, 9, ("姓名",), 0)],
    [1, 0],
)


def test_s3_on_a_lapsed_grant_recorded_after_the_access() -> None:
    live, late, _ = _live_and_late(*_LAPSED)
    assert late == live
    findings = {(rule, time[:10]) for rule, _, time in late["head"]}
    assert {("S2", "2026-06-04"), ("S3", "2026-06-04")} <= findings


def test_first_share_findings_dated_by_business_time() -> None:
    live, late, _ = _live_and_late(*_FIRST_SHARE)
    assert late == live
    dated = {rule: time[:10] for rule, _, time in late["head"] if rule in ("S12", "P2")}
    assert dated == {"S12": "2026-06-02", "P2": "2026-06-02"}
