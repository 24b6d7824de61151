"""``govledger demo``: the ledger holds what the summary claims, planted violations included."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import get_topic

from ledger.application import GovLedger
from ledger.config import Settings, load_settings
from ledger.domain import (
    AccessReason,
    AccessReport,
    DataAccess,
    Department,
    DomainError,
    FundDecision,
    InformationSystem,
    ProjectFiling,
    Resource,
    Sensitivity,
    SharingRequest,
    SharingType,
)
from ledger.domain.calendar import CHINA_STANDARD_TIME as CST
from ledger.domain.obligations import CoreDataApproval
from ledger.domain.rectification import Rectification
from ledger.store.connect import application_env, init_ledger
from ops.demo import DEMO_YEAR, DemoError, DemoSummary, load_demo, register
from ops.demo.zone import FUNDED_DESPITE_REJECTION
from projections.sharing_terms import SharingTerms
from security.access import evaluate_access

SMALL_ACCESSES = 700

FUND_RULES = ("F1", "F2", "F3", "F4")


def load_small(app: GovLedger, progress: Callable[[int], None] = lambda _n: None) -> DemoSummary:
    """Small enough for PostgreSQL, large enough that every kind of violation is planted."""
    return load_demo(
        app, accesses=SMALL_ACCESSES, seed=7, violation_rate=0.3, requests=300, progress=progress
    )


def open_app(settings: Settings) -> GovLedger:
    init_ledger(settings)
    return GovLedger(env=application_env(settings))


@pytest.fixture
def app(settings: Settings) -> Iterator[GovLedger]:
    opened = open_app(settings)
    yield opened
    opened.close()


def recorded(app: GovLedger) -> Counter[str]:
    """Events in the ledger by topic, read page by page from the recorder."""
    topics: Counter[str] = Counter()
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=1000):
        topics.update(n.topic for n in page)
        start = page[-1].id + 1
    return topics


def access_verdicts(app: GovLedger) -> list[DataAccess.Recorded]:
    """Every recorded access event, decoded from the ledger (not from the summary)."""
    topic = get_topic(DataAccess.Recorded)
    events: list[DataAccess.Recorded] = []
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=1000, topics=[topic]):
        events.extend(app.mapper.to_domain_event(n) for n in page)  # type: ignore[misc]
        start = page[-1].id + 1
    return events


def test_ledger_holds_what_the_summary_claims(app: GovLedger) -> None:
    batches: list[int] = []
    summary = load_small(app, batches.append)

    topics = recorded(app)
    assert sum(topics.values()) == summary.counts["ledger_events"]
    assert topics[get_topic(Department.Registered)] == summary.counts["departments"] == 17
    assert topics[get_topic(InformationSystem.Registered)] == summary.counts["systems"] == 30
    assert topics[get_topic(Resource.Registered)] == summary.counts["resources"] == 100
    assert topics[get_topic(SharingRequest.Submitted)] == summary.counts["requests"] == 300
    assert topics[get_topic(ProjectFiling.Filed)] == summary.counts["filings"]
    assert topics[get_topic(FundDecision.Decided)] == summary.counts["fund_decisions"]
    assert topics[get_topic(SharingRequest.Revoked)] == summary.requests["revoked"]
    assert topics[get_topic(SharingRequest.Approved)] == (
        summary.requests["approved"] + summary.requests["revoked"]
    )
    assert sum(batches) == SMALL_ACCESSES and max(batches) <= 1000

    events = access_verdicts(app)
    assert len(events) == summary.counts["accesses"] == SMALL_ACCESSES
    reasons = Counter(r.value for e in events for r in e.verdict.reasons)
    assert dict(reasons) == summary.violations
    assert set(summary.violations) == {reason.value for reason in AccessReason}
    unauthorized = [e for e in events if not e.verdict.authorized]
    assert len(unauthorized) == summary.accesses["unauthorized"] == sum(reasons.values())
    assert all(len(e.verdict.reasons) == 1 for e in unauthorized)  # one planted reason each

    # The demo's own read model agreed with the one rebuilt from the ledger's projection.
    model = SharingTerms(app).current()
    assert all(evaluate_access(report_of(e), model) == e.verdict for e in events)


def report_of(event: DataAccess.Recorded) -> AccessReport:
    return AccessReport(
        event.platform_event_id,
        event.accessor_id,
        event.department,
        event.system,
        event.resource_code,
        tuple(event.items),
        event.row_count,
        event.purpose,
        event.grant_id,
        event.client_address,
        event.accessed_at,
    )


def test_planted_examples_are_what_their_reason_says(sqlite_settings: Settings) -> None:
    """One planted access per reason, read back and checked against the grant it quoted."""
    app = open_app(sqlite_settings)
    summary = load_small(app)
    for reason, event_id in summary.examples.items():
        access = app.access(event_id)
        assert [r.value for r in access.verdict.reasons] == [reason]
        check_example(app, AccessReason(reason), access)
    app.close()


def check_example(app: GovLedger, reason: AccessReason, access: DataAccess) -> None:
    report = access.report
    if reason is AccessReason.UNKNOWN_RESOURCE:
        with pytest.raises(DomainError):
            app.resource(report.resource_code)
        return
    resource = app.resource(report.resource_code)
    assert report.department != resource.provider_department
    if reason is AccessReason.RESOURCE_NOT_SHAREABLE:
        assert resource.sharing_type is SharingType.NOT_SHAREABLE
        return
    assert resource.sharing_type is SharingType.CONDITIONAL
    if reason is AccessReason.NO_GRANT:
        assert report.grant_id is None
        return
    assert report.grant_id is not None
    grant = app.request(report.grant_id)
    assert grant.requester_department == report.department
    assert grant.expires_at is not None and grant.decided_at is not None
    assert grant.decided_at <= report.accessed_at
    if reason is AccessReason.GRANT_EXPIRED:
        assert grant.expires_at <= report.accessed_at and grant.revoked_at is None
    elif reason is AccessReason.GRANT_REVOKED:
        assert grant.revoked_at is not None and grant.revoked_at <= report.accessed_at
    elif reason is AccessReason.ITEMS_BEYOND_GRANT:
        assert not set(report.items) <= set(grant.granted_items)
        assert report.purpose == grant.purpose
    elif reason is AccessReason.PURPOSE_MISMATCH:
        assert set(report.items) <= set(grant.granted_items)
        assert report.purpose != grant.purpose
    if reason in (AccessReason.ITEMS_BEYOND_GRANT, AccessReason.PURPOSE_MISMATCH):
        assert report.accessed_at < min(grant.expires_at, grant.revoked_at or grant.expires_at)


def second_ledger(tmp_path: Path, name: str) -> GovLedger:
    return open_app(
        Settings(database_url=f"sqlite:///{tmp_path / name}", state_dir=str(tmp_path / name))
    )


def test_same_seed_same_summary_and_facts(tmp_path: Path) -> None:
    runs: list[tuple[DemoSummary, list[Any]]] = []
    for name in ("a.db", "b.db"):
        app = second_ledger(tmp_path, name)
        summary = load_demo(app, accesses=300, seed=11, requests=120)
        facts = [
            (e.platform_event_id, e.department, e.resource_code, e.items, e.accessed_at, e.verdict)
            for e in access_verdicts(app)
        ]
        runs.append((summary, facts))
        app.close()
    assert runs[0] == runs[1]
    other = second_ledger(tmp_path, "c.db")
    assert load_demo(other, accesses=300, seed=12, requests=120) != runs[0][0]
    other.close()


def test_refuses_a_ledger_that_holds_data(sqlite_settings: Settings) -> None:
    app = open_app(sqlite_settings)
    load_demo(app, accesses=10, requests=10)
    head = app.recorder.max_notification_id()
    with pytest.raises(DemoError, match="fresh ledger"):
        load_demo(app, accesses=10, requests=10)
    assert app.recorder.max_notification_id() == head
    app.close()


def test_command_prints_the_summary_as_json(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["demo", "--accesses", "1_000", "--requests", "50", "--json"])
    assert args.func(sqlite_settings, args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["accesses"] == 1000 and summary["seed"] == 2019
    app = open_app(sqlite_settings)
    assert app.recorder.max_notification_id() == summary["counts"]["ledger_events"]
    app.close()


def test_command_rejects_bad_numbers() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--accesses", "-3"])
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--violation-rate", "2"])


def test_make_run_path_loads_once_and_mints_working_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make run`: `demo --if-empty --tokens FILE` twice; the second run loads nothing."""
    from ops.cli import main  # noqa: PLC0415
    from security.auth import Authenticator  # noqa: PLC0415

    monkeypatch.setenv("GOVLEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    tokens = tmp_path / "var" / "demo-tokens.txt"
    args = ["demo", "--if-empty", "--accesses", "200", "--requests", "50", "--tokens", str(tokens)]
    assert main(args) == 0
    assert tokens.stat().st_mode & 0o777 == 0o600
    rows = [line.split("\t") for line in tokens.read_text().splitlines()[1:]]
    settings = load_settings()
    authenticator = Authenticator(settings)
    try:
        roles = {authenticator.authenticate(f"Bearer {token}").role.value for _, _, token in rows}
    finally:
        authenticator.close()
    assert roles == {role for role, _, _ in rows} and "auditor" in roles
    capsys.readouterr()
    assert main(["demo", "--if-empty", "--accesses", "200"]) == 0
    assert "demo not loaded" in capsys.readouterr().err


BUSINESS_TIME = (
    "occurred_at",
    "submitted_at",
    "decided_at",
    "revoked_at",
    "accepted_at",
    "accessed_at",
    "in_force_from",
    # issue 14 (ops/demo/obligations.py)
    "assessed_at",
    "approved_at",
    "refreshed_at",
    "reported_at",
    "evaluated_at",
    "raised_at",
    "resolved_at",
    "declared_at",
    # issue 15 (ops/demo/follow_up.py)
    "notified_at",
    "verified_at",
    "issued_at",
    "responded_at",
    "confirmed_at",
)


def test_every_fact_is_dated_when_it_happened_in_the_demo_year(app: GovLedger) -> None:
    """The demo back-fills its year (docs/facts.md §1): no fact takes the load's clock."""
    load_small(app)
    first, last = datetime(DEMO_YEAR, 1, 1, tzinfo=CST), datetime(DEMO_YEAR + 1, 1, 1, tzinfo=CST)
    topics: Counter[str] = Counter()
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=1000):
        for n in page:
            topic = n.topic.rpartition(":")[2]
            topics[topic] += 1
            state = json.loads(n.state)
            field = next((f for f in BUSINESS_TIME if f in state), None)
            if topic == "DistrictCalendar.Started":
                continue
            assert field is not None, topic
            when = datetime.fromisoformat(state[field]["_data_"])
            if topic == "DistrictCalendar.Set":
                assert when == app.time_bounds.earliest  # the calendar covers all history
            elif topic.startswith("AnnualSharingReport.") or (  # the year's reports: by 01-31
                topic == "FundDecision.Decided" and state["year"] == DEMO_YEAR + 1  # next O&M (F8)
            ):
                assert first <= when < datetime(DEMO_YEAR + 1, 2, 1, tzinfo=CST), (topic, when)
            else:
                assert first <= when < last, (topic, when)
        start = page[-1].id + 1
    assert topics["DistrictCalendar.Set"] == 1
    assert next(iter(topics)) == "DistrictCalendar.Started"  # recorded before anything else


