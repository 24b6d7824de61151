"""Findings are versions: the views at a past position answer what they answered then
(docs/projections.md §Findings are versions; issue 12 "One judgment, everywhere").

Worked by hand on a ledger recorded out of order, both backends. An access of 08-18
shares RK-0007 (personal, important and core items) with 区民政局: S12, D2, P2 and D1
are found, dated 08-18 (position N1). An access of 08-03 recorded after it (W1)
re-dates them to 08-03. An impact assessment of 07-30 recorded last (W2) withdraws P2.
The views at N1 still show P2 and S12 dated 08-18, at W1 dated 08-03, at W2 and the
head no P2 (S12 stays dated 08-03); the risk report at N1 counts what the views at N1
show; and at every position the views equal views built from the ledger's prefix up
to it (``Projector.run(until=N)`` into side views), the one-batch rebuild keeps the
same versions as the live following. The tie rule of F7 (docs/projections.md §Recorded
late): revisions of one instant and a system in two filings, ordered by recording.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import (
    FundKind,
    FundOutcome,
    SystemInventory,
)
from projections.query import Views, open_views
from projections.reports import ReportKind, generate
from tests.projections.scenario import (
    FINANCE,
    GONGAN,
    MINZHENG,
    NDRC,
    PURPOSE,
    Recorder,
    cst,
    finding_rows,
    prefix_views,
    report,
)


def _head(app: GovLedger) -> int:
    return int(app.recorder.max_notification_id() or 0)


def _caught_up(settings: Settings) -> int:
    with open_views(settings, catch_up=True) as views:
        return views.position


def _standing(views: Views, position: int) -> list[tuple[Any, ...]]:
    m = views.moment(at=position)
    return sorted(
        (f.finding_id, f.rule, f.subject, f.time.isoformat(), f.detail, f.positions)
        for f in views.findings(m)
    )


def _dated(views: Views, position: int, rule: str) -> list[str]:
    m = views.moment(at=position)
    return sorted(f.time.date().isoformat() for f in views.findings(m, rule=rule))


def _history(settings: Settings, rec: Recorder) -> tuple[int, int, int]:
    """N1 (the 08-18 share), W1 (the 08-03 share recorded after), W2 (the PIA of 07-30)."""
    rec.accesses(
        report("p-2", cst(8, 18), "mz-7", "minzheng", "RK-0007", ("姓名", "户籍"), PURPOSE)
    )
    n1 = _caught_up(settings)
    rec.accesses(report("p-1", cst(8, 3), "mz-7", "minzheng", "RK-0007", ("姓名", "户籍"), PURPOSE))
    w1 = _caught_up(settings)
    rec.app.record_impact_assessment(
        GONGAN, department="gongan", reference="PIA-1", resource_code="RK-0007",
        recipient_department=None, request_id=None, conclusion="acceptable",
        summary="评估", assessed_at=cst(7, 30, 9),
    )  # fmt: skip
    w2 = _caught_up(settings)
    assert n1 < w1 < w2 == _head(rec.app)
    return n1, w1, w2


def test_a_withdrawn_finding_stands_before_the_fact_that_withdrew_it(
    settings: Settings, rec: Recorder
) -> None:
    n1, w1, w2 = _history(settings, rec)
    with open_views(settings) as views:
        assert _dated(views, n1, "P2") == ["2026-08-18"]
        assert _dated(views, w1, "P2") == ["2026-08-03"]
        assert _dated(views, w2 - 1, "P2") == ["2026-08-03"]
        assert _dated(views, w2, "P2") == []
        assert [f for f in views.findings(views.moment(), rule="P2")] == []

        # The tally reads the same versions (finding_tally: /metrics, rule_status).
        def p2(position: int | None) -> int:
            m = views.moment() if position is None else views.moment(at=position)
            return sum(n for (rule, _), n in views.finding_tally(m).items() if rule == "P2")

        assert (p2(n1), p2(w1), p2(w2), p2(None)) == (1, 1, 0, 0)


def test_a_re_dated_finding_keeps_its_old_date_before_the_late_fact(
    settings: Settings, rec: Recorder
) -> None:
    n1, w1, _ = _history(settings, rec)
    with open_views(settings) as views:
        for rule in ("S12", "D2", "D1"):
            assert _dated(views, n1, rule) == ["2026-08-18"], rule
            assert _dated(views, w1 - 1, rule) == ["2026-08-18"], rule
            assert _dated(views, w1, rule) == ["2026-08-03"], rule
            assert _dated(views, views.position, rule) == ["2026-08-03"], rule
        # As of a date (business time) at the head: the standing versions only.
        m = views.moment(as_of=date(2026, 8, 10))
        assert sorted(f.rule for f in views.findings(m) if f.subject == "RK-0007") == [
            "D1",
            "D2",
            "S12",
        ]
        # Two versions of S12 kept, one closed at W1.
        rows = [r for r in finding_rows(views.store) if r[1] == "S12"]
        assert sorted((r[10], r[11]) for r in rows) == [(n1, w1), (w1, None)]


def test_views_at_every_position_equal_the_views_of_that_prefix(
    settings: Settings, rec: Recorder
) -> None:
    n1, _, head = _history(settings, rec)
    with open_views(settings) as views:
        live = {n: _standing(views, n) for n in range(1, head + 1)}
        tallies = {n: views.finding_tally(views.moment(at=n)) for n in range(1, head + 1)}
        live_rows = finding_rows(views.store)
        # The risk report at N1 counts the findings the views show at N1 (in its year).
        risk = generate(settings, ReportKind.RISK, 2026, at=n1)
        assert risk.anchor.position == n1
        table = next(t for _, t in risk.tables() if t.title == "合规发现与处置建议")
        counted = {r.cells[0]: r.cells[3] for r in table.rows}
        m = views.moment(at=n1)
        shown = Counter(f.rule for f in views.findings(m) if f.time.year == 2026)
        assert counted == dict(shown) and counted["P2"] == 1
    for n in range(1, head + 1):
        with prefix_views(settings, n) as prefix:
            assert prefix.position == n
            assert _standing(prefix, n) == live[n], n
            assert prefix.finding_tally(prefix.moment(at=n)) == tallies[n], n
            if n == head:  # one batch from nothing keeps the versions the live following kept
                assert finding_rows(prefix.store) == live_rows
    assert len({tuple(v) for v in live.values()}) >= 3  # the history moved the findings


# ---------------------------------------------------------------------- F7's tie rule

INVENTORY = SystemInventory("低保系统", "低保审核", "全区", "每日", "区发改局", None, "财政")


def _filing(app: GovLedger, system: object, om_cost_fen: int, name: str) -> object:
    return app.file_project(
        MINZHENG, name=name, builder="minzheng", investment_fen=1_000_000,
        om_cost_fen=om_cost_fen, funding_channel="财政", resource_codes=[],
        system_ids=[system], mlps_filed=True, catalogue_preregistered=True,
        occurred_at=cst(4, 20),
    )  # fmt: skip


def _om(app: GovLedger, system: object, filing: object | None, fen: int) -> str:
    return app.decide_funds(
        FINANCE, kind=FundKind.OM_FUNDS, year=2026, department="minzheng", amount_fen=fen,
        outcome=FundOutcome.GRANTED, rationale="运维", system_id=system, filing_id=filing,
        decided_at=cst(9, 15),
    ).hex  # fmt: skip


def _f7(settings: Settings) -> set[str]:
    with open_views(settings, catch_up=True) as views:
        return {f.subject for f in views.findings(views.moment(), rule="F7")}


def test_revisions_of_one_instant_the_one_recorded_last_is_in_force(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    decided = {}
    for order in ((50_000, 150_000), (150_000, 50_000)):  # in force: the second recorded
        system = app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=cst(4, 2))
        filing = _filing(app, system, 100_000, f"运维-{order[0]}")
        decided[order[1]] = _om(app, system, filing, 70_000)  # 700 yuan
        for n, om_cost in enumerate(order):
            app.revise_filed_amounts(
                NDRC, filing, reference=f"调概-{n}", investment_fen=1_000_000,
                om_cost_fen=om_cost, reason="调整", revised_at=cst(7, 1),
            )  # fmt: skip
    assert _f7(settings) == {decided[50_000]}  # 700 above 500, not above 1,500


def test_a_system_in_two_filings_is_bounded_by_the_one_recorded_first(
    settings: Settings, rec: Recorder
) -> None:
    app = rec.app
    system = app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=cst(4, 2))
    _filing(app, system, 100_000, "运维-甲")  # 1,000 yuan a year, recorded first
    _filing(app, system, 10_000, "运维-乙")  # 100 yuan
    _om(app, system, None, 50_000)  # 500 yuan for the system alone
    assert _f7(settings) == set()
    other = app.register_system(NDRC, "minzheng", INVENTORY, occurred_at=cst(4, 2))
    _filing(app, other, 10_000, "运维-丙")  # 100 yuan, recorded first this time
    _filing(app, other, 100_000, "运维-丁")
    decided = _om(app, other, None, 50_000)
    assert _f7(settings) == {decided}
