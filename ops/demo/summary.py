"""What the demo put in the ledger, by kind, and the planted violations it promises."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ops.demo.zone import DEMO_YEAR


@dataclass(frozen=True)
class DemoSummary:
    """What the demo put in the ledger, by kind; ``violations`` are the planted ones.

    ``violations`` counts unauthorized accesses by reason code (each planted access
    has exactly one reason); ``examples`` names one platform event id per reason.
    ``findings`` counts the non-access conditions planted, by domain.md rule id.
    ``requests``: ``approved`` grants still in force or run out, ``revoked`` ones apart;
    ``rejected`` includes the requests for not_shareable resources; ``unanswered`` are
    past their response deadline at the year's end (S6), ``pending`` are not yet.
    """

    seed: int
    counts: dict[str, int]
    systems: dict[str, int]
    resources: dict[str, int]
    requests: dict[str, int]
    filings: dict[str, int]
    funds: dict[str, int]
    accesses: dict[str, int]
    violations: dict[str, int]
    anomalies: dict[str, int]
    findings: dict[str, int]
    examples: dict[str, str] = field(default_factory=dict)
    # Issues 14, 15 (obligations.py, oversight.py, follow_up.py): rule -> the subjects of
    # its planted findings.
    planted: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """A few lines for people."""
        lines = [f"govledger demo (seed {self.seed}, year {DEMO_YEAR})"]
        for name in (
            "counts",
            "systems",
            "resources",
            "requests",
            "filings",
            "funds",
            "accesses",
            "violations",
            "anomalies",
            "findings",
        ):
            values: dict[str, int] = getattr(self, name)
            lines.append(f"  {name:<10} " + ", ".join(f"{k} {v}" for k, v in values.items()))
        for rule, subjects in self.planted.items():
            lines.append(f"  planted {rule:<4} " + ", ".join(subjects))
        return "\n".join(lines)


def summary_of(
    tally: dict[str, Counter[str]], examples: dict[str, str], seed: int, events: int
) -> DemoSummary:
    """The summary of a load's tally; ``events``: what the ledger grew by."""
    tally["counts"]["accesses"] = tally["accesses"]["recorded"]
    tally["counts"]["ledger_events"] = events

    def part(name: str) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(tally[name].items())}

    return DemoSummary(
        seed=seed,
        counts=part("counts"),
        systems=part("systems"),
        resources=part("resources"),
        requests=part("requests"),
        filings=part("filings"),
        funds=part("funds"),
        accesses=part("accesses"),
        violations=part("violations"),
        anomalies=part("anomalies"),
        findings=part("findings"),
        examples=dict(sorted(examples.items())),
        planted={
            name.split(":", 1)[1]: sorted(tally[name])
            for name in sorted(tally)
            if name.startswith("planted:")
        },
    )
