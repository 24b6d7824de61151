"""Reports in Simplified Chinese over the ledger (issue #4 item 4; docs/reports.md).

``generate`` replays the ledger (facts.py), builds one of the three reports
(risk.py 风险评估报告, annual.py 年度报告, audit.py 审计报告) as a document
model (model.py), and render.py lays it out as HTML, PDF, XLSX or JSON.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.application import GovLedger
from ledger.checkpoints import latest_checkpoint
from ledger.config import Settings
from ledger.store.connect import application_env, open_reader
from projections.query import open_views
from projections.reports.annual import build_annual_report
from projections.reports.audit import build_audit_report
from projections.reports.common import Inputs
from projections.reports.facts import read_facts, with_checks
from projections.reports.model import Report, ReportKind
from projections.reports.oversight import load_oversight
from projections.reports.render import Format, render
from projections.reports.risk import build_risk_report
from projections.reports.views_facts import read_audit_facts
from projections.runner import run_projections

BUILDERS: dict[ReportKind, Callable[[Inputs], Report]] = {
    ReportKind.RISK: build_risk_report,
    ReportKind.ANNUAL: build_annual_report,
}


def generate(
    settings: Settings,
    kind: ReportKind,
    year: int,
    *,
    at: int | None = None,
    progress: Callable[[int], None] = lambda _n: None,
    views_progress: Callable[[int], None] | None = None,
) -> Report:
    """The report of ``kind`` for ``year`` over ledger positions 1..``at`` (default: head).

    The audit report reads the kept views (``views_facts``); the risk and annual reports
    still replay the ledger for their access figures (issue #12 item 2, under way).
    """
    if kind is ReportKind.AUDIT:
        return _audit(settings, year, at, views_progress)
    app = GovLedger(env=application_env(settings, create=False))
    reader = open_reader(settings)
    try:
        facts = read_facts(app, reader, at=at, progress=progress)
    finally:
        reader.close()
        app.close()
    oversight = load_oversight(settings, facts.position, year, progress=views_progress)
    with_checks(facts, oversight.decision_findings())
    return BUILDERS[kind](Inputs(facts, year, latest_checkpoint(settings), oversight))


__all__ = ["Format", "Report", "ReportKind", "generate", "render"]


def _audit(
    settings: Settings, year: int, at: int | None, progress: Callable[[int], None] | None
) -> Report:
    """The audit report from the views at ``at`` (default: the views' position, brought
    to the head first where this process may write them)."""
    if settings.create_schema:
        run_projections(settings, progress=progress)
    reader = open_reader(settings)
    try:
        with open_views(settings, catch_up=False) as views:
            tracked = views.position
            if at is not None and at > tracked:
                at = min(at, reader.max_position())
                if at > tracked:
                    raise ValueError(f"position {at} is beyond the views' position {tracked}")
            facts = read_audit_facts(views, reader, tracked if at is None else at)
    finally:
        reader.close()
    return build_audit_report(facts, year, latest_checkpoint(settings))
