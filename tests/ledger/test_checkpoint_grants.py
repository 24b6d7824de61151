"""Least privilege on the checkpoint tables, on a real PostgreSQL (checkpoint-format §11).

Three roles, each granted by its own function (contract C2): the service
(``grant_checkpoint_reader``: read only), the checkpoint issuer
(``grant_checkpoint_issuer``: the validating ``<events>_add_checkpoint``) and a
witness (``grant_checkpoint_witness``: the validating ``<events>_add_cosignature``).
Each privileged operation is tried as the service role and refused; the issuer and
the witness work through their own path and nothing else.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.checkpoint_store import CheckpointStore
from ledger.checkpoints import (
    generate_key_file,
    grant_checkpoint_issuer,
    grant_checkpoint_witness,
    issue_checkpoint,
    latest_checkpoint,
    load_signer,
    prepare_proof_tables,
    witness_checkpoint,
)
from ledger.config import DatabaseURL, Settings
from ledger.errors import ConfigurationError, ProofError
from ledger.store.connect import init_ledger
from ledger.tree import Database
from tests.conftest import Ledger, PostgresURLs, pg_connect
from tests.ledger._checkpoints import append_rows, verify

SERVICE = "govledger_app"  # the least-privileged service role of ops/scripts/test-postgres.sh
ISSUER = "govledger_test_checkpoint_issuer"
WITNESS = "govledger_test_checkpoint_witness"


def as_role(url: str, role: str) -> str:
    parsed = DatabaseURL.parse(url)
    return f"postgresql://{role}@{parsed.host}:{parsed.port}/{parsed.dbname}"


@dataclass
class Layout:
    owner: Settings
    urls: PostgresURLs
    schema: str

    def settings(self, role: str) -> Settings:
        return replace(self.owner, database_url=as_role(self.urls.owner, role), create_schema=False)

    def connect(self, role: str) -> psycopg.Connection[object]:
        conn = pg_connect(as_role(self.urls.owner, role))
        conn.execute(f"SET search_path TO {self.schema}")
        return conn


def _ensure_role(urls: PostgresURLs, role: str) -> None:
    """Cluster-wide and shared by concurrent runs: created once, never altered or dropped."""
    with pg_connect(urls.admin) as conn:
        conn.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} LOGIN; END IF; END $$"
        )


@pytest.fixture
def layout(
    postgres_urls: PostgresURLs, postgres_settings: Settings, tmp_path: Path
) -> Iterator[Layout]:
    for role in (ISSUER, WITNESS):
        _ensure_role(postgres_urls, role)
    key = str(tmp_path / "log.key")
    trusted = tmp_path / "trusted.keys"
    trusted.write_text(generate_key_file(key, "govledger.test") + "\n", encoding="utf-8")
    witness_vkey = generate_key_file(str(tmp_path / "w.key"), "witness.test", witness=True)
    (tmp_path / "witness.keys").write_text(witness_vkey + "\n", encoding="utf-8")
    owner = replace(
        postgres_settings,
        checkpoint_key_file=key,
        trusted_keys_file=str(trusted),
        witness_keys_file=str(tmp_path / "witness.keys"),
        witness_quorum=1,
        checkpoint_origin="govledger.test",
    )
    init_ledger(owner, app_role=SERVICE)
    prepare_proof_tables(owner, SERVICE)  # as `govledger init --app-role` does
    grant_checkpoint_issuer(owner, ISSUER)
    grant_checkpoint_witness(owner, WITNESS)
    schema = owner.postgres_schema
    with pg_connect(postgres_urls.owner) as conn:  # the chain's tables: read, and the issuer
        for role in (ISSUER, WITNESS):  # integrates the tree (ledger/tree.py's grants)
            conn.execute(
                f"GRANT SELECT ON {schema}.ledger_events, {schema}.ledger_events_genesis, "
                f"{schema}.ledger_events_head, {schema}.ledger_events_tree TO {role}"
            )
        conn.execute(f"GRANT INSERT, UPDATE ON {schema}.ledger_events_tree TO {ISSUER}")
    ledger = Ledger(owner)
    try:
        ledger.append(12, per_transaction=3)
    finally:
        ledger.close()
    # Dropping the schema afterwards (fresh_schema) takes these grants with it.
    yield Layout(owner, postgres_urls, schema)


def refused(conn: psycopg.Connection[object], sql: str, params: tuple[object, ...] = ()) -> str:
    """The error the statement gets; fails the test if it succeeds."""
    with pytest.raises(psycopg.Error) as raised:
        conn.execute(sql, params or None)
    return type(raised.value).__name__


PRIVILEGED = [
    (
        "insert a checkpoint",
        "INSERT INTO ledger_events_checkpoints (tree_size, root_hash, note, issued_at) "
        "VALUES (99, '\\x00', 'x', 'now')",
    ),
    (
        "insert a far-future id",
        "INSERT INTO ledger_events_checkpoints (id, tree_size, root_hash, note, issued_at) "
        "OVERRIDING SYSTEM VALUE VALUES (1000000000000000, 99, '\\x00', 'x', 'now')",
    ),
    (
        "insert a cosignature",
        "INSERT INTO ledger_events_cosignatures (checkpoint_id, witness, line, added_at) "
        "VALUES (1, 'witness.test+00000000', 'junk', 'now')",
    ),
    ("add a checkpoint", "SELECT ledger_events_add_checkpoint(99, '\\x00', 'x')"),
    ("add a cosignature", "SELECT ledger_events_add_cosignature(1, 'w+00000000', 'x')"),
    ("update checkpoints", "UPDATE ledger_events_checkpoints SET tree_size = 0"),
    ("delete cosignatures", "DELETE FROM ledger_events_cosignatures"),
    ("truncate checkpoints", "TRUNCATE ledger_events_checkpoints"),
    ("advance the id sequence", "SELECT nextval('ledger_events_checkpoints_id_seq')"),
    ("reset the id sequence", "SELECT setval('ledger_events_cosignatures_id_seq', 10)"),
]


@pytest.mark.parametrize(("what", "sql"), PRIVILEGED, ids=[p[0] for p in PRIVILEGED])
def test_the_service_role_is_refused_every_checkpoint_write(
    layout: Layout, what: str, sql: str
) -> None:
    issue_checkpoint(layout.owner)
    with layout.connect(SERVICE) as conn:
        assert refused(conn, sql) == "InsufficientPrivilege", what


def test_the_service_role_reads_checkpoints_and_cannot_issue(layout: Layout) -> None:
    issue_checkpoint(layout.owner)
    as_service = layout.settings(SERVICE)
    served = latest_checkpoint(as_service)
    assert served is not None and served.split("\n")[1] == "12"
    with layout.connect(SERVICE) as conn:  # pg_dump reads the sequences too (issue 21.1)
        conn.execute("SELECT last_value FROM ledger_events_checkpoints_id_seq")
        conn.execute("SELECT last_value FROM ledger_events_cosignatures_id_seq")
    append_rows(layout.owner, 2)
    with pytest.raises(ConfigurationError, match="may not add checkpoints"):
        issue_checkpoint(as_service)  # the key alone does not make the service an issuer
    assert verify(as_service).ok


def test_the_issuer_writes_through_the_validating_function_only(layout: Layout) -> None:
    as_issuer = layout.settings(ISSUER)
    issued = issue_checkpoint(as_issuer).checkpoint
    assert issued.tree_size == 12 and issued.issued_at.endswith("Z")
    signer = load_signer(layout.owner)
    with layout.connect(ISSUER) as conn:
        for _, sql in PRIVILEGED[:3] + PRIVILEGED[4:]:
            assert refused(conn, sql) == "InsufficientPrivilege", sql
        root = bytes(issued.root_hash)
        smaller = sign_checkpoint(Checkpoint("govledger.test", 11, root), signer)
        add = "SELECT * FROM ledger_events_add_checkpoint(%s, %s, %s)"
        assert refused(conn, add, (11, root, smaller)) == "CheckViolation"
        lying = sign_checkpoint(Checkpoint("govledger.test", 12, root), signer)
        assert refused(conn, add, (13, root, lying)) == "CheckViolation"
        unsigned = Checkpoint("govledger.test", 12, root).format()
        assert refused(conn, add, (12, root, unsigned)) == "CheckViolation"
    # A refusal reaches the Python caller as one line.
    database = Database(as_issuer)
    try:
        with pytest.raises(ProofError, match="newest stored has size 12"):
            CheckpointStore(database).append(Checkpoint("govledger.test", 11, root), smaller)
    finally:
        database.close()


def test_the_witness_cosigns_with_read_access_and_its_own_write_path(
    layout: Layout, tmp_path: Path
) -> None:
    issue_checkpoint(layout.settings(ISSUER))
    as_witness = layout.settings(WITNESS)
    result = witness_checkpoint(as_witness, str(tmp_path / "w.key"), str(tmp_path / "w.state"))
    assert result.new and latest_checkpoint(layout.settings(SERVICE)) == result.served
    with layout.connect(WITNESS) as conn:
        for _, sql in PRIVILEGED[:4] + PRIVILEGED[5:]:
            assert refused(conn, sql) == "InsufficientPrivilege", sql
        for table in ("ledger_events", "ledger_events_tree", "ledger_events_head"):
            assert refused(conn, f"DELETE FROM {table}") == "InsufficientPrivilege"
        # A line stored under another witness's name is refused; a junk line under its own is
        # kept, never blocks, and is never served.
        line = result.line
        add = "SELECT ledger_events_add_cosignature(%s, %s, %s)"
        assert refused(conn, add, (1, "another.test+00000000", line)) == "CheckViolation"
        assert refused(conn, add, (99, line.split()[1] + "+0", line)) == "CheckViolation"
        label = line.split()[1] + "+" + base64.b64decode(line.split()[2])[:4].hex()
        junk = line[: line.rindex(" ") + 1] + "A" * 100 + "\n"
        assert refused(conn, add, (1, label, junk)) == "CheckViolation"  # not 76 bytes
    assert verify(layout.settings(SERVICE)).ok


def test_init_again_takes_back_writes_an_older_layout_granted(layout: Layout) -> None:
    with pg_connect(layout.urls.owner) as conn:  # what `govledger init` granted before
        conn.execute(
            f"GRANT SELECT, INSERT ON {layout.schema}.ledger_events_checkpoints, "
            f"{layout.schema}.ledger_events_cosignatures TO {SERVICE}"
        )
    prepare_proof_tables(layout.owner, SERVICE)
    with layout.connect(SERVICE) as conn:
        assert refused(conn, PRIVILEGED[0][1]) == "InsufficientPrivilege"
        conn.execute("SELECT count(*) FROM ledger_events_checkpoints")


def test_an_issuer_asking_witnesses_over_http_needs_the_witness_grant(
    layout: Layout, tmp_path: Path
) -> None:
    """§16: the issuer stores the cosignatures its witnesses return. With the issuer's grant
    alone that is refused with one line naming the grant; with ``grant_checkpoint_witness``
    too it goes through the validating function."""
    from ledger.checkpoint import CosignatureSigner, cosign  # noqa: PLC0415
    from ledger.witness_client import collect_cosignatures  # noqa: PLC0415

    (tmp_path / "urls.txt").write_text("witness.test http://witness.test/\n", encoding="utf-8")
    as_issuer = replace(layout.settings(ISSUER), witness_urls_file=str(tmp_path / "urls.txt"))
    stored = issue_checkpoint(as_issuer).checkpoint
    signer = CosignatureSigner.from_string((tmp_path / "w.key").read_text().strip())
    line = cosign(stored.note, signer).split("\n\n")[1].splitlines()[-1] + "\n"

    def witness(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        return 200, line.encode()

    with pytest.raises(ConfigurationError, match="grant_checkpoint_witness"):
        collect_cosignatures(as_issuer, post=witness)
    grant_checkpoint_witness(layout.owner, ISSUER)
    record = collect_cosignatures(as_issuer, post=witness)
    assert record is not None and record.quorum_met
