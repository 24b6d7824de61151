"""The documented role layout on PostgreSQL (issue 13 item 6, issue 21): on a private cluster
built only with the shipped SQL, ``govledger pgpass`` and ``govledger init`` as the owner,
every role logs in with its own password file and nothing else, and each privileged
operation is refused to every role the layout does not give it (the role matrix)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.config import Settings
from ops.layout import LAYOUT, OWNER
from security.audit_log import Refusal, RefusalKind, RefusalLog
from tests.ops.cluster import started
from tests.ops.deployment import SQL, Deployment, build, password

ROLES = [OWNER, *(r.name for r in LAYOUT)]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with started(auth="debian") as cluster:
        yield build(cluster, tmp_path_factory.mktemp("layout"))


def connect(
    deployment: Deployment, role: str, password_of: str | None = None
) -> psycopg.Connection:
    """``role`` over 127.0.0.1 with the password file of ``password_of`` (its own by default)."""
    return psycopg.connect(
        deployment.url(role),
        passfile=str(deployment.pgpass / (password_of or role)),
        connect_timeout=10,
    )


def test_roles_and_database_sql_run_again_change_nothing(deployment: Deployment) -> None:
    before = deployment.cluster.psql(sql="SELECT rolname FROM pg_roles ORDER BY 1")
    deployment.cluster.psql(sql=(SQL / "roles.sql").read_text(encoding="utf-8"))
    deployment.create_database()
    assert deployment.cluster.psql(sql="SELECT rolname FROM pg_roles ORDER BY 1") == before
    again = deployment.govledger(OWNER, "init")
    assert again.returncode == 0, again.stderr


def test_no_role_of_the_layout_is_privileged(deployment: Deployment) -> None:
    rows = deployment.cluster.psql(
        sql="SELECT rolname FROM pg_roles WHERE rolname LIKE 'govledger%' AND (rolsuper "
        "OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls) ORDER BY 1"
    )
    assert rows == ""
    members = deployment.cluster.psql(
        sql="SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
        "WHERE r.rolname LIKE 'govledger%'"
    )
    assert members.strip() == "0"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_logs_in_with_its_own_password_file_only(
    deployment: Deployment, role: str
) -> None:
    with connect(deployment, role) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)
    other = OWNER if role != OWNER else "govledger_app"
    with pytest.raises(psycopg.OperationalError, match="password"):
        connect(deployment, role, password_of=other).close()


def test_password_files_are_private(deployment: Deployment) -> None:
    assert deployment.pgpass.stat().st_mode & 0o777 == 0o700
    for role in ROLES:
        assert (deployment.pgpass / role).stat().st_mode & 0o777 == 0o600


def test_pgpass_again_keeps_every_password(deployment: Deployment, tmp_path: Path) -> None:
    before = {r: (deployment.pgpass / r).read_text() for r in ROLES}
    again = deployment.govledger(OWNER, "pgpass", "--dir", str(deployment.pgpass))
    assert again.returncode == 0, again.stderr
    assert {r: (deployment.pgpass / r).read_text() for r in ROLES} == before
    statements = again.stdout.splitlines()
    assert len(statements) == len(ROLES)
    for line in statements:  # verifiers only: no password leaves its file
        assert line.startswith("ALTER ROLE govledger_") and "'SCRAM-SHA-256$4096:" in line
        assert not any(before[r].split(":")[4] in line for r in ROLES)


# ---------------------------------------------------------------- the role matrix

APP, IMPORT, PROJECTOR = "govledger_app", "govledger_import", "govledger_projector"
CHECKPOINT, WITNESS, VERIFIER = "govledger_checkpoint", "govledger_witness", "govledger_verifier"
BACKUP, KEYS = "govledger_backup", "govledger_keys"
EVERYONE = frozenset(ROLES)

# (what, statement, roles that may): every other role must be refused with
# insufficient_privilege (SQLSTATE 42501), by a missing grant or an append-only trigger.
# The owner may all but what the triggers refuse to everybody.
MATRIX: list[tuple[str, str, frozenset[str]]] = [
    # The projector keeps CREATE on the schema until the read models have one of their own.
    ("create a table", "CREATE TABLE public.matrix_probe (a int)", frozenset({OWNER, PROJECTOR})),
    (
        "create a function",
        "CREATE FUNCTION public.matrix_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        frozenset({OWNER, PROJECTOR}),
    ),
    ("create a temporary table", "CREATE TEMP TABLE matrix_probe (a int)", frozenset({OWNER})),
    (
        "append to the chain",
        "INSERT INTO ledger_events DEFAULT VALUES",
        frozenset({OWNER}),
    ),
    (
        "move the chain's head",
        "UPDATE ledger_events_head SET position = position",
        frozenset({OWNER}),
    ),
    (
        "take the head's lock to append through the validating function",
        "SELECT * FROM ledger_events_lock_head()",
        frozenset({OWNER, APP, IMPORT}),
    ),
    (
        "rewrite the genesis record",
        "UPDATE ledger_events_genesis SET ledger_id = ledger_id",
        frozenset(),
    ),
    ("truncate the chain", "TRUNCATE ledger_events", frozenset()),
    ("truncate the checkpoints", "TRUNCATE ledger_events_checkpoints", frozenset()),
    (
        "write the Merkle tree",
        "UPDATE ledger_events_tree SET hashes = hashes",
        # Whoever integrates the tree (the API per proof request, import through the same
        # grant, the issuer); the tree's trigger admits only strips that grow with nodes
        # that follow from the rows (checkpoint-format §10).
        frozenset({OWNER, APP, IMPORT, CHECKPOINT}),
    ),
    (
        "store a checkpoint",
        "INSERT INTO ledger_events_checkpoints (tree_size, root_hash, note, issued_at) "
        "VALUES (1, '\\x00', 'probe', 'probe')",
        frozenset({OWNER}),
    ),
    (
        "store a checkpoint under a chosen id",
        "INSERT INTO ledger_events_checkpoints (id, tree_size, root_hash, note, issued_at) "
        "OVERRIDING SYSTEM VALUE VALUES (9223372036854775807, 1, '\\x00', 'probe', 'probe')",
        frozenset({OWNER}),
    ),
    (
        "add a checkpoint through the issuer's validating function",
        "SELECT * FROM ledger_events_add_checkpoint(1, '\\x00', 'probe')",
        frozenset({OWNER, CHECKPOINT}),
    ),
    (
        "store a cosignature",
        "INSERT INTO ledger_events_cosignatures (checkpoint_id, witness, line, added_at) "
        "VALUES (1, 'probe', 'probe', 'probe')",
        frozenset({OWNER}),
    ),
    (
        "add a cosignature through the witness's validating function",
        "SELECT ledger_events_add_cosignature(1, 'probe', 'probe')",
        # The issuer stores what it collects from witnesses over HTTP (checked lines only).
        frozenset({OWNER, WITNESS, CHECKPOINT}),
    ),
    (
        "mint an API key",
        "INSERT INTO api_keys (key_id, secret_hash, role, label, created_at) "
        "VALUES ('0000000000000000', 'x', 'auditor', '', now())",
        frozenset({OWNER, KEYS}),
    ),
    ("revoke an API key", "UPDATE api_keys SET revoked_at = now()", frozenset({OWNER, KEYS})),
    ("raise an API key's role", "UPDATE api_keys SET role = 'auditor'", frozenset({OWNER})),
    (
        "read API key hashes",
        "SELECT secret_hash FROM api_keys",
        frozenset({OWNER, APP, KEYS, BACKUP}),
    ),
    ("read the chain", "SELECT * FROM ledger_events LIMIT 1", EVERYONE),
    (
        "record a refusal",
        "INSERT INTO security_refusals (at, kind, subject, credential_id, client_address, "
        "method, path, reason, suppressed, hash) "
        "VALUES ('t', 'k', 's', '', '', '', '', '', 0, 'h')",
        frozenset({OWNER, APP}),
    ),
    ("read the refusal record", "SELECT * FROM security_refusals", frozenset({OWNER, APP, BACKUP})),
    # Append-only (issue 16): a missing grant for the roles, the trigger for the owner.
    ("change a refusal", "UPDATE security_refusals SET subject = 'x'", frozenset()),
    ("delete a refusal", "DELETE FROM security_refusals", frozenset()),
    ("truncate the refusal record", "TRUNCATE security_refusals", frozenset()),
    # Console logout (security/ended_sessions.py): the API ends sessions and prunes expired
    # ones; no one revives a session (the trigger refuses UPDATE and TRUNCATE).
    (
        "end a console session",
        "INSERT INTO console_sessions_ended (session_hash, expires_at) VALUES ('probe', 0)",
        frozenset({OWNER, APP}),
    ),
    (
        "read the ended console sessions",
        "SELECT * FROM console_sessions_ended",
        frozenset({OWNER, APP, BACKUP}),
    ),
    (
        "prune ended console sessions",
        "DELETE FROM console_sessions_ended WHERE expires_at < 0",
        frozenset({OWNER, APP}),
    ),
    ("change an ended session", "UPDATE console_sessions_ended SET expires_at = 0", frozenset()),
    ("truncate the ended sessions", "TRUNCATE console_sessions_ended", frozenset()),
    # Data subjects (privacy.md, ledger-format §9.1): the API and import create keys; only the
    # API erases (key NULL) and changes the erasure generation; only the owner restores.
    (
        "create a data subject's key",
        "INSERT INTO ledger_events_subject_keys (blind, key_id, key) "
        "VALUES ('probe', 'probe', '\\x00')",
        frozenset({OWNER, APP, IMPORT}),
    ),
    (
        "read the data subjects' blind indexes",
        "SELECT blind FROM ledger_events_subject_keys",
        frozenset({OWNER, APP, IMPORT, BACKUP}),
    ),
    (
        "erase a data subject's key",
        "UPDATE ledger_events_subject_keys SET key = NULL",
        frozenset({OWNER, APP}),
    ),
    ("delete data subjects' keys", "DELETE FROM ledger_events_subject_keys", frozenset({OWNER})),
    (
        "change the erasure generation",
        "INSERT INTO ledger_events_subject_generation (one, token) VALUES (1, 'probe') "
        "ON CONFLICT (one) DO UPDATE SET token = excluded.token",
        frozenset({OWNER, APP}),
    ),
    (
        "catch the subjects' access index up",
        "INSERT INTO ledger_events_subject_index (access_id, key_ids) "
        "VALUES (gen_random_uuid(), '{}')",
        frozenset({OWNER, APP}),
    ),
    (
        "read the checkpoint sequence",
        "SELECT last_value FROM ledger_events_checkpoints_id_seq",
        frozenset({OWNER, APP, CHECKPOINT, WITNESS, VERIFIER, BACKUP}),
    ),
]


def refused(conn: psycopg.Connection, statement: str) -> bool:
    """Whether ``statement`` is refused for privilege; whatever it did is rolled back."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    except psycopg.Error:
        return False  # past the privilege check (a constraint, an empty value): allowed
    return False


