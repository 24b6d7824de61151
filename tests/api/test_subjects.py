"""Issue 19 scenario on each backend: accesses naming data subjects → who read my records
(exactly that subject's, with valid proofs) → erasure (entries read as erased, verify and
proofs pass, a restored key backup does not bring the subject back once the erasure log is
re-applied) → no identifier in clear in the database, exports, logs or metrics."""

from __future__ import annotations

import base64
import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import _issue_until, create_app
from api.subject_letter import letter_html, mask
from ledger.application import GovLedger
from ledger.config import Settings
from ledger.configured import open_ledger
from ledger.domain.actor import Role
from ledger.export import export_jsonl
from ledger.merkle import leaf_hash, sha256, sm3, verify_inclusion
from ledger.store.connect import init_ledger, open_reader
from ledger.subject_keys import SubjectKeys
from ledger.subjects import normalise, prepare_subject_keys
from ledger.tree_database import Database
from ledger.verify import verify_ledger
from projections.runner import run_projections
from security.apikeys import open_api_keys
from tests.api.conftest import PROVIDER, USER, Api, access, population_resource, setup_departments
from tests.ledger import test_subjects as subjects_tests
from tests.ledger.commands.test_access_batch import _judged, access_report
from tests.ledger.domain.builders import PLATFORM
from tests.ledger.test_subjects import _database_bytes

vault_settings, app = subjects_tests.vault_settings, subjects_tests.app  # the fixtures

ALICE, BOB, CAROL = "11010519491231002x", "320102198001010011", "440301199912120022"
OFFICER = Role.SECURITY_OFFICER
PERIOD = {"from": "2026-06-01", "to": "2026-06-30"}


@pytest.fixture
def subject_settings(settings: Settings, tmp_path: Path) -> Settings:
    configured = settings.with_overrides(subject_index_key_file=str(tmp_path / "index.key"))
    init_ledger(configured)
    prepare_subject_keys(configured)
    return configured


@pytest.fixture
def api(subject_settings: Settings) -> Iterator[Api]:
    keys = open_api_keys(subject_settings)
    with TestClient(create_app(subject_settings)) as client:
        yield Api(client, keys, worker=subject_settings)
    keys.close()


def _record(api: Api) -> None:
    setup_departments(api)
    reply = api.call("POST", "/resources", Role.DATA_PROVIDER, PROVIDER, json=population_resource())
    assert reply.status_code == 201, reply.text
    batch = [
        access("a-1", subjects=[ALICE, BOB], accessed_at="2026-06-02T09:00:00+08:00"),
        access("a-2", subjects=[BOB], items=["姓名", "住址"], system="低保审核系统"),
        access("a-3", subjects=[ALICE], accessed_at="2026-07-01T00:00:00+08:00"),  # after
        access("a-4"),  # names nobody
        access("a-5", subjects=[CAROL], accessed_at="2026-06-30T23:59:59+08:00"),
    ]
    reply = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json={"accesses": batch})
    assert reply.status_code in (200, 201), reply.text


def _lookup(api: Api, subject: str, role: Role = OFFICER, **period: str) -> Any:
    return api.call(
        "POST", "/subjects/accesses", role, json={"subject": subject, **PERIOD, **period}
    )


def _check_proofs(settings: Settings, found: list[dict[str, Any]]) -> None:
    reader = open_reader(settings)
    try:
        hash_fn = sm3 if reader.genesis().hash_algorithm == "sm3" else sha256
        for entry in found:
            proof = entry["inclusion_proof"]
            row = reader.row_at(entry["position"])
            assert row is not None
            leaf = leaf_hash(bytes(row[-1]) if isinstance(row[-1], bytes) else row[-1], hash_fn)
            assert base64.b64decode(proof["leaf_hash"]) == leaf
            verify_inclusion(
                leaf,
                proof["leaf_index"],
                proof["tree_size"],
                [base64.b64decode(p) for p in proof["proof"]],
                base64.b64decode(proof["root"]),
                hash_fn=hash_fn,
            )
    finally:
        reader.close()


