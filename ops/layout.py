"""The production role layout on PostgreSQL: one least-privileged role per unit.

docs/install.md §Database and roles is the specification; ``ops/deploy/sql/roles.sql``
creates the roles and ``ops/deploy/sql/database.sql`` the database (both as a superuser,
once), and ``govledger init`` run as the owner applies :data:`LAYOUT` with
``GOVLEDGER_POSTGRES_LAYOUT=true``. Each role first loses everything it held in the
ledger's schema, then gets exactly the grants listed for it, so re-running ``init`` after
an upgrade leaves every role with what this version needs and nothing an older one gave.

The owner (``govledger_owner``) owns the database, the schema and every ledger table; it
runs ``init``, upgrades and restores, and is never a service's role. No service role may
create anything in the ledger's schema (docs/security.md).

The grants on each owner's tables (contracts C2) compose here: the chain's come from
ledger.grants (the service appends only through the validating function), the checkpoints'
from ledger.checkpoints, the data subjects' from ledger.subject_keys; the others (the tree
for the issuer, API keys, backup) name tables and privileges directly, one entry each in
:data:`LAYOUT`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import psycopg
from psycopg import sql

from ledger.checkpoints import (
    grant_checkpoint_issuer,
    grant_checkpoint_reader,
    grant_checkpoint_witness,
)
from ledger.config import Settings
from ledger.errors import ConfigurationError, StoreUnavailableError
from ledger.grants import grant_reader_role, grant_service_role
from ledger.store.connect import postgres_conninfo
from ledger.subject_keys import grant_subject_answerer, grant_subject_recorder
from projections.store import grant_views_role
from security.apikeys import TABLE as API_KEYS_TABLE
from security.audit_log import grant_refusal_append
from security.ended_sessions import grant_session_ending

__all__ = ["LAYOUT", "OWNER", "LayoutRole", "apply_layout", "missing_roles"]

OWNER: Final = "govledger_owner"
_EVENTS: Final = "ledger_events"  # the chain's table; the others are <events>_<suffix>
CHAIN: Final = (_EVENTS, f"{_EVENTS}_genesis", f"{_EVENTS}_head")
TREE: Final = f"{_EVENTS}_tree"
CHECKPOINTS: Final = f"{_EVENTS}_checkpoints"
COSIGNATURES: Final = f"{_EVENTS}_cosignatures"

Grant = Callable[[Settings, str], None]


@dataclass(frozen=True)
class LayoutRole:
    """One login role of the layout: who runs as it, and what it is granted."""

    name: str
    runs: str  # the units and commands that connect as this role
    grants: tuple[Grant, ...]


# ---------------------------------------------------------------- grants


class _Owner:
    """One autocommit connection as the owner, for GRANT and REVOKE statements."""

    def __init__(self, settings: Settings) -> None:
        self.schema = settings.postgres_schema
        try:
            self.conn = psycopg.connect(
                **postgres_conninfo(settings.database), autocommit=True, connect_timeout=10
            )
        except psycopg.OperationalError as e:
            raise StoreUnavailableError(f"cannot connect to PostgreSQL: {_first_line(e)}") from e

    def __enter__(self) -> _Owner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    def run(self, statement: sql.Composed) -> None:
        self.conn.execute(statement)

    def grant(self, privileges: str, tables: Sequence[str], role: str) -> None:
        for name in tables:
            self.run(
                sql.SQL("GRANT " + privileges + " ON {} TO {}").format(
                    self.table(name), sql.Identifier(role)
                )
            )


def _select(*tables: str) -> Grant:
    def grant(settings: Settings, role: str) -> None:
        with _Owner(settings) as owner:
            owner.grant("SELECT", tables, role)

    grant.__doc__ = f"SELECT on {', '.join(tables)}"
    return grant


def _privileges(privileges: str, *tables: str) -> Grant:
    def grant(settings: Settings, role: str) -> None:
        with _Owner(settings) as owner:
            owner.grant(privileges, tables, role)

    grant.__doc__ = f"{privileges} on {', '.join(tables)}"
    return grant


def views_owner(settings: Settings, role: str) -> None:
    """The projection worker keeps the read models (projections.store.grant_views_role)."""
    grant_views_role(settings, role)


def backup_reader(settings: Settings, role: str) -> None:
    """``pg_dump`` of the ledger: SELECT on every table and sequence but the read models."""
    with _Owner(settings) as owner:
        rows = owner.conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'S', 'p') "
            "AND c.relname NOT LIKE 'views\\_%%' ORDER BY c.relname",
            (owner.schema,),
        ).fetchall()
        owner.grant("SELECT", [name for (name,) in rows], role)


CHAIN_READ: Final = _select(*CHAIN)
TREE_KEEP: Final = _privileges("SELECT, INSERT, UPDATE", TREE)
PROOFS_READ: Final = grant_checkpoint_reader

LAYOUT: Final[tuple[LayoutRole, ...]] = (
    LayoutRole(
        "govledger_app",
        "the API (govledger serve): appends facts, serves proofs, reads keys and read models, "
        "records refused requests (security/audit_log.py), ends console sessions at logout "
        "(security/ended_sessions.py)",
        (
            grant_service_role,
            PROOFS_READ,
            _select(API_KEYS_TABLE),
            grant_refusal_append,
            grant_session_ending,
            grant_subject_answerer,
        ),
    ),
    LayoutRole(
        "govledger_import",
        "govledger import: appends the exchange platform's access reports (with their "
        "data subjects' keys, ledger-format §9.1)",
        (grant_service_role, grant_subject_recorder),
    ),
    LayoutRole(
        "govledger_projector",
        "the projection worker (govledger projections run --follow): reads the chain, "
        "owns the read models",
        (grant_reader_role, views_owner),
    ),
    LayoutRole(
        "govledger_checkpoint",
        "the checkpoint issuer (govledger checkpoint issue): keeps the tree, stores checkpoints "
        "and the cosignatures it collects from witnesses over HTTP (docs/witnesses.md)",
        (grant_reader_role, TREE_KEEP, grant_checkpoint_issuer, grant_checkpoint_witness),
    ),
    LayoutRole(
        "govledger_witness",
        "a witness (govledger witness): reads the chain and checkpoints, adds its cosignatures",
        (grant_reader_role, grant_checkpoint_witness),
    ),
    LayoutRole(
        "govledger_verifier",
        "govledger verify, incremental and full: reads everything it checks",
        (grant_reader_role, PROOFS_READ),
    ),
    LayoutRole(
        "govledger_backup",
        "govledger backup: pg_dump of the ledger (not the read models, rebuilt after a restore)",
        (backup_reader,),
    ),
    LayoutRole(
        "govledger_keys",
        "govledger keys create|list|revoke: API keys, departments read from the chain",
        (
            CHAIN_READ,
            _privileges("SELECT, INSERT", API_KEYS_TABLE),
            _privileges("UPDATE (revoked_at)", API_KEYS_TABLE),
        ),
    ),
)


# ---------------------------------------------------------------- apply


def missing_roles(settings: Settings, names: Sequence[str]) -> list[str]:
    """Which of ``names`` the cluster does not have."""
    with _Owner(settings) as owner:
        rows = owner.conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(names),)
        ).fetchall()
    found = {name for (name,) in rows}
    return [name for name in names if name not in found]


def _revoke_everything(settings: Settings, role: str) -> None:
    """What ``role`` holds in the schema from the owner, gone (grants by others stay theirs)."""
    with _Owner(settings) as owner:
        schema, r = sql.Identifier(owner.schema), sql.Identifier(role)
        for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
            owner.run(
                sql.SQL("REVOKE ALL ON ALL " + kind + " IN SCHEMA {} FROM {}").format(schema, r)
            )
        owner.run(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(schema, r))
        owner.run(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, r))


def apply_layout(settings: Settings, layout: Sequence[LayoutRole] = LAYOUT) -> list[str]:
    """Grant every role of ``layout`` exactly its grants; the names of the roles granted.

    Run as the owner, after the tables exist (``govledger init``). A role missing from
    the cluster is a configuration error naming the SQL that creates it: nothing is
    granted until all exist.
    """
    if settings.database.backend != "postgresql":
        raise ConfigurationError("the role layout applies to PostgreSQL only")
    absent = missing_roles(settings, [r.name for r in layout])
    if absent:
        raise ConfigurationError(
            f"role(s) {', '.join(absent)} do not exist: create them with "
            "ops/deploy/sql/roles.sql (docs/install.md)"
        )
    for role in layout:
        _revoke_everything(settings, role.name)
        for grant in role.grants:
            grant(settings, role.name)
    return [r.name for r in layout]


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
