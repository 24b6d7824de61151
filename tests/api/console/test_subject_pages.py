"""个人信息查阅 in the console (api/console/subject_pages.py): the officer's lookup lists
exactly the subject's accesses, masks the identifier, offers the letter, records the lookup;
other roles are refused (docs/privacy.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.configured import open_ledger
from ledger.domain.actor import Role
from ledger.store.connect import init_ledger
from ledger.subjects import prepare_subject_keys
from tests.api.console.conftest import Console
from tests.ledger.commands.test_access_batch import _judged, access_report
from tests.ledger.domain.builders import (
    NDRC,
    PLATFORM,
    PROVIDER,
    PROVIDER_DEPT,
    USER_DEPT,
    population_entry,
)

ALICE, BOB = "11010519491231002X", "320102198001010011"


@pytest.fixture
def console(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Console]:
    settings = sqlite_settings.with_overrides(subject_index_key_file=str(tmp_path / "i.key"))
    init_ledger(settings)
    prepare_subject_keys(settings)
    app = open_ledger(settings)
    try:
        app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
        app.register_department(NDRC, USER_DEPT, "区人社局")
        app.register_resource(PROVIDER, population_entry())
        reports = [
            access_report("p-1", subjects=(ALICE,)),
            access_report("p-2", subjects=(BOB,), system="养老待遇系统"),
        ]
        app.record_accesses(PLATFORM, _judged(app, reports))
    finally:
        app.close()
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield Console(client, settings)


def _form(console: Console, **fields: str) -> dict[str, str]:
    return {
        "csrf": console.csrf("/console/subjects"),
        "subject": ALICE,
        "start": "2026-03-01",
        "end": "2026-03-31",
        "reference": "网信查〔2026〕7号",
        **fields,
    }


def test_officer_answers_a_request(console: Console) -> None:
    console.login(Role.SECURITY_OFFICER)
    head = console.client.get("/api/v1/ledger").json()["head_position"]
    page = console.client.post("/console/subjects", data=_form(console))
    assert page.status_code == 200, page.text
    assert "共 1 次访问" in page.text and "社保核定系统" in page.text
    assert "养老待遇系统" not in page.text  # Bob's access, not Alice's
    assert ALICE not in page.text and "110105********002X" in page.text
    assert console.client.get("/api/v1/ledger").json()["head_position"] == head + 1
    letter = console.client.post("/console/subjects/letter", data=_form(console))
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    bad = console.client.post("/console/subjects", data=_form(console, end="2026-02-01"))
    assert bad.status_code == 422 and "起始日期晚于截止日期" in bad.text
    refused = console.client.post("/console/subjects", data={**_form(console), "csrf": "x"})
    assert refused.status_code in (400, 403)


def test_other_roles_are_refused(console: Console) -> None:
    console.login(Role.AUDITOR)
    assert console.client.get("/console/subjects").status_code == 403
