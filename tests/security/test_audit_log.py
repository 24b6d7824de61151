"""The refusal record (security/audit_log.py) and its rate limit (security/audit.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from ledger.store.connect import init_ledger, postgres_conninfo
from security.audit import RefusalLimiter
from security.audit_log import TABLE, Refusal, RefusalKind, RefusalLog


def _refusal(n: int) -> Refusal:
    return Refusal.now(
        RefusalKind.SIGN_IN_FAILED, subject="anonymous", credential_id=f"{n:016x}",
        client_address="10.0.0.9", method="GET", path="/api/v1/ledger", reason="bad_key",
    )  # fmt: skip


def test_rows_chain_and_a_changed_row_is_found(settings: Settings) -> None:
    init_ledger(settings)
    log = RefusalLog(settings)
    for n in range(3):
        log.append(_refusal(n))
    rows = log.rows()
    assert [r[1].credential_id for r in rows] == [f"{n:016x}" for n in (2, 1, 0)]
    assert log.verify() is None
    second = rows[1][0]
    if settings.database.backend == "sqlite":
        conn = sqlite3.connect(settings.database.path)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(f"UPDATE {TABLE} SET subject = 'x' WHERE seq = ?", (second,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(f"DELETE FROM {TABLE}")
        # Someone who drops the guard still cannot change a row unseen.
        conn.execute(f"DROP TRIGGER {TABLE}_no_update")
        conn.execute(f"UPDATE {TABLE} SET subject = 'x' WHERE seq = ?", (second,))
        conn.commit()
        conn.close()
        assert log.verify() == second
    else:
        with (
            psycopg.connect(**postgres_conninfo(settings.database)) as conn,
            pytest.raises(psycopg.Error, match="append-only"),
        ):
            conn.execute(f'UPDATE "{settings.postgres_schema}".{TABLE} SET subject = %s', ("x",))


def test_the_limit_counts_what_it_suppresses() -> None:
    now = [0.0]
    limiter = RefusalLimiter(per_address=2, per_address_per_minute=60, clock=lambda: now[0])
    assert [limiter.admit("a"), limiter.admit("a"), limiter.admit("a")] == [0, 0, None]
    assert limiter.admit("a") is None and limiter.admit("b") == 0  # per address
    now[0] += 1.0  # one token back after a second
    assert limiter.admit("a") == 2  # the two refused before are carried by this record


def test_the_whole_service_is_bounded_too() -> None:
    limiter = RefusalLimiter(per_address=5, total=3, total_per_minute=0.0001, clock=lambda: 0.0)
    admitted = [limiter.admit(f"10.0.0.{n}") for n in range(6)]
    assert admitted.count(None) == 3


def test_a_missing_database_is_unavailable(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'absent' / 'x.db'}")
    with pytest.raises(StoreUnavailableError):
        RefusalLog(settings).append(_refusal(1))
