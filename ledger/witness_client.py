"""The log's side of C2SP tlog-witness: ask the witnesses, keep what they cosign (§16).

After a checkpoint is issued, :func:`collect_cosignatures` sends the newest
checkpoint (the note as stored: the log's signature) to every witness of the
**witness URLs file** (``witness_urls_file``: ``<witness key name> <URL>`` a
line; the keys come from ``witness_keys_file``) with
https://c2sp.org/tlog-witness §add-checkpoint:

* the old size is the largest checkpoint that witness has a stored, valid
  cosignature on (0 if none); the consistency proof comes from the tree;
* on 409 it retries once from the size the witness names, if that is not
  larger than the checkpoint (a witness *ahead* of the log has cosigned a tree
  the log no longer shows: a rollback or a fork, a ``conflict``);
* only returned lines that verify with that witness's keys are stored
  (through ``add_cosignature``, checkpoint-format §11); others are ignored.

A witness that was away catches up at the next round: its old size is what
it last cosigned, and the proof covers everything since. The outcome of the
round is kept in ``<state_dir>/witness-round.json`` (:class:`RoundRecord`),
which ``/metrics`` exposes (docs/witnesses.md §Metrics).
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ledger import note
from ledger.checkpoint import CosignatureVerifier
from ledger.checkpoint_keys import load_witness_keys, read_key_lines
from ledger.checkpoint_store import CheckpointStore, StoredCheckpoint
from ledger.checkpoint_trust import policy_from_settings
from ledger.config import Settings
from ledger.errors import ConfigurationError, LedgerError
from ledger.tree import LedgerTree, open_ledger_tree
from ledger.witness_protocol import (
    ADD_CHECKPOINT,
    AddCheckpoint,
    WitnessRequestError,
    parse_cosignatures,
    parse_size,
)

__all__ = [
    "ROUND_RECORD",
    "Post",
    "RoundOutcome",
    "RoundRecord",
    "WitnessEndpoint",
    "WitnessResult",
    "collect_cosignatures",
    "load_witness_endpoints",
]

ROUND_RECORD = "witness-round.json"
_MAX_ANSWER_BYTES = 64 * 1024

Post = Callable[[str, bytes, float], tuple[int, bytes]]
"""``post(url, body, timeout) -> (status, body)``; raises :class:`OSError` when unreachable."""


class RoundOutcome(StrEnum):
    """What one witness did with the checkpoint (a closed set: a metric label)."""

    COSIGNED = "cosigned"  # a valid cosignature is stored (now or before)
    UNREACHABLE = "unreachable"  # no HTTP answer
    REFUSED = "refused"  # 400, 403, 404 or another error: configuration, not the log's tree
    CONFLICT = "conflict"  # 422, or the witness cosigned a larger tree: the views differ
    BAD_RESPONSE = "bad_response"  # 200 without a valid cosignature by its keys


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks: its key name, submission prefix URL and verifier keys."""

    name: str
    url: str
    keys: tuple[CosignatureVerifier, ...]


def load_witness_endpoints(settings: Settings) -> list[WitnessEndpoint]:
    """The witness URLs file, each name matched to its keys in ``witness_keys_file``."""
    path = settings.witness_urls_file
    if not path:
        return []
    keys = load_witness_keys(settings)
    endpoints: list[WitnessEndpoint] = []
    for number, line in enumerate(read_key_lines(path, "witness URLs file"), start=1):
        fields = line.split()
        if len(fields) != 2 or not fields[1].startswith(("http://", "https://")):
            raise ConfigurationError(f"{path}: line {number}: expected '<witness name> <URL>'")
        name, url = fields
        own = tuple(k for k in keys if k.name == name)
        if not own:
            raise ConfigurationError(
                f"{path}: line {number}: witness {name} has no key in the witness keys file"
            )
        endpoints.append(WitnessEndpoint(name, url.rstrip("/"), own))
    return endpoints


@dataclass(frozen=True)
class WitnessResult:
    witness: str
    outcome: RoundOutcome
    detail: str
    status: int | None = None
    last_cosigned_at: str | None = None


