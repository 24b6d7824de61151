"""``govledger erase``: a data subject's erasure from the command line (issue 19).

The same command as ``POST /api/v1/subjects/erase`` (ledger/commands/subjects.py):
the erasure is recorded as a ``DataSubject.Erased`` event (who, why, the legal
basis), then the subject's keys are destroyed (docs/ledger-format.md §9.1,
docs/privacy.md). ``--subject -`` reads the identifier from standard input, so
it stays out of shell history and the process list. ``--reapply`` destroys
every key the erasure log names: run it after restoring a key-table backup.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ledger.config import Settings
from ledger.configured import open_ledger
from ledger.domain.actor import Actor, Role
from ledger.errors import LedgerError
from ops.terminal import EXIT_OK


def cmd_erase(settings: Settings, args: argparse.Namespace) -> int:
    app = open_ledger(settings, create=False)
    try:
        if app.subjects is None:
            raise LedgerError(
                "no subject index secret (GOVLEDGER_SUBJECT_INDEX_KEY_FILE; `govledger init`)"
            )
        if args.reapply:
            destroyed = app.reapply_erasures()
            print(f"erasure log re-applied: {destroyed} key(s) destroyed now")
            return EXIT_OK
        if not (args.subject and args.reason and args.legal_basis):
            raise LedgerError("erase needs --subject, --reason and --legal-basis (or --reapply)")
        subject = sys.stdin.readline().strip() if args.subject == "-" else args.subject
        actor = Actor(args.actor_id, Role.SECURITY_OFFICER, None)
        erasure = app.erase_subject(actor, subject, args.reason, args.legal_basis)
    finally:
        app.close()
    print(
        f"erasure {erasure.erasure_id} recorded: {erasure.keys_destroyed} key(s) destroyed; "
        "the subject's fields now read as erased"
    )
    return EXIT_OK


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "erase", help="erase a data subject's personal data (个人信息保护法 §47)"
    )
    p.add_argument("--subject", help="the identifier, or - to read it from standard input")
    p.add_argument("--reason", help="why (e.g. 处理目的已实现)")
    p.add_argument("--legal-basis", help="the legal basis (e.g. 个人信息保护法第四十七条)")
    p.add_argument("--actor-id", default="cli-security-officer", help="who erases (网信办)")
    p.add_argument("--reapply", action="store_true", help="destroy every key the erasure log names")
    p.set_defaults(func=cmd_erase)
