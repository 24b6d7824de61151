"""Grants on the chain's PostgreSQL tables, one role at a time (ledger-format §6.2, contract C2).

The events, genesis, head and tree tables belong to the ledger's owner; ``govledger
init`` (run as the owner) composes the deployment's roles from these functions, one per
kind of role. Each grants exactly what that role needs on these tables, after revoking
everything it held there, and nothing else: schema-wide rights (``CREATE``) are not
granted here, and nobody but the owner creates or alters.

- :func:`grant_service_role`: the service (API, ``import``): reads the chain, appends only
  through ``ledger_events_append`` (and takes the head's lock through
  ``ledger_events_lock_head``), integrates the Merkle tree (``SELECT, INSERT, UPDATE`` on
  ``ledger_events_tree``, whose trigger admits only strips that grow with nodes that
  follow from the rows: checkpoint-format §10).
- :func:`grant_reader_role`: the projection worker, the verifier, backup: reads the chain
  and the tree.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from psycopg import sql

from ledger.config import Settings
from ledger.errors import ConfigurationError
from ledger.store.connect import application_env
from ledger.tree import Database, DatabaseNodeStore

__all__ = ["grant_reader_role", "grant_service_role"]


def grant_service_role(settings: Settings, role: str) -> None:
    """The service's role: read the chain, append through the function, integrate the tree."""
    _grant(settings, role, writer=True)


def grant_reader_role(settings: Settings, role: str) -> None:
    """The projection worker's, the verifier's or backup's role: read the chain and the tree."""
    _grant(settings, role, writer=False)


def _grant(settings: Settings, role: str, *, writer: bool) -> None:
    if settings.database.backend != "postgresql":
        raise ConfigurationError("roles and grants apply to PostgreSQL only")
    factory = InfrastructureFactory.construct(
        Environment(env=application_env(settings, create=False))
    )
    try:
        recorder: Any = factory.application_recorder()
        if writer:
            recorder.grant_append_role(role)
        else:
            recorder.grant_read_role(role)
    finally:
        factory.close()
    database = Database(settings)
    try:
        DatabaseNodeStore(database)  # the tree table and its guards, if not there yet
        tree = sql.SQL(database.table("tree"))
        who = sql.Identifier(role)
        rights = sql.SQL("SELECT, INSERT, UPDATE" if writer else "SELECT")
        database.create(
            [
                sql.SQL("REVOKE ALL ON {} FROM {}").format(tree, who).as_string(None),
                sql.SQL("GRANT {} ON {} TO {}").format(rights, tree, who).as_string(None),
            ]
        )
    finally:
        database.close()
