"""The log as static tiles, C2SP tlog-tiles (docs/checkpoint-format.md §15).

https://c2sp.org/tlog-tiles §Merkle Tree: tile ``<L>/<N>[.p/<W>]`` holds the
hashes ``N·256 … N·256+W−1`` of tree level ``8·L``; §Log entries: bundle
``entries/<N>[.p/<W>]`` holds entries as big-endian uint16-length-prefixed
byte strings. An entry of this log is a row's 32-byte entry hash (the leaf
data of §2), so the tiles are the stored tree itself: tile ``(L, N)`` is strip
``N`` of level ``8·L`` (ledger/tree.py), cut to its width.

* :class:`TileRef`: one resource, its path (§Merkle Tree: the ``x``-prefixed
  three-digit elements) and its parse; :func:`tiles_for` lists a tree's tiles.
* :class:`TileReader`: the bytes of a tile or bundle from the ledger's tables,
  only within the published checkpoint's tree (:func:`published_checkpoint`).
* :func:`write_tiles`: the static files, incremental, checkpoint written last.

Reading never writes: the tree is read as the issuer integrated it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg

from ledger import note
from ledger.chain import Genesis, hash_function
from ledger.checkpoint import Checkpoint
from ledger.checkpoint_keys import load_witness_keys, signer_key_file, trusted_keys_path
from ledger.checkpoint_store import CheckpointStore, StoredCheckpoint
from ledger.checkpoint_trust import StoredCheckpoints, policy_from_settings
from ledger.config import Settings
from ledger.errors import ConfigurationError, LedgerError, NoteError, ProofError
from ledger.merkle import HASH_SIZE
from ledger.store.base import RowReader
from ledger.store.connect import open_reader
from ledger.tree import STRIP_WIDTH, Database, DatabaseNodeStore

__all__ = [
    "ENTRY_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "PublishedCheckpoint",
    "TileNotFoundError",
    "TileReader",
    "TileRef",
    "TilesWritten",
    "published_checkpoint",
    "tiles_for",
    "write_tiles",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes, as the stored strips
MAX_LEVEL = 63
ENTRY_LEVEL = -1  # the entry bundles, beside the level-0 tiles
_ENTRY_LENGTH = HASH_SIZE.to_bytes(2, "big")
_INDEX_ELEMENT = re.compile(r"[0-9]{3}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")

assert TILE_WIDTH == STRIP_WIDTH, "a tile is one stored strip"


class TileNotFoundError(LedgerError):
    """The resource is not a tile path, or lies beyond the published checkpoint's tree."""


@dataclass(frozen=True, order=True)
class TileRef:
    """One resource: a hash tile of ``level`` 0–63, or the entry bundle (``ENTRY_LEVEL``)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not ENTRY_LEVEL <= self.level <= MAX_LEVEL or self.index < 0:
            raise TileNotFoundError(f"no tile at level {self.level}, index {self.index}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileNotFoundError(f"tile width {self.width} is not within 1..{TILE_WIDTH}")

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def entries(self) -> bool:
        return self.level == ENTRY_LEVEL

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (tlog-tiles §Merkle Tree)."""
        level = "entries" if self.entries else str(self.level)
        partial = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{partial}"

    @classmethod
    def parse(cls, path: str) -> TileRef:
        """The resource named by ``path`` (relative to the prefix), spelt as the spec spells it."""
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "tile":
            raise TileNotFoundError(f"{path!r} is not a tile path")
        level_text, rest = parts[1], parts[2:]
        width = TILE_WIDTH
        if len(rest) >= 2 and rest[-2].endswith(".p"):
            width_text = rest[-1]
            if not _DECIMAL.fullmatch(width_text) or not 1 <= int(width_text) < TILE_WIDTH:
                raise TileNotFoundError(f"{path!r}: bad partial width")
            width, rest = int(width_text), [*rest[:-2], rest[-2].removesuffix(".p")]
        if level_text == "entries":
            level = ENTRY_LEVEL
        elif _DECIMAL.fullmatch(level_text) and int(level_text) <= MAX_LEVEL:
            level = int(level_text)
        else:
            raise TileNotFoundError(f"{path!r}: bad level")
        return cls(level, decode_index(rest, path), width)

    def first_leaf(self) -> int:
        """The index of the first leaf the resource covers (its *start index*)."""
        return int(self.index * TILE_WIDTH ** (max(self.level, 0) + 1))

    def leaves_needed(self) -> int:
        """The smallest tree size that contains every hash (or entry) of this resource."""
        level = max(self.level, 0)
        return int((self.index * TILE_WIDTH + self.width) * TILE_WIDTH**level)

    def node_ids(self) -> list[tuple[int, int]]:
        """The ``(tree level, index)`` of each hash of a hash tile (ledger/merkle.py NodeId)."""
        first = self.index * TILE_WIDTH
        return [(TILE_HEIGHT * self.level, first + i) for i in range(self.width)]


