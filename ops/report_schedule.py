"""Scheduled issuance by the projection worker (docs/configuration.md §Scheduled issuance).

Issue 15: the annual report (政务信息资源共享年度报告) is issued when the year ends,
the risk report (条例 第三十三条) on a day the deployment sets, each for the year just
ended (China Standard Time) and never an older one. Issuing is what ``govledger
report KIND --issue`` does (ledger/commands/report_issue.py): the rendered file's
SHA-256 with kind, year and as-of position, recorded by the kind's issuer role
(ops/report_verify_cli.py ``ISSUER_OF``), and the file is kept under
``<state_dir>/issued/``. A report of that kind and year already issued — by the
worker before a restart, or by hand — is not issued again: the ledger is asked only
when a report is due and not yet known to be issued. The clock is injected, so a test
drives the schedule without waiting. Both are off unless set: issuing is a decision
of the deployment, not of a default. Before anything is written or recorded, the views
the report was built from are checked against the ledger (projections/view_check.py,
docs/reports.md §Issued from checked views): views that differ are logged as an error
naming the table and row, and tried again an hour later (``RETRY_REFUSED``), not every round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from ledger.commands.base import utc_now
from ledger.config import Settings
from ledger.domain.actor import Actor, Role
from ledger.domain.calendar import CHINA_STANDARD_TIME
from ledger.domain.report_issue import ISSUED_TOPIC
from ledger.errors import LedgerError

logger = logging.getLogger(__name__)
ISSUER = {"risk": Role.SECURITY_OFFICER, "annual": Role.NDRC}  # as ISSUER_OF of the CLI
WORKER_ACTOR = "projection-worker"
_PAGE = 1000
# After views found not the ledger's, the next try waits this long: each one folds the
# whole ledger, and the views stay wrong until an operator rebuilds them.
RETRY_REFUSED = timedelta(hours=1)


@dataclass(frozen=True)
class Due:
    kind: str
    year: int


def risk_day(text: str) -> tuple[int, int] | None:
    """``report_issue_risk_on`` as (month, day): ``MM-DD``; empty is off."""
    if not text:
        return None
    try:
        moment = date.fromisoformat(f"2000-{text}")  # a leap year: 02-29 is a day
    except ValueError as e:
        raise LedgerError(f"report_issue_risk_on {text!r} is not MM-DD") from e
    return moment.month, moment.day


def due_reports(now: datetime, *, annual: bool, risk_on: tuple[int, int] | None) -> list[Due]:
    """What is due at ``now``: the year just ended's annual report (from 1 January, CST)
    and, from the set day on, its risk report."""
    today = now.astimezone(CHINA_STANDARD_TIME).date()
    ended = today.year - 1
    found = [Due("annual", ended)] if annual else []
    if risk_on is not None:
        month, day = risk_on
        if (month, day) == (2, 29) and not _leap(today.year):
            day = 28
        if today >= date(today.year, month, day):
            found.append(Due("risk", ended))
    return found


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class ReportSchedule:
    """The worker's issuer: :meth:`tick` after each projection round."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        formats: Sequence[str] = ("pdf",),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.formats = tuple(formats)
        self.annual = settings.report_issue_annual
        self.risk_on = risk_day(settings.report_issue_risk_on)
        self._done: set[Due] = set()
        self._refused_at: datetime | None = None  # views found not the ledger's, then

    @property
    def enabled(self) -> bool:
        return self.annual or self.risk_on is not None

    def tick(self) -> list[Due]:
        """Issue what is due and not yet issued; returns what this tick issued."""
        if not self.enabled:
            return []
        now = self.clock()
        due = due_reports(now, annual=self.annual, risk_on=self.risk_on)
        todo = [d for d in due if d not in self._done]
        if not todo or (self._refused_at and now - self._refused_at < RETRY_REFUSED):
            return []
        from projections.view_check import ViewsMismatchError  # noqa: PLC0415

        self._done |= self._issued_on_ledger()
        issued = []
        for d in (d for d in todo if d not in self._done):
            try:
                self._issue(d)
            except ViewsMismatchError:
                self._refused_at = now  # each try folds the ledger: not every round
                raise
            self._done.add(d)
            issued.append(d)
        self._refused_at = None
        return issued

    def tick_safely(self) -> None:
        """:meth:`tick` for the worker: a failure is logged and retried next round (views
        that differ from the ledger: in an hour), and never stops the projections."""
        try:
            for d in self.tick():
                logger.info("issued the %s report of %s", d.kind, d.year)
        except Exception as e:  # the worker's projections must go on; the next round retries
            from projections.view_check import ViewsMismatchError  # noqa: PLC0415

            if isinstance(e, ViewsMismatchError):
                logger.error("scheduled report issuance refused: %s (tried again in an hour)", e)
            else:
                logger.exception("scheduled report issuance failed; retried next round")

    def _issued_on_ledger(self) -> set[Due]:
        from ledger.configured import open_ledger  # noqa: PLC0415

        app = open_ledger(self.settings)
        found: set[Due] = set()
        try:
            start = 1
            while True:
                page = app.recorder.select_notifications(start, _PAGE, topics=[ISSUED_TOPIC])
                for notification in page:
                    event = app.mapper.to_domain_event(notification)
                    found.add(Due(str(getattr(event, "kind")), int(getattr(event, "year"))))  # noqa: B009
                if len(page) < _PAGE:
                    return found
                start = int(page[-1].id) + 1
        finally:
            app.close()

    def _issue(self, due: Due) -> None:
        from ledger.configured import open_ledger  # noqa: PLC0415
        from projections.reports import Format, ReportKind, generate, render  # noqa: PLC0415
        from projections.view_check import check_issue  # noqa: PLC0415

        report = generate(self.settings, ReportKind(due.kind), due.year, catch_up=True)
        check_issue(self.settings, report)  # nothing written nor recorded from other views
        files = [(fmt, render(report, Format(fmt))) for fmt in self.formats]
        folder = Path(self.settings.state_dir) / "issued"
        folder.mkdir(parents=True, exist_ok=True)
        for fmt, content in files:
            partial = folder / f"{due.kind}-{due.year}.{fmt}.partial"
            partial.write_bytes(content)
            partial.replace(folder / f"{due.kind}-{due.year}.{fmt}")
        app = open_ledger(self.settings)
        try:
            app.issue_report(
                Actor(WORKER_ACTOR, ISSUER[due.kind], None),
                kind=due.kind,
                year=due.year,
                as_of_position=report.anchor.position,
                files=files,
            )
        finally:
            app.close()
