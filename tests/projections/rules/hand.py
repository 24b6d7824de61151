"""What the hand-worked cases share (tests/projections/rules/test_hand_cases*.py): times in
China Standard Time, the rules and subjects the views give at the head, at a position or
as of a day, and the grants, reads, filings and funds the cases record."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from ledger.config import Settings
from ledger.domain import FundKind, FundOutcome, SharingType, SystemInventory
from projections.facts import CST
from projections.query import Finding, open_views
from tests.projections.scenario import FINANCE, GONGAN, MINZHENG, PURPOSE, Recorder, report

INVENTORY = SystemInventory("救助系统", "救助审核", "全区", "每日", "区发改局", None, "财政")
LATER = date(2026, 11, 20)


def at(m: int, d: int, h: int = 10, mi: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=CST)


def rules_of(settings: Settings, subject: str, on: date = LATER) -> set[str]:
    with open_views(settings, catch_up=True) as views:
        return {f.rule for f in views.findings(views.moment(as_of=on)) if f.subject == subject}


def subjects(settings: Settings, rule: str, on: date = LATER) -> set[str]:
    with open_views(settings, catch_up=True) as views:
        return {f.subject for f in views.findings(views.moment(as_of=on), rule=rule)}


def grant_funds(
    rec: Recorder,
    when: datetime,
    *,
    system: UUID | None = None,
    filing: UUID | None = None,
    kind: FundKind = FundKind.OM_FUNDS,
    year: int = 2026,
    fen: int = 100,
) -> str:
    return rec.app.decide_funds(
        FINANCE, kind=kind, year=year, department="minzheng", amount_fen=fen,
        outcome=FundOutcome.GRANTED, rationale="运维", system_id=system, filing_id=filing,
        decided_at=when,
    ).hex  # fmt: skip


def file_project(rec: Recorder, when: datetime, investment_fen: int = 1_000_000) -> UUID:
    return rec.app.file_project(
        MINZHENG, name="救助系统升级", builder="minzheng", investment_fen=investment_fen,
        om_cost_fen=100, funding_channel="财政", resource_codes=[], system_ids=[],
        mlps_filed=True, catalogue_preregistered=True, occurred_at=when,
    )  # fmt: skip


def request(rec: Recorder, code: str = "RK-0007", items: tuple[str, ...] = ("姓名",)) -> UUID:
    return rec.app.submit_request(
        MINZHENG, requester_department="minzheng", resource_code=code, items=list(items),
        purpose=PURPOSE, legal_basis="《社会救助暂行办法》", period_start=date(2026, 6, 1),
        period_end=date(2026, 12, 31), submitted_at=at(6, 1),
    )  # fmt: skip


def granted_name(rec: Recorder) -> UUID:
    """RK-0007's 姓名 granted to minzheng from 06-02 to the year's end."""
    grant = request(rec)
    rec.app.approve_request(GONGAN, grant, ["姓名"], at(12, 31), decided_at=at(6, 2))
    return grant


def made_not_shareable_on_06_10(rec: Recorder) -> None:
    rec.app.reclassify_resource(
        GONGAN, "RK-0007", sharing_type=SharingType.NOT_SHAREABLE, legal_basis="《保密法》",
        share_condition="涉密", reason="定密", occurred_at=at(6, 10),
    )  # fmt: skip


def read_name(rec: Recorder, event: str, when: datetime, grant: UUID) -> None:
    """minzheng reads RK-0007's 姓名 for PURPOSE quoting ``grant``, judged as reported."""
    rec.accesses(report(event, when, "mz-01", "minzheng", "RK-0007", ("姓名",), PURPOSE, grant))


def found(
    settings: Settings, rule: str, on: date | None = None, pos: int | None = None
) -> list[Finding]:
    with open_views(settings, catch_up=True) as views:
        return views.findings(views.moment(as_of=on, at=pos), rule=rule)


def head(settings: Settings) -> int:
    with open_views(settings, catch_up=True) as views:
        return views.position
