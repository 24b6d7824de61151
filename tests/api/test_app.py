"""api/app.py: what the application factory's middleware keeps of a request."""

from __future__ import annotations

import base64
import json
import re

from ledger.domain.actor import Role
from tests.api.conftest import Api, access, setup_departments


def test_a_request_id_outside_printable_ascii_is_replaced_not_stored(api: Api) -> None:
    """The X-Request-ID goes into the actor record of the events a request writes: a tab, a C1
    control (U+0085) or other bytes there would bypass the input contract that refuses them in
    every other field, so such an id is replaced by a fresh one; a printable one is kept."""
    setup_departments(api)
    platform = api.headers(Role.EXCHANGE_PLATFORM)
    sent = {"keep": b"req-42 a/b", "tab": b"a\tb", "c1": b"a\x85b", "latin": b"\xff\xfe"}
    answered = {}
    for name, request_id in sent.items():
        reply = api.client.post(
            "/api/v1/accesses",
            headers={**platform, "X-Request-ID": request_id},  # type: ignore[dict-item]
            json=access(f"rid-{name}"),
        )
        assert reply.status_code == 201, reply.text
        answered[name] = reply.headers["X-Request-ID"]
    assert answered["keep"] == "req-42 a/b"
    for name in ("tab", "c1", "latin"):
        assert re.fullmatch(r"[0-9a-f]{32}", answered[name]), (name, answered[name])
    feed = api.call("GET", "/ledger/events", Role.AUDITOR, params={"limit": 1000})
    assert feed.status_code == 200, feed.text
    stored = {
        state["platform_event_id"]: state["actor"]["_data_"]["request_id"]
        for event in feed.json()["events"]
        if event["topic"].endswith("DataAccess.Recorded")
        for state in [json.loads(base64.b64decode(event["state"]))]
    }
    assert stored == {f"rid-{name}": answered[name] for name in sent}
