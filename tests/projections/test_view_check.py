"""The views checked against the ledger before a report is issued (projections/view_check.py,
docs/reports.md §Issued from checked views): untampered views agree at any position on
both backends; a deleted, forged or altered row is named by table and key; a report that
differs from the one built from fresh views is named by section."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.config import Settings
from ledger.store.connect import ledger_head
from projections.reports import ReportKind, generate
from projections.runner import run_projections
from projections.schema import TABLES
from projections.store import ViewStore
from projections.view_check import (
    AT_POSITION,
    NOT_COMPARED,
    ViewsMismatchError,
    check_issue,
    first_mismatch,
    fresh_views,
    report_mismatch,
)
from tests.projections.reports.scenario import build
from tests.projections.tampered_views import delete_finding


def test_every_view_table_is_compared_or_says_why_not() -> None:
    assert set(AT_POSITION) | set(NOT_COMPARED) == set(TABLES)
    assert not set(AT_POSITION) & set(NOT_COMPARED)


def test_untampered_views_agree_at_every_position(settings: Settings) -> None:
    """PostgreSQL views against a SQLite fold too: no false alarm from collation, NULL order
    or types; a past position reads findings withdrawn later as standing then."""
    build(settings)
    run_projections(settings)
    head = ledger_head(settings)
    served = ViewStore(settings, readonly=True)
    try:
        for position in sorted({1, head // 3, head // 2, head - 1, head}):
            with fresh_views(settings, position) as fresh:
                assert first_mismatch(served, fresh.store, position) is None, position
    finally:
        served.close()
    for kind in ReportKind:
        check_issue(settings, generate(settings, kind, 2026, at=head // 2))
        check_issue(settings, generate(settings, kind, 2026))


def _mismatch(settings: Settings) -> str:
    with pytest.raises(ViewsMismatchError) as raised:
        check_issue(settings, generate(settings, ReportKind.AUDIT, 2026))
    return str(raised.value.mismatch)


@pytest.fixture
def served(sqlite_settings: Settings) -> Settings:
    """The scenario's ledger with its views at the head."""
    build(sqlite_settings)
    run_projections(sqlite_settings)
    return sqlite_settings


def _change(settings: Settings, sql: str) -> None:
    """Run ``sql`` on the served views ({events}, {findings}: those tables' names)."""
    store = ViewStore(settings)
    try:
        store.query(sql.format(events=store.table("events"), findings=store.table("findings")))
    finally:
        store.close()


def test_a_deleted_or_altered_row_is_named(served: Settings) -> None:
    _change(served, "UPDATE {events} SET actor_id = 'someone-else' WHERE position = 3")
    assert _mismatch(served) == (
        "views_events: position 3: column actor_id differs from the ledger's fold"
    )
    _change(served, "DELETE FROM {events} WHERE position = 3")
    assert _mismatch(served) == "views_events: position 3: missing from the served views"
    run_projections(served)  # the worker goes on from its tracking: the row stays missing
    assert _mismatch(served).startswith("views_events: position 3: ")


def test_a_forged_finding_is_named_not_in_the_ledgers_fold(served: Settings) -> None:
    _change(
        served,
        "INSERT INTO {findings} SELECT '0000forged', rule, severity, subject, subject_kind, "
        "department, positions, position, time, detail, judged_at, withdrawn_at "
        "FROM {findings} WHERE rule = 'F1' LIMIT 1",
    )
    named = _mismatch(served)
    assert named.startswith("views_findings: finding_id 0000forged, judged_at ")
    assert named.endswith(": not in the ledger's fold")
    found = delete_finding(served, "F2")  # the first difference in key order is named
    assert found > "0000forged" and "0000forged" in _mismatch(served)


def test_the_report_is_compared_beside_the_rows(sqlite_settings: Settings) -> None:
    build(sqlite_settings)
    report = generate(sqlite_settings, ReportKind.AUDIT, 2026, catch_up=True)
    later = dataclasses.replace(
        report,
        generated_at="2099-01-01 00:00（北京时间）",
        anchor=dataclasses.replace(report.anchor, checkpoint="another checkpoint"),
    )
    assert report_mismatch(report, later) is None  # when and which checkpoint: not content
    section = report.sections[1]
    changed = dataclasses.replace(section, paragraphs=(*section.paragraphs, "多出的一段"))
    altered = dataclasses.replace(
        report, sections=(report.sections[0], changed, *report.sections[2:])
    )
    found = report_mismatch(altered, report)
    assert found is not None and str(found) == (
        f"the report: section {section.title}: differs from the ledger's fold"
    )
    with pytest.raises(ViewsMismatchError, match=f"section {section.title}"):
        check_issue(sqlite_settings, altered)
