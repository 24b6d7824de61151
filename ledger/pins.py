"""The verifier's trust outside the database: pins per ledger location (docs/ledger-format.md §8).

Whoever can rewrite every row of the database can also choose the ledger id stored
in it, so what ``govledger verify`` remembers is keyed by *where* the ledger is (the
database the settings point at), never by what the database says it is. Per
location, ``ledger-pins.json`` in the state directory keeps the ledger's identity
(id, genesis hash, algorithm), the head last verified (with the compact range of
the tree at that head) and the newest trusted checkpoint; a binary file beside it
keeps the first 8 bytes of every verified row's hash, which locates the first row
of a rewrite that recomputed every hash after it.

The state directory written before pins held ``verified-heads.json``, keyed by
ledger id: it is read (never written) so an upgraded deployment keeps its memory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.chain import Genesis
from ledger.config import Settings
from ledger.errors import ConfigurationError

__all__ = [
    "PREFIX_SIZE",
    "HeadRecord",
    "Identity",
    "Pin",
    "PinStore",
    "VerifiedHead",
    "ledger_location",
    "now",
]

PINS_FILE = "ledger-pins.json"
LEGACY_FILE = "verified-heads.json"
PINS_FORMAT = "govledger-pins/1"
PREFIX_SIZE = 8
"""Bytes of each verified row's hash kept in the row memory (§8)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def ledger_location(settings: Settings) -> str:
    """The ledger's location (§8): the database the settings name, without credentials."""
    db = settings.database
    if db.backend == "sqlite":
        path = db.path if db.path == ":memory:" else os.path.realpath(db.path)
        return f"sqlite:{path}"
    return f"postgresql://{db.host.lower()}:{db.port}/{db.dbname}#{settings.postgres_schema}"


