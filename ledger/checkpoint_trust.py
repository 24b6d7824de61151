"""Which stored checkpoint ``verify`` trusts, and the witnessing state (checkpoint-format §11).

A :class:`CheckpointPolicy` is what a verifier trusts: the origin, the log's
keys by standing (§6) and a witness quorum (§7). :class:`StoredCheckpoints` is
the :class:`ledger.verify.CheckpointSource` over the ledger's own tables: it
walks the stored checkpoints newest first (§11 *The newest checkpoint*) and

* every checkpoint it passes must carry a valid log signature, or it is a
  ``checkpoint`` break (a row nobody trusted to sign wrote it);
* the first that meets the quorum is what ``verify`` checks the rows against;
* those above it, signed by the log but not yet cosigned by the quorum, are
  **awaiting witnesses**: a state of their own (:class:`CheckpointStatus`), not
  a break, which the operator exposes as a metric with its own alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ledger import note
from ledger.chain import ChainBreak, Genesis, hash_function
from ledger.checkpoint import Checkpoint, CosignatureVerifier, open_checkpoint, require_cosignatures
from ledger.checkpoint_keys import TrustedKeys, load_trusted_keys, load_witness_keys
from ledger.checkpoint_store import CheckpointStore, StoredCheckpoint
from ledger.config import Settings
from ledger.errors import ConfigurationError, NoteError
from ledger.merkle import HashFunction, MerkleTree
from ledger.tree import Database, DatabaseNodeStore
from ledger.verify import SignedHead

__all__ = [
    "CheckpointPolicy",
    "CheckpointStatus",
    "StoredCheckpoints",
    "Witnessing",
    "checkpoint_source",
    "checkpoint_status",
    "default_origin",
    "ledger_origin",
    "policy_from_settings",
]


def default_origin(ledger_id: str) -> str:
    """checkpoint-format §5: ``govledger.local/<ledger id>`` unless configured."""
    return f"govledger.local/{ledger_id}"


def ledger_origin(settings: Settings, ledger_id: str) -> str:
    """The origin this ledger's checkpoints carry: ``checkpoint_origin`` or the default."""
    return settings.checkpoint_origin or default_origin(ledger_id)


@dataclass(frozen=True)
class CheckpointPolicy:
    """What a verifier trusts: origin, log keys, witnesses and quorum (§6-§8)."""

    origin: str
    keys: TrustedKeys
    witnesses: tuple[CosignatureVerifier, ...] = ()
    quorum: int = 0

    def open_signed(self, served: str) -> Checkpoint:
        """Verify the log signature and origin only; raise :class:`NoteError`."""
        return open_checkpoint(
            served,
            self.keys.active,
            origin=self.origin,
            retired=self.keys.retired,
            revoked=self.keys.revoked,
        )

    def open(self, served: str) -> Checkpoint:
        """Verify the log signature (and the witness quorum); raise :class:`NoteError`."""
        checkpoint = self.open_signed(served)
        if self.quorum > 0:
            require_cosignatures(served, self.witnesses, self.quorum)
        return checkpoint

    def served(self, stored: StoredCheckpoint) -> str:
        """The stored note with the lines of this policy's witnesses that verify (§11 *Serve*)."""
        return stored.cosigned(self.witnesses)

    def witnessed(self, stored: StoredCheckpoint) -> bool:
        """Whether ``stored`` carries the quorum's valid cosignatures (always, without one)."""
        if self.quorum <= 0:
            return True
        try:
            require_cosignatures(self.served(stored), self.witnesses, self.quorum)
        except NoteError:
            return False
        return True

    def signed_only_by_revoked(self, stored: StoredCheckpoint) -> bool:
        try:
            verified, _ = note.verify_signatures(note.parse(stored.note), self.keys.revoked)
        except NoteError:
            return False
        return bool(verified)


def policy_from_settings(settings: Settings, ledger_id: str) -> CheckpointPolicy | None:
    """The policy configured in settings; ``None`` when no log key is configured."""
    keys = load_trusted_keys(settings)
    if not keys.counted and not keys.revoked:
        return None
    witnesses = load_witness_keys(settings)
    if settings.witness_quorum > len(witnesses):
        raise ConfigurationError(
            f"witness quorum {settings.witness_quorum} exceeds the {len(witnesses)} witness keys"
        )
    return CheckpointPolicy(
        ledger_origin(settings, ledger_id), keys, witnesses, max(settings.witness_quorum, 0)
    )


class Witnessing(StrEnum):
    """Where the stored checkpoints stand against the policy (§11 *Witnessing state*)."""

    NONE = "none"  # no checkpoint stored yet
    WITNESSED = "witnessed"  # the newest checkpoint meets the policy
    AWAITING_WITNESSES = "awaiting-witnesses"  # newer ones signed by the log, not yet cosigned
    UNTRUSTED = "untrusted"  # a stored checkpoint fails the policy: a break


