"""``govledger report risk|annual|audit --year Y --format html|pdf|xlsx|json -o FILE``.

Reports in Simplified Chinese over the kept views (docs/reports.md). They are read as
the projection worker keeps them; ``--catch-up`` first brings them to the ledger's head
(a write), with a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.errors import LedgerError
from ops import argtypes, report_verify_cli
from ops.terminal import EXIT_OK, progress_bar

REPORT_YEARS = range(2000, 2101)


def year(text: str) -> int:
    value = argtypes.whole_number(text, minimum=REPORT_YEARS.start)
    if value not in REPORT_YEARS:
        raise argparse.ArgumentTypeError(f"year must be within {REPORT_YEARS.start}-2100")
    return value


def register(sub: Any) -> None:
    from projections.reports import Format, ReportKind  # noqa: PLC0415

    p = sub.add_parser("report", help="write a report in Chinese: risk, annual or audit")
    p.add_argument(
        "kind",
        choices=[*(k.value for k in ReportKind), "verify"],
        help="risk 风险评估报告 · annual 年度报告 · audit 经费审计报告 · verify FILE (issued?)",
    )
    p.add_argument("--year", type=year, help="the year reported on (required but for verify)")
    p.add_argument("--format", dest="fmt", choices=[f.value for f in Format], default="html")
    p.add_argument("-o", "--output", help="file to write (required but for verify)")
    report_verify_cli.add_arguments(p)  # --issue, and verify's options
    p.add_argument("--at", type=argtypes.position, help="report as of ledger position N")
    p.add_argument(
        "--catch-up",
        action="store_true",
        help="bring the views to the ledger's head first (writes the views; else read as kept)",
    )
    p.set_defaults(func=cmd_report)


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.store.connect import ledger_head  # noqa: PLC0415
    from projections.reports import Format, ReportKind, generate, render  # noqa: PLC0415
    from projections.view_check import check_issue  # noqa: PLC0415

    if args.kind == "verify":
        return report_verify_cli.cmd_verify(settings, args)
    if args.year is None or args.output is None:
        raise LedgerError(f"report {args.kind} needs --year and -o/--output")
    target = Path(args.output)
    if target.is_dir():
        raise LedgerError(f"{args.output} is a directory")
    # The report reads the views as kept; ``--catch-up`` first brings them to the head
    # (a write: reading never writes, docs/projections.md §Opening and moments).
    if args.catch_up or args.issue:  # issuing records an event: a writer's report
        with progress_bar(ledger_head(settings), "views catch-up") as progress:
            report = generate(
                settings, ReportKind(args.kind), args.year, at=args.at,
                views_progress=progress, catch_up=True,
            )  # fmt: skip
    else:
        report = generate(settings, ReportKind(args.kind), args.year, at=args.at)
    if args.issue:
        # The views the report is built from must be the ledger's at its position: else one
        # line, exit 2, no file written and nothing recorded (docs/reports.md §Issued from
        # checked views). The file is rendered from the model checked here.
        check_issue(settings, report)
    content = render(report, Format(args.fmt))
    # Write beside, then rename: an interrupted write never looks like a report.
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_bytes(content)
        partial.replace(target)
    except OSError as e:
        raise LedgerError(f"cannot write {args.output}: {e.strerror}") from e
    finally:
        partial.unlink(missing_ok=True)
    print(
        f"{report.title}: {args.output} ({len(content):,} bytes, ledger position "
        f"{report.anchor.position})",
        file=sys.stderr,
    )
    if args.issue:
        print(report_verify_cli.issue_written(settings, args, content, report.anchor.position))
    return EXIT_OK