@dataclass(frozen=True)
class Identity:
    """What makes a ledger this ledger (§3): it never changes for the life of a ledger."""

    ledger_id: str
    genesis_hash: bytes
    hash_algorithm: str
    created_at: str

    @classmethod
    def of(cls, genesis: Genesis) -> Identity:
        return cls(genesis.ledger_id, genesis.genesis_hash, genesis.hash_algorithm,
                   genesis.created_at)  # fmt: skip

    def describe(self) -> str:
        return f"ledger {self.ledger_id} ({self.hash_algorithm}, created {self.created_at})"

    def difference(self, other: Identity) -> str | None:
        """What differs from ``other``, in words; ``None`` when it is the same ledger."""
        for name in ("ledger_id", "genesis_hash", "hash_algorithm", "created_at"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                shown = (mine.hex(), theirs.hex()) if isinstance(mine, bytes) else (mine, theirs)
                return f"{name} {shown[1]} where {shown[0]} was pinned"
        return None


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
class Pin:
    """One location's entry of ``ledger-pins.json``."""

    location: str
    identity: Identity
    pinned_at: str
    head: VerifiedHead
    rows_file: str | None  # the row memory's file name; None: no memory (a migrated pin)

    def to_json(self) -> dict[str, Any]:
        head = self.head
        entry: dict[str, Any] = {
            "ledger_id": self.identity.ledger_id,
            "genesis_hash": self.identity.genesis_hash.hex(),
            "hash_algorithm": self.identity.hash_algorithm,
            "created_at": self.identity.created_at,
            "pinned_at": self.pinned_at,
            "head": {
                "position": head.position,
                "hash": head.hash.hex(),
                "verified_at": head.verified_at,
                "frontier": None if head.frontier is None else [h.hex() for h in head.frontier],
            },
            "checkpoint": None
            if head.checkpoint is None
            else {"size": head.checkpoint[0], "root": head.checkpoint[1].hex()},
            "rows": self.rows_file,
        }
        return entry

    @classmethod
    def from_json(cls, location: str, entry: dict[str, Any]) -> Pin:
        head, checkpoint = entry["head"], entry.get("checkpoint")
        identity = Identity(
            str(entry["ledger_id"]),
            bytes.fromhex(entry["genesis_hash"]),
            str(entry["hash_algorithm"]),
            str(entry["created_at"]),
        )
        frontier = head.get("frontier")
        verified = VerifiedHead(
            int(head["position"]),
            bytes.fromhex(head["hash"]),
            str(head["verified_at"]),
            None if frontier is None else tuple(bytes.fromhex(h) for h in frontier),
            None
            if checkpoint is None
            else (int(checkpoint["size"]), bytes.fromhex(checkpoint["root"])),
        )
        rows = entry.get("rows")
        return cls(location, identity, str(entry["pinned_at"]), verified,
                   None if rows is None else str(rows))  # fmt: skip


class PinStore:
    """``ledger-pins.json`` and the row memories beside it, in one state directory.

    Read-modify-write happens under an exclusive lock on ``ledger-pins.lock``, and
    the file is replaced whole (write-then-rename): two verifications sharing the
    directory (the timer and the console) never lose each other's pins.
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / PINS_FILE

    # ------------------------------------------------------------------ reading

    def load(self, location: str) -> Pin | None:
        entry = self._read().get("pins", {}).get(location)
        if entry is None:
            return None
        try:
            return Pin.from_json(location, entry)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigurationError(
                f"{self.path}: the pin of {location} is unreadable: {e}"
            ) from e

    def legacy(self, genesis: Genesis) -> Pin | None:
        """A pin made from ``verified-heads.json`` (before pins) for this ledger, if it has one."""
        head = _legacy_heads(self.dir).get(genesis.ledger_id)
        if head is None:
            return None
        return Pin("", Identity.of(genesis), head.verified_at, head, rows_file=None)

    def head_of(self, ledger_id: str) -> VerifiedHead | None:
        """The newest head verified for ``ledger_id`` at any location, or in the legacy file."""
        heads = [
            pin.head
            for location in self._read().get("pins", {})
            if (pin := self.load(location)) is not None and pin.identity.ledger_id == ledger_id
        ]
        if heads:
            return max(heads, key=lambda h: h.verified_at)
        return _legacy_heads(self.dir).get(ledger_id)

    def memory(self, pin: Pin) -> bytes:
        """The row memory of ``pin``: ``PREFIX_SIZE`` bytes per verified row, position 1 first.

        Shorter than the pinned head when it was lost; longer after a crash between
        its write and the pin's (the excess is not yet trusted and is cut here).
        """
        if pin.rows_file is None:
            return b""
        try:
            data = (self.dir / pin.rows_file).read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as e:
            raise ConfigurationError(f"cannot read the row memory {pin.rows_file}: {e}") from e
        return data[: pin.head.position * PREFIX_SIZE]

    # ------------------------------------------------------------------ writing

    def save(self, pin: Pin, *, kept: int, prefixes: bytes) -> Pin:
        """Record ``pin``: its row memory is the first ``kept`` remembered rows plus ``prefixes``.

        The row memory is written first, then the pin: a crash in between leaves a
        memory longer than the pin's head, which :meth:`memory` ignores.
        """
        rows_file = f"ledger-rows-{hashlib.sha256(pin.location.encode()).hexdigest()[:16]}.bin"
        pin = replace(pin, rows_file=rows_file)
        with self._locked():
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(self.dir / rows_file, "ab") as f:
                f.truncate(kept * PREFIX_SIZE)
                f.write(prefixes)
                f.flush()
                os.fsync(f.fileno())
            data = self._read()
            data.setdefault("pins", {})[pin.location] = pin.to_json()
            self._write(data)
        return pin

    def retire(self, location: str, why: str) -> None:
        """Move the pin of ``location`` to ``retired`` (``--adopt``); its row memory is reused."""
        with self._locked():
            data = self._read()
            old = data.get("pins", {}).pop(location, None)
            if old is None:
                return
            data.setdefault("retired", []).append(
                {"location": location, "retired_at": now(), "why": why, "pin": old}
            )
            self._write(data)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "ledger-pins.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": PINS_FORMAT, "pins": {}}
        except (OSError, ValueError) as e:
            raise ConfigurationError(f"cannot read the verifier's pins {self.path}: {e}") from e
        if not isinstance(data, dict) or data.get("format") != PINS_FORMAT:
            raise ConfigurationError(f"{self.path} is not a {PINS_FORMAT} file")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".ledger-pins.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def _legacy_heads(state_dir: Path) -> dict[str, VerifiedHead]:
    """``verified-heads.json`` as the verifier wrote it before pins (read only)."""
    path = state_dir / LEGACY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ConfigurationError(f"cannot read verified heads {path}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} is not a verified-head record")
    heads: dict[str, VerifiedHead] = {}
    for ledger_id, entry in data.items():
        try:
            frontier, checkpoint = entry.get("frontier"), entry.get("checkpoint")
            heads[ledger_id] = VerifiedHead(
                int(str(entry["position"])),
                bytes.fromhex(str(entry["hash"])),
                str(entry["verified_at"]),
                tuple(bytes.fromhex(h) for h in frontier) if isinstance(frontier, list) else None,
                (int(checkpoint["size"]), bytes.fromhex(checkpoint["root"]))
                if isinstance(checkpoint, dict)
                else None,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise ConfigurationError(f"{path}: the head of {ledger_id} is unreadable: {e}") from e
    return heads


class HeadRecord:
    """The verified head of a ledger id, for readers that know only the id (the console's
    health page, ``/metrics``): the newest pin of that ledger, else ``verified-heads.json``.

    Passed to :func:`ledger.verify.verify_ledger` it is the memory of verifiers written
    before pins: keyed by ledger id, without identity pins or row memory.
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / LEGACY_FILE

    def load(self, ledger_id: str) -> VerifiedHead | None:
        return PinStore(self.dir).head_of(ledger_id)

    def save(
        self,
        ledger_id: str,
        position: int,
        head_hash: bytes,
        *,
        frontier: Sequence[bytes] | None = None,
        checkpoint: tuple[int, bytes] | None = None,
    ) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as e:
            raise ConfigurationError(f"cannot read verified heads {self.path}: {e}") from e
        entry: dict[str, object] = {
            "position": position,
            "hash": head_hash.hex(),
            "verified_at": now(),
        }
        if frontier is not None:
            entry["frontier"] = [h.hex() for h in frontier]
        if checkpoint is not None:
            entry["checkpoint"] = {"size": checkpoint[0], "root": checkpoint[1].hex()}
        data[ledger_id] = entry
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".verified-heads.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)
