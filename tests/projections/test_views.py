"""Every view on the hand-worked scenario (tests/projections/scenario.py), both backends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.store.connect import application_env, open_reader
from projections.facts import CST
from projections.query import Moment, Views, as_json, forget_folds, open_views
from projections.zone import stable_id
from tests.projections.scenario import (
    ADMIN,
    GONGAN,
    Scenario,
    build_scenario,
    scenario_settings,
)


@pytest.fixture
def scenario(settings: Settings) -> Scenario:
    return build_scenario(scenario_settings(settings))


@pytest.fixture
def views(scenario: Scenario) -> Iterator[Views]:
    with open_views(scenario.settings, catch_up=True) as opened:
        yield opened


def rules(views: Views, as_of: date) -> Counter[str]:
    return Counter(f.rule for f in views.findings(views.moment(as_of=as_of)))


def test_findings_as_of_dates(views: Views, scenario: Scenario) -> None:
    # 06-10: S3 evt-2, S7 R3, S12 FR-0002 (evt-4), S9 RK-0001 and I2 低保系统 (state);
    # P2: R1's grant of RK-0001's personal items (06-02), no PIA on record.
    assert rules(views, date(2026, 6, 10)) == {
        "S3": 1, "S7": 1, "S12": 1, "S9": 1, "I2": 1, "P2": 1,
    }  # fmt: skip
    # 06-20: + S5 evt-5 (06-11), S2 evt-3 (06-16), S6 R2 (due 06-17, overdue from 06-18);
    # I6: none of the three departments (registered 05-20 09:00) named a CIO by 06-19 09:00.
    assert rules(views, date(2026, 6, 20)) == {
        "S2": 1, "S3": 1, "S5": 1, "S6": 1, "S7": 1, "S9": 1, "S12": 1, "I2": 1, "P2": 1,
        "I6": 3,
    }  # fmt: skip
    # 07-31: + S2 evt-6..8, F1 (07-01), F5 (filing, effective 07-01), F3 (07-03), P2
    # evt-6 (jiaoyu read 姓名 on 06-22, no grant, no PIA).
    assert rules(views, date(2026, 7, 31)) == {
        "S2": 4, "S3": 1, "S5": 1, "S6": 1, "S7": 1, "S9": 1, "S12": 1, "I2": 1,
        "F1": 1, "F3": 1, "F5": 1, "P2": 2, "I6": 3,
    }  # fmt: skip
    # 06-17 is the last day on time for R2.
    assert rules(views, date(2026, 6, 17))["S6"] == 0
    assert rules(views, date(2026, 6, 18))["S6"] == 1


def test_findings_carry_severity_department_and_proving_positions(
    views: Views, scenario: Scenario
) -> None:
    m = views.moment(as_of=date(2026, 7, 31))
    (revoked,) = [f for f in views.findings(m, rule="S2") if f.subject == "evt-3"]
    assert revoked.severity == "high"
    assert revoked.department == "minzheng"
    p = scenario.positions
    # The access itself, and R1's submission, approval and revocation.
    assert revoked.positions == (p["r1_submitted"], p["r1_approved"], p["r1_revoked"], p["evt-3"])
    (s6,) = views.findings(m, rule="S6")
    assert (s6.subject, s6.department, s6.time.date()) == (
        scenario.r2.hex,
        "gongan",
        date(2026, 6, 18),
    )
    (f1,) = views.findings(m, rule="F1")
    assert f1.severity == "high" and f1.department == "minzheng"
    assert views.findings(m, department="jiaoyu", rule="S2") and all(
        f.department == "jiaoyu" for f in views.findings(m, department="jiaoyu")
    )


def test_grants_and_rights_register_before_and_after_the_revocation(
    views: Views, scenario: Scenario
) -> None:
    before = views.moment(as_of=date(2026, 6, 10))
    (grant,) = views.zone(before).grants_in_force()
    assert (grant.request_id, grant.granted_items) == (scenario.r1.hex, ("姓名", "住址"))
    register = {e.resource_code: e for e in views.rights_register(before)}
    assert register["RK-0001"].owner == "gongan" and register["RK-0001"].controller == "gongan"
    assert [(u.holder_department, u.items, u.purpose) for u in register["RK-0001"].use_rights] == [
        ("minzheng", ("姓名", "住址"), "最低生活保障资格核查")
    ]
    assert register["FR-0002"].owner is None and register["FR-0002"].use_rights == ()

    after = views.moment(as_of=date(2026, 6, 20))
    assert views.zone(after).grants_in_force() == []
    assert views.zone(after).requests[scenario.r1.hex].status == "revoked"
    assert {e.resource_code: e.use_rights for e in views.rights_register(after)}["RK-0001"] == ()


def test_at_a_position_either_side_of_the_revocation(views: Views, scenario: Scenario) -> None:
    revoked = scenario.positions["r1_revoked"]
    just_before = views.zone(views.moment(at=revoked - 1))
    assert [g.request_id for g in just_before.grants_in_force()] == [scenario.r1.hex]
    assert views.zone(views.moment(at=revoked)).grants_in_force() == []
    # At the position of R1's submission nothing is approved yet; R2 does not exist.
    early = views.zone(views.moment(at=scenario.positions["r1_submitted"]))
    assert early.requests[scenario.r1.hex].status == "pending"
    assert scenario.r2.hex not in early.requests


def test_anomalies_with_scores_and_review_state(views: Views, scenario: Scenario) -> None:
    m = views.moment(as_of=date(2026, 6, 30))
    found = {a.kind: a for a in views.anomalies(m)}
    assert set(found) == {
        "off_hours_sensitive", "items_beyond_grant", "after_revocation", "refused_burst",
    }  # fmt: skip
    p = scenario.positions
    assert found["off_hours_sensitive"].score == pytest.approx(0.792)
    assert found["off_hours_sensitive"].severity == "medium"
    assert found["items_beyond_grant"].score == pytest.approx(0.8)
    burst = found["refused_burst"]
    assert burst.score == pytest.approx(0.75) and burst.subject == "jy-01"
    assert burst.positions == (p["evt-8"] - 2, p["evt-8"] - 1, p["evt-8"])
    revoked = found["after_revocation"]
    assert revoked.anomaly_id == scenario.after_revocation_id
    assert revoked.status == "acknowledged"
    assert [r.action for r in revoked.reviews] == ["acknowledge"]
    # Reviewed on 06-20: open the day before, acknowledged from then on.
    assert {a.kind: a.status for a in views.anomalies(views.moment(as_of=date(2026, 6, 19)))}[
        "after_revocation"
    ] == "open"
    assert views.anomalies(m, status="open") == [
        a for a in views.anomalies(m) if a.status == "open"
    ]
    assert views.anomaly(stable_id("refused_burst", f"jy-01|{p['evt-8'] - 2}")) is not None


def test_the_review_queue_is_sorted_counted_and_paged_by_the_views(
    views: Views, scenario: Scenario
) -> None:
    m = views.moment(as_of=date(2026, 6, 30))
    queue = views.anomalies(m, by_score=True)
    assert [(a.kind, a.status) for a in queue] == [
        ("after_revocation", "acknowledged"),  # 0.9
        ("items_beyond_grant", "open"),  # 0.8
        ("off_hours_sensitive", "open"),  # 0.792
        ("refused_burst", "open"),  # 0.75
    ]
    assert sorted(views.anomalies(m), key=lambda a: a.anomaly_id) == sorted(
        queue, key=lambda a: a.anomaly_id
    )
    assert queue[0].reviews == views.anomaly(scenario.after_revocation_id).reviews  # type: ignore[union-attr]
    assert views.anomalies(m, by_score=True, limit=2, offset=1) == queue[1:3]
    assert views.anomalies(m, by_score=True, limit=2, offset=4) == []
    # The status is the one after the latest review up to the moment asked about.
    assert views.anomalies(m, status="open", by_score=True, limit=1, offset=2) == [queue[3]]
    assert views.anomalies(m, status="acknowledged", by_score=True) == [queue[0]]
    assert views.anomaly_counts(m) == {"open": 3, "acknowledged": 1, "dismissed": 0, "escalated": 0}
    assert views.anomaly_counts(m, department="jiaoyu") == {
        "open": 1, "acknowledged": 0, "dismissed": 0, "escalated": 0,
    }  # fmt: skip
    # The metrics' open anomalies: all but dismissed, by severity.
    by_severity: dict[str, int] = {}
    for a in (a for a in queue if a.status != "dismissed"):
        by_severity[a.severity] = by_severity.get(a.severity, 0) + 1
    assert views.open_anomalies_by_severity(m) == by_severity and sum(by_severity.values()) == 4
    before_review = views.moment(as_of=date(2026, 6, 19))
    assert views.anomaly_counts(before_review)["open"] == 3  # the burst is on 06-22
    assert views.anomalies(before_review, status="acknowledged") == []
    with pytest.raises(ValueError, match="limit"):
        views.anomalies(m, offset=1)


def test_findings_by_subject_kind_and_their_count(views: Views, scenario: Scenario) -> None:
    m = views.moment(as_of=date(2026, 7, 31))
    every = views.findings(m)
    # P2 x2 (gongan's) and I6 x3 (no department named a CIO) included
    assert views.finding_count(m) == len(every) == 19
    jiaoyu = views.findings(m, department="jiaoyu")
    assert views.finding_count(m, department="jiaoyu") == len(jiaoyu) == 6
    # Stored (S7 about a request, proven by one event) and moment-dependent (S6) alike.
    assert [f.rule for f in views.findings(m, subject_kinds={"request"})] == ["S7", "S6"]
    # I2 dates from the system's registration (05-20, its business time), F5 from 07-02.
    assert [f.rule for f in views.findings(m, subject_kinds={"system", "filing"})] == ["I2", "F5"]
    accesses = views.findings(m, subject_kinds=["access"])
    assert accesses == [f for f in every if f.subject_kind == "access"] and len(accesses) == 6
    # P2 is about the resource (RK-0001), once per recipient: minzheng's grant, jiaoyu's evt-6.
    p2 = views.findings(m, rule="P2")
    assert {(f.subject, f.subject_kind) for f in p2} == {("RK-0001", "resource")}
    assert sorted("jiaoyu" in f.detail for f in p2) == [False, True]
    assert views.findings(m, subject_kinds=()) == []
    tally: dict[tuple[str, str], int] = {}
    for f in every:
        tally[f.rule, f.severity] = tally.get((f.rule, f.severity), 0) + 1
    assert views.finding_tally(m) == tally  # the metrics' figures, grouped in SQL
    assert views.findings(m, rule="S2", department="jiaoyu", subject_kinds={"access"}) == [
        f for f in jiaoyu if f.rule == "S2"
    ]


def test_after_the_ledger_moved_the_zone_is_the_one_folded_afresh(
    views: Views, scenario: Scenario
) -> None:
    # The head's fold is kept per ledger, and the next head folds only the facts since.
    before = views.zone(views.moment())
    app = GovLedger(env=application_env(scenario.settings))
    try:
        app.register_department(ADMIN, "wenhua", "区文化局")
        app.assign_resource_owner(GONGAN, "FR-0002", "gongan")
    finally:
        app.close()
    with open_views(scenario.settings, catch_up=True) as moved:
        after = moved.zone(moved.moment())
    forget_folds()
    with open_views(scenario.settings, catch_up=True) as fresh:
        afresh = fresh.zone(fresh.moment())
    assert after.moment.position == before.moment.position + 2
    assert after.departments["wenhua"].name == "区文化局" and "wenhua" not in before.departments
    assert after.resources["FR-0002"].owner_department == "gongan"
    # The earlier answer still reads its own moment (its entities are converted lazily).
    assert before.resources["FR-0002"].owner_department is None
    for part in ("departments", "systems", "resources", "requests", "filings", "fund_decisions"):
        assert as_json(getattr(after, part)) == as_json(getattr(afresh, part)), part


def test_as_of_a_date_the_zone_after_the_ledger_moved_is_the_one_folded_afresh(
    views: Views, scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The zone as of a date is kept too (issue #16: the rights page as of a date folded
    every fact at each request): after a move only the facts since are folded, and the
    answer is the one a fold from the first fact gives."""
    today = datetime.now(CST).date()
    days = (date(2026, 7, 1), today)
    before = {d: views.zone(views.moment(as_of=d)) for d in days}
    app = GovLedger(env=application_env(scenario.settings))
    try:
        app.register_department(ADMIN, "wenhua", "区文化局")
    finally:
        app.close()
    folded_after: list[int] = []
    fold_facts = Views._fold_facts

    def recording(self: Views, fold: Any, m: Any, after: int) -> Any:
        folded_after.append(after)
        return fold_facts(self, fold, m, after)

    monkeypatch.setattr(Views, "_fold_facts", recording)
    with open_views(scenario.settings, catch_up=True) as moved:
        after = {d: moved.zone(moved.moment(as_of=d)) for d in days}
    assert folded_after == [before[d].moment.position for d in days]  # only the new fact
    forget_folds()
    with open_views(scenario.settings, catch_up=True) as fresh:
        afresh = {d: fresh.zone(fresh.moment(as_of=d)) for d in days}
    assert "wenhua" in after[today].departments and "wenhua" not in before[today].departments
    assert "wenhua" not in after[days[0]].departments
    for d in days:
        for part in ("departments", "systems", "resources", "requests", "filings"):
            assert as_json(getattr(after[d], part)) == as_json(getattr(afresh[d], part)), part


