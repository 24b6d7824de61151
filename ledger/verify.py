"""Verification of a stored ledger (docs/ledger-format.md §5, §8).

Streams the rows in position order and recomputes every hash with
:class:`ledger.chain.ChainVerifier`: the same code the standalone verifier
runs on exports. The head it verified is recorded outside the database, and
the next run starts there, so a log that is cut or rewritten behind an
earlier verification fails even if its own hashes agree.

Given a :class:`CheckpointSource`, the log is also checked against the newest
signed checkpoint it trusts (docs/checkpoint-format.md §11): the log must reach
the checkpoint's size, and the RFC 9162 §2.1.1 root recomputed from the rows
must equal the signed root, so a tail cut or a history rewritten end to end
with recomputed hashes fails as ``checkpoint``. The roots are recomputed while
streaming, from a compact range (the perfect-subtree roots on the tree's right
edge) recorded beside the verified head, so incremental runs stay incremental.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ledger.chain import (
    ChainBreak,
    ChainReport,
    ChainVerifier,
    Genesis,
    RowTuple,
    check_genesis,
    hash_function,
)
from ledger.errors import ConfigurationError, ProofError
from ledger.merkle import HashFunction, verify_consistency
from ledger.store.base import RowReader

DEFAULT_BATCH_SIZE = 5000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class VerifiedHead:
    position: int
    hash: bytes
    verified_at: str
    # The compact range of the tree of ``position`` leaves (checkpoint-format §11), if recorded.
    frontier: tuple[bytes, ...] | None = None
    # The newest checkpoint (size, root) the log was verified against, if any.
    checkpoint: tuple[int, bytes] | None = None


@dataclass(frozen=True)
class SignedHead:
    """A checkpoint whose signature (and witness quorum) a :class:`CheckpointSource` checked."""

    size: int
    root: bytes
    description: str


class CheckpointSource(Protocol):
    """Where verification finds the newest signed checkpoint (ledger/checkpoints.py)."""

    def newest(self) -> SignedHead | ChainBreak | None:
        """The newest stored checkpoint if trusted, the break naming why not, or ``None``."""
        ...

    def consistency_proof(self, size1: int, size2: int) -> Sequence[bytes] | None:
        """An RFC 9162 §2.1.4 proof between two sizes, or ``None`` if the tree is behind."""
        ...


class HeadRecord:
    """The verifier's own memory: ``verified-heads.json`` in the state directory (§8)."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / "verified-heads.json"

    def _read_all(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise ConfigurationError(f"cannot read verified heads {self.path}: {e}") from e
        if not isinstance(data, dict):
            raise ConfigurationError(f"{self.path} is not a verified-head record")
        return data

    def load(self, ledger_id: str) -> VerifiedHead | None:
        entry = self._read_all().get(ledger_id)
        if entry is None:
            return None
        position, head_hash = int(str(entry["position"])), bytes.fromhex(str(entry["hash"]))
        frontier = entry.get("frontier")
        checkpoint = entry.get("checkpoint")
        return VerifiedHead(
            position,
            head_hash,
            str(entry["verified_at"]),
            tuple(bytes.fromhex(h) for h in frontier) if isinstance(frontier, list) else None,
            (int(checkpoint["size"]), bytes.fromhex(checkpoint["root"]))
            if isinstance(checkpoint, dict)
            else None,
        )

    def save(
        self,
        ledger_id: str,
        position: int,
        head_hash: bytes,
        *,
        frontier: Sequence[bytes] | None = None,
        checkpoint: tuple[int, bytes] | None = None,
    ) -> None:
        data = self._read_all()
        entry: dict[str, object] = {
            "position": position,
            "hash": head_hash.hex(),
            "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if frontier is not None:
            entry["frontier"] = [h.hex() for h in frontier]
        if checkpoint is not None:
            entry["checkpoint"] = {"size": checkpoint[0], "root": checkpoint[1].hex()}
        data[ledger_id] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a crash mid-write never leaves a half record behind.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".verified-heads.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)


class LastRunRecord:
    """The outcome of the newest verification run: ``verify-last-run.json`` in the state
    directory. ``/metrics`` reads it (docs/operations.md §Metrics) so a failed run raises
    LedgerVerificationFailed; :class:`HeadRecord` keeps successes only."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / "verify-last-run.json"

    def save(self, report: ChainReport) -> None:
        entry = {
            "ledger_id": report.ledger_id,
            "ok": report.ok,
            "head_position": report.head_position,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".verify-last-run.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entry, f)
        os.replace(tmp, self.path)

    def load(self, ledger_id: str) -> tuple[bool, str] | None:
        """``(ok, finished_at)`` of the newest run over ``ledger_id``, if one was recorded."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise ConfigurationError(f"cannot read {self.path}: {e}") from e
        if not isinstance(data, dict) or data.get("ledger_id") != ledger_id:
            return None
        return bool(data.get("ok")), str(data.get("finished_at", ""))


@dataclass(frozen=True)
class _Anchor:
    position: int
    hash: bytes
    trusted: bool  # does a success from here extend what was verified before?


def verify_ledger(
    reader: RowReader,
    record: HeadRecord | None = None,
    *,
    start: int | None = None,
    full: bool = False,
    progress: Progress | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    checkpoints: CheckpointSource | None = None,
) -> ChainReport:
    """Verify the chain; by default from the last recorded head (incremental).

    ``start``: verify from row ``start``, trusting the stored hash of ``start − 1``.
    ``full``: ignore the recorded head as a starting point (it is still checked).
    ``checkpoints``: also check the log against the newest signed checkpoint
    (kind ``checkpoint`` when it is shorter than, or differs from, that checkpoint).
    """
    genesis = reader.genesis()
    broken = check_genesis(genesis)
    if broken:
        return _failed(genesis, 0, genesis.genesis_hash, broken)
    recorded = record.load(genesis.ledger_id) if record else None
    signed: SignedHead | None = None
    if checkpoints is not None:
        found = _newest_checkpoint(reader, checkpoints, recorded)
        if isinstance(found, ChainBreak):
            return _failed(genesis, 0, genesis.genesis_hash, found)
        signed = found
    if recorded and (broken := _check_recorded_head(reader, recorded)):
        return _failed(genesis, recorded.position, recorded.hash, broken)
    anchor = _choose_anchor(reader, genesis, recorded, start, full)
    if isinstance(anchor, ChainBreak):
        return _failed(genesis, 0, genesis.genesis_hash, anchor)
    tracker = None
    if signed is not None:
        tracker = _RootTracker(hash_function(genesis.hash_algorithm), signed)
        tracker.start(reader, anchor.position, recorded, batch_size)
        if broken := tracker.check_behind_anchor(reader, checkpoints, recorded, batch_size):
            return _failed(genesis, anchor.position, anchor.hash, broken)
    report = _stream(reader, genesis, anchor, progress, batch_size, tracker)
    if report.ok and record and anchor.trusted:
        record.save(
            genesis.ledger_id,
            report.head_position,
            report.head_hash,
            frontier=tracker.frontier.hashes if tracker else None,
            checkpoint=(signed.size, signed.root) if signed else None,
        )
    return report


def _newest_checkpoint(
    reader: RowReader, checkpoints: CheckpointSource, recorded: VerifiedHead | None
) -> SignedHead | ChainBreak | None:
    """The newest trusted checkpoint; the log must reach it, and it must not go backwards."""
    found = checkpoints.newest()
    if isinstance(found, ChainBreak):
        return found
    seen = recorded.checkpoint if recorded else None
    if seen is not None and (found is None or found.size < seen[0]):
        newest = f"size {found.size}" if found else "none"
        return ChainBreak(
            seen[0],
            "checkpoint",
            f"a checkpoint of size {seen[0]} was verified before, but the newest stored "
            f"checkpoint is {newest}: checkpoints were removed",
        )
    if seen is not None and found is not None and found.size == seen[0] and found.root != seen[1]:
        return ChainBreak(
            found.size, "checkpoint", f"{found.description} has another root than the one seen"
        )
    if found is None:
        return None
    last = reader.max_position()
    if last < found.size:
        return ChainBreak(
            last + 1,
            "checkpoint",
            f"the log ends at {last}, before the {found.size} rows of signed {found.description}",
        )
    return found


class _Frontier:
    """A compact range from leaf 0: the roots of the perfect subtrees on the right edge.

    Appending follows RFC 9162 §2.1.1 incrementally; :meth:`root` folds the
    subtrees right to left, as the RFC's split at the largest power of two does.
    """

    def __init__(self, hash_fn: HashFunction, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ProofError(f"a compact range of {size} leaves needs {size.bit_count()} hashes")
        self.hash_fn = hash_fn
        self.size = size
        self.hashes = list(hashes)

    def extend(self, entry_hashes: Iterable[bytes]) -> None:
        hash_fn, hashes, size = self.hash_fn, self.hashes, self.size
        for entry in entry_hashes:
            node, index = hash_fn(b"\x00" + entry), size
            while index & 1:
                node = hash_fn(b"\x01" + hashes.pop() + node)
                index >>= 1
            hashes.append(node)
            size += 1
        self.size = size

    def root(self) -> bytes:
        if not self.hashes:
            return self.hash_fn(b"")
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = self.hash_fn(b"\x01" + left + result)
        return result


class _RootTracker:
    """Recomputes the tree over the verified rows and compares it with a signed checkpoint."""

    def __init__(self, hash_fn: HashFunction, signed: SignedHead) -> None:
        self.hash_fn = hash_fn
        self.signed = signed
        self.frontier = _Frontier(hash_fn)

    def start(
        self, reader: RowReader, anchor: int, recorded: VerifiedHead | None, batch_size: int
    ) -> None:
        """The compact range at the anchor: recorded with the head, or rebuilt from the rows."""
        if recorded and recorded.position == anchor and recorded.frontier is not None:
            self.frontier = _Frontier(self.hash_fn, anchor, recorded.frontier)
            return
        self.frontier = _prefix(reader, anchor, self.hash_fn, batch_size)

    def check_behind_anchor(
        self,
        reader: RowReader,
        checkpoints: CheckpointSource | None,
        recorded: VerifiedHead | None,
        batch_size: int,
    ) -> ChainBreak | None:
        """A checkpoint at or before the anchor: compare roots, via a consistency proof if older."""
        signed, anchor = self.signed, self.frontier.size
        if signed.size > anchor:
            return None
        if recorded and recorded.checkpoint == (signed.size, signed.root):
            return None  # checked in an earlier run; the rows up to the head are pinned by its hash
        if signed.size == anchor:
            return self._compare(self.frontier.root())
        proof = checkpoints.consistency_proof(signed.size, anchor) if checkpoints else None
        if proof is None:
            return self._compare(_prefix(reader, signed.size, self.hash_fn, batch_size).root())
        try:
            verify_consistency(
                signed.size, anchor, signed.root, self.frontier.root(), proof, hash_fn=self.hash_fn
            )
        except ProofError as e:
            return self._mismatch(f"the verified rows are not consistent with it ({e})")
        return None

    def feed(self, rows: Sequence[RowTuple]) -> ChainBreak | None:
        """Extend over verified rows; compare the root when the checkpoint's size is reached."""
        frontier, target = self.frontier, self.signed.size
        if frontier.size < target <= frontier.size + len(rows):
            split = target - frontier.size
            frontier.extend(row[6] for row in rows[:split])
            if broken := self._compare(frontier.root()):
                return broken
            rows = rows[split:]
        frontier.extend(row[6] for row in rows)
        return None

    def _compare(self, root: bytes) -> ChainBreak | None:
        if root == self.signed.root:
            return None
        return self._mismatch("the root of the rows differs: the history was rewritten")

    def _mismatch(self, why: str) -> ChainBreak:
        signed = self.signed
        return ChainBreak(
            signed.size,
            "checkpoint",
            f"rows 1..{signed.size} vs signed {signed.description}: {why}",
        )


def _prefix(reader: RowReader, size: int, hash_fn: HashFunction, batch_size: int) -> _Frontier:
    """The compact range of the first ``size`` rows' stored hashes (one pass over them)."""
    frontier = _Frontier(hash_fn)
    if size == 0:
        return frontier
    for batch in reader.iter_batches(0, batch_size):
        frontier.extend(row[6] for row in batch[: size - frontier.size])
        if frontier.size >= size:
            break
    return frontier


def _check_recorded_head(reader: RowReader, recorded: VerifiedHead) -> ChainBreak | None:
    if recorded.position == 0:
        return None
    row = reader.row_at(recorded.position)
    if row is None:
        last = reader.max_position()
        return ChainBreak(
            last + 1,
            "truncated",
            f"the log ends at {last}, before the head {recorded.position} "
            f"verified at {recorded.verified_at}",
        )
    if row[6] != recorded.hash:
        return ChainBreak(
            recorded.position,
            "altered",
            f"row {recorded.position} differs from the head verified at {recorded.verified_at}",
        )
    return None


def _choose_anchor(
    reader: RowReader,
    genesis: Genesis,
    recorded: VerifiedHead | None,
    start: int | None,
    full: bool,
) -> _Anchor | ChainBreak:
    if start is not None and start > 1:
        row = reader.row_at(start - 1)
        if row is None:
            return ChainBreak(start - 1, "missing", f"position {start - 1} is absent")
        passes_recorded = recorded is not None and start - 1 <= recorded.position
        return _Anchor(start - 1, row[6], trusted=passes_recorded)
    if start is not None or full or recorded is None:
        return _Anchor(0, genesis.genesis_hash, trusted=True)
    return _Anchor(recorded.position, recorded.hash, trusted=True)


def _stream(
    reader: RowReader,
    genesis: Genesis,
    anchor: _Anchor,
    progress: Progress | None,
    batch_size: int,
    tracker: _RootTracker | None = None,
) -> ChainReport:
    verifier = ChainVerifier(genesis.digest(), anchor.position, anchor.hash)
    for batch in reader.iter_batches(anchor.position, batch_size):
        index = verifier.feed(batch)
        if index is not None:
            failure = verifier.classify(batch[index], reader)
            return verifier.report(genesis.ledger_id, anchor.position, failure)
        if tracker and (mismatch := tracker.feed(batch)):
            return verifier.report(genesis.ledger_id, anchor.position, mismatch)
        if progress:
            progress(len(batch))
    return verifier.report(genesis.ledger_id, anchor.position, None)


def _failed(genesis: Genesis, position: int, head_hash: bytes, failure: ChainBreak) -> ChainReport:
    return ChainReport(genesis.ledger_id, position, 0, position, head_hash, failure)
