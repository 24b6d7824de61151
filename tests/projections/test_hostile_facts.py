"""Facts the exchange platform reports verbatim reach the views intact, whatever they hold.

An accessor id or purpose is any text the platform sent; the ledger stores it as
JSON bytes, but PostgreSQL ``text`` columns cannot hold NUL. The views must
neither crash on such a fact (the worker would stop following the ledger) nor
drop it (the access is a fact and may be a violation).
"""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.store.connect import application_env
from projections.query import open_views
from projections.runner import run_projections
from projections.sharing_terms import SharingTerms
from security.access import evaluate_access
from tests.ledger.domain.builders import record_below_the_contract
from tests.projections.scenario import PLATFORM, build_scenario, report

HOSTILE = "evil\x00actor\x1b[31m'; DROP TABLE views_events; --"


def test_control_characters_in_reported_text_are_projected(settings: Settings) -> None:
    build_scenario(settings)
    app = GovLedger(env=application_env(settings))
    try:
        access = report(
            "hostile-1",
            datetime(2026, 8, 3, 10, 0, tzinfo=UTC),
            HOSTILE,
            "minzheng",
            "RK-0001",
            ("姓名",),
            HOSTILE,
        )
        # NUL and other control characters are refused at every entrance now (the input
        # contract); a ledger written before it, or by someone with database access, holds them.
        record_below_the_contract(
            app, PLATFORM, [(access, evaluate_access(access, SharingTerms(app).current()))]
        )
        position = app.recorder.max_notification_id()
    finally:
        app.close()

    run_projections(settings)

    with open_views(settings, catch_up=True) as views:
        assert views.position == position
        lines = views.audit_trail(views.moment(), after=position - 1)
    assert [line.position for line in lines] == [position], "the hostile access is projected"
    # PostgreSQL text holds no NUL: the view shows U+FFFD there; the ledger keeps the bytes.
    shown = HOSTILE if settings.database.backend == "sqlite" else HOSTILE.replace("\x00", "\ufffd")
    assert lines[0].actor_id == shown
