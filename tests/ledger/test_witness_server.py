"""The witness of C2SP tlog-witness, request by request (docs/checkpoint-format.md §16).

Each status code of §add-checkpoint, in the spec's order; the state that never
rolls back; and the split view — a validly signed checkpoint of a size the
witness cosigned with another root — kept as evidence whatever the request.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path

import pytest

from ledger import note
from ledger.checkpoint import Checkpoint, CosignatureSigner, sign_checkpoint
from ledger.errors import ConfigurationError
from ledger.merkle import MerkleTree, leaf_hash, sha256
from ledger.witness_protocol import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    WitnessRequestError,
    origin_hash,
    parse_cosignatures,
)
from ledger.witness_server import Outcome, Witness, WitnessedLog, load_witnessed_logs

ORIGIN = "district.example/log"


class Log:
    """A log outside any database: a tree in memory and its signer."""

    def __init__(self, origin: str = ORIGIN) -> None:
        self.signer = note.Ed25519Signer.generate(origin)
        self.tree = MerkleTree()
        self.origin = origin

    def grow(self, count: int) -> None:
        self.tree.extend(leaf_hash(os.urandom(32)) for _ in range(count))

    def checkpoint(self, size: int | None = None, root: bytes | None = None) -> str:
        size = self.tree.size if size is None else size
        root = self.tree.root(size) if root is None else root
        return sign_checkpoint(Checkpoint(self.origin, size, root), self.signer)

    def request(self, old: int, checkpoint: str | None = None) -> bytes:
        new = self.tree.size
        proof = self.tree.consistency_proof(old, new) if 0 < old < new else []
        return AddCheckpoint(old, tuple(proof), checkpoint or self.checkpoint()).format()


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def witness(log: Log, tmp_path: Path) -> Witness:
    signer = CosignatureSigner.generate("witness.example/w1")
    logs = {ORIGIN: WitnessedLog(ORIGIN, (log.signer.verifier(),))}
    return Witness(signer, logs, str(tmp_path / "witness.db"))


def test_the_spec_example_request_parses() -> None:
    body = (
        "old 20852014\n"
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
        "\n"
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeO"
        "oRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    ).encode()
    request = AddCheckpoint.parse(body)
    assert request.old_size == 20852014 and len(request.proof) == 4
    assert request.checkpoint.startswith("example.com/behind-the-sofa\n20852163\n")
    assert request.format() == body


@pytest.mark.parametrize(
    "body",
    [
        b"old 5\nexample\n",  # no empty line
        b"old 05\n\nx\n\n\xe2\x80\x94 a b\n",  # leading zero
        b"new 5\n\nx\n",
        b"old 5\nnot base64!\n\nx\n",
        b"old 5\n" + base64.b64encode(b"short") + b"\n\nx\n",  # not 32 bytes
        b"old 5\n" + b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(64)) + b"\nx\n",
        b"old 5\n\n\xff\n",
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(WitnessRequestError):
        AddCheckpoint.parse(body)


def test_the_first_checkpoint_is_cosigned_and_served_to_monitors(
    log: Log, witness: Witness
) -> None:
    log.grow(10)
    answer = witness.add_checkpoint(log.request(0))
    assert (answer.status, answer.outcome) == (200, Outcome.COSIGNED)
    (line,) = parse_cosignatures(answer.body)
    verifier = witness.signer.verifier()
    body = log.checkpoint().split("\n\n")[0].encode() + b"\n"
    assert line.key == (verifier.name, verifier.key_id) and verifier.verify(body, line.signature)
    assert int.from_bytes(line.signature[:8], "big") > 0  # the timestamp is never zero
    served = witness.checkpoint(origin_hash(ORIGIN))
    assert served is not None
    opened = note.open(served, [log.signer.verifier(), verifier])
    assert len(opened.verified) == 2  # the log's signature it verified, and its own
    assert witness.checkpoint(hashlib.sha256(b"another").hexdigest()) is None


def test_each_refusal_in_the_specs_order(log: Log, witness: Witness) -> None:
    log.grow(10)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.grow(6)
    stranger = Log("unknown.example/log")
    stranger.grow(3)
    forged = Log()  # same origin, a key the witness does not know
    forged.tree = log.tree
    cases = [
        (b"old 1\n", 400, Outcome.MALFORMED),
        (stranger.request(0), 404, Outcome.UNKNOWN_LOG),
        (forged.request(10), 403, Outcome.BAD_SIGNATURE),
        (log.request(17), 400, Outcome.MALFORMED),  # old size above the checkpoint's
        (log.request(0), 409, Outcome.STALE),
        (log.request(9), 409, Outcome.STALE),
    ]
    for body, status, outcome in cases:
        answer = witness.add_checkpoint(body)
        assert (answer.status, answer.outcome) == (status, outcome), body[:40]
    stale = witness.add_checkpoint(log.request(9))
    assert stale.body == b"10\n" and stale.content_type == SIZE_CONTENT_TYPE
    # A signature line of a known key that does not verify: 403 (signed-note).
    good = log.checkpoint()
    text, sig = good.split("\n\n")
    raw = bytearray(base64.b64decode(sig.split(" ")[2]))
    raw[-1] ^= 1
    bad = f"{text}\n\n\u2014 {ORIGIN} {base64.b64encode(bytes(raw)).decode()}\n"
    assert witness.add_checkpoint(AddCheckpoint(10, (), bad).format()).status == 403
    # A proof from 0 must be empty; a bad proof is 422 and kept as evidence.
    proof = tuple(log.tree.consistency_proof(10, 16))
    with_proof = AddCheckpoint(0, proof, log.checkpoint()).format()
    assert witness.add_checkpoint(with_proof).status == 409  # old size first
    wrong = AddCheckpoint(10, (proof[0], *reversed(proof[1:])), log.checkpoint()).format()
    answer = witness.add_checkpoint(wrong)
    assert (answer.status, answer.outcome) == (422, Outcome.INCONSISTENT)
    assert [kind for kind, _, _ in witness.evidence(ORIGIN)] == ["inconsistent"]
    assert witness.add_checkpoint(log.request(10)).status == 200  # the right proof


def test_size_zero_needs_the_empty_root(log: Log, witness: Witness) -> None:
    empty = log.checkpoint(0, sha256(b""))
    assert witness.add_checkpoint(AddCheckpoint(0, (), empty).format()).status == 200
    other = log.checkpoint(0, bytes(32))
    answer = witness.add_checkpoint(AddCheckpoint(0, (), other).format())
    assert (answer.status, answer.outcome) == (422, Outcome.INCONSISTENT)
    # The spec checks the old size first: once the witness has moved on, it is 409.
    log.grow(3)
    assert witness.add_checkpoint(log.request(0)).status == 200
    assert witness.add_checkpoint(AddCheckpoint(0, (), other).format()).status == 409


def test_a_split_view_is_refused_and_kept_whatever_the_old_size(log: Log, witness: Witness) -> None:
    """Two trees of one size signed by the log key: 422 when the old size matches, 409 when
    it does not, 400 when it is above; every time kept as evidence and counted."""
    log.grow(10)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.grow(5)
    assert witness.add_checkpoint(log.request(10)).status == 200
    fork = log.checkpoint(15, hashlib.sha256(b"another history").digest())
    for old, status in ((15, 422), (10, 409), (16, 400)):
        answer = witness.add_checkpoint(AddCheckpoint(old, (), fork).format())
        assert (answer.status, answer.outcome) == (status, Outcome.SPLIT_VIEW), old
    earlier_fork = log.checkpoint(10, hashlib.sha256(b"yet another").digest())
    answer = witness.add_checkpoint(AddCheckpoint(15, (), earlier_fork).format())
    assert (answer.status, answer.outcome) == (400, Outcome.SPLIT_VIEW)
    evidence = witness.evidence(ORIGIN)
    assert [(kind, size) for kind, size, _ in evidence] == [("split_view", 15), ("split_view", 10)]
    assert all(note.open(text, [log.signer.verifier()]) for _, _, text in evidence)
    (summary,) = witness.summaries()
    assert (summary.tree_size, summary.split_views, summary.inconsistent) == (15, 2, 0)
    # The state never moved: the real log goes on.
    log.grow(1)
    assert witness.add_checkpoint(log.request(15)).status == 200


def test_the_state_survives_a_restart_and_never_rolls_back(
    log: Log, witness: Witness, tmp_path: Path
) -> None:
    log.grow(4)
    assert witness.add_checkpoint(log.request(0)).status == 200
    again = Witness(witness.signer, witness.logs, witness.state)
    assert again.add_checkpoint(log.request(0)).body == b"4\n"
    # Concurrent requests from one old size: exactly one moves the state (the spec's race).
    log.grow(4)
    answers: list[int] = []
    body = log.request(4)
    threads = [
        threading.Thread(target=lambda: answers.append(again.add_checkpoint(body).status))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 409, 409, 409]


def test_the_witnessed_logs_file(tmp_path: Path) -> None:
    a, b = note.Ed25519Signer.generate("a.example/log"), note.Ed25519Signer.generate("x")
    path = tmp_path / "logs.txt"
    path.write_text(
        f"# district logs\na.example/log {a.verifier().encode()}\n"
        f"a.example/log {b.verifier().encode()}\nb.example/log {b.verifier().encode()} sm3\n"
    )
    logs = load_witnessed_logs(str(path))
    assert logs["a.example/log"].keys == (a.verifier(), b.verifier())
    assert logs["b.example/log"].hash_algorithm == "sm3"
    for bad in ("a.example/log\n", "a.example/log not-a-key\n", f"o {a.verifier().encode()} md5\n"):
        path.write_text(bad)
        with pytest.raises(ConfigurationError):
            load_witnessed_logs(str(path))
