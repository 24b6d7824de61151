"""``/metrics`` is right with two uvicorn worker processes (issue 6 §1): every scrape, whichever
worker answers it, reports the totals of all requests and of the whole ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from ops.cli import main
from tests.api.conftest import PROVIDER, USER, access, population_resource
from tests.ops.conftest import bearer, govledger_serve, wait_for
from tests.promtext import total, value

pytestmark = pytest.mark.slow
ACCESSES = 24


def pids_that_answered(log: Path, route: str) -> set[int]:
    """Worker processes whose request log lines (JSON on stderr) show ``route``."""
    pids = set()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message") == "request" and entry.get("route") == route:
                pids.add(int(entry["pid"]))
    return pids


def test_two_workers_report_the_same_totals(postgres_settings: Settings, tmp_path: Path) -> None:
    settings = postgres_settings.with_overrides(metrics_dir=str(tmp_path / "metrics"))
    init_ledger(settings)
    admin = bearer(settings, Role.ADMIN)
    provider = bearer(settings, Role.DATA_PROVIDER, PROVIDER)
    platform = bearer(settings, Role.EXCHANGE_PLATFORM)
    # A new connection per request: the kernel spreads them over both workers.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with (
        govledger_serve(settings, tmp_path, workers=2) as url,
        httpx.Client(base_url=f"{url}/api/v1", limits=fresh, timeout=30) as client,
    ):
        for code, name in ((PROVIDER, "区公安分局"), (USER, "区民政局")):
            reply = client.post("/departments", headers=admin, json={"code": code, "name": name})
            assert reply.status_code == 201, reply.text
        reply = client.post("/resources", headers=provider, json=population_resource())
        assert reply.status_code == 201, reply.text
        now = datetime.now(UTC).isoformat()
        for i in range(ACCESSES):
            reply = client.post(
                "/accesses", headers=platform, json=access(f"w-{i}", accessed_at=now)
            )
            assert reply.status_code == 201, reply.text
        # Scrape until both workers have answered scrapes (their request log lines say which
        # process answered); every scrape is checked below.
        scrapes: list[str] = []
        log = tmp_path / f"serve-{url.rsplit(':', 1)[1]}.log"

        def both_workers_answered() -> bool:
            scrapes.append(httpx.get(f"{url}/metrics", timeout=30).text)
            return len(scrapes) >= 4 and len(pids_that_answered(log, "/metrics")) >= 2

        wait_for(both_workers_answered, 90, "scrapes answered by both workers")

    writers = {p.name for p in (tmp_path / "metrics").glob("histogram_*.db")}
    assert len(writers) >= 2, f"one worker served everything: {writers}"
    for text in scrapes:
        requests = total(
            text, "govledger_http_request_duration_seconds_count", route="/api/v1/accesses"
        )
        assert requests == ACCESSES
        assert value(text, "govledger_ingest_batch_size_count") == ACCESSES
        assert (
            value(
                text,
                "govledger_data_accesses_total",
                verdict="unauthorized",
                sharing_type="conditional",
            )
            == ACCESSES
        )
        assert value(text, "govledger_ledger_events_total", event_type="DataAccess.Recorded") == (
            ACCESSES
        )


def test_several_workers_need_a_metrics_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without GOVLEDGER_METRICS_DIR each worker would expose only its own histograms."""
    monkeypatch.delenv("GOVLEDGER_METRICS_DIR", raising=False)
    assert main(["serve", "--workers", "2", "--port", "1"]) == 2
