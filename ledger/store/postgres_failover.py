"""Following the primary through a failover (docs/operations.md, "High availability").

While Patroni promotes a replica, a request can neither wait for the new primary nor
succeed on the old one: it answers 503 with ``Retry-After`` and the client's idempotent
retry reaches the new primary. This module holds what makes the writer's pool behave so;
the chained recorders (``ledger/store/postgres.py``) install it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import psycopg
from eventsourcing.persistence import InternalError, OperationalError
from psycopg import Connection
from psycopg.rows import DictRow
from psycopg_pool import PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from ledger.errors import StoreUnavailableError

# psycopg_pool refills a pool whose server went away with attempts 1, 2, 4, 8, 16 … s apart:
# after a 20 s failover the next attempt may come 15 s after the new primary is up. Every
# pool of this process serves the ledger, so attempts stay about a second apart instead
# (cheap: one connect per host) — writes resume within a second of the promotion.
AttemptWithBackoff.DELAY_BACKOFF = 1.0
CONNECT_TIMEOUT_SECONDS = 3  # per host of a multi-host URL: a dead one is skipped quickly


def failing_fast(
    get_connection: Callable[[], AbstractContextManager[Connection[DictRow]]],
) -> Callable[[], AbstractContextManager[Connection[DictRow]]]:
    """The datastore's connections, with "no primary" a :class:`StoreUnavailableError`.

    While Patroni elects a new primary, no connection can be had (the pool waits
    ``postgres_timeout_seconds``) or the one held went read-only. eventsourcing
    would retry either ten times; neither gets better within a request, so the
    request answers 503 with ``Retry-After`` at once (docs/operations.md §HA) and
    the client's retry, idempotent, reaches the new primary. A connection lost
    mid-statement is still retried: the retry finds what did commit.
    """

    @contextmanager
    def connection() -> Iterator[Connection[DictRow]]:
        try:
            with get_connection() as conn:
                yield conn
        except (OperationalError, InternalError) as e:
            if isinstance(e.__cause__, PoolTimeout):
                raise StoreUnavailableError("no PostgreSQL primary answered in time") from e
            if isinstance(e.__cause__, psycopg.errors.ReadOnlySqlTransaction):
                raise StoreUnavailableError("the PostgreSQL server is no longer primary") from e
            raise

    return connection
