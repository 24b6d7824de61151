"""No English on the console's Chinese pages (issue #15 "Form"): every page on a demo zone.

Like tests/projections/reports/test_language.py (whose word checker this uses): each page
is fetched with an auditor's session (the role that reads every register) on the small
demo zone of conftest.py, its visible text read word by word; an ASCII word passes only
if it is a code, an id, a hash, a command, or in the allow-list. The ledger's own text
(names as recorded) is shown as recorded.
"""

from __future__ import annotations

import re

import pytest

from ledger.domain.actor import Role
from projections.query import open_views
from tests.api.console.conftest import Console
from tests.projections.reports.test_language import english, html_text

# Words of the console's chrome that are names, not English prose: the product, the
# key's prefix a user pastes, the units and formats offered for download.
ALLOWED = frozenset({"RFC", "govledger", "CSV", "XLSX", "JSON", "PDF", "HTML", "SHA", "API"})
PAGES = (
    "/console/ledger",
    "/console/ledger/proof?position=1",
    "/console/rectifications",
    "/console/report-check",
    "/console/rights",
    "/console/audit",
    "/console/inventory",
    "/console/departments",
    "/console/findings",
    "/console/findings?kind=access",
    "/console/findings?kind=annual_report",
    "/console/reports",
    "/console/anomalies",
    "/console/anomalies?status=",
)
DETAIL = re.compile(r'href="(/console/anomalies/[0-9a-f]+)"')


def _leaks(text: str, codes: frozenset[str]) -> set[str]:
    # Not prose: the head, machine text shown as is (a signed note, a proof), and the
    # signed-in user's own name (the key's label).
    body = re.sub(r"<(head|pre|code)\b.*?</\1>", " ", text, flags=re.S)
    body = re.sub(r'<span class="subject"[^>]*>.*?</span>', " ", body, flags=re.S)
    return {w for w in english(html_text(body), codes) if w not in ALLOWED}


@pytest.mark.slow
def test_no_english_word_on_a_console_page(demo_console: Console) -> None:
    with open_views(demo_console.settings) as views:
        codes = frozenset(views.zone(views.moment()).departments)
    demo_console.login(Role.AUDITOR)
    found: dict[str, set[str]] = {}
    pages = list(PAGES)
    queue = demo_console.client.get("/console/anomalies?status=").text
    pages += DETAIL.findall(queue)[:1]
    for path in pages:
        page = demo_console.client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        leaks = _leaks(page.text, codes)
        if leaks:
            found[path] = leaks
    assert found == {}, "\n".join(f"{p}: {sorted(w)}" for p, w in found.items())