def _verified(settings: Settings) -> None:
    reader = open_reader(settings)
    try:
        report = verify_ledger(reader, full=True)
        assert report.ok, report.failure
    finally:
        reader.close()


def test_who_read_my_records_then_erasure(
    api: Api, subject_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _record(api)
    head = api.head()
    reply = _lookup(api, ALICE.upper())
    assert reply.status_code == 200, reply.text
    alice = reply.json()["accesses"]
    assert [a["platform_event_id"] for a in alice] == ["a-1"]  # a-3 is after the period
    (first,) = alice
    assert first["department"] == USER and first["resource_code"] == "RK-0001"
    assert first["items"] == ["姓名"] and first["purpose"] == "最低生活保障资格核查"
    assert first["authorized"] is False and first["reasons"] == ["no_grant"]
    assert first["subject_erased"] is False
    # The answer names the department and system, never the civil servant (docs/privacy.md).
    assert "accessor_id" not in first and "client_address" not in first
    assert api.head() == head + 1  # the lookup itself is a ledger event
    bob = _lookup(api, BOB).json()["accesses"]
    assert [a["platform_event_id"] for a in bob] == ["a-1", "a-2"]
    assert bob[1]["system"] == "低保审核系统"
    carol = _lookup(api, CAROL).json()["accesses"]
    assert [a["platform_event_id"] for a in carol] == ["a-5"]  # the period's last second
    assert _lookup(api, "110000000000000000").json()["accesses"] == []
    assert [a["platform_event_id"] for a in _lookup(api, ALICE, to="2026-07-01").json()[
        "accesses"
    ]] == ["a-1", "a-3"]  # fmt: skip
    _check_proofs(subject_settings, alice + bob)
    head = api.head()
    letter = api.call(
        "POST", "/subjects/accesses/letter", OFFICER,
        json={"subject": BOB, **PERIOD, "reference": "网信查〔2026〕7号"},
    )  # fmt: skip
    assert letter.status_code == 200 and letter.headers["content-type"] == "application/pdf"
    assert letter.content.startswith(b"%PDF") and api.head() == head + 1
    text = letter_html(BOB, _lookup(api, BOB).json())
    assert "个人信息查阅答复函" in text and "共有 2 次访问" in text and "低保审核系统" in text
    assert BOB not in text and mask(BOB) in text

    # Who may ask, and bad input: 4xx, ledger unchanged.
    head = api.head()
    assert _lookup(api, ALICE, Role.AUDITOR).status_code == 403
    assert _lookup(api, ALICE, to="2026-05-01").status_code == 422
    erase = {
        "subject": ALICE,
        "reason": "处理目的已实现",
        "legal_basis": "个人信息保护法第四十七条",
    }
    assert api.call("POST", "/subjects/erase", Role.AUDITOR, json=erase).status_code == 403
    unknown = api.call("POST", "/subjects/erase", OFFICER, json={**erase, "subject": "X1"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_subject"
    assert api.head() == head

    # A key-table backup taken before the erasure.
    database = Database(subject_settings)
    try:
        backup = SubjectKeys(database).all_rows()
    finally:
        database.close()

    reply = api.call("POST", "/subjects/erase", OFFICER, json=erase)
    assert reply.status_code == 200, reply.text
    assert reply.json()["keys_destroyed"] == 1
    again = api.call("POST", "/subjects/erase", OFFICER, json=erase)
    assert again.status_code == 409 and again.json()["error"] == "subject_already_erased"

    after = _lookup(api, ALICE).json()
    assert after["subject_erased"] is True
    (erased,) = after["accesses"]
    assert erased["subject_erased"] is True and erased["subject"] == "[已删除 erased]"
    assert erased["position"] == first["position"] and erased["department"] == USER
    assert [a["subject_erased"] for a in _lookup(api, BOB).json()["accesses"]] == [False, False]
    _verified(subject_settings)
    _check_proofs(subject_settings, after["accesses"])
    run_projections(subject_settings)  # the views take the new kinds in their stride
    # The access fact stays for the audit, the civil servant's fields with it.
    fact = api.call("GET", "/accesses/a-1", Role.AUDITOR)
    assert fact.status_code == 200, fact.text
    assert "minzheng-clerk-07" in fact.text and "10.12.0.31" in fact.text
    proof = api.call("GET", f"/proofs/inclusion?position={first['position']}", OFFICER)
    assert proof.status_code == 200

    # Restore the pre-erasure backup: the key is back until the erasure log is re-applied.
    database = Database(subject_settings)
    try:
        SubjectKeys(database).restore(backup)
    finally:
        database.close()
    assert _lookup(api, ALICE).json()["subject_erased"] is False
    ledger = open_ledger(subject_settings)
    try:
        assert ledger.reapply_erasures() == 1
        assert ledger.reapply_erasures() == 0
    finally:
        ledger.close()
    assert _lookup(api, ALICE).json()["accesses"][0]["subject_erased"] is True
    _verified(subject_settings)

    # No identifier in clear anywhere the ledger keeps bytes.
    exported = io.StringIO()
    reader = open_reader(subject_settings)
    try:
        export_jsonl(reader, exported)
    finally:
        reader.close()
    metrics = api.client.get("/metrics").text
    logs = caplog.text
    stored = _database_bytes(subject_settings)
    for identifier in (ALICE, normalise(ALICE), BOB, CAROL):
        assert identifier not in exported.getvalue()
        assert identifier not in metrics
        assert identifier not in logs
        assert identifier.encode() not in stored


@pytest.mark.parametrize(
    "subjects",
    [[ALICE, ALICE], [""], ["   "], ["a\u0000b"], ["x" * 513], "11010519491231002X", [12]],
)
def test_bad_subjects_are_refused_and_write_nothing(api: Api, subjects: object) -> None:
    _record(api)
    head = api.head()
    body = {"accesses": [access("bad-1", subjects=subjects)]}
    reply = api.call("POST", "/accesses/batch", Role.EXCHANGE_PLATFORM, json=body)
    assert reply.status_code == 422, reply.text
    assert set(reply.json()) >= {"error", "detail"}
    assert ALICE not in reply.text
    assert api.head() == head


def test_without_an_index_secret_subjects_are_refused(settings: Settings) -> None:
    init_ledger(settings)  # no GOVLEDGER_SUBJECT_INDEX_KEY_FILE, none at the default place
    keys = open_api_keys(settings)
    with TestClient(create_app(settings)) as client:
        plain = Api(client, keys)
        _record_plain = plain.call(
            "POST", "/accesses", Role.EXCHANGE_PLATFORM, json=access("n-1", subjects=[ALICE])
        )
        assert _record_plain.status_code == 422
        assert _record_plain.json()["error"] == "subjects_unavailable"
        lookup = plain.call(
            "POST", "/subjects/accesses", OFFICER, json={"subject": ALICE, **PERIOD}
        )
        assert lookup.status_code == 422 and lookup.json()["error"] == "subjects_unavailable"
        head = plain.head()
        assert plain.call(
            "POST", "/accesses", Role.EXCHANGE_PLATFORM, json=access("n-2")
        ).status_code in (200, 201)
        assert plain.head() == head + 1  # accesses without subjects are unaffected
    keys.close()


def test_the_service_brings_the_access_index_up_between_lookups(
    app: GovLedger, vault_settings: Settings
) -> None:
    """Ingest leaves the access index behind (ledger-format §9.1); the service's background
    round brings it up to the chain, so a lookup later reads only what came since."""
    app.record_accesses(PLATFORM, _judged(app, [access_report("b-1", subjects=(ALICE,))]))
    vault = app.subjects
    assert vault is not None

    def index() -> tuple[int, list[str]]:
        database = Database(vault_settings)
        try:
            keys = SubjectKeys(database)
            kids = [row.key_id for row in keys.rows_of(vault.blind(ALICE))]
            return keys.head(), keys.accesses_of(kids)
        finally:
            database.close()

    assert index() == (0, [])
    stop = threading.Event()
    stop.set()  # one round, then stop
    _issue_until(vault_settings, stop)
    assert index() == (app.recorder.max_notification_id(), [app.access("b-1").id.hex])