def test_a_different_ledger_at_the_same_place_is_folded_afresh(sqlite_settings: Settings) -> None:
    first = build_scenario(scenario_settings(sqlite_settings))
    with open_views(first.settings, catch_up=True) as views:
        assert set(views.zone(views.moment()).requests) == {
            first.r1.hex, first.r2.hex, first.r3.hex,
        }  # fmt: skip
    ledger = Path(first.settings.database.path)
    for path in ledger.parent.glob(f"{ledger.stem}*"):
        path.unlink()
    second = build_scenario(scenario_settings(sqlite_settings))
    with open_views(second.settings, catch_up=True) as views:
        m = views.moment()
        assert m.position == first.positions["end"]  # same length, another chain
        assert set(views.zone(m).requests) == {second.r1.hex, second.r2.hex, second.r3.hex}


def test_access_counts(views: Views, scenario: Scenario) -> None:
    june = views.access_counts(views.moment(), start=date(2026, 6, 1), end=date(2026, 6, 30))
    # evt-1..8: authorized evt-1, evt-4; unauthorized evt-2, 3, 5, 6, 7, 8.
    assert (june.total.total, june.total.authorized, june.total.unauthorized) == (8, 2, 6)
    assert june.total.rows == 80
    assert {k: v.total for k, v in june.by_requester.items()} == {"jiaoyu": 3, "minzheng": 5}
    # Both resources are gongan's; XX-0009 is unknown (no provider).
    assert {k: v.total for k, v in june.by_provider.items()} == {"": 1, "gongan": 7}
    assert {k: v.total for k, v in june.by_resource.items()} == {
        "FR-0002": 1, "RK-0001": 6, "XX-0009": 1,
    }  # fmt: skip
    assert dict(june.by_reason) == {
        "grant_revoked": 1, "items_beyond_grant": 1, "no_grant": 3, "unknown_resource": 1,
    }  # fmt: skip
    assert {k: (v.total, v.unauthorized) for k, v in june.by_month.items()} == {"2026-06": (8, 6)}
    assert june.by_purpose["入学资格审核"].unauthorized == 3
    early = views.access_counts(
        views.moment(as_of=date(2026, 6, 10)), start=date(2026, 6, 1), end=date(2026, 6, 30)
    )
    assert (early.total.total, early.total.unauthorized) == (3, 1)  # evt-1, evt-2, evt-4


