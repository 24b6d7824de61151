"""What the reports read from the kept views, as of one position (issue #12 item 2).

The audit report needs the fund decisions of a year, the filings, the department
names and the views' F1–F8 findings: a few hundred rows of the views, not a replay of
the ledger. ``read_audit_facts`` answers them from ``projections.query.Views`` at the
report's position, plus the chain's identity (genesis) and the head hash there.
``read_report_facts`` adds what the risk and annual reports show: the zone as of that
position (systems, resources, requests, filings), the use-rights register, and the
year's accesses grouped in the views' SQL (projections/access_report.py) with the
first flagged accesses of the 违规访问台账 — never one object per access.

Nothing here reads a views table directly, nor decodes a domain event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.funding import FilingStatus, FundKind, FundOutcome
from ledger.store.base import RowReader
from projections.access_report import AccessGroup, FlaggedAccess
from projections.audit_suggestion import SuggestionEntry
from projections.declarations import Declared
from projections.department_register import DepartmentRegister
from projections.model import AuditLine, SystemState
from projections.obligation_registers import CoreData, FilingFollowUp
from projections.query import DepartmentState, Finding, RightsEntry, Views, ZoneState
from projections.rectification import RectificationEntry
from projections.reports.declared import KINDS as DECLARED_KINDS
from projections.reports.funds import FundCheck, checks_from_views
from projections.security_facts import SecurityFacts


@dataclass(frozen=True)
class Decision:
    """One fund decision with the views' F1–F8 findings on it."""

    position: int
    department: str
    kind: FundKind
    outcome: FundOutcome
    amount_fen: int
    project_name: str | None
    system_name: str | None
    filing_name: str | None
    year: int
    checks: tuple[FundCheck, ...]


@dataclass(frozen=True)
class Filing:
    name: str
    builder: str
    investment_fen: int
    om_cost_fen: int
    status: FilingStatus
    catalogue_preregistered: bool
    positions: tuple[int, ...]


@dataclass(frozen=True)
class AuditFacts:
    """The ledger's identity at ``position`` and the zone's funds as the views keep them."""

    ledger_id: str
    hash_algorithm: str
    position: int
    head_hash: bytes
    department_states: Mapping[str, DepartmentState]
    decisions: tuple[Decision, ...]
    filings: tuple[Filing, ...]
    # The rectification register at ``position`` (以往审计决定执行情况, R1).
    rectifications: tuple[RectificationEntry, ...]
    # Audit suggestions and their adoption at ``position`` (审计建议采纳情况).
    suggestions: tuple[SuggestionEntry, ...]
    # Each filing's 跟踪、验收、评价 at ``position`` and the views' I4/I5 findings by filing.
    follow_up: tuple[FilingFollowUp, ...]
    follow_up_findings: Mapping[str, tuple[Finding, ...]]

    def departments(self) -> Mapping[str, DepartmentState]:
        return self.department_states


def read_audit_facts(views: Views, reader: RowReader, position: int) -> AuditFacts:
    m = views.moment(at=position)
    zone = views.zone(m)
    found: dict[str, list[Finding]] = {}
    follow_up: dict[str, list[Finding]] = {}
    for f in views.findings(m, subject_kinds=("fund_decision", "filing")):
        if f.rule.startswith("F"):
            found.setdefault(f.subject, []).append(f)
        elif f.rule in ("I4", "I5"):
            follow_up.setdefault(f.subject, []).append(f)
    systems: dict[str, Any] = dict(zone.systems)
    filings = dict(zone.filings)
    decisions = tuple(
        Decision(
            d.position,
            d.department,
            FundKind(d.kind),
            FundOutcome(d.outcome),
            d.amount_fen,
            d.project_name,
            systems[d.system_id].name if d.system_id in systems else None,
            filings[d.filing_id].name if d.filing_id in filings else None,
            d.year,
            checks_from_views(d.decision_id, d.filing_id, found),
        )
        for d in sorted(zone.fund_decisions.values(), key=lambda d: d.position)
    )
    genesis = reader.genesis()
    row = reader.row_at(position) if position > 0 else None
    return AuditFacts(
        genesis.ledger_id,
        genesis.hash_algorithm,
        position,
        bytes(row[6]) if row is not None else b"",
        zone.departments,
        decisions,
        tuple(
            Filing(
                f.name,
                f.builder,
                f.investment_fen,
                f.om_cost_fen,
                FilingStatus(f.status),
                f.catalogue_preregistered,
                f.positions,
            )
            for f in sorted(filings.values(), key=lambda f: f.positions)
        ),
        tuple(views.rectifications(m)),
        tuple(views.audit_suggestions(m)),
        tuple(views.filing_follow_up(m)),
        {k: tuple(sorted(v, key=lambda f: f.rule)) for k, v in follow_up.items()},
    )


FLAGGED_LISTED = 500  # the 违规访问台账 lists the first ones and says how many there are


@dataclass(frozen=True)
class ReportFacts(AuditFacts):
    """The audit facts and what the risk and annual reports show, for one year."""

    year: int
    zone: ZoneState
    rights: tuple[RightsEntry, ...]
    accesses: tuple[AccessGroup, ...]
    flagged: tuple[FlaggedAccess, ...]
    flagged_total: int
    # 委托处理 (数据安全法 §40): the trail's ContractedProcessor lines up to ``position``.
    entrustments: tuple[AuditLine, ...]
    # 条例 §33 declarations at ``position``: security leads, storage, measures (§10).
    security: SecurityFacts
    # The plan's declared records in force at ``position``, by kind and subject (§11).
    declared: Mapping[str, Mapping[str, Declared]] = field(default_factory=dict)
    # seed 四(二): each department's and the zone's sharing report of ``year`` (I3's inputs).
    departments_register: DepartmentRegister | None = None
    annual_report_findings: tuple[Finding, ...] = ()  # the views' I3 at ``position``
    # I1's zombie candidates at ``position`` (the inventory's, projections.registers).
    zombie_candidates: tuple[SystemState, ...] = ()
    # 数据安全法 §21: core resources, their special approvals, the D1 findings named.
    core_data: CoreData = field(default_factory=lambda: CoreData((), (), ()))


ENTRUSTMENTS_LISTED = 200


def read_report_facts(views: Views, reader: RowReader, position: int, year: int) -> ReportFacts:
    audit = read_audit_facts(views, reader, position)
    m = views.moment(at=position)
    return ReportFacts(
        audit.ledger_id,
        audit.hash_algorithm,
        audit.position,
        audit.head_hash,
        audit.department_states,
        audit.decisions,
        audit.filings,
        audit.rectifications,
        audit.suggestions,
        audit.follow_up,
        audit.follow_up_findings,
        year,
        views.zone(m),
        tuple(views.rights_register(m)),
        tuple(views.access_groups(m, year)),
        tuple(views.flagged_accesses(m, year, limit=FLAGGED_LISTED)),
        views.flagged_count(m, year),
        tuple(views.audit_trail(m, text="ContractedProcessor", limit=ENTRUSTMENTS_LISTED)),
        views.security_facts(m),
        {kind: views.declared(m, kind) for kind in DECLARED_KINDS},
        views.department_register(m, year=year),
        tuple(views.findings(m, rule="I3")),
        views.inventory(m).zombie_candidates,
        views.core_data(m),
    )