@dataclass(frozen=True)
class RoundRecord:
    """One round: the checkpoint asked about, each witness's outcome, and the quorum."""

    checkpoint_id: int
    tree_size: int
    finished_at: str
    quorum: int
    cosignatures: int  # policy witnesses with a valid cosignature on this checkpoint
    quorum_met: bool
    witnesses: tuple[WitnessResult, ...]

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["witnesses"] = [{**asdict(w), "outcome": w.outcome.value} for w in self.witnesses]
        return body

    def save(self, state_dir: str) -> None:
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{ROUND_RECORD}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=2, sort_keys=True)
        os.replace(temporary, directory / ROUND_RECORD)

    @classmethod
    def load(cls, state_dir: str) -> RoundRecord | None:
        """The last round; ``None`` if none was recorded (or the record is unreadable)."""
        try:
            data = json.loads((Path(state_dir) / ROUND_RECORD).read_text(encoding="utf-8"))
            witnesses = tuple(
                WitnessResult(
                    str(w["witness"]),
                    RoundOutcome(w["outcome"]),
                    str(w["detail"]),
                    w.get("status"),
                    w.get("last_cosigned_at"),
                )
                for w in data["witnesses"]
            )
            return cls(
                int(data["checkpoint_id"]),
                int(data["tree_size"]),
                str(data["finished_at"]),
                int(data["quorum"]),
                int(data["cosignatures"]),
                bool(data["quorum_met"]),
                witnesses,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def http_post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST ``body`` with the standard library; any HTTP status is an answer."""
    request = urllib.request.Request(  # noqa: S310 - the URL comes from the operator's file
        url, data=body, method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            return int(reply.status), reply.read(_MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as e:
        with e:
            return int(e.code), e.read(_MAX_ANSWER_BYTES)
    except urllib.error.URLError as e:
        raise OSError(str(e.reason)) from None


def collect_cosignatures(settings: Settings, *, post: Post = http_post) -> RoundRecord | None:
    """Ask every configured witness to cosign the newest checkpoint; record the round.

    ``None`` when no witness URL is configured. Never raises for a witness's
    failure: that is its outcome in the record (and a metric).
    """
    endpoints = load_witness_endpoints(settings)
    if not endpoints:
        return None
    previous = {w.witness: w for w in (RoundRecord.load(settings.state_dir) or _EMPTY).witnesses}
    with open_ledger_tree(settings) as tree:
        store = CheckpointStore(tree.database)
        newest = store.latest()
        if newest is None:
            raise LedgerError("no checkpoint to witness yet (run `govledger checkpoint issue`)")
        results = []
        for endpoint in endpoints:
            result = _ask(endpoint, tree, store, newest, post, settings.witness_timeout_seconds)
            if result.last_cosigned_at is None and endpoint.name in previous:
                earlier = previous[endpoint.name].last_cosigned_at
                result = replace(result, last_cosigned_at=earlier)
            results.append(result)
        after = next(c for c in store.newest_first() if c.id == newest.id)
        policy = policy_from_settings(settings, tree.genesis.ledger_id)
    witnesses = policy.witnesses if policy else ()
    quorum = policy.quorum if policy else 0
    cosigned = note.parse(after.cosigned(witnesses)).signatures
    count = sum(1 for w in witnesses if any(s.key == (w.name, w.key_id) for s in cosigned))
    met = policy.witnessed(after) if policy else True
    record = RoundRecord(newest.id, newest.tree_size, _now(), quorum, count, met, tuple(results))
    record.save(settings.state_dir)
    return record


_EMPTY = RoundRecord(0, 0, "", 0, 0, True, ())


def _ask(
    endpoint: WitnessEndpoint,
    tree: LedgerTree,
    store: CheckpointStore,
    checkpoint: StoredCheckpoint,
    post: Post,
    timeout: float,
) -> WitnessResult:
    name = endpoint.name
    if checkpoint.cosigned(endpoint.keys) != checkpoint.note:
        return WitnessResult(name, RoundOutcome.COSIGNED, "already cosigned")
    last = store.newest_cosigned_by(endpoint.keys)
    old_size = last.tree_size if last is not None else 0
    for _attempt in range(2):
        if old_size > checkpoint.tree_size:
            return WitnessResult(
                name,
                RoundOutcome.CONFLICT,
                f"the witness cosigned size {old_size}, larger than checkpoint "
                f"{checkpoint.id} (size {checkpoint.tree_size})",
            )
        request = AddCheckpoint(old_size, _proof(tree, old_size, checkpoint), checkpoint.note)
        try:
            status, answer = post(f"{endpoint.url}/{ADD_CHECKPOINT}", request.format(), timeout)
        except OSError as e:
            return WitnessResult(name, RoundOutcome.UNREACHABLE, f"{e.__class__.__name__}: {e}")
        if status != 409:
            return _answered(endpoint, store, checkpoint, status, answer)
        try:
            old_size = parse_size(answer)
        except WitnessRequestError as e:
            return WitnessResult(name, RoundOutcome.BAD_RESPONSE, str(e), status)
    return WitnessResult(name, RoundOutcome.REFUSED, "409 twice: the witness moved on", 409)


def _proof(tree: LedgerTree, old_size: int, checkpoint: StoredCheckpoint) -> tuple[bytes, ...]:
    if not 0 < old_size < checkpoint.tree_size:
        return ()
    tree.refresh()
    return tree.consistency(old_size, checkpoint.tree_size).proof


def _answered(
    endpoint: WitnessEndpoint,
    store: CheckpointStore,
    checkpoint: StoredCheckpoint,
    status: int,
    answer: bytes,
) -> WitnessResult:
    name = endpoint.name
    detail = answer[:200].decode("utf-8", "replace").strip().split("\n")[0]
    if status == 422:
        return WitnessResult(name, RoundOutcome.CONFLICT, detail, status)
    if status != 200:
        return WitnessResult(name, RoundOutcome.REFUSED, detail, status)
    try:
        lines = parse_cosignatures(answer)
    except WitnessRequestError as e:
        return WitnessResult(name, RoundOutcome.BAD_RESPONSE, str(e), status)
    body = note.parse(checkpoint.note).text.encode("utf-8")
    stored = 0
    for signature in lines:  # tlog-witness: ignore cosignatures from unknown keys
        for key in endpoint.keys:
            if signature.key == (key.name, key.key_id) and key.verify(body, signature.signature):
                store.add_cosignature(checkpoint.id, signature.line(), key)
                stored += 1
    if not stored:
        return WitnessResult(name, RoundOutcome.BAD_RESPONSE, "no valid cosignature", status)
    return WitnessResult(name, RoundOutcome.COSIGNED, "cosigned", status, _now())
