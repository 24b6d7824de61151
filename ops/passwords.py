"""``govledger pgpass``: one password per role of the layout, kept only in that role's file.

docs/install.md §Database and roles. For every role of ops/layout.py (and the owner) the
command keeps a libpq password file ``DIR/<role>`` (mode 0600, one line
``*:*:*:<role>:<password>``; a new random password when the file is absent, the file's own
otherwise) and prints the SQL that sets those passwords, to be run by a superuser::

    govledger pgpass --dir /etc/govledger/pgpass | sudo -u postgres psql -v ON_ERROR_STOP=1

The SQL carries SCRAM-SHA-256 verifiers computed here (RFC 5802 §3, RFC 7677; PostgreSQL's
stored form ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``), never the
passwords: they do not reach the server, its logs or a terminal. A unit reads its own file
only (systemd ``LoadCredential=``, compose secrets), so a compromised unit cannot connect as
another role. Re-running is harmless (same passwords, new salts); to change one password,
delete its file and run again.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Final

from ledger.config import Settings
from ledger.errors import ConfigurationError
from ops.layout import LAYOUT, OWNER
from ops.terminal import EXIT_OK

__all__ = ["register", "scram_sha_256"]

SCRAM_ITERATIONS: Final = 4096  # PostgreSQL's default (scram_iterations)
PASSWORD_BYTES: Final = 24  # 48 hex digits: nothing a pgpass line would need to escape


def scram_sha_256(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's stored SCRAM-SHA-256 verifier of ``password`` (ASCII: SASLprep is a no-op)."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def role_password(directory: Path, role: str) -> str:
    """The password in ``directory/role``, written there first (0600, never overwritten)."""
    path = directory / role
    if path.exists():
        fields = path.read_text(encoding="ascii").strip().split(":")
        if len(fields) != 5 or fields[3] != role or not fields[4]:
            raise ConfigurationError(f"{path} is not a pgpass line for {role}")
        return fields[4]
    password = secrets.token_hex(PASSWORD_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"*:*:*:{role}:{password}\n")
    return password


def cmd_pgpass(settings: Settings, args: argparse.Namespace) -> int:
    del settings
    directory = Path(args.dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for role in (OWNER, *(r.name for r in LAYOUT)):
        verifier = scram_sha_256(role_password(directory, role), secrets.token_bytes(16))
        # A role name of the layout and a verifier of base64 and '$:': nothing to escape.
        print(f"ALTER ROLE {role} PASSWORD '{verifier}';")
    print(f"govledger pgpass: one password file per role in {directory}", file=sys.stderr)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``pgpass`` to the ``govledger`` command line."""
    p = subparsers.add_parser(
        "pgpass", help="password files of the role layout; prints the SQL that sets them"
    )
    p.add_argument("--dir", required=True, help="directory of the files (created 0700)")
    p.set_defaults(func=cmd_pgpass)
