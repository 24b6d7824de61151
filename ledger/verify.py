"""Verification of a stored ledger (docs/ledger-format.md §5, §8).

Streams the rows in position order and recomputes every hash with
:class:`ledger.chain.ChainVerifier`: the same code the standalone verifier
runs on exports. The head it verified is recorded outside the database, and
the next run starts there, so a log that is cut or rewritten behind an
earlier verification fails even if its own hashes agree.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ledger.chain import ChainBreak, ChainReport, ChainVerifier, Genesis, check_genesis
from ledger.errors import ConfigurationError
from ledger.store.base import RowReader

DEFAULT_BATCH_SIZE = 5000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class VerifiedHead:
    position: int
    hash: bytes
    verified_at: str


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
        return VerifiedHead(position, head_hash, str(entry["verified_at"]))

    def save(self, ledger_id: str, position: int, head_hash: bytes) -> None:
        data = self._read_all()
        data[ledger_id] = {
            "position": position,
            "hash": head_hash.hex(),
            "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a crash mid-write never leaves a half record behind.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".verified-heads.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)


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
) -> ChainReport:
    """Verify the chain; by default from the last recorded head (incremental).

    ``start``: verify from row ``start``, trusting the stored hash of ``start − 1``.
    ``full``: ignore the recorded head as a starting point (it is still checked).
    """
    genesis = reader.genesis()
    broken = check_genesis(genesis)
    if broken:
        return _failed(genesis, 0, genesis.genesis_hash, broken)
    recorded = record.load(genesis.ledger_id) if record else None
    if recorded and (broken := _check_recorded_head(reader, recorded)):
        return _failed(genesis, recorded.position, recorded.hash, broken)
    anchor = _choose_anchor(reader, genesis, recorded, start, full)
    if isinstance(anchor, ChainBreak):
        return _failed(genesis, 0, genesis.genesis_hash, anchor)
    report = _stream(reader, genesis, anchor, progress, batch_size)
    if report.ok and record and anchor.trusted:
        record.save(genesis.ledger_id, report.head_position, report.head_hash)
    return report


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
) -> ChainReport:
    verifier = ChainVerifier(genesis.digest(), anchor.position, anchor.hash)
    for batch in reader.iter_batches(anchor.position, batch_size):
        index = verifier.feed(batch)
        if index is not None:
            failure = verifier.classify(batch[index], reader)
            return _report(genesis, anchor.position, verifier, failure)
        if progress:
            progress(len(batch))
    return _report(genesis, anchor.position, verifier, None)


def _report(
    genesis: Genesis, start: int, verifier: ChainVerifier, failure: ChainBreak | None
) -> ChainReport:
    return ChainReport(
        genesis.ledger_id,
        start,
        verifier.count,
        verifier.head_position,
        verifier.head_hash,
        failure,
    )


def _failed(genesis: Genesis, position: int, head_hash: bytes, failure: ChainBreak) -> ChainReport:
    return ChainReport(genesis.ledger_id, position, 0, position, head_hash, failure)