def test_audit_trail_lines_carry_position_and_the_ledgers_hash(
    views: Views, scenario: Scenario
) -> None:
    head = views.moment()
    lines = views.audit_trail(head, entity=scenario.r1.hex)
    assert [line.topic for line in lines] == [
        "SharingRequest.Submitted", "SharingRequest.Approved", "SharingRequest.Revoked",
    ]  # fmt: skip
    p = scenario.positions
    assert [line.position for line in lines] == [
        p["r1_submitted"],
        p["r1_approved"],
        p["r1_revoked"],
    ]
    reader = open_reader(scenario.settings)
    try:
        for line in lines:
            row = reader.row_at(line.position)
            assert row is not None and line.hash == bytes(row[6]).hex()
    finally:
        reader.close()
    assert lines[2].actor_id == "gongan-provider" and "用途已完成" in lines[2].summary
    by_accessor = views.audit_trail(head, actor="jy-01")
    assert [line.position for line in by_accessor] == [p["evt-8"] - 2, p["evt-8"] - 1, p["evt-8"]]
    june_16 = views.audit_trail(
        head, department="minzheng", start=date(2026, 6, 16), end=date(2026, 6, 16)
    )
    assert [line.position for line in june_16] == [p["evt-3"]]
    assert len(views.audit_trail(head, department="jiaoyu", limit=2)) == 2


