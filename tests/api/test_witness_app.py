"""Witnesses over HTTP (C2SP tlog-witness, checkpoint-format §16): the witness service and the
log's client, end to end in one process (the network-namespace test runs them on hosts).

Two witness services, each with its own key and state file and no access to
the log's database; the log's issuer asks them after every checkpoint. A
witness that goes away is recorded as unreachable and the quorum as missed; when
it comes back it catches up with one consistency proof. A witness that has seen
another tree answers with a conflict, which the log records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.metrics_witness import witness_round_metrics
from api.witness_app import create_witness_app
from ledger import note
from ledger.checkpoint import Checkpoint, CosignatureSigner, sign_checkpoint
from ledger.checkpoints import Witnessing, checkpoint_round, generate_key_file, load_signer
from ledger.config import Settings
from ledger.merkle import MerkleTree, leaf_hash
from ledger.tree import open_ledger_tree
from ledger.witness_client import RoundOutcome, RoundRecord, collect_cosignatures
from ledger.witness_protocol import AddCheckpoint, origin_hash
from tests.ledger._checkpoints import append_rows, status_of
from tests.promtext import value

ORIGIN = "district.example/log"


@dataclass
class Hosts:
    """The log's settings, and the witness services by name (their TestClients)."""

    log: Settings
    witnesses: dict[str, TestClient]
    away: set[str]

    def post(self, url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        """The log's transport: ``http://<name>/add-checkpoint`` to that witness's service."""
        name = url.removeprefix("http://").split("/")[0]
        if name in self.away:
            raise OSError("connection refused")
        reply = self.witnesses[name].post("/add-checkpoint", content=body)
        return reply.status_code, reply.content

    def round(self) -> RoundRecord:
        record = collect_cosignatures(self.log, post=self.post)
        assert record is not None
        return record


def witness_settings(tmp_path: Path, name: str, log_vkey: str) -> tuple[Settings, str]:
    home = tmp_path / name
    home.mkdir()
    vkey = generate_key_file(str(home / "witness.key"), name, witness=True)
    (home / "logs.txt").write_text(f"{ORIGIN} {log_vkey}\n")
    # No database setting at all: the default would be a file the witness never opens.
    settings = Settings(
        database_url=f"sqlite:///{home / 'never-created.db'}",
        state_dir=str(home / "state"),
        witness_key_file=str(home / "witness.key"),
        witness_logs_file=str(home / "logs.txt"),
    )
    return settings, vkey


@pytest.fixture
def hosts(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Hosts]:
    log_key = tmp_path / "log.key"
    log_vkey = generate_key_file(str(log_key), ORIGIN)
    names = ["w1.example", "w2.example"]
    configured = [witness_settings(tmp_path, name, log_vkey) for name in names]
    (tmp_path / "trusted.txt").write_text(log_vkey + "\n")
    (tmp_path / "witness-keys.txt").write_text("".join(v + "\n" for _, v in configured))
    (tmp_path / "witness-urls.txt").write_text("".join(f"{n} http://{n}/\n" for n in names))
    log = replace(
        sqlite_settings,
        checkpoint_key_file=str(log_key),
        trusted_keys_file=str(tmp_path / "trusted.txt"),
        checkpoint_origin=ORIGIN,
        witness_keys_file=str(tmp_path / "witness-keys.txt"),
        witness_urls_file=str(tmp_path / "witness-urls.txt"),
        witness_quorum=2,
    )
    clients = {
        n: TestClient(create_witness_app(s)) for n, (s, _) in zip(names, configured, strict=True)
    }
    for client in clients.values():
        client.__enter__()
    yield Hosts(log, clients, set())
    for client in clients.values():
        client.__exit__(None, None, None)
    for settings, _ in configured:
        assert not Path(settings.database.path).exists()  # no witness touched a database


def witnessing(settings: Settings) -> Witnessing:
    return status_of(settings).state


def outcomes(record: RoundRecord) -> dict[str, RoundOutcome]:
    return {w.witness: w.outcome for w in record.witnesses}


def test_the_issuer_collects_the_quorum_and_a_witness_catches_up(hosts: Hosts) -> None:
    append_rows(hosts.log, 30)
    first = checkpoint_round(hosts.log, post=hosts.post)
    assert first.witnesses is not None and first.witnesses.quorum_met
    assert set(outcomes(first.witnesses).values()) == {RoundOutcome.COSIGNED}
    assert witnessing(hosts.log) is Witnessing.WITNESSED
    # The same checkpoint again: nothing to ask, both already cosigned it (and when they
    # last cosigned stays when they did).
    again = hosts.round()
    assert again.quorum_met
    when = [w.last_cosigned_at for w in again.witnesses]
    assert when == [w.last_cosigned_at for w in first.witnesses.witnesses] and all(when)

    hosts.away.add("w2.example")
    for rows in (7, 300):
        append_rows(hosts.log, rows)
        record = checkpoint_round(hosts.log, post=hosts.post).witnesses
        assert record is not None and not record.quorum_met and record.cosignatures == 1
        assert outcomes(record)["w2.example"] is RoundOutcome.UNREACHABLE
    assert witnessing(hosts.log) is Witnessing.AWAITING_WITNESSES
    assert record is not None
    away = {w.witness: w for w in record.witnesses}["w2.example"]
    assert away.last_cosigned_at is not None  # kept from when it last cosigned

    hosts.away.clear()  # back: one consistency proof from size 30 to 337
    back = hosts.round()
    assert back.quorum_met and outcomes(back)["w2.example"] is RoundOutcome.COSIGNED
    assert witnessing(hosts.log) is Witnessing.WITNESSED
    monitored = hosts.witnesses["w2.example"].get(f"/{origin_hash(ORIGIN)}/checkpoint")
    assert monitored.status_code == 200 and monitored.text.split("\n")[1] == "337"


def test_the_round_is_on_metrics(hosts: Hosts) -> None:
    append_rows(hosts.log, 5)
    hosts.away.add("w1.example")
    checkpoint_round(hosts.log, post=hosts.post)
    samples = {
        (m.name, tuple(sorted(s.labels.items()))): s.value
        for m in witness_round_metrics(hosts.log)
        for s in m.samples
    }
    assert samples[("govledger_checkpoint_witness_quorum_met", ())] == 0
    assert samples[("govledger_checkpoint_witness_cosignatures", ())] == 1
    key = "govledger_checkpoint_witness_outcome"
    assert samples[(key, (("outcome", "unreachable"), ("witness", "w1.example")))] == 1
    assert samples[(key, (("outcome", "cosigned"), ("witness", "w1.example")))] == 0
    assert samples[(key, (("outcome", "cosigned"), ("witness", "w2.example")))] == 1


def test_a_witness_that_saw_another_tree_is_a_conflict(hosts: Hosts, tmp_path: Path) -> None:
    """Someone holding the log key showed w1 a larger tree the log never issued: the log's
    next round finds w1 ahead (409 names a larger size) and records a conflict; w1 counts
    nothing against the real log until then."""
    append_rows(hosts.log, 12)
    checkpoint_round(hosts.log, post=hosts.post)
    signer = load_signer(hosts.log)
    fork = sign_checkpoint(Checkpoint(ORIGIN, 50, bytes(32)), signer)
    # A proof the witness cannot check from 12 to 50 with another root: refused, 422.
    refused = hosts.witnesses["w1.example"].post(
        "/add-checkpoint", content=AddCheckpoint(12, (bytes(32),), fork).format()
    )
    assert refused.status_code == 422
    append_rows(hosts.log, 3)
    record = checkpoint_round(hosts.log, post=hosts.post).witnesses
    assert record is not None and record.quorum_met  # w1 is still at 12: it cosigns 15
    # Now a same-size fork of 15 to w2 directly: a split view, kept and counted.
    split = sign_checkpoint(Checkpoint(ORIGIN, 15, bytes(32)), signer)
    answer = hosts.witnesses["w2.example"].post(
        "/add-checkpoint", content=AddCheckpoint(15, (), split).format()
    )
    assert answer.status_code == 422
    w2 = hosts.witnesses["w2.example"].get("/metrics").text
    assert value(w2, "govledger_witness_split_views_total", log=ORIGIN) == 1
    answers = "govledger_witness_add_checkpoint_total"
    assert value(w2, answers, log=ORIGIN, outcome="split_view") == 1
    assert value(w2, answers, log=ORIGIN, outcome="cosigned") == 2
    w1 = hosts.witnesses["w1.example"].get("/metrics").text
    assert value(w1, "govledger_witness_inconsistent_checkpoints_total", log=ORIGIN) == 1
    assert value(w1, "govledger_witness_tree_size", log=ORIGIN) == 15


def test_a_witness_ahead_of_the_log_is_a_conflict(hosts: Hosts) -> None:
    """Someone holding the log key extended a copy of the log and had w1 cosign it (a valid
    consistency proof from the real prefix): the log's next checkpoint is smaller than what
    w1 cosigned, so w1 is ahead (409 with a larger size): a conflict, never cosigned."""
    append_rows(hosts.log, 12)
    checkpoint_round(hosts.log, post=hosts.post)
    with open_ledger_tree(hosts.log) as tree:
        real = tree.store.get_many([(0, i) for i in range(12)])
    copy = MerkleTree()
    copy.extend([*real, *(leaf_hash(bytes([i]) * 32) for i in range(8))])
    fork = sign_checkpoint(Checkpoint(ORIGIN, 20, copy.root()), load_signer(hosts.log))
    proof = tuple(copy.consistency_proof(12, 20))
    w1 = hosts.witnesses["w1.example"]
    assert (
        w1.post("/add-checkpoint", content=AddCheckpoint(12, proof, fork).format()).status_code
        == 200
    )
    append_rows(hosts.log, 1)
    record = checkpoint_round(hosts.log, post=hosts.post).witnesses
    assert record is not None and not record.quorum_met
    result = {w.witness: w for w in record.witnesses}["w1.example"]
    assert result.outcome is RoundOutcome.CONFLICT and "size 20" in result.detail
    assert outcomes(record)["w2.example"] is RoundOutcome.COSIGNED


def test_only_valid_lines_of_the_witness_are_stored(hosts: Hosts) -> None:
    """tlog-witness: the client ignores cosignatures from unknown keys; a witness answering
    200 with junk is a bad response and stores nothing."""
    append_rows(hosts.log, 4)
    checkpoint_round(hosts.log, post=lambda url, body, timeout: (200, b"\xe2\x80\x94 x AAAA\n"))
    record = RoundRecord.load(hosts.log.state_dir)
    assert record is not None and not record.quorum_met
    assert set(outcomes(record).values()) == {RoundOutcome.BAD_RESPONSE}
    assert witnessing(hosts.log) is Witnessing.AWAITING_WITNESSES
    # A valid cosignature by a key the log does not list is ignored too.
    stranger = CosignatureSigner.generate("w1.example")
    line = note.NoteSignature(stranger.name, stranger.key_id, stranger.sign(b"x")).line()
    append_rows(hosts.log, 1)
    checkpoint_round(hosts.log, post=lambda url, body, timeout: (200, line.encode()))
    assert witnessing(hosts.log) is Witnessing.AWAITING_WITNESSES
