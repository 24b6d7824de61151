"""docs/facts.md §7 and docs/rules-inputs.md name every issue-14 kind with its business time."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from eventsourcing.domain import Aggregate

from ledger.domain import obligations, refresh

DOCS = Path(__file__).resolve().parents[3] / "docs"
BUSINESS_TIME = {
    "refreshed_at",
    "assessed_at",
    "approved_at",
    "withdrawn_at",
    "submitted_at",
    "occurred_at",
    "reported_at",
    "evaluated_at",
    "revised_at",
    "raised_at",
    "resolved_at",
}


def _kinds() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for module in (refresh, obligations):
        for aggregate in vars(module).values():
            if not (isinstance(aggregate, type) and issubclass(aggregate, Aggregate)):
                continue
            if aggregate.__module__ != module.__name__:
                continue
            for name, event_cls in vars(aggregate).items():
                if name in {"Event", "Created"} or not isinstance(event_cls, type):
                    continue
                if issubclass(event_cls, Aggregate.Event):
                    params = list(inspect.signature(event_cls.__init__).parameters)
                    found[f"{aggregate.__name__}.{name}"] = params[params.index("actor") :]
    return found


def test_every_kind_is_documented_with_its_fields_and_business_time() -> None:
    facts = (DOCS / "facts.md").read_text(encoding="utf-8")
    section = facts[facts.index("## 7.") :]
    inputs = (DOCS / "rules-inputs.md").read_text(encoding="utf-8")
    kinds = _kinds()
    assert len(kinds) == 13
    for topic, fields in kinds.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{topic}`"))
        for name in fields[1:]:  # after actor
            assert f"`{name}`" in row, f"{topic}: {name} not in facts.md §7"
        (time_field,) = [name for name in fields if name in BUSINESS_TIME]
        assert re.search(rf"\| `{re.escape(topic)}` \| `{time_field}` \|", inputs), topic
