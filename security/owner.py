"""One connection as the database owner, for creating the security tables and granting them.

``govledger init`` prepares the refusal record (security/audit_log.py) and the ended console
sessions (security/ended_sessions.py) the same way: create the table and its guard, then give
the service's role exactly its privileges (docs/install.md §3 "Database and roles"). A
PostgreSQL error becomes :class:`StoreUnavailableError` naming the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from ledger.store.connect import postgres_conninfo


@contextmanager
def owner_cursor(settings: Settings, what: str) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
    """A cursor on the configured database, committed on leaving; ``what`` names the table."""
    try:
        with psycopg.connect(**postgres_conninfo(settings.database)) as conn, conn.cursor() as cur:
            yield cur
    except psycopg.Error as e:
        raise StoreUnavailableError(f"{what} refused: {e}") from e