def test_audit_trail_by_resource(views: Views, scenario: Scenario) -> None:
    """A resource's own events, its sharing requests' (R1–R3: submitted, approved,
    rejected, revoked) and the accesses to it; another resource's are not among them."""
    head, p = views.moment(), scenario.positions
    trail = views.audit_trail(head, resource="RK-0001")
    catalogue = ["Resource.Registered", "Resource.OwnerAssigned", "Resource.ControllerAssigned"]
    assert [line.topic for line in trail[:4]] == [*catalogue, "Resource.RiskAssessed"]
    requests = [line for line in trail if line.topic.startswith("SharingRequest.")]
    assert {line.entity for line in requests} == {
        r.hex for r in (scenario.r1, scenario.r2, scenario.r3)
    }
    assert [line.topic.split(".")[1] for line in requests] == [
        "Submitted", "Approved", "Submitted", "Submitted", "Rejected", "Revoked",
    ]  # fmt: skip
    reads = [line.position for line in trail if line.topic == "DataAccess.Recorded"]
    # evt-1, evt-2 (the first batch; evt-4 and evt-5 are other resources), evt-3, evt-6..8.
    assert reads == [
        p["r3_rejected"] + 1,
        p["r3_rejected"] + 2,
        p["evt-3"],
        *range(p["evt-8"] - 2, p["evt-8"] + 1),
    ]
    assert p["r1_revoked"] in {line.position for line in requests}
    other = views.audit_trail(head, resource="FR-0002")
    assert [line.topic for line in other] == ["Resource.Registered", "DataAccess.Recorded"]
    assert [line.position for line in views.audit_trail(head, resource="XX-0009")] == [p["evt-5"]]
    before = views.moment(at=p["r1_approved"])
    assert len(views.audit_trail(before, resource="RK-0001")) == 6


