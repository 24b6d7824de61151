"""No English in the Chinese reports (issue #15 "Form"): every report on a demo-sized zone.

Each kind is rendered for the demo year; its text fields (the JSON's) and the HTML the PDF
is printed from are read word by word. An ASCII word passes only if it is a code or an id
(it has a digit, it is a department code, or an actor id built on one), hexadecimal (a
hash), a command an auditor types (in ``code`` or backticks), or in the allow-list below.
``weekly``, ``om_funds``, ``medium`` or an English finding detail fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.store.connect import application_env, init_ledger
from ops.demo import DEMO_YEAR, load_demo
from projections.query import open_views
from projections.reports import Format, ReportKind, generate, render

# Format names the reports refer the reader to, the national standards' prefix (GB/T),
# and a word inside a demo project's name (ledger text, shown as recorded).
ALLOWED = frozenset({"JSON", "XLSX", "PDF", "HTML", "GB", "App"})
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
COMMANDS = re.compile(r"`[^`]*`|<code>.*?</code>", re.S)
ANCHOR_KEYS = frozenset({"anchor", "kind"})  # machine fields, not text a reader reads


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("language")
    settings = Settings(database_url=f"sqlite:///{root / 'ledger.db'}", state_dir=str(root / "s"))
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        load_demo(app, accesses=700, seed=7, violation_rate=0.3, requests=300)
    finally:
        app.close()
    return settings


@pytest.fixture(scope="module")
def codes(demo: Settings) -> frozenset[str]:
    with open_views(demo, catch_up=True) as views:
        return frozenset(views.zone(views.moment()).departments)


def english(text: str, codes: frozenset[str]) -> set[str]:
    found = set()
    for match in WORD.findall(COMMANDS.sub(" ", text)):
        word = match.rstrip(".-")
        parts = set(word.split("-"))
        if (
            len(word) < 2
            or any(c.isdigit() for c in word)
            or word in ALLOWED
            or parts & codes
            or word.startswith("svc-")
            or re.fullmatch(r"[0-9a-f]{6,}", word)
        ):
            continue
        found.add(word)
    return found


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key not in ANCHOR_KEYS:
                yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)
    elif isinstance(value, str):
        yield value


def html_text(html: str) -> str:
    html = re.sub(r"<(style|svg|script)\b.*?</\1>", " ", html, flags=re.S)
    html = COMMANDS.sub(" ", html)
    return re.sub(r"<[^>]+>|&#?\w+;", " ", html)


@pytest.mark.parametrize("kind", list(ReportKind))
def test_no_english_word_in_a_report(
    demo: Settings, codes: frozenset[str], kind: ReportKind
) -> None:
    report = generate(demo, kind, DEMO_YEAR, catch_up=True)
    fields = orjson.loads(render(report, Format.JSON))
    in_json = {w for text in strings(fields) for w in english(text, codes)}
    in_html = english(html_text(render(report, Format.HTML).decode()), codes)
    assert (in_json, in_html) == (set(), set())


def test_the_checker_catches_what_the_issue_names(codes: frozenset[str]) -> None:
    leaked = "更新周期 weekly；real_time；风险 medium；om_funds granted to 系统"
    assert english(leaked, codes) == {"weekly", "real_time", "medium", "om_funds", "granted", "to"}
    kept = "GX-PSB-001 区公安局（psb）ndrc-staff-06 hrss-cio `govledger verify` sha256 JSON"
    assert english(kept, codes) == set()