@pytest.fixture(scope="module")
def connections(deployment: Deployment) -> Iterator[dict[str, psycopg.Connection]]:
    opened = {role: connect(deployment, role) for role in ROLES}
    yield opened
    for conn in opened.values():
        conn.close()


@pytest.mark.parametrize(("what", "statement", "allowed"), MATRIX, ids=[m[0] for m in MATRIX])
def test_role_matrix(
    connections: dict[str, psycopg.Connection], what: str, statement: str, allowed: frozenset[str]
) -> None:
    wrong = {
        role: "refused" if refused(conn, statement) else "allowed"
        for role, conn in connections.items()
        if refused(conn, statement) == (role in allowed)
    }
    assert not wrong, f"{what}: {wrong}"


def test_the_service_role_records_refusals_and_cannot_change_them(
    deployment: Deployment,
) -> None:
    """The API, as the layout's service role, appends to the refusal record (issue 16)."""
    url = deployment.url(APP).replace("@", f":{password(deployment, APP)}@", 1)
    log = RefusalLog(Settings(database_url=url, create_schema=False))
    refusal = Refusal.now(
        RefusalKind.COMMAND_REFUSED, subject="apikey:probe", credential_id="probe",
        client_address="10.0.0.7", method="POST", path="/api/v1/anomalies", reason="role",
    )  # fmt: skip
    log.append(refusal)
    log.append(refusal)
    assert [r for _, r, _ in log.rows(limit=2)] == [refusal, refusal]
    assert log.verify() is None
    with connect(deployment, APP) as conn:
        for statement in (
            "UPDATE security_refusals SET reason = 'x'",
            "DELETE FROM security_refusals",
        ):
            assert refused(conn, statement), statement