def test_inventory(views: Views, scenario: Scenario) -> None:
    inventory = views.inventory(views.moment(as_of=date(2026, 11, 15)))
    (minzheng,) = inventory.departments
    counts = (minzheng.total, minzheng.connected, minzheng.required_to_connect)
    assert (minzheng.department, counts) == ("minzheng", (1, 0, 1))
    assert dict(minzheng.by_status) == {"active": 1}
    assert (inventory.in_service, inventory.connected_share, inventory.on_cloud_share) == (
        1,
        0.0,
        0.0,
    )
    assert inventory.zombie_candidates == ()
    # Registered 05-20 09:00 (business time), never used: idle 180 days on 11-16 09:00.
    later = views.inventory(views.moment(as_of=date(2026, 11, 16)))
    assert [s.name for s in later.zombie_candidates] == ["低保系统"]


def test_as_of_a_date_as_the_ledger_stood_at_a_position(views: Views, scenario: Scenario) -> None:
    """Both: business time up to the date, among the facts recorded up to the position."""
    revoked = scenario.positions["r1_revoked"]

    def holders(m: Moment) -> list[str]:
        register = {e.resource_code: e for e in views.rights_register(m)}
        return [u.holder_department for u in register["RK-0001"].use_rights]

    june_20 = date(2026, 6, 20)
    assert holders(views.moment(as_of=june_20)) == []
    before = views.moment(as_of=june_20, at=revoked - 1)  # the revocation not yet recorded
    assert (before.position, before.as_of) == (revoked - 1, june_20)
    assert holders(before) == ["minzheng"]
    assert holders(views.moment(as_of=june_20, at=revoked)) == []
    assert holders(views.moment(as_of=date(2026, 6, 10), at=revoked)) == ["minzheng"]


def test_moment_refuses_a_future_position(views: Views) -> None:
    with pytest.raises(ValueError, match="outside"):
        views.moment(at=views.position + 1)
    with pytest.raises(ValueError, match="outside"):
        views.moment(as_of=date(2026, 6, 1), at=views.position + 1)


def test_summaries_for_metrics(views: Views, scenario: Scenario) -> None:
    from projections.query import projection_lags, projection_positions  # noqa: PLC0415
    from projections.summaries import anomalies_summary, findings_summary  # noqa: PLC0415

    # At the head (now, after 2026-11-16): the 07-31 findings (S2 x4 high …), I1 for the
    # system idle since its registration on 05-20, and 4 anomalies, one acknowledged
    # (still open for review), none dismissed.
    summary = findings_summary(scenario.settings, catch_up=True)
    assert summary[("S2", "high")] == 4 and summary[("F3", "high")] == 1
    assert summary[("S9", "medium")] == 1 and summary[("I1", "info")] == 1
    assert summary[("P2", "medium")] == 2 and summary[("I6", "low")] == 3  # no CIO named
    # I9 x3: no department sends a self-inspection report within 90 days of 05-20
    assert summary[("I9", "low")] == 3
    assert sum(summary.values()) == 23
    assert anomalies_summary(scenario.settings, catch_up=True) == {"medium": 2, "high": 2}
    end = scenario.positions["end"]
    assert projection_positions(scenario.settings) == dict.fromkeys(
        ("audit_trail", "accesses", "zone"), end
    )
    assert set(projection_lags(scenario.settings).values()) == {0}
