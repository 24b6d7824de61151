"""``GET /metrics`` in one process: ledger-derived counts, providers, histograms, bounded labels
(api/metrics.py; docs/operations.md §Metrics)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from api.app import create_app
from api.metrics import LedgerMetrics
from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.actor import Actor, Role
from ledger.store.connect import application_env, init_ledger
from ops.ledger_cli import cmd_verify
from projections.ledger_counts import LedgerFollower
from security.apikeys import open_api_keys
from tests.api.conftest import PROVIDER, USER, Api, access, population_resource, setup_departments
from tests.conftest import Attacker, Ledger
from tests.promtext import label_values, total, value

UNAUTHORIZED = "govledger_unauthorized_accesses_total"
ADMIN = Actor("admin-1", Role.ADMIN, None)


def conditional_resource(api: Api) -> None:
    setup_departments(api)
    reply = api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource())
    assert reply.status_code == 201, reply.text


def test_unauthorized_access_is_counted_with_bounded_labels(api: Api) -> None:
    conditional_resource(api)
    now = datetime.now(UTC).isoformat()
    stranger = "dept-of-someone-typing-free-text"
    batch = [
        access("m-1", accessed_at=now),  # conditional, no grant: S2
        access("m-2", department=stranger, accessed_at=now),
        access("m-3", resource_code="RK-9999", accessed_at=now),
    ]
    reply = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch})
    assert reply.status_code == 200, reply.text
    text = api.client.get("/metrics").text

    assert (
        value(
            text,
            UNAUTHORIZED,
            reason="no_grant",
            provider_department=PROVIDER,
            requester_department=USER,
            sensitivity="personal",
            sharing_type="conditional",
        )
        == 1
    )
    assert total(text, UNAUTHORIZED, requester_department="unregistered") >= 1
    assert total(text, UNAUTHORIZED, sharing_type="unknown", sensitivity="unknown") >= 1
    assert value(text, "govledger_ledger_events_total", event_type="DataAccess.Recorded") == 3
    assert (
        value(
            text,
            "govledger_data_accesses_total",
            verdict="unauthorized",
            sharing_type="conditional",
        )
        == 2
    )
    # Zeros are exposed before the first event of a kind, so increase() sees the first one.
    assert (
        value(
            text,
            "govledger_data_accesses_total",
            verdict="authorized",
            sharing_type="not_shareable",
        )
        == 0
    )
    assert value(text, "govledger_ledger_head_position") == api.head()
    # No free text, user id or raw path in any label.
    labels = label_values(text)
    assert stranger not in labels and "minzheng-clerk-07" not in labels
    assert not any(v.startswith("m-") or "RK-" in v or "招" in v for v in labels)
    assert value(text, "govledger_collector_up", part="ledger") == 1


def test_request_latency_and_batch_size_histograms(api: Api) -> None:
    conditional_resource(api)
    now = datetime.now(UTC).isoformat()
    batch = [access(f"h-{i}", accessed_at=now) for i in range(3)]
    assert (
        api.call(
            "POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch}
        ).status_code
        == 200
    )
    assert (
        api.call(
            "POST", "/accesses", Role.EXCHANGE_PLATFORM, json=access("h-9", accessed_at=now)
        ).status_code
        == 201
    )
    api.client.get("/api/v1/resources/no-such-thing")
    text = api.client.get("/metrics").text

    assert value(text, "govledger_ingest_batch_size_count") == 2
    assert value(text, "govledger_ingest_batch_size_sum") == 4
    assert (
        value(
            text,
            "govledger_http_request_duration_seconds_count",
            method="POST",
            route="/api/v1/accesses/batch",
            status="200",
        )
        == 1
    )
    routes = {v for v in label_values(text) if v.startswith("/")}
    assert "/api/v1/resources/no-such-thing" not in routes  # templates only


def test_providers_feed_findings_anomalies_and_lag(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", state_dir=str(tmp_path / "state")
    )
    init_ledger(settings)
    findings: Mapping[tuple[str, str], int] = {("F1", "high"): 2, ("free text rule", "x"): 1}
    app = create_app(
        settings,
        findings_summary=lambda: findings,
        anomalies_summary=lambda: {"high": 3},
        projection_positions=lambda: {"compliance": 0},
    )
    keys = open_api_keys(settings)
    with TestClient(app) as client:
        api = Api(client, keys)
        setup_departments(api)
        head = api.head()
        text = client.get("/metrics").text
    keys.close()
    assert value(text, "govledger_compliance_findings_open", rule="F1", severity="high") == 2
    assert value(text, "govledger_compliance_findings_open", rule="other", severity="other") == 1
    assert value(text, "govledger_anomalies_open", severity="high") == 3
    assert value(text, "govledger_anomalies_open", severity="critical") == 0
    assert value(text, "govledger_projection_lag_events", projection="compliance") == head > 0
    assert value(text, "govledger_projection_lag_events", projection="sharing_terms") == 0


def test_failing_provider_marks_its_part_down_and_the_rest_answers(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", state_dir=str(tmp_path / "state")
    )

    def broken() -> Mapping[str, int]:
        raise RuntimeError("projection store unreachable")

    with TestClient(create_app(settings, anomalies_summary=broken)) as client:
        text = client.get("/metrics").text
    assert value(text, "govledger_collector_up", part="anomalies") == 0
    assert value(text, "govledger_collector_up", part="ledger") == 1
    assert value(text, "govledger_ledger_head_position") is not None


def test_verification_outcome_reaches_the_metrics(ledger: Ledger, attacker: Attacker) -> None:
    """A passing `govledger verify` shows as 1, a run that finds a break as 0 (the alert's
    input), with the position it verified."""
    ledger.append(20)
    verify = argparse.Namespace(from_position=None, full=True, json=True)
    # create_schema off: init would put back the triggers the attacker removed.
    with TestClient(create_app(ledger.settings.with_overrides(create_schema=False))) as client:
        assert cmd_verify(ledger.settings, verify) == 0
        passed = client.get("/metrics").text
        state = bytearray(attacker.row(7)[3])
        state[0] ^= 1
        attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (bytes(state), 7))
        assert cmd_verify(ledger.settings, verify) == 1
        failed = client.get("/metrics").text
    assert value(passed, "govledger_verification_last_run_ok") == 1
    assert value(passed, "govledger_verification_verified_position") == 20
    assert value(failed, "govledger_verification_last_run_ok") == 0
    assert (
        (value(failed, "govledger_verification_last_run_timestamp_seconds") or 0)
        >= (value(passed, "govledger_verification_last_run_timestamp_seconds") or 0)
        > 0
    )


def test_default_providers_read_the_views_the_worker_wrote(settings: Settings) -> None:
    """Without providers, /metrics reads the projections' views, never running one itself."""
    from projections.runner import run_projections  # noqa: PLC0415
    from tests.projections.scenario import build_scenario, scenario_settings  # noqa: PLC0415

    settings = scenario_settings(settings)
    scenario = build_scenario(settings)
    end = scenario.positions["end"]
    with TestClient(create_app(settings)) as client:
        before = client.get("/metrics").text
        run_projections(settings)  # what `govledger projections run` does
        after = client.get("/metrics").text
    assert value(before, "govledger_collector_up", part="findings") == 0  # views not built
    assert value(before, "govledger_projection_lag_events", projection="zone") == end
    # The scenario's head, worked out in tests/projections/scenario.py: S2 x4 high, I1 for the
    # system idle since 05-20 (the head is now, after 11-16), P2 x2, I6 x3 (no department
    # names a CIO), I9 x3 (none sends a self-inspection report within 90 days of its
    # registration on 05-20), 23 in all; anomalies 2 medium, 2 high.
    assert value(after, "govledger_compliance_findings_open", rule="S2", severity="high") == 4
    assert value(after, "govledger_compliance_findings_open", rule="I1", severity="info") == 1
    assert value(after, "govledger_compliance_findings_open", rule="I9", severity="low") == 3
    assert total(after, "govledger_compliance_findings_open") == 23
    # P2 is judged from the PIA facts (issue 14); the ledger's own L1 is judged elsewhere.
    assert value(after, "govledger_rule_evaluated", rule="P2") == 1
    assert value(after, "govledger_rule_evaluated", rule="S2") == 1
    assert value(after, "govledger_anomalies_open", severity="medium") == 2
    assert value(after, "govledger_anomalies_open", severity="high") == 2
    assert value(after, "govledger_projection_lag_events", projection="zone") == 0


