"""Back-filling gives the views that recording live gives (issue 12 item 3; hypothesis).

The same facts — departments, a conditional resource, requests submitted, approved,
rejected or revoked, the exchange platform's accesses with their verdicts (some on a
system), and O&M grants for that system (citing its filing or not) with a revision of
the filed amounts — are recorded twice: live (each on the day it happened, in
business-time order) and late (all of them on one later day, each with its own business
time, aggregates interleaved in a random order; within one aggregate the order is the
domain's). The views as of every day the facts name, and at the head, must be equal:
findings (rule, subject, time; F7's total and F8's count too; the system, filing and
grants named, their ids differ), the rights register and the requests' states
(docs/projections.md §As-of semantics). Anomalies are not compared: the detector's
rolling baselines follow the order in which accesses arrive (docs/projections.md
§Anomalies). The late ledger's views at every position also equal what views following
it one position at a time said when their head was there (docs/projections.md §Findings
are versions).
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
from ledger.domain import (
    AccessVerdict,
    FundKind,
    FundOutcome,
    ResourceItem,
    Sensitivity,
    SharingType,
    SystemInventory,
)
from ledger.domain.access import AccessReport
from ledger.store.connect import application_env, init_ledger, open_reader
from projections.query import Moment, Views, as_json, open_views
from projections.runner import Projector, run_projections
from projections.sharing_terms import SharingTerms
from projections.store import ViewStore
from security.access import evaluate_access
from tests.projections.scenario import (
    ADMIN,
    FINANCE,
    GONGAN,
    JIAOYU,
    MINZHENG,
    NDRC,
    PLATFORM,
    PURPOSE,
    Clock,
    _entry,
    cst,
    report,
)

ITEMS = ("姓名", "住址", "身份证号")
INVENTORY = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")
SUMS = ("F7", "F8")  # their detail is compared too: F7's total, F8's count
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
    on_system: bool = False  # through the system the grants below fund (F8)


@dataclass(frozen=True)
class FundPlan:
    """An O&M grant for the system (F7 against its filing, F8 on its accesses)."""

    day: int
    hour: int
    fen: int
    cites_filing: bool


@dataclass(frozen=True)
class Funds:
    grants: tuple[FundPlan, ...] = ()
    revision: tuple[int, int] | None = None  # (June day, om_cost_fen) of a revision


Zone = tuple[list[RequestPlan], list[AccessPlan], list[int], Funds]


@st.composite
def zones(draw: Any) -> Zone:
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
            draw(st.none() | st.integers(0, len(requests) - 1)), draw(st.booleans()),
        )
        for j in range(draw(st.integers(0, 6)))
    ]  # fmt: skip
    grants = tuple(
        FundPlan(draw(st.integers(2, 28)), draw(st.integers(8, 18)),
                 draw(st.sampled_from((30_000, 50_000, 70_000))), draw(st.booleans()))
        for _ in range(draw(st.integers(0, 3)))
    )  # fmt: skip
    revision = draw(st.none() | st.tuples(st.integers(2, 28), st.sampled_from((60_000, 150_000))))
    funds = Funds(grants, revision)
    # The order of the late ledger: a random interleaving of the aggregates' steps.
    chains = len(requests) + len(accesses) + len(grants) + (revision is not None)
    order = draw(st.permutations(range(chains)))
    return requests, accesses, list(order), funds


Step = tuple[datetime, str, Callable[[GovLedger, bool], None]]


def _steps(
    requests: list[RequestPlan],
    accesses: list[AccessPlan],
    verdicts: dict[str, AccessVerdict],
    funds: Funds,
    refs: dict[str, UUID],
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
            if a.on_system:
                seen = AccessReport(
                    platform_event_id=seen.platform_event_id, accessor_id=seen.accessor_id,
                    department=seen.department, system=str(refs["system"]),
                    resource_code=seen.resource_code, items=seen.items,
                    row_count=seen.row_count, purpose=seen.purpose, grant_id=seen.grant_id,
                    client_address=seen.client_address, accessed_at=seen.accessed_at,
                )  # fmt: skip
            if not late:  # live: judged by the platform's terms then; late: the same verdict
                verdicts[a.event_id] = evaluate_access(seen, SharingTerms(app).current())
            app.record_accesses(PLATFORM, [(seen, verdicts[a.event_id])])

        chains.append([(at, f"access {a.event_id}", access)])
    for n, g in enumerate(funds.grants):
        decided = cst(6, g.day, g.hour, 30)

        def grant(
            app: GovLedger, late: bool, n: int = n, g: FundPlan = g, decided: datetime = decided
        ) -> None:
            refs[f"grant {n}"] = app.decide_funds(
                FINANCE, kind=FundKind.OM_FUNDS, year=2026, department="minzheng",
                amount_fen=g.fen, outcome=FundOutcome.GRANTED, rationale="运维",
                system_id=refs["system"], filing_id=refs["filing"] if g.cites_filing else None,
                decided_at=decided,
            )  # fmt: skip

        chains.append([(decided, f"grant {n}", grant)])
    if funds.revision is not None:
        day, om_cost = funds.revision
        revised = cst(6, day, 9)

        def revise(app: GovLedger, late: bool, revised: datetime = revised) -> None:
            app.revise_filed_amounts(
                NDRC, refs["filing"], reference="调概-1", investment_fen=1_000_000,
                om_cost_fen=om_cost, reason="调整", revised_at=revised,
            )  # fmt: skip

        chains.append([(revised, "revise", revise)])
    return chains


def _catalogue(app: GovLedger, at: datetime | None, refs: dict[str, UUID]) -> None:
    for code, name in (("gongan", "区公安分局"), ("minzheng", "区民政局"), ("jiaoyu", "区教育局")):
        app.register_department(ADMIN, code, name, occurred_at=at)
    items = [ResourceItem(n, Sensitivity.PERSONAL) for n in ITEMS[:2]]
    items.append(ResourceItem(ITEMS[2], Sensitivity.SENSITIVE_PERSONAL))
    entry = _entry("RK-0001", "人口基础信息", items, SharingType.CONDITIONAL)
    app.register_resource(GONGAN, entry, occurred_at=at)
    # A system in use for over a year (F8 judges it), and its filing (F7: 1,000 a year).
    since = cst(6, 1, 8) - timedelta(days=400)
    refs["system"] = app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=since)
    refs["filing"] = app.file_project(
        MINZHENG, name="低保系统运维", builder="minzheng", investment_fen=1_000_000,
        om_cost_fen=100_000, funding_channel="财政", resource_codes=[],
        system_ids=[refs["system"]], mlps_filed=True, catalogue_preregistered=True,
        occurred_at=at,
    )  # fmt: skip


def _record(conf: Settings, steps: list[Step], late: bool, refs: dict[str, UUID]) -> None:
    init_ledger(conf)
    clock = Clock(LATE if late else cst(6, 1, 8))
    app = GovLedger(env=application_env(conf), clock=clock)
    try:
        _catalogue(app, cst(6, 1, 8) if late else None, refs)
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


def _answers(views: Views, as_of: date | None, names: dict[str, str]) -> dict[str, Any]:
    m = views.moment(as_of=as_of)
    return {
        "findings": sorted(
            (
                f.rule,
                names.get(f.subject, f.subject),
                f.time.isoformat(),
                f.detail if f.rule in SUMS else "",
            )
            for f in views.findings(m)
        ),
        "rights": _without_positions(as_json(views.rights_register(m))),
        "requests": sorted(
            (r.request_id, r.status, str(r.decided_at), str(r.revoked_at))
            for r in views.zone(m).requests.values()
        ),
    }


def _views_of(conf: Settings, days: list[date], refs: dict[str, UUID]) -> dict[str, Any]:
    names = {id_.hex: name for name, id_ in refs.items()}  # ids differ between the ledgers
    with open_views(conf) as views:
        found = {str(d): _answers(views, d, names) for d in days}
        found["head"] = _answers(views, None, names)["findings"]  # reference time: now
    return found


def _every_position_as_then(conf: Settings) -> None:
    """The views (built in one batch) at every position equal what views following the
    ledger one position at a time said when their head was there: findings re-dated or
    withdrawn by a fact recorded late are versions (docs/projections.md §Findings are
    versions), never rewritten in place."""
    reader = open_reader(conf)
    side = ViewStore(conf, side=True)
    try:
        follower, stepped = (
            Projector(conf, side, reader),
            Views(conf, side, Projector(conf, side, reader)),
        )
        with open_views(conf) as views:
            for n in range(1, views.position + 1):
                follower.run(until=n)
                then, now = stepped.moment(at=n), views.moment(at=n)
                assert _versions(stepped, then) == _versions(views, now), n
    finally:
        side.close()
        reader.close()


def _versions(views: Views, m: Moment) -> list[tuple[Any, ...]]:
    found = views.findings(m)
    return sorted((f.finding_id, f.time.isoformat(), f.detail, f.positions) for f in found)


def _live_and_late(
    requests: list[RequestPlan],
    accesses: list[AccessPlan],
    order: list[int],
    funds: Funds | None = None,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    verdicts: dict[str, AccessVerdict] = {}
    refs: dict[str, UUID] = {}
    chains = _steps(requests, accesses, verdicts, funds or Funds(), refs)
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
            _record(conf, steps, is_late, refs)
            found.append(_views_of(conf, days, refs))
            if is_late:
                _every_position_as_then(conf)
    return found[0], found[1], [s[1] for s in late]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(zones())
def test_recording_history_late_gives_the_views_recorded_live(zone: Zone) -> None:
    live, late, order = _live_and_late(*zone)
    assert late == live, (zone[0], zone[1], zone[3], order)


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


# An access at 07:05 on 06-04 quoting a request submitted later that day (never answered),
# under the department's grant that lapsed on 06-03 and never gave 住址 (found by the
# property test above): the quoted request was not there at the access's time, so the
# access is judged as quoting none, S2 and S3 on the lapsed grant, whichever is recorded
# first.
_QUOTES_A_LATER_REQUEST = (
    [
        RequestPlan("req-0", "jiaoyu", 2, ("姓名",), "none", 0, ("姓名",), 1, None),
        RequestPlan("req-1", "jiaoyu", 2, ("姓名",), "approve", 0, ("姓名",), 1, None),
        RequestPlan("req-2", "jiaoyu", 4, ("姓名",), "none", 0, ("姓名",), 1, None),
    ],
    [AccessPlan("evt-0", "jiaoyu", 4, 7, ("姓名", "住址"), 2)],
    [0, 1, 2, 3],
)


def test_a_request_submitted_after_the_access_it_is_quoted_by_is_not_its_grant() -> None:
    live, late, _ = _live_and_late(*_QUOTES_A_LATER_REQUEST)
    assert late == live
    findings = {(rule, time[:10]) for rule, _, time, _ in late["head"]}
    assert {("S2", "2026-06-04"), ("S3", "2026-06-04")} <= findings


def test_s3_on_a_lapsed_grant_recorded_after_the_access() -> None:
    live, late, _ = _live_and_late(*_LAPSED)
    assert late == live
    findings = {(rule, time[:10]) for rule, _, time, _ in late["head"]}
    assert {("S2", "2026-06-04"), ("S3", "2026-06-04")} <= findings


def test_first_share_findings_dated_by_business_time() -> None:
    live, late, _ = _live_and_late(*_FIRST_SHARE)
    assert late == live
    dated = {rule: time[:10] for rule, _, time, _ in late["head"] if rule in ("S12", "P2")}
    assert dated == {"S12": "2026-06-02", "P2": "2026-06-02"}


# Two grants (06-10 citing the filing, 06-20 for the system alone) recorded latest first,
# accesses on the system before, between and after them: F7 on the second only (1,200
# above 1,000), F8 on both, each with the accesses of its own year.
_SUMS: Zone = (
    [],
    [
        AccessPlan("evt-0", "jiaoyu", 5, 9, ("姓名",), None, True),
        AccessPlan("evt-1", "jiaoyu", 15, 9, ("姓名",), None, True),
        AccessPlan("evt-2", "jiaoyu", 25, 9, ("姓名",), None, True),
    ],
    [4, 3, 2, 1, 0],
    Funds((FundPlan(10, 12, 70_000, True), FundPlan(20, 12, 50_000, False))),
)


def test_fund_sums_by_business_time_whatever_the_recording_order() -> None:
    live, late, _ = _live_and_late(*_SUMS)
    assert late == live
    found = {(rule, time[:10], detail) for rule, _, time, detail in late["head"] if detail}
    assert {(rule, day) for rule, day, _ in found} == {
        ("F7", "2026-06-20"),
        ("F8", "2026-06-10"),
        ("F8", "2026-06-20"),
    }
    assert {d.split(", ")[-1] for r, _, d in found if r == "F8"} == {
        "used 1 times in the year before (little used: fewer than 12)",
        "used 2 times in the year before (little used: fewer than 12)",
    }