def encode_index(index: int) -> str:
    """tlog-tiles: zero-padded three-digit elements, all but the last prefixed ``x``."""
    elements = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        elements.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(elements))


def decode_index(elements: list[str], path: str) -> int:
    """Inverse of :func:`encode_index`; only its canonical form is accepted."""
    if not elements:
        raise TileNotFoundError(f"{path!r}: no tile index")
    *upper, last = elements
    digits = [e[1:] if e.startswith("x") else "" for e in upper] + [last]
    if not all(_INDEX_ELEMENT.fullmatch(d) for d in digits):
        raise TileNotFoundError(f"{path!r}: bad tile index")
    if upper and digits[0] == "000":
        raise TileNotFoundError(f"{path!r}: tile index with a leading zero element")
    return int("".join(digits))


def tiles_for(size: int, *, entries: bool = True) -> Iterator[TileRef]:
    """Every resource of a tree of ``size`` leaves: full tiles, then the partial one, per level
    (tlog-tiles §Partial Tiles: width ``floor(size / 256^L) mod 256``); entry bundles first."""
    if entries:
        yield from _level_tiles(ENTRY_LEVEL, size)
    level, hashes = 0, size
    while hashes:
        yield from _level_tiles(level, hashes)
        level, hashes = level + 1, hashes // TILE_WIDTH


def _level_tiles(level: int, hashes: int) -> Iterator[TileRef]:
    full, partial = divmod(hashes, TILE_WIDTH)
    for index in range(full):
        yield TileRef(level, index)
    if partial:
        yield TileRef(level, full, partial)


# ---------------------------------------------------------------- the published checkpoint


@dataclass(frozen=True)
class PublishedCheckpoint:
    """The checkpoint the tiles commit to, as served (the note with its witnesses' lines)."""

    checkpoint: Checkpoint
    served: str
    stored_id: int


def published_checkpoint(
    settings: Settings, database: Database, genesis: Genesis
) -> PublishedCheckpoint | None:
    """The newest checkpoint that meets the witness policy (§11 *Serve*, ``latest
    --witnessed``); without trusted keys, the newest stored. ``None`` if there is none yet.

    Raises :class:`NoteError` when the stored checkpoints fail the policy (untrusted).
    """
    chosen: StoredCheckpoint | None
    policy = policy_from_settings(settings, genesis.ledger_id)
    if policy is None:
        chosen = CheckpointStore(database).latest()
        witnesses = load_witness_keys(settings)
    else:
        status = StoredCheckpoints(database, policy, hash_function(genesis.hash_algorithm)).status()
        if status.failure is not None:
            raise NoteError(f"no checkpoint to publish: {status.failure.detail}")
        chosen, witnesses = status.trusted_checkpoint, policy.witnesses
    if chosen is None:
        return None
    served = chosen.cosigned(witnesses)
    return PublishedCheckpoint(Checkpoint.parse(note.parse(served).text), served, chosen.id)


# ---------------------------------------------------------------- reading tiles

_PUBLISHED: dict[tuple[object, ...], PublishedCheckpoint | None] = {}
_PUBLISHED_KEPT = 16


def _policy_files(settings: Settings) -> tuple[str, ...]:
    """The content of the files the policy is read from: a rotation changes the answer."""
    paths = (trusted_keys_path(settings), signer_key_file(settings), settings.witness_keys_file)
    return tuple(_content(path) for path in paths)


def _content(path: str) -> str:
    if not path:
        return ""
    try:
        return f"{path}\n" + Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return f"{path} unreadable"


