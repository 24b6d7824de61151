"""Reports in Simplified Chinese over the kept views (issue #4 item 4; docs/reports.md).

``generate`` reads the views at the report's position (views_facts.py: the zone, the
use-rights register, the year's accesses grouped in SQL, the findings), builds one of
the three reports (risk.py 风险评估报告, annual.py 年度报告, audit.py 审计报告) as a
document model (model.py), and render.py lays it out as HTML, PDF, XLSX or JSON. No
report replays the ledger (issue #12 item 2): its cost follows what it shows.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.checkpoints import latest_checkpoint
from ledger.config import Settings
from ledger.store.base import RowReader
from ledger.store.connect import open_reader
from projections.query import Views, open_views
from projections.reports.annual import build_annual_report
from projections.reports.audit import build_audit_report
from projections.reports.common import Inputs
from projections.reports.model import Report, ReportKind
from projections.reports.oversight import load_oversight
from projections.reports.render import Format, render
from projections.reports.risk import build_risk_report
from projections.reports.views_facts import read_audit_facts, read_report_facts
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
    views_progress: Callable[[int], None] | None = None,
    catch_up: bool = False,
) -> Report:
    """The report of ``kind`` for ``year`` from the views at ``at`` (default: the views'
    position). Reading never writes (docs/projections.md §Opening and moments): only a
    writer passes ``catch_up=True`` (the worker's schedule, ``govledger report
    --catch-up``) to bring the views to the head first; that catch-up reports its
    batches to ``views_progress``. Views not built yet raise ``StoreUnavailableError``.
    """
    if catch_up:
        run_projections(settings, progress=views_progress)
    reader = open_reader(settings)
    try:
        with open_views(settings, catch_up=False) as views:
            position = _position(views, at, reader.max_position())
            return build_from(views, reader, kind, year, position, latest_checkpoint(settings))
    finally:
        reader.close()


def build_from(
    views: Views,
    reader: RowReader,
    kind: ReportKind,
    year: int,
    position: int,
    checkpoint: str | None,
) -> Report:
    """The report of ``kind`` for ``year`` from these views at ``position``: what
    :func:`generate` builds, and what issuing builds again from views folded afresh from
    the ledger to compare (projections/view_check.py; docs/reports.md §Issued from checked
    views)."""
    if kind is ReportKind.AUDIT:
        return build_audit_report(read_audit_facts(views, reader, position), year, checkpoint)
    facts = read_report_facts(views, reader, position, year)
    oversight = load_oversight(views, position, year)
    return BUILDERS[kind](Inputs(facts, year, checkpoint, oversight))


def _position(views: Views, at: int | None, head: int) -> int:
    """The report's position: ``at`` (at most the ledger's head), within the views'."""
    tracked = views.position
    if at is None:
        return tracked
    at = min(at, head)
    if at > tracked:
        raise ValueError(f"position {at} is beyond the views' position {tracked}")
    return at


__all__ = ["Format", "Report", "ReportKind", "build_from", "generate", "render"]
