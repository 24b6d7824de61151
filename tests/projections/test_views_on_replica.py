"""The views' reads follow ``database_read_url`` (docs/configuration.md §Reads on a replica):
a read that may be stale opens ledger and views on the read URL only, so the primary does no
work for it; a writer (``catch_up=True``) reads the primary it writes.

The "replica" here is the test database itself, and the primary a URL nobody answers: a
read that touched the primary would fail to connect.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from projections.query import open_views
from projections.runner import run_projections
from tests.projections.scenario import build_scenario

NOBODY = "postgresql://govledger@127.0.0.1:9/nowhere"  # port 9 (discard): refused at once


def _on_replica(settings: Settings) -> Settings:
    return settings.with_overrides(database_url=NOBODY, database_read_url=settings.database_url)


def test_a_read_opens_ledger_and_views_on_the_read_url_only(postgres_settings: Settings) -> None:
    build_scenario(postgres_settings)
    run_projections(postgres_settings)
    with open_views(postgres_settings) as views:
        moment = views.moment(as_of=date(2026, 6, 30))
        on_primary = [(f.rule, f.positions) for f in views.findings(moment)]
    with open_views(_on_replica(postgres_settings)) as views:
        moment = views.moment(as_of=date(2026, 6, 30))
        on_replica = [(f.rule, f.positions) for f in views.findings(moment)]
    assert on_primary and on_replica == on_primary


def test_a_writer_reads_the_primary_it_writes(postgres_settings: Settings) -> None:
    build_scenario(postgres_settings)
    run_projections(postgres_settings)
    with (
        pytest.raises(StoreUnavailableError),
        open_views(_on_replica(postgres_settings), catch_up=True),
    ):
        pass
