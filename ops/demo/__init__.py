"""``govledger demo``: a year (2025) of the zone's data sharing, back-filled through ``GovLedger``.

Why: a newcomer, a reviewer or a test needs a ledger that looks like the zone
of 苏高新办〔2019〕2号 — its departments, their systems, the catalogue, requests
and grants, filings, fund decisions and the exchange platform's accesses — and
that holds violations at a *known* rate, so every projection and report can be
checked against what the demo says it planted. Every command goes through the
application (the only writer); every access is judged by
``security.access.evaluate_access`` before it is recorded, and the demo refuses
to go on if a verdict differs from what it planted.

Deterministic: one ``random.Random(seed)`` draws everything, in a fixed order;
the same seed gives the same facts and the same summary. Aggregate ids (uuid4)
are the exception, so the summary never shows them.

Every fact carries its business time (docs/facts.md §1), in China Standard
Time: the year is recorded late, as an operator back-filling history would,
and the events' own ``timestamp`` is when the load ran. The year is a past
one, so no fact is dated in the future.

Modules, one concern each: ``zone`` (the data), ``planning`` (the year drawn
from the RNG), ``registration`` (the set-up's commands), ``actions`` (the year's
requests, filings and funds), ``loading`` (the year walked, accesses judged and
recorded), ``obligations`` and ``oversight`` (the issue-14 facts and plants),
``follow_up`` (rectifications and audit suggestions), ``summary``, ``cli``.
"""

from ops.demo.cli import register, write_demo_tokens
from ops.demo.loading import DemoError, load_demo
from ops.demo.summary import DemoSummary
from ops.demo.zone import DEMO_YEAR, DEPARTMENTS

__all__ = [
    "DEMO_YEAR",
    "DEPARTMENTS",
    "DemoError",
    "DemoSummary",
    "load_demo",
    "register",
    "write_demo_tokens",
]