def test_response_deadlines_count_the_holidays_of_the_recorded_calendar(app: GovLedger) -> None:
    load_small(app)
    calendar = app.recorded_calendar()
    assert calendar is not None
    spec = calendar.history[0][1]
    topic = get_topic(SharingRequest.Submitted)
    page = app.recorder.select_notifications(start=1, limit=10_000, topics=[topic])
    for n in page:
        event = app.mapper.to_domain_event(n)
        assert event.response_due == spec.deadline("conditional").due(event.submitted_at)  # type: ignore[attr-defined]


def test_the_issue_14_violations_planted_are_found_by_the_views(
    settings: Settings, app: GovLedger
) -> None:
    """Each issue-14 rule (ops/demo/obligations.py, oversight.py): the views find what the
    demo planted, as of the dates the demo names."""
    from datetime import date  # noqa: PLC0415

    from projections.query import open_views  # noqa: PLC0415
    from projections.runner import run_projections  # noqa: PLC0415

    summary = load_small(app)
    run_projections(settings)  # reading never writes: the worker builds the views
    assert summary.findings["S11"] == len(summary.planted["S11"]) == 3
    assert summary.findings["I3"] == len(summary.planted["I3"]) == 2
    assert summary.findings["P2"] == len(summary.planted["P2"]) > 0
    assert "planted S11" in summary.describe()
    with open_views(settings) as views:
        year_end = views.moment(as_of=date(DEMO_YEAR, 12, 31))
        stale = {f.subject for f in views.findings(year_end, rule="S11")}
        p2 = {f.subject for f in views.findings(year_end, rule="P2")}
        reports = views.moment(as_of=date(DEMO_YEAR + 1, 1, 31))
        i3 = {f.subject for f in views.findings(reports, rule="I3")}
        d1 = views.findings(year_end, rule="D1")
        r1 = {f.subject for f in views.findings(year_end, rule="R1")}
        f6 = {f.subject for f in views.findings(year_end, rule="F6")}
        f7 = {f.subject for f in views.findings(year_end, rule="F7")}
        i4 = {f.subject for f in views.findings(year_end, rule="I4")}
        next_year_end = views.moment(as_of=date(DEMO_YEAR + 1, 12, 31))
        i5 = {f.subject for f in views.findings(next_year_end, rule="I5")}
        found = {
            rule: {f.subject for f in views.findings(year_end, rule=rule)}
            for rule in ("I6", "D3", "S13", "I8", "I9", "I10")
        }
        found.update(
            {rule: {f.subject for f in views.findings(reports, rule=rule)} for rule in ("F8", "I7")}
        )
        before = {rule: views.findings(year_end, rule=rule) for rule in ("F8", "I7")}
        funds = {rule: len(views.findings(year_end, rule=rule)) for rule in FUND_RULES}
        names = {sid: s.name for sid, s in views.zone(year_end).systems.items()}
        for rule in ("I8", "I10"):  # planted by name: system ids are uuid4
            found[rule] = {names[sid] for sid in found[rule]}
        # §三(五)17 / I1: every in-use system with no recorded access in the year (registered
        # at least zombie_idle_days before the year's end) is a zombie candidate.
        systems = views.zone(year_end).systems.values()
        idle = {
            s.system_id
            for s in systems
            if s.status == "active"
            and s.access_count == 0
            and s.registered_at is not None
            and (datetime(DEMO_YEAR, 12, 31, tzinfo=CST) - s.registered_at).days >= 180
        }
        candidates = {s.system_id for s in views.inventory(year_end).zombie_candidates}
    assert stale == set(summary.planted["S11"])
    assert p2 == set(summary.planted["P2"])
    assert i3 == set(summary.planted["I3"])
    # D1 (数据安全法 §21): found for exactly the core resources provided without approval,
    # never for the one specially approved, though its core items were read too.
    approved = core_approvals(app)
    provided = core_provided(app)
    assert len(approved) == 1 and approved <= provided
    assert {f.subject for f in d1} == set(summary.planted["D1"]) == provided - approved
    assert summary.findings["D1"] == len(summary.planted["D1"]) > 0
    assert all(f.severity == "critical" for f in d1) and "planted D1" in summary.describe()
    assert r1 == set(summary.planted["R1"]) and summary.findings["R1"] == 1  # issue 15
    assert idle and idle <= candidates
    assert f6 == set(summary.planted["F6"]) and len(f6) == summary.findings["F6"] == 1
    assert set(summary.planted["F7"]) <= f7 and summary.findings["F7"] == 1
    assert i4 == set(summary.planted["I4"]) and summary.findings["I4"] == 1
    assert i5 == set(summary.planted["I5"]) and summary.findings["I5"] == 1
    for rule in ("I6", "D3", "S13", "F8", "I7", "I8", "I9", "I10"):
        assert found[rule] == set(summary.planted[rule]), rule
        assert summary.findings[rule] == len(found[rule]) > 0, rule
        assert f"planted {rule}" in summary.describe()
    assert before == {"F8": [], "I7": []}  # judged only once the next year has begun
    # F1–F4 as the demo counts them; F4 also for O&M to a system a rejected filing bounds.
    assert funds == {rule: summary.findings[rule] for rule in FUND_RULES}
    assert funds["F4"] == len(FUNDED_DESPITE_REJECTION) + 1  # + housing's system (seed §三(五)17)


