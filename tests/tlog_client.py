"""A tiled transparency log client written from the specifications alone.

It shares no code with govledger (it imports nothing of ``ledger``, ``api`` or
``ops``): if the server and this client agree, they agree because both follow

* c2sp.org/tlog-tiles: resource paths, full and partial tiles, entry bundles;
* c2sp.org/signed-note and c2sp.org/tlog-checkpoint: the checkpoint, its
  Ed25519 signature (type 0x01) and the key ID;
* c2sp.org/tlog-cosignature: ``cosignature/v1`` (type 0x04) witness lines;
* RFC 9162 §2.1 (= RFC 6962 §2.1): tree hash, inclusion and consistency
  proofs, built here from the tiles and checked with the RFC's verification
  algorithms written out again.

A fetcher maps a path relative to the log prefix (``checkpoint``,
``tile/0/000``) to its bytes, or raises :class:`NotFoundError`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Fetch = Callable[[str], bytes]
HashFn = Callable[[bytes], bytes]


class NotFoundError(Exception):
    """The resource is not served."""


class InvalidError(Exception):
    """Something the log served fails a check of the specifications."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# ---------------------------------------------------------------- fetchers


def http_fetcher(client: httpx.Client, prefix: str) -> Fetch:
    """Resources under ``prefix`` (e.g. ``http://host/tlog/``) over HTTP GET."""

    def fetch(path: str) -> bytes:
        reply = client.get(prefix.rstrip("/") + "/" + path)
        if reply.status_code == 404:
            raise NotFoundError(path)
        if reply.status_code != 200:
            raise InvalidError(f"GET {path}: HTTP {reply.status_code}")
        expected = "text/plain" if path == "checkpoint" else "application/octet-stream"
        if not reply.headers.get("content-type", "").startswith(expected):
            raise InvalidError(f"GET {path}: content type {reply.headers.get('content-type')}")
        return reply.content

    return fetch


def directory_fetcher(root: Path) -> Fetch:
    def fetch(path: str) -> bytes:
        try:
            return (root / path).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(path) from None

    return fetch


# ---------------------------------------------------------------- signed notes


@dataclass(frozen=True)
class NoteKey:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def parse_vkey(vkey: str, signature_type: int) -> NoteKey:
    """``<name>+<hex key ID>+base64(type || key)``, the key ID checked (signed-note)."""
    name, key_id_hex, encoded = vkey.split("+", 2)  # a name never holds "+"; base64 may
    raw = base64.b64decode(encoded, validate=True)
    if raw[0] != signature_type or len(raw) != 33:
        raise InvalidError(f"key {name} is not of type {signature_type:#04x}")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_id_hex:
        raise InvalidError(f"key {name}: wrong key ID")
    return NoteKey(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))


