"""The access aggregates reports read (projections/access_report.py): the year's totals
kept at each block's end plus the tail equal a count of every access, at every position,
on both backends; the 违规访问台账's rows carry the views' rules and the total."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.config import Settings
from projections import access_report, runner, view_rows
from projections.access_report import _add_groups
from projections.facts import ACCESS
from projections.query import open_views
from projections.reports.model import Row
from tests.projections.reports.scenario import build

YEAR = 2026
SMALL_BLOCK = 4  # the scenario's 33 rows make eight complete blocks


def test_totals_at_block_ends_equal_every_access_counted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "BLOCK", SMALL_BLOCK)
    monkeypatch.setattr(view_rows, "BLOCK", SMALL_BLOCK)
    monkeypatch.setattr(access_report, "BLOCK", SMALL_BLOCK)
    build(settings)
    with open_views(settings, catch_up=True) as views:
        assert views.store.query(f"SELECT COUNT(*) FROM {views.store.table('access_totals')}")
        for position in range(1, views.position + 1):
            m = views.moment(at=position)
            answered = {
                (g.department, g.resource, g.provider, g.purpose, g.flagged, g.month, g.touches): (
                    g.count,
                    g.rows,
                )
                for g in views.access_groups(m, YEAR)
            }
            counted: dict[tuple[Any, ...], list[int]] = {}
            _add_groups(
                views.store, counted,
                "WHERE topic = ? AND position <= ? AND day BETWEEN ? AND ?",
                (ACCESS, position, f"{YEAR}-01-01", f"{YEAR}-12-31"),
            )  # fmt: skip
            expected = {
                (str(d), str(r), str(p or ""), str(u or ""), bool(f), int(mo), int(t)): (n, c)
                for (d, r, p, u, f, mo, t), (n, c) in counted.items()
            }
            assert answered == expected, position


def test_flagged_accesses_carry_the_views_rules(settings: Settings) -> None:
    build(settings)
    with open_views(settings, catch_up=True) as views:
        m = views.moment()
        listed = views.flagged_accesses(m, YEAR, limit=2)
        # A2 (19) S3, A3 (20) S2 and P1; A4 (21) is the third, beyond the limit.
        assert [(a.position, a.rules) for a in listed] == [(19, ("S3",)), (20, ("P1", "S2"))]
        assert views.flagged_count(m, YEAR) == 3
        assert listed[1].items and listed[1].reasons


def test_a_summary_row_cites_some_positions_and_counts_all() -> None:
    assert Row(("x",), (3, 4, 5), 12).evidence == "3–5 等，共 12 条记录"
    assert Row(("x",), (), 7).evidence == "共 7 条记录"
    assert Row(("x",), (3, 9)).evidence == "3, 9"