def core_approvals(app: GovLedger) -> set[str]:
    """The resources whose core-data sharing the ledger's approvals cover, read back."""
    topic = get_topic(CoreDataApproval.Granted)
    page = app.recorder.select_notifications(start=1, limit=10_000, topics=[topic])
    return {json.loads(n.state)["resource_code"] for n in page}


def core_provided(app: GovLedger) -> set[str]:
    """The resources whose core items an access read for a department not their provider,
    from the ledger (not from the demo's tally)."""
    codes = {e.resource_code for e in access_verdicts(app)}
    resources = {}
    for code in codes:
        try:
            resources[code] = app.resource(code)
        except DomainError:
            continue  # an unknown resource (planted)
    return {
        e.resource_code
        for e in access_verdicts(app)
        if e.resource_code in resources
        and e.department != resources[e.resource_code].provider_department
        and set(e.items) & set(resources[e.resource_code].items_with(Sensitivity.CORE))
    }


def test_the_demo_reports_its_core_data_and_audit_follow_up(sqlite_settings: Settings) -> None:
    """The risk report lists the planted D1 findings; the audit report's §五 lists the
    demo's rectifications and earlier audit suggestions (issue 15), as of the year's end."""
    from projections.query import open_views  # noqa: PLC0415
    from projections.reports import ReportKind, generate  # noqa: PLC0415
    from projections.reports.render import report_to_json  # noqa: PLC0415
    from projections.runner import run_projections  # noqa: PLC0415

    app = open_app(sqlite_settings)
    summary = load_small(app)
    app.close()
    run_projections(sqlite_settings)
    with open_views(sqlite_settings) as views:
        d1 = views.findings(views.moment(), rule="D1")
        cited = {f.finding_id for f in views.findings(views.moment())}
    risk = report_to_json(generate(sqlite_settings, ReportKind.RISK, DEMO_YEAR))
    rows = [r for s in risk["sections"] for t in s["tables"] for r in t["rows"]]
    d1_rows = [r for r in rows if r["cells"][0] == "D1"]
    assert d1_rows and all(r["cells"][3] == len(d1) for r in d1_rows)
    assert {p for f in d1 for p in f.positions[-1:]} <= {p for r in d1_rows for p in r["positions"]}

    audit = report_to_json(generate(sqlite_settings, ReportKind.AUDIT, DEMO_YEAR))
    five = next(s for s in audit["sections"] if s["number"] == "五")
    text = "".join(five["paragraphs"])
    assert "无以往" not in text and "无采纳" not in text
    assert "整改通知 3 项：已通过整改核验 2 项，整改中 0 项，逾期未完成 1 项" in text
    assert "以往年度审计建议 3 项：已采纳 1 项，部分采纳 1 项，未采纳 1 项" in text
    register, adoption = (t["rows"] for t in five["tables"])
    assert [r["cells"][-1] for r in register].count("逾期未完成") == 1
    assert sorted(r["cells"][3] for r in adoption) == ["已采纳", "未采纳", "部分采纳"]
    assert summary.counts["rectifications"] == 3 and summary.counts["audit_suggestions"] == 3
    notices = read_notices(sqlite_settings)
    assert len(notices) == 3 and notices <= cited  # each notice names a finding the views hold


def read_notices(settings: Settings) -> set[str]:
    """The finding ids the ledger's rectification notices cite."""
    app = open_app(settings)
    try:
        topic = get_topic(Rectification.Notified)
        page = app.recorder.select_notifications(start=1, limit=10_000, topics=[topic])
        return {json.loads(n.state)["finding_id"] for n in page}
    finally:
        app.close()
