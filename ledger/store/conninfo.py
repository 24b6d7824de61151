"""PostgreSQL connection arguments from a database URL (docs/configuration.md).

A leaf module: the store's opener (``ledger/store/connect.py``) and every other database
client (the proof tables, the views, backups) take their ``psycopg.connect`` arguments
from here, so none of them needs to import the opener.
"""

from __future__ import annotations

from typing import Any

from ledger.config import DatabaseURL

__all__ = ["postgres_conninfo"]


def postgres_conninfo(db: DatabaseURL) -> dict[str, Any]:
    return {
        "host": db.host,
        "port": db.port,
        "user": db.user,
        "password": db.password,
        "dbname": db.dbname,
    }