@dataclass(frozen=True)
class CheckpointStatus:
    """The typed answer of :meth:`StoredCheckpoints.status`.

    ``trusted``: the newest checkpoint that meets the policy, what ``verify``
    checks the rows against (``trusted_checkpoint``: that checkpoint as stored).
    ``newest``: the newest stored checkpoint; ``newest_signed``: the newest with a
    valid log signature (``trusted`` itself unless some await witnesses).
    ``awaiting``: how many checkpoints above ``trusted`` wait for witnesses, and
    ``awaiting_since`` when the oldest of them was issued. ``failure``: the break
    when ``state`` is ``untrusted``.
    """

    state: Witnessing
    trusted: SignedHead | None = None
    newest: StoredCheckpoint | None = None
    trusted_checkpoint: StoredCheckpoint | None = None
    awaiting: int = 0
    awaiting_since: str | None = None
    failure: ChainBreak | None = None
    newest_signed: SignedHead | None = None

    def to_json(self) -> dict[str, Any]:
        """What ``checkpoint status --json`` prints and the console shows."""
        newest, witnessed = self.newest, self.trusted_checkpoint
        return {
            "state": self.state.value,
            "newest": {"id": newest.id, "tree_size": newest.tree_size} if newest else None,
            "witnessed": (
                {"id": witnessed.id, "tree_size": witnessed.tree_size} if witnessed else None
            ),
            "awaiting": self.awaiting,
            "awaiting_since": self.awaiting_since,
            "failure": self.failure.detail if self.failure else None,
        }


def _where(stored: StoredCheckpoint) -> str:
    return f"checkpoint {stored.id} (size {stored.tree_size})"


class StoredCheckpoints:
    """The :class:`ledger.verify.CheckpointSource` over the ledger's own checkpoint table."""

    def __init__(self, database: Database, policy: CheckpointPolicy, hash_fn: HashFunction) -> None:
        self.database = database
        self.policy = policy
        self.hash_fn = hash_fn
        self.store = CheckpointStore(database)

    def newest(self) -> SignedHead | ChainBreak | None:
        """The newest checkpoint that meets the policy; a break if one above it (or it) is
        not signed by a trusted log key; ``None`` if none meets it yet (§11 *Verify*)."""
        status = self.status()
        return status.failure or status.trusted

    def status(self) -> CheckpointStatus:
        """Walk the stored checkpoints newest first, down to the first that meets the policy."""
        newest: StoredCheckpoint | None = None
        awaiting: list[tuple[StoredCheckpoint, SignedHead]] = []
        for stored in self.store.newest_first():
            newest = newest or stored
            try:
                checkpoint = self.policy.open_signed(stored.note)
            except NoteError as e:
                if awaiting and self.policy.signed_only_by_revoked(stored):
                    continue  # withdrawn after a compromise, below a newer trusted signature
                return self._untrusted(newest, stored, f"is not trusted: {e}")
            if (checkpoint.size, checkpoint.root_hash) != (stored.tree_size, stored.root_hash):
                return self._untrusted(newest, stored, "columns differ from its note")
            head = SignedHead(
                checkpoint.size,
                checkpoint.root_hash,
                f"{_where(stored)}, issued {stored.issued_at}",
            )
            if self.policy.witnessed(stored):
                return _status(head, stored, newest, awaiting)
            awaiting.append((stored, head))
        return _status(None, None, newest, awaiting)

    @staticmethod
    def _untrusted(
        newest: StoredCheckpoint, stored: StoredCheckpoint, why: str
    ) -> CheckpointStatus:
        failure = ChainBreak(stored.tree_size, "checkpoint", f"{_where(stored)} {why}")
        return CheckpointStatus(Witnessing.UNTRUSTED, newest=newest, failure=failure)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes] | None:
        if not self.database.has_table(DatabaseNodeStore.SUFFIX):
            return None
        tree = MerkleTree(DatabaseNodeStore(self.database), hash_fn=self.hash_fn)
        return tree.consistency_proof(size1, size2) if size2 <= tree.size else None

    def close(self) -> None:
        self.database.close()


def _status(
    trusted: SignedHead | None,
    stored: StoredCheckpoint | None,
    newest: StoredCheckpoint | None,
    awaiting: list[tuple[StoredCheckpoint, SignedHead]],
) -> CheckpointStatus:
    if newest is None:
        return CheckpointStatus(Witnessing.NONE)
    if not awaiting:
        return CheckpointStatus(
            Witnessing.WITNESSED, trusted, newest, stored, newest_signed=trusted
        )
    return CheckpointStatus(
        Witnessing.AWAITING_WITNESSES,
        trusted,
        newest,
        stored,
        awaiting=len(awaiting),
        awaiting_since=awaiting[-1][0].issued_at,
        newest_signed=awaiting[0][1],
    )


@contextmanager
def checkpoint_source(settings: Settings, genesis: Genesis) -> Iterator[StoredCheckpoints | None]:
    """What ``verify`` checks the log against; ``None`` when no log key is configured.

    ``with checkpoint_source(settings, reader.genesis()) as checkpoints:
    verify_ledger(reader, ..., checkpoints=checkpoints)``
    """
    policy = policy_from_settings(settings, genesis.ledger_id)
    if policy is None:
        yield None
        return
    hash_fn = hash_function(genesis.hash_algorithm)
    source = StoredCheckpoints(Database(settings, readonly=True), policy, hash_fn)
    try:
        yield source
    finally:
        source.close()


def checkpoint_status(settings: Settings, genesis: Genesis) -> CheckpointStatus | None:
    """The witnessing state for metrics and the console; ``None`` without a log key.

    Read-only. ``awaiting-witnesses`` is not tampering: alert on it apart from
    LedgerVerificationFailed, when it lasts longer than the witnesses' schedule.
    """
    with checkpoint_source(settings, genesis) as source:
        return source.status() if source is not None else None
