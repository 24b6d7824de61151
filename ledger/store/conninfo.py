"""PostgreSQL connection arguments from a database URL (docs/configuration.md).

A leaf module: the store's opener (``ledger/store/connect.py``) and every other database
client (the proof tables, the views, backups) take their ``psycopg.connect`` arguments
from here, so none of them needs to import the opener.
"""

from __future__ import annotations

from typing import Any

from ledger.config import DatabaseURL

__all__ = ["postgres_conninfo", "session_options"]

# Failover (docs/operations.md §High availability): a primary whose machine died or whose link
# went down answers nothing, so TCP alone would wait minutes. Keepalives and a user timeout end
# such a connection in seconds; the request that held it answers 503 and its retry reaches the
# new primary. (A COMMIT waiting for the synchronous standby sends nothing: keepalives.)
LIVENESS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 3,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 8000,  # ms
}


def session_options(target_session_attrs: str) -> dict[str, Any]:
    """libpq options every connection to the ledger's PostgreSQL gets."""
    options = dict(LIVENESS)
    if target_session_attrs:
        options["target_session_attrs"] = target_session_attrs
    return options


def postgres_conninfo(db: DatabaseURL) -> dict[str, Any]:
    """Every host of a multi-host URL, libpq's way (comma-separated hosts and ports)."""
    return {
        "host": db.host_list,
        "port": db.port_list,
        "user": db.user,
        "password": db.password,
        "dbname": db.dbname,
        **session_options(db.target_session_attrs),
    }
