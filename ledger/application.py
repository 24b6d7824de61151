"""``GovLedger``: the commands that write the ledger, and queries by id.

Every command takes the :class:`Actor` who asks, checks who may act (roles,
department), loads what it needs, lets the aggregates enforce their invariants
and saves once. A refused command saves nothing. Every command may carry its
business time (when the thing happened, docs/facts.md §1); every value it
would write is held to the input contract (ledger/domain/bounds.py).

The commands live in ``ledger/commands/``, one module per concern (shared
rules, registry, sharing and the calendar, accesses, funding); ``GovLedger``
is all of them.

Configuration comes in through the constructor only: the ``env`` mapping for
the persistence layer, the time bounds, the fallback deadline policy and a
clock. Unlike the library's default, ``os.environ`` is never read here
(architecture rule: configuration is read once, in one place, and passed
down). :func:`open_ledger` builds one from the settings and records the
configured calendar (docs/configuration.md).
"""

from __future__ import annotations

from ledger.commands.accesses import AccessBatchResult
from ledger.commands.base import DEFAULT_DUPLICATE_RETRIES, utc_now
from ledger.commands.declarations import DeclarationCommands
from ledger.commands.refresh import RefreshCommands
from ledger.commands.report_issue import ReportIssueCommands
from ledger.commands.subjects import SubjectCommands

__all__ = ["DEFAULT_DUPLICATE_RETRIES", "AccessBatchResult", "GovLedger", "utc_now"]


class GovLedger(RefreshCommands, ReportIssueCommands, DeclarationCommands, SubjectCommands):
    """The govledger application over eventsourcing 9.5 (one save = one transaction)."""
