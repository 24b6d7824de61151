"""``govledger projections run|rebuild|status``, ``govledger view`` and ``govledger anomaly``.

Wiring (ops/cli.py :func:`build_parser`): ``register(sub)``. Handlers follow
ops/cli.py: ``(settings, args) -> int``; errors are :class:`LedgerError` (one
line, exit 2). ``projections run --follow`` is the projection worker: it keeps
the views at the ledger's head until SIGTERM or Ctrl-C (docs/projections.md).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.actor import Actor, Role
from ledger.domain.review import ReviewAction
from ledger.errors import LedgerError
from ledger.store.connect import application_env, ledger_head
from ops.report_schedule import ReportSchedule
from ops.terminal import EXIT_FAILED, EXIT_OK, progress_bar
from projections.query import Moment, Views, as_json, open_views
from projections.runner import open_projector, positions_of, tracked_position
from projections.store import ViewStore
from projections.view_check import REBUILD_HINT, check_views

__all__ = ["VIEW_NAMES", "register"]

VIEW_NAMES = (
    "audit-trail",
    "rights-register",
    "findings",
    "anomalies",
    "inventory",
    "access-counts",
    "zone",
)


@contextmanager
def _bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    with progress_bar(max(total, 0), description) as advance:
        yield advance


# ---------------------------------------------------------------- projections


def _lag(settings: Settings) -> int:
    store = ViewStore(settings)
    try:
        position = tracked_position(store) if store.has_table("tracking") else 0
    finally:
        store.close()
    return max(0, ledger_head(settings) - position)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    if args.follow:
        return _follow(settings)
    with _bar(_lag(settings), "project") as advance, open_projector(settings) as projector:
        done = projector.run(progress=advance)
        position = tracked_position(projector.store)
    print(f"projected {done} rows; the views are at position {position}")
    return EXIT_OK


def _follow(settings: Settings) -> int:
    """The worker: poll every ``projection_follow_seconds`` until SIGTERM / SIGINT."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print("projection worker: following the ledger (SIGTERM to stop)", file=sys.stderr)
    schedule = ReportSchedule(settings)  # issues the reports due (docs/configuration.md)

    def after_round(seconds: float) -> None:
        schedule.tick_safely()
        stop.wait(seconds)

    with open_projector(settings) as projector:
        total = projector.follow(stop.is_set, sleep=after_round)
        position = tracked_position(projector.store)
    print(f"projection worker stopped at position {position} ({total} rows projected)")
    return EXIT_OK


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    with _bar(ledger_head(settings), "rebuild") as advance, open_projector(settings) as projector:
        done = projector.rebuild(progress=advance)
    print(f"rebuilt the views from position 0: {done} rows projected")
    return EXIT_OK


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    """The served views against the ledger folded afresh (docs/operations.md §Views that
    differ from the ledger): what every report issue does first, on demand."""
    position = args.at if args.at is not None else tracked_position_of(settings)
    with _bar(position, "check") as advance:
        checked, mismatch = check_views(settings, position, progress=advance)
    if mismatch is not None:
        print(f"the views differ from the ledger at position {checked}: {mismatch}; "
              + REBUILD_HINT.replace("not issued; ", ""), file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    print(f"the views match the ledger at position {checked}")
    return EXIT_OK


def tracked_position_of(settings: Settings) -> int:
    """How far the views have folded the ledger (0: no views yet)."""
    store = ViewStore(settings, readonly=True)
    try:
        return tracked_position(store) if store.has_table("tracking") else 0
    finally:
        store.close()


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    store = ViewStore(settings)
    try:
        positions = positions_of(store) if store.has_table("tracking") else {}
    finally:
        store.close()
    head = ledger_head(settings)
    body = {
        "head": head,
        "projections": {
            name: {"position": position, "lag": max(0, head - position)}
            for name, position in positions.items()
        },
    }
    if args.json:
        print(json.dumps(body))
    else:
        print(f"ledger head {head}")
        for name, state in body["projections"].items():  # type: ignore[attr-defined]
            print(f"  {name:<12} position {state['position']:>10}  lag {state['lag']}")
    return EXIT_OK


# ---------------------------------------------------------------- view


def cmd_view(settings: Settings, args: argparse.Namespace) -> int:
    """A read model; reading never writes unless ``--catch-up`` asks (docs/projections.md)."""
    with open_views(settings, catch_up=args.catch_up) as views:
        try:
            moment = views.moment(as_of=args.as_of, at=args.at)
        except ValueError as e:
            raise LedgerError(str(e)) from None
        result = _answer(views, moment, args)
    if args.json:
        print(json.dumps(as_json(result), ensure_ascii=False, indent=1))
    else:
        _print_text(args.name, moment, result)
    return EXIT_OK


def _answer(views: Views, m: Moment, args: argparse.Namespace) -> Any:
    if args.name == "access-counts" and (args.start is None or args.end is None):
        raise LedgerError("access-counts needs --start and --end (YYYY-MM-DD)")
    answers: dict[str, Callable[[], Any]] = {
        "audit-trail": lambda: views.audit_trail(
            m,
            entity=args.entity,
            actor=args.actor,
            department=args.department,
            resource=args.resource,
            start=args.start,
            end=args.end,
            limit=args.limit,
        ),
        "rights-register": lambda: views.rights_register(m, department=args.department),
        "findings": lambda: views.findings(m, rule=args.rule, department=args.department),
        "anomalies": lambda: views.anomalies(m, status=args.status, department=args.department),
        "inventory": lambda: views.inventory(m, department=args.department),
        "access-counts": lambda: views.access_counts(m, start=args.start, end=args.end),
        "zone": lambda: views.zone(m),
    }
    return answers[args.name]()


def _print_text(name: str, m: Moment, result: Any) -> None:
    when = f"as of {m.as_of}" if m.as_of else f"at position {m.position}"
    print(f"{name} {when} (reference time {m.reference_time.isoformat()})")
    if name == "audit-trail":
        for line in result:
            print(f"{line.position:>9} {line.hash[:16]} {line.time:%Y-%m-%d %H:%M} "
                  f"{line.actor_id} {line.summary}")  # fmt: skip
    elif name == "findings":
        for f in result:
            print(f"{f.rule:<4} {f.severity:<8} {f.time:%Y-%m-%d} {f.department or '-':<16} "
                  f"{f.detail}  positions {list(f.positions)}")  # fmt: skip
    elif name == "anomalies":
        for a in result:
            print(f"{a.anomaly_id} {a.kind:<22} {a.score:.2f} {a.severity:<6} {a.status:<12} "
                  f"{a.detail}  positions {list(a.positions)[:10]}")  # fmt: skip
    elif name == "rights-register":
        for r in result:
            holders = ", ".join(f"{u.holder_department}({len(u.items)})" for u in r.use_rights)
            print(f"{r.resource_code} {r.resource_name} owner={r.owner or '-'} "
                  f"controller={r.controller or '-'} use={holders or '-'}")  # fmt: skip
    else:
        print(json.dumps(as_json(result), ensure_ascii=False, indent=1))


# ---------------------------------------------------------------- anomaly review


def cmd_anomaly_review(settings: Settings, args: argparse.Namespace) -> int:
    """A security officer's review from the command line (the same command as the API)."""
    with open_views(settings) as views:
        anomaly = views.anomaly(args.anomaly_id)
    if anomaly is None:
        raise LedgerError(f"no anomaly {args.anomaly_id}")
    actor = Actor(args.actor_id, Role.SECURITY_OFFICER, None)
    app = GovLedger(env=application_env(settings, create=False))
    try:
        app.review_anomaly(
            actor,
            args.anomaly_id,
            ReviewAction(args.action),
            args.comment,
            severity=anomaly.severity,
        )
    finally:
        app.close()
    print(f"anomaly {args.anomaly_id}: {args.action} recorded")
    return EXIT_OK


# ---------------------------------------------------------------- parser


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _at(text: str) -> int:
    from ops import argtypes  # noqa: PLC0415

    return argtypes.whole_number(text, minimum=0)


def register(subparsers: Any) -> None:
    """Add ``projections``, ``view`` and ``anomaly`` to the top-level commands."""
    p = subparsers.add_parser("projections", help="read models: run, rebuild, status")
    actions = p.add_subparsers(dest="projections_command", required=True)
    run = actions.add_parser("run", help="bring the views to the ledger's head")
    run.add_argument("--follow", action="store_true", help="keep following (projection worker)")
    run.set_defaults(func=cmd_run)
    actions.add_parser("rebuild", help="drop the views and replay from position 0").set_defaults(
        func=cmd_rebuild
    )
    check = actions.add_parser(
        "check", help="compare the views with the ledger folded afresh (as report issue does)"
    )
    check.add_argument("--at", type=_at, help="at this ledger position (default: the views')")
    check.set_defaults(func=cmd_check)
    status = actions.add_parser("status", help="each projection's position and lag")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    p = subparsers.add_parser("view", help="a read model as of a date or a position")
    p.add_argument("name", choices=VIEW_NAMES)
    p.add_argument("--as-of", type=_day, help="domain date YYYY-MM-DD (China Standard Time)")
    p.add_argument("--at", type=_at, help="ledger position (with --as-of: the date as the "
                   "ledger stood at the position)")  # fmt: skip
    p.add_argument("--json", action="store_true")
    p.add_argument("--entity", help="audit-trail: aggregate id")
    p.add_argument("--actor", help="audit-trail: actor id")
    p.add_argument("--resource", help="audit-trail: catalogue code (its events, requests, reads)")
    p.add_argument("--department", help="department code")
    p.add_argument("--start", type=_day, help="period start YYYY-MM-DD")
    p.add_argument("--end", type=_day, help="period end YYYY-MM-DD")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--rule", help="findings: rule id (S1 … L2)")
    p.add_argument("--status", help="anomalies: open | acknowledged | dismissed | escalated")
    p.add_argument(
        "--catch-up",
        action="store_true",
        help="first project what the ledger added (writes the views, as `projections run`); "
        "without it the view only reads what the projection worker wrote",
    )
    p.set_defaults(func=cmd_view)

    p = subparsers.add_parser("anomaly", help="review an access anomaly (security officer)")
    actions = p.add_subparsers(dest="anomaly_command", required=True)
    review = actions.add_parser("review", help="acknowledge, dismiss or escalate, with comment")
    review.add_argument("anomaly_id")
    review.add_argument("--action", required=True, choices=[a.value for a in ReviewAction])
    review.add_argument("--comment", required=True)
    review.add_argument("--actor-id", required=True, help="the reviewing security officer")
    review.set_defaults(func=cmd_anomaly_review)