def test_accesses_dated_in_future_are_counted(api: Api) -> None:
    """docs/facts.md §6: the platform's access later than record time plus the skew is
    recorded (never dropped) and flagged; /metrics counts it by requester department."""
    conditional_resource(api)
    now = datetime.now(UTC)
    batch = [
        access("f-1", accessed_at=now.isoformat()),
        access("f-2", accessed_at=(now + timedelta(seconds=60)).isoformat()),  # within skew
        access("f-3", accessed_at=(now + timedelta(days=2)).isoformat()),
    ]
    reply = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch})
    assert reply.status_code == 200, reply.text
    text = api.client.get("/metrics").text
    future = "govledger_accesses_dated_in_future_total"
    assert value(text, future, requester_department=USER) == 1
    assert value(text, future, requester_department=PROVIDER) == 0


def test_a_worker_still_reading_the_ledger_answers_at_once_without_its_counts(
    tmp_path: Path,
) -> None:
    """Until its follower has reached the head, a worker's scrape shows the ledger part down
    and no ledger counts (an old prefix's counts would fire UnauthorizedSharing for old
    accesses), while the other parts answer; then the counts, exact to the head."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", state_dir=str(tmp_path / "state")
    )
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        app.register_department(ADMIN, "gongan", "区公安分局")
        head = app.recorder.max_notification_id()
        follower = LedgerFollower(app)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LedgerMetrics(settings, follower, scrape_seconds=0))
        cold = generate_latest(registry).decode()
        assert value(cold, "govledger_collector_up", part="ledger") == 0
        assert value(cold, "govledger_collector_up", part="checkpoint") == 1
        assert value(cold, "govledger_ledger_head_position") is None
        assert (
            total(cold, "govledger_data_accesses_total")
            == 0
            == total(cold, "govledger_ledger_events_total")
        )
        follower.warm_up()
        warm = generate_latest(registry).decode()
        assert value(warm, "govledger_collector_up", part="ledger") == 1
        assert value(warm, "govledger_ledger_head_position") == head
        assert value(warm, "govledger_ledger_counted_position") == head
        assert total(warm, "govledger_ledger_events_total") == head
    finally:
        app.close()