def split_note(note: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The note text (with its final newline) and its signature lines as (name, bytes)."""
    text = note.decode("utf-8")
    cut = text.rindex("\n\n")
    body, signatures = text[: cut + 1], text[cut + 2 :]
    if not signatures.endswith("\n"):
        raise InvalidError("the signature block does not end with a newline")
    lines = []
    for line in signatures[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise InvalidError(f"not a signature line: {line!r}")
        name, encoded = line[2:].split(" ")
        lines.append((name, base64.b64decode(encoded, validate=True)))
    return body.encode("utf-8"), lines


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    body: bytes
    note: bytes


def open_checkpoint(note: bytes, log_key: NoteKey) -> Checkpoint:
    """Verify the log's Ed25519 signature and parse the body (tlog-checkpoint)."""
    body, signatures = split_note(note)
    verified = False
    for name, signature in signatures:
        if name == log_key.name and signature[:4] == log_key.key_id:
            try:
                log_key.public_key.verify(signature[4:], body)
            except InvalidSignature:
                raise InvalidError("the log's signature does not verify") from None
            verified = True
    if not verified:
        raise InvalidError("no signature by the log key")
    origin, size, root = body.decode().split("\n")[:3]
    if size != str(int(size)):
        raise InvalidError(f"tree size {size!r} is not canonical")
    root_hash = base64.b64decode(root, validate=True)
    if len(root_hash) != 32:
        raise InvalidError("the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root_hash, body, note)


def verify_cosignature(checkpoint: Checkpoint, witness_key: NoteKey) -> int:
    """The timestamp of ``witness_key``'s valid ``cosignature/v1`` on ``checkpoint``."""
    _, signatures = split_note(checkpoint.note)
    for name, signature in signatures:
        if name == witness_key.name and signature[:4] == witness_key.key_id:
            timestamp = int.from_bytes(signature[4:12], "big")
            message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + checkpoint.body
            try:
                witness_key.public_key.verify(signature[12:], message)
            except InvalidSignature:
                raise InvalidError(f"the cosignature of {name} does not verify") from None
            return timestamp
    raise InvalidError(f"no cosignature by {witness_key.name}")


# ---------------------------------------------------------------- tiles


def tile_path(level: int | str, index: int, width: int) -> str:
    """tlog-tiles: ``tile/<L>/<N>[.p/<W>]`` with ``x``-prefixed three-digit elements."""
    digits = f"{index:d}"
    digits = "0" * (-len(digits) % 3) + digits
    elements = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = "/".join([*("x" + e for e in elements[:-1]), elements[-1]])
    return f"tile/{level}/{path}" + ("" if width == 256 else f".p/{width}")


class TiledLog:
    """The tree of one checkpoint, read from its tiles (each fetched once)."""

    def __init__(self, fetch: Fetch, checkpoint: Checkpoint, hash_fn: HashFn = sha256) -> None:
        self.fetch = fetch
        self.checkpoint = checkpoint
        self.size = checkpoint.size
        self.hash = hash_fn
        self.tiles: dict[str, list[bytes]] = {}
        self.fetched = 0

    def node(self, left: bytes, right: bytes) -> bytes:
        return self.hash(b"\x01" + left + right)

    def leaf_hash(self, entry: bytes) -> bytes:
        return self.hash(b"\x00" + entry)

    def _width(self, tile_level: int, tile_index: int) -> int:
        """tlog-tiles §Partial Tiles: full, or ``floor(size / 256^L) mod 256`` wide."""
        hashes = self.size // 256**tile_level
        return 256 if (tile_index + 1) * 256 <= hashes else hashes % 256

    def tile(self, tile_level: int | str, tile_index: int) -> list[bytes]:
        level = 0 if tile_level == "entries" else int(tile_level)
        path = tile_path(tile_level, tile_index, self._width(level, tile_index))
        if path not in self.tiles:
            data = self.fetch(path)
            self.fetched += 1
            if tile_level == "entries":
                self.tiles[path] = _bundle_entries(data)
            else:
                if len(data) % 32:
                    raise InvalidError(f"{path}: not a whole number of hashes")
                self.tiles[path] = [data[i : i + 32] for i in range(0, len(data), 32)]
            if len(self.tiles[path]) != self._width(level, tile_index):
                raise InvalidError(f"{path}: {len(self.tiles[path])} hashes, not its width")
        return self.tiles[path]

    def perfect(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree covering leaves ``[index·2^level, (index+1)·2^level)``:
        from the tile of level ``level // 8``, hashing up the ``level % 8`` levels inside it."""
        tile_level, height = divmod(level, 8)
        first = index << height
        hashes = self.tile(tile_level, first // 256)[first % 256 : first % 256 + (1 << height)]
        if len(hashes) != 1 << height:
            raise InvalidError(f"a subtree at level {level} is not complete in its tile")
        while len(hashes) > 1:
            hashes = [self.node(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def mth(self, begin: int, end: int) -> bytes:
        """RFC 9162 §2.1.1 MTH(D[begin:end]), from perfect subtrees where they are aligned."""
        n = end - begin
        if n == 0:
            return self.hash(b"")
        if n & (n - 1) == 0 and begin % n == 0:
            return self.perfect(n.bit_length() - 1, begin // n)
        k = 1 << ((n - 1).bit_length() - 1)
        return self.node(self.mth(begin, begin + k), self.mth(begin + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self.mth(0, self.size if size is None else size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""

        def path(m: int, begin: int, end: int) -> list[bytes]:
            n = end - begin
            if n == 1:
                return []
            k = 1 << ((n - 1).bit_length() - 1)
            if m < k:
                return [*path(m, begin, begin + k), self.mth(begin + k, end)]
            return [*path(m - k, begin + k, end), self.mth(begin, begin + k)]

        return path(index, 0, self.size)

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:size])."""

        def subproof(m: int, begin: int, end: int, whole: bool) -> list[bytes]:
            n = end - begin
            if m == n:
                return [] if whole else [self.mth(begin, end)]
            k = 1 << ((n - 1).bit_length() - 1)
            if m <= k:
                return [*subproof(m, begin, begin + k, whole), self.mth(begin + k, end)]
            return [*subproof(m - k, begin + k, end, False), self.mth(begin, begin + k)]

        return subproof(old_size, 0, self.size, True)

    def entry(self, index: int) -> bytes:
        return self.tile("entries", index // 256)[index % 256]

    def check_tile_levels(self) -> int:
        """Every hash of a level L+1 tile is the MTH of the full level-L tile below it."""
        checked, level = 0, 1
        while self.size >= 256**level:
            for i in range(self.size // 256**level):
                expected = self.tile(level, i // 256)[i % 256]
                below = self.tile(level - 1, i)
                while len(below) > 1:
                    below = [self.node(below[j], below[j + 1]) for j in range(0, len(below), 2)]
                if below[0] != expected:
                    raise InvalidError(f"tile level {level} hash {i} is not its tile's root")
                checked += 1
            level += 1
        return checked


def _bundle_entries(data: bytes) -> list[bytes]:
    """tlog-tiles §Log entries: big-endian uint16 length-prefixed entries."""
    entries, offset = [], 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise InvalidError("truncated entry length")
        length = int.from_bytes(data[offset : offset + 2], "big")
        entry = data[offset + 2 : offset + 2 + length]
        if len(entry) != length:
            raise InvalidError("truncated entry")
        entries.append(entry)
        offset += 2 + length
    return entries


# ---------------------------------------------------------------- RFC 9162 verification


def verify_inclusion(
    hash_fn: HashFn, leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        raise InvalidError("leaf index beyond the tree")
    if any(len(h) != 32 for h in (leaf, root, *proof)):
        raise InvalidError("a hash is not 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise InvalidError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = hash_fn(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hash_fn(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise InvalidError("inclusion proof does not lead to the root")


def verify_consistency(
    hash_fn: HashFn, size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> None:
    """RFC 9162 §2.1.4.2 (a proof from the empty tree proves nothing: refused)."""
    if size1 == size2 and size1 > 0:
        if proof or root1 != root2:
            raise InvalidError("same size: the proof must be empty and the roots equal")
        return
    if not 0 < size1 < size2 or not proof:
        raise InvalidError("no consistency proof for these sizes")
    if any(len(h) != 32 for h in (root1, root2, *proof)):
        raise InvalidError("a hash is not 32 bytes")
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr, sr = hash_fn(b"\x01" + c + fr), hash_fn(b"\x01" + c + sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = hash_fn(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    if fr != root1 or sr != root2 or sn != 0:
        raise InvalidError("consistency proof does not lead to both roots")


# ---------------------------------------------------------------- an audit


@dataclass(frozen=True)
class Audit:
    checkpoint: Checkpoint
    entries: list[bytes]
    tiles_fetched: int


def audit(
    fetch: Fetch,
    log_vkey: str,
    *,
    previous: Checkpoint | None = None,
    hash_fn: HashFn = sha256,
    sample: int = 64,
) -> Audit:
    """What a monitor does: verify the checkpoint, rebuild its root from the tiles, check every
    entry against the level-0 tiles, verify inclusion proofs of ``sample`` entries spread over
    the tree and, given an earlier checkpoint, a consistency proof from it."""
    checkpoint = open_checkpoint(fetch("checkpoint"), parse_vkey(log_vkey, 0x01))
    log = TiledLog(fetch, checkpoint, hash_fn)
    if log.root() != checkpoint.root:
        raise InvalidError("the root rebuilt from the tiles is not the signed root")
    entries = [log.entry(i) for i in range(log.size)]
    for i, entry in enumerate(entries):
        if log.leaf_hash(entry) != log.tile(0, i // 256)[i % 256]:
            raise InvalidError(f"entry {i} does not hash to its level-0 tile hash")
    log.check_tile_levels()
    step = max(log.size // sample, 1)
    for index in [*range(0, log.size, step), log.size - 1][: sample + 1]:
        proof = log.inclusion_proof(index)
        leaf = log.leaf_hash(entries[index])
        verify_inclusion(hash_fn, leaf, index, log.size, proof, checkpoint.root)
    if previous is not None:
        if previous.origin != checkpoint.origin or previous.size > checkpoint.size:
            raise InvalidError("the new checkpoint does not extend the previous one")
        if previous.size:
            proof = log.consistency_proof(previous.size)
            verify_consistency(
                hash_fn, previous.size, log.size, previous.root, checkpoint.root, proof
            )
    return Audit(checkpoint, entries, log.fetched)
