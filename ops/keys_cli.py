"""``govledger keys create|list|revoke``: API keys for services and people.

The token of a new key is printed once, alone, on stdout (so
``TOKEN=$(govledger keys create …)`` captures exactly it); everything else
goes to stderr. No other command ever prints a token or its hash: the
database holds only the hash. A key's department must be registered in the
ledger: a key for a department that does not exist would act for nobody. On
PostgreSQL these commands run as the key-management role (``govledger_keys``,
docs/install.md §Database and roles), which may read the chain and write the key
table and nothing else. ``keys public`` is reserved for checkpoint signing keys and
is not defined here.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.domain.errors import DomainError
from ledger.errors import LedgerError
from ledger.store.connect import application_env
from security.apikeys import ApiKeyRecord, open_api_keys
from security.principal import check_department, parse_role

EXIT_OK = 0


def require_registered_department(settings: Settings, code: str) -> None:
    """Refuse a department code the ledger has never registered (read-only, never creates)."""
    app = GovLedger(env=application_env(settings, create=False))
    try:
        app.department(code)
    except DomainError:
        raise LedgerError(
            f"no department {code!r} is registered in the ledger: register it first "
            "(POST /api/v1/departments), then create its keys"
        ) from None
    finally:
        app.close()


def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    check_department(parse_role(args.role), args.department)  # before reading the ledger
    if args.department is not None:
        require_registered_department(settings, args.department)
    with open_api_keys(settings) as keys:
        issued = keys.create(args.role, args.department, args.label or "")
    record = issued.record
    where = f" of department {record.department_code}" if record.department_code else ""
    print(
        f"created API key {record.key_id} for role {record.role.value}{where}; "
        "the token below is shown once and cannot be recovered",
        file=sys.stderr,
    )
    print(issued.token)
    return EXIT_OK


def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    with open_api_keys(settings) as keys:
        records = keys.list_keys()
    if args.json:
        print(json.dumps([r.to_json() for r in records], ensure_ascii=False))
    else:
        print(format_keys(records))
    return EXIT_OK


def cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    with open_api_keys(settings) as keys:
        record = keys.revoke(args.key_id)
    assert record.revoked_at is not None
    print(f"revoked API key {record.key_id} at {record.revoked_at.isoformat()}")
    return EXIT_OK


def format_keys(records: list[ApiKeyRecord]) -> str:
    """A plain table: id, state, role, department, created, label."""
    if not records:
        return "no API keys"
    lines = []
    for r in records:
        state = "active" if r.active else "revoked"
        lines.append(
            f"{r.key_id}  {state:<7}  {r.role.value:<18}  {r.department_code or '-':<12}  "
            f"{r.created_at.isoformat(timespec='seconds')}  {r.label}"
        )
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction[Any]) -> argparse._SubParsersAction[Any]:
    """Add ``keys`` with create, list and revoke; returns the ``keys`` group for more."""
    keys = subparsers.add_parser("keys", help="API keys: create, list, revoke")
    sub: argparse._SubParsersAction[Any] = keys.add_subparsers(dest="keys_command", required=True)

    roles = ", ".join(r.value for r in Role)
    p = sub.add_parser("create", help="create a key; prints its token once on stdout")
    p.add_argument("--role", required=True, help=f"one of: {roles}")
    p.add_argument("--department", help="department code (department_clerk, data_provider, cio)")
    p.add_argument("--label", help="who or what the key is for")
    p.set_defaults(func=cmd_keys_create)

    p = sub.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=cmd_keys_list)

    p = sub.add_parser("revoke", help="revoke a key; effective at the next request")
    p.add_argument("key_id", metavar="KEY_ID", help="the key id (16 hex digits), not the token")
    p.set_defaults(func=cmd_keys_revoke)
    return sub