class TileReader:
    """Tiles and entry bundles of the ledger, within the published checkpoint's tree.

    A hash tile is one row of the tree table (checkpoint-format §10 *Layout*: the
    strip of level ``8·L``), read in one query; the rows are opened only for
    entry bundles and the genesis only when the published checkpoint is computed.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings, readonly=True)
        self._reader: RowReader | None = None
        self._genesis: Genesis | None = None

    @property
    def reader(self) -> RowReader:
        if self._reader is None:
            self._reader = open_reader(self.settings)
        return self._reader

    @property
    def genesis(self) -> Genesis:
        if self._genesis is None:
            self._genesis = self.reader.genesis()
        return self._genesis

    def published(self) -> PublishedCheckpoint | None:
        """:func:`published_checkpoint`, remembered while no checkpoint or cosignature is
        added and the trust settings stay the same (a tile request pays one small query)."""
        key = (self.settings, self._newest_rows(), _policy_files(self.settings))
        if key in _PUBLISHED:
            return _PUBLISHED[key]
        found = published_checkpoint(self.settings, self.database, self.genesis)
        if len(_PUBLISHED) >= _PUBLISHED_KEPT:
            _PUBLISHED.clear()
        _PUBLISHED[key] = found
        return found

    def _newest_rows(self) -> tuple[int, int]:
        store = CheckpointStore(self.database)
        try:
            ids = self.database.query(
                f"SELECT (SELECT max(id) FROM {store.checkpoints}), "
                f"(SELECT max(id) FROM {store.cosignatures})"
            )[0]
        except (sqlite3.Error, psycopg.Error):
            return (0, 0)  # no checkpoint tables yet: nothing published
        return (int(ids[0] or 0), int(ids[1] or 0))

    def read(self, ref: TileRef, tree_size: int) -> bytes:
        """The bytes of ``ref`` in the tree of ``tree_size`` leaves (the published size)."""
        if ref.leaves_needed() > tree_size:
            raise TileNotFoundError(f"{ref.path()} is beyond the published tree ({tree_size})")
        if ref.entries:
            return self._entries(ref)
        table = self.database.table(DatabaseNodeStore.SUFFIX)
        rows = self.database.query(
            f"SELECT hashes FROM {table} WHERE level = ? AND strip = ?",
            (TILE_HEIGHT * ref.level, ref.index),
        )
        data = bytes(rows[0][0])[: ref.width * HASH_SIZE] if rows else b""
        if len(data) != ref.width * HASH_SIZE:
            raise ProofError(
                f"{ref.path()}: the tree is not integrated up to the published checkpoint"
            )
        return data

    def _entries(self, ref: TileRef) -> bytes:
        rows = next(self.reader.iter_batches(ref.first_leaf(), ref.width), [])
        if len(rows) != ref.width:
            raise ProofError(f"{ref.path()}: the log has fewer rows than the published tree")
        return b"".join(_ENTRY_LENGTH + bytes(row[6]) for row in rows)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self.database.close()

    def __enter__(self) -> TileReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ---------------------------------------------------------------- static files


@dataclass(frozen=True)
class TilesWritten:
    tree_size: int
    written: int  # files written now (tiles, bundles, the checkpoint)
    present: int  # full tiles and bundles already there


Progress = Callable[[int], None]


def write_tiles(
    settings: Settings, directory: str, *, progress: Progress | None = None
) -> TilesWritten | None:
    """Write the published checkpoint's tiles and bundles into ``directory`` (§15 *Static files*).

    Full resources already present (with their full size) are kept; partial
    ones of this size are written; the ``checkpoint`` file goes last. ``None``
    when no checkpoint is published yet (none issued, or none witnessed under a quorum).
    """
    root = Path(directory)
    with TileReader(settings) as tiles:
        published = tiles.published()
        if published is None:
            return None
        size = published.checkpoint.size
        _check_mirror(root / "checkpoint", published.checkpoint)
        written = present = 0
        for ref in tiles_for(size):
            target = root / ref.path()
            if ref.full and _full_file(target, ref):
                present += 1
                continue
            _write_file(target, tiles.read(ref, size))
            written += 1
            if progress:
                progress(1)
        _write_file(root / "checkpoint", published.served.encode("utf-8"))
    return TilesWritten(size, written + 1, present)


def _full_file(path: Path, ref: TileRef) -> bool:
    expected = TILE_WIDTH * (HASH_SIZE + (len(_ENTRY_LENGTH) if ref.entries else 0))
    try:
        return path.stat().st_size == expected
    except FileNotFoundError:
        return False


def _check_mirror(path: Path, published: Checkpoint) -> None:
    """Refuse to overwrite another log's, or a larger tree's, checkpoint."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"cannot read {path}: {e.__class__.__name__}") from None
    try:
        there = Checkpoint.parse(note.parse(text).text)
    except NoteError as e:
        raise ConfigurationError(f"{path} is not a checkpoint: {e}") from None
    if there.origin != published.origin:
        raise ConfigurationError(
            f"{path} is the checkpoint of {there.origin!r}, not of {published.origin!r}"
        )
    if there.size > published.size:
        raise ProofError(
            f"{path} has a larger tree ({there.size}) than the published checkpoint "
            f"({published.size}): refusing to roll the published log back"
        )


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
