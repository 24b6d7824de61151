"""The govledger chain format, version 1 (``docs/ledger-format.md`` §2–§7).

This one file is both the reference implementation of the hash input and the
standalone verifier of exported ledgers: it imports only the standard library
and ``cryptography``, so it can be copied anywhere and run as::

    python chain.py EXPORT.jsonl [--json] [--anchor POSITION:HEXHASH]

The store (``ledger/store``) and ``govledger verify`` use the same functions,
so there is exactly one definition of what a row's hash is.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TextIO

FORMAT_VERSION: Final = 1
GENESIS_TAG: Final = b"GLG1"
ENTRY_TAG: Final = b"GLE1"
DIGEST_SIZE: Final = 32
HASH_ALGORITHMS: Final = ("sha256", "sm3")

# A row as it travels through the hot path: plain tuples are several times
# cheaper than objects when verifying hundreds of thousands of rows a second.
# (position, originator_id, originator_version, topic, state, prev_hash, hash)
RowTuple = tuple[int, str, int, str, bytes, bytes, bytes]
Digest = Callable[[bytes], bytes]

# Every kind of break §5 names, in the order its table classifies them.
BREAK_KINDS: Final = (
    "genesis",
    "pin",
    "below_genesis",
    "malformed",
    "duplicate",
    "missing",
    "reordered",
    "inserted",
    "altered",
    "beyond_head",
    "head_record",
    "truncated",
    "rewritten",
    "checkpoint",
)
_I64: Final = 1 << 63
# What a malformed field raises while its row is hashed (a NULL, a TEXT state, a lone surrogate).
_MALFORMED_ERRORS: Final = (TypeError, AttributeError, ValueError, OverflowError)


class ChainFormatError(ValueError):
    """Input that is not a well-formed ledger (bad JSON, field, algorithm or hash size)."""


def _sha256(data: bytes) -> bytes:
    # hashlib and cryptography share OpenSSL; hashlib's call overhead is ~2.5x lower.
    return hashlib.sha256(data).digest()


def _sm3(data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 - only SM3 needs it

    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def hash_function(name: str) -> Digest:
    """The digest function for a genesis ``hash_algorithm`` name (§3)."""
    if name == "sha256":
        return _sha256
    if name == "sm3":
        return _sm3
    known = ", ".join(HASH_ALGORITHMS)
    raise ChainFormatError(f"unknown hash algorithm {name!r} (known: {known})")


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class Genesis:
    """The genesis record (§3): identity and algorithm of one ledger."""

    ledger_id: str
    created_at: str
    hash_algorithm: str
    genesis_hash: bytes
    format_version: int = FORMAT_VERSION

    def expected_hash(self) -> bytes:
        return genesis_hash(self.ledger_id, self.created_at, self.hash_algorithm)

    def digest(self) -> Digest:
        return hash_function(self.hash_algorithm)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "genesis",
            "format_version": self.format_version,
            "ledger_id": self.ledger_id,
            "created_at": self.created_at,
            "hash_algorithm": self.hash_algorithm,
            "genesis_hash": self.genesis_hash.hex(),
        }


def genesis_hash(ledger_id: str, created_at: str, hash_algorithm: str) -> bytes:
    """``H("GLG1" || u64(1) || lp(ledger_id) || lp(created_at) || lp(algorithm))`` (§3)."""
    data = b"".join(
        (
            GENESIS_TAG,
            FORMAT_VERSION.to_bytes(8, "big"),
            _lp(ledger_id.encode()),
            _lp(created_at.encode()),
            _lp(hash_algorithm.encode()),
        )
    )
    return hash_function(hash_algorithm)(data)


def entry_input(
    position: int,
    prev_hash: bytes,
    originator_id: str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """The exact bytes hashed for one row (§4)."""
    oid = originator_id.encode()
    top = topic.encode()
    return b"".join(
        (
            ENTRY_TAG,
            position.to_bytes(8, "big"),
            prev_hash,
            len(oid).to_bytes(4, "big"),
            oid,
            originator_version.to_bytes(8, "big", signed=True),
            len(top).to_bytes(4, "big"),
            top,
            len(state).to_bytes(4, "big"),
            state,
        )
    )


def entry_hash(digest: Digest, row: RowTuple) -> bytes:
    """Recompute a row's hash from its fields and its stored ``prev_hash``."""
    position, oid, version, topic, state, prev, _ = row
    return digest(entry_input(position, prev, oid, version, topic, state))


def chain_rows(
    digest: Digest,
    head_position: int,
    head_hash: bytes,
    events: Iterable[tuple[str, int, str, bytes]],
) -> list[RowTuple]:
    """Give new events their positions and hashes after the head (the writer's side, §6).

    The same bytes as :func:`entry_input`, inlined: this runs once per appended event.
    """
    rows: list[RowTuple] = []
    prev = head_hash
    position = head_position
    topics: dict[str, bytes] = {}  # a batch repeats a few topics many times
    for oid, version, topic, state in events:
        position += 1
        lp_topic = topics.get(topic)
        if lp_topic is None:
            lp_topic = topics[topic] = _lp(topic.encode())
        oid_b = oid.encode()
        h = digest(
            b"".join(
                (
                    ENTRY_TAG,
                    position.to_bytes(8, "big"),
                    prev,
                    len(oid_b).to_bytes(4, "big"),
                    oid_b,
                    version.to_bytes(8, "big", signed=True),
                    lp_topic,
                    len(state).to_bytes(4, "big"),
                    state,
                )
            )
        )
        rows.append((position, oid, version, topic, state, prev, h))
        prev = h
    return rows


@dataclass(frozen=True)
class ChainBreak:
    """The first row that does not verify, and the kind of break (§5)."""

    position: int
    kind: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification run."""

    ledger_id: str
    start_position: int  # the anchor: rows after it were checked
    count: int  # rows checked in this run
    head_position: int
    head_hash: bytes
    failure: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "ledger_id": self.ledger_id,
            "from_position": self.start_position + 1,
            "count": self.count,
            "head_position": self.head_position,
            "head_hash": self.head_hash.hex(),
            "failure": self.failure.to_json() if self.failure else None,
        }


class RowLookup(Protocol):
    """Random access the classifier needs once a row fails (never on the fast path)."""

    def row_at(self, position: int) -> RowTuple | None: ...

    def position_of_hash(self, stored_hash: bytes, after: int) -> int | None: ...


class ChainVerifier:
    """Checks rows in position order from an anchor; feed it batches.

    ``feed`` returns the index within the batch of the first failing row,
    or ``None``; ``classify`` then names the break using a :class:`RowLookup`.
    """

    def __init__(self, digest: Digest, anchor_position: int, anchor_hash: bytes) -> None:
        self.digest = digest
        self.head_position = anchor_position
        self.head_hash = anchor_hash
        self.count = 0

    def feed(self, rows: Sequence[RowTuple]) -> int | None:
        try:
            return self._feed(rows)
        except _MALFORMED_ERRORS:
            # A field the row cannot be hashed with (§5 rule 2): find that row, one by one;
            # classify() names it. Nothing was recorded of the batch before the error.
            for index, row in enumerate(rows):  # each row before it is fed, one at a time
                try:
                    if malformed_reason(row) is not None or self._feed([row]) is not None:
                        return index
                except _MALFORMED_ERRORS:  # a position below 0 cannot be a u64
                    return index
            raise

    def _feed(self, rows: Sequence[RowTuple]) -> int | None:
        digest = self.digest
        position = self.head_position
        prev = self.head_hash
        tag = ENTRY_TAG
        for index, (pos, oid, version, topic, state, stored_prev, stored) in enumerate(rows):
            oid_b = oid.encode()
            topic_b = topic.encode()
            data = b"".join(
                (
                    tag,
                    pos.to_bytes(8, "big"),
                    prev,
                    len(oid_b).to_bytes(4, "big"),
                    oid_b,
                    version.to_bytes(8, "big", signed=True),
                    len(topic_b).to_bytes(4, "big"),
                    topic_b,
                    len(state).to_bytes(4, "big"),
                    state,
                )
            )
            if pos != position + 1 or stored_prev != prev or digest(data) != stored:
                self.head_position, self.head_hash = position, prev
                self.count += index
                return index
            position, prev = pos, stored
        self.count += len(rows)
        self.head_position, self.head_hash = position, prev
        return None

    def report(self, ledger_id: str, start: int, failure: ChainBreak | None) -> ChainReport:
        """What this verifier has checked since ``start``, and the break it found, if any."""
        return ChainReport(
            ledger_id, start, self.count, self.head_position, self.head_hash, failure
        )

    def classify(self, row: RowTuple, lookup: RowLookup) -> ChainBreak:
        """Name the break at ``row``, the first row that failed (§5 table, in order)."""
        return self._classify_position(row) or self._classify_link(row, lookup)

    def _classify_position(self, row: RowTuple) -> ChainBreak | None:
        """The rules of §5 about where a row is and what it holds, before its links."""
        expected = self.head_position + 1
        pos = row[0]
        if type(pos) is not int:
            return ChainBreak(
                expected, "malformed", f"row {expected}: position {pos!r} is no integer"
            )
        if pos <= 0:
            return ChainBreak(pos, "below_genesis", f"a row at position {pos}, before row 1")
        if pos == expected - 1:
            return ChainBreak(pos, "duplicate", f"a second row at position {pos}")
        if pos < expected:
            return ChainBreak(
                expected, "reordered", f"position {pos} appears again after {expected - 1}"
            )
        if pos > expected:
            return ChainBreak(expected, "missing", f"position {expected} is absent; next is {pos}")
        reason = malformed_reason(row)
        return ChainBreak(pos, "malformed", f"row {pos}: {reason}") if reason else None

    def _classify_link(self, row: RowTuple, lookup: RowLookup) -> ChainBreak:
        pos, _, _, _, _, stored_prev, stored = row
        links = stored_prev == self.head_hash
        recomputes = entry_hash(self.digest, row) == stored
        if not links:
            later = lookup.position_of_hash(stored_prev, after=pos)
            if later is not None:
                return ChainBreak(
                    pos, "reordered", f"row {pos} follows the row now at position {later}"
                )
            before = lookup.row_at(pos - 1) if pos > 1 else None
            if before is not None and before[5] == stored_prev:
                # Both link to pos - 2: the row at pos - 1 was slipped in with a valid hash.
                return ChainBreak(
                    pos - 1,
                    "inserted",
                    f"row {pos - 1} is not in the chain: row {pos} links to {pos - 2}",
                )
        after = lookup.row_at(pos + 1)
        if after is not None and after[5] == self.head_hash and not (links and recomputes):
            return ChainBreak(
                pos, "inserted", f"row {pos} is not in the chain: row {pos + 1} links to {pos - 1}"
            )
        if not links and recomputes and pos > 1:
            return ChainBreak(
                pos - 1,
                "altered",
                f"row {pos - 1} was rewritten: row {pos} commits to a different predecessor",
            )
        if not links and recomputes:
            return ChainBreak(pos, "genesis", "row 1 does not link to the genesis record")
        return ChainBreak(pos, "altered", f"row {pos} does not match its stored hash")


_FIELDS: Final = (
    "position",
    "originator_id",
    "originator_version",
    "topic",
    "state",
    "prev_hash",
    "hash",
)


def malformed_reason(row: Sequence[object]) -> str | None:
    """Why a row's fields cannot be a row of §2 (rule 2 of §5), or ``None`` if they can."""
    if len(row) != len(_FIELDS):
        return f"{len(row)} fields, expected {len(_FIELDS)}"
    position, oid, version, topic, state, prev, stored = row
    verdicts = (
        (type(position) is int, "an integer"),
        (_is_text(oid), "UTF-8 text"),
        (type(version) is int and -_I64 <= version < _I64, "a 64-bit integer"),
        (_is_text(topic), "UTF-8 text"),
        (type(state) is bytes, "bytes"),
        (type(prev) is bytes and len(prev) == DIGEST_SIZE, "32 bytes"),
        (type(stored) is bytes and len(stored) == DIGEST_SIZE, "32 bytes"),
    )
    for name, value, (ok, wanted) in zip(_FIELDS, row, verdicts, strict=True):
        if not ok:
            return f"{name} is {_describe(value)}, not {wanted}"
    return None


def _is_text(value: object) -> bool:
    if type(value) is not str:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate: bytes that were not UTF-8
        return False
    return True


def _describe(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray):
        return f"{len(value)} bytes"
    if isinstance(value, str):
        return "text" if _is_text(value) else "text that is not UTF-8"
    return type(value).__name__


def check_genesis(genesis: Genesis) -> ChainBreak | None:
    """§5 step 1: the genesis record is well formed, recomputes and names a known algorithm."""
    fields = (genesis.ledger_id, genesis.created_at, genesis.hash_algorithm)
    if not all(_is_text(f) for f in fields) or type(genesis.format_version) is not int:
        return ChainBreak(0, "genesis", "the genesis record is malformed (a field of a wrong type)")
    if type(genesis.genesis_hash) is not bytes or len(genesis.genesis_hash) != DIGEST_SIZE:
        return ChainBreak(0, "genesis", "the genesis hash is not 32 bytes")
    if genesis.format_version != FORMAT_VERSION:
        return ChainBreak(0, "genesis", f"unsupported format version {genesis.format_version}")
    if genesis.hash_algorithm not in HASH_ALGORITHMS:
        return ChainBreak(0, "genesis", f"unknown hash algorithm {genesis.hash_algorithm!r}")
    if genesis.expected_hash() != genesis.genesis_hash:
        return ChainBreak(0, "genesis", "the genesis record does not match its hash")
    return None


# ---------------------------------------------------------------- JSON Lines (§7)


def row_to_json(row: RowTuple) -> dict[str, Any]:
    position, oid, version, topic, state, prev, h = row
    return {
        "type": "row",
        "position": position,
        "originator_id": oid,
        "originator_version": version,
        "topic": topic,
        "state": base64.b64encode(state).decode("ascii"),
        "prev_hash": prev.hex(),
        "hash": h.hex(),
    }


def _hash_field(obj: dict[str, Any], key: str) -> bytes:
    try:
        value = bytes.fromhex(obj[key])
    except (KeyError, TypeError, ValueError) as e:
        raise ChainFormatError(f"{key}: not a hex string") from e
    if len(value) != DIGEST_SIZE:
        raise ChainFormatError(f"{key}: {len(value)} bytes, expected {DIGEST_SIZE}")
    return value


def genesis_from_json(obj: dict[str, Any]) -> Genesis:
    if obj.get("type") != "genesis":
        raise ChainFormatError("the first line is not a genesis record")
    try:
        genesis = Genesis(
            ledger_id=obj["ledger_id"],
            created_at=obj["created_at"],
            hash_algorithm=obj["hash_algorithm"],
            genesis_hash=_hash_field(obj, "genesis_hash"),
            format_version=obj["format_version"],
        )
    except KeyError as e:
        raise ChainFormatError(f"genesis record lacks {e.args[0]!r}") from e
    texts = (genesis.ledger_id, genesis.created_at, genesis.hash_algorithm)
    if not all(isinstance(v, str) for v in texts) or type(genesis.format_version) is not int:
        raise ChainFormatError("genesis record: a field of the wrong type")
    return genesis


def row_from_json(obj: dict[str, Any]) -> RowTuple:
    """One export line's row, strictly: :class:`ChainFormatError` unless it is well formed."""
    if obj.get("type") != "row":
        raise ChainFormatError(f"expected a row, got type {obj.get('type')!r}")
    row = row_from_line(obj)
    reason = malformed_reason(row)
    if reason:
        raise ChainFormatError(f"malformed row: {reason}")
    return row


def row_from_line(obj: object) -> RowTuple:
    """One export line's row as far as it parses: a field that does not is kept as it is
    (``None`` when absent), so the verifier names the row ``malformed`` at its place (§7)."""
    if not isinstance(obj, dict) or obj.get("type") != "row":
        return (None, None, None, None, None, None, None)  # type: ignore[return-value]
    state = obj.get("state")
    if isinstance(state, str):
        with contextlib.suppress(binascii.Error, ValueError):
            state = base64.b64decode(state, validate=True)
    return (
        _int_or_raw(obj.get("position")),
        obj.get("originator_id"),
        _int_or_raw(obj.get("originator_version")),
        obj.get("topic"),
        state,
        _hex_or_raw(obj.get("prev_hash")),
        _hex_or_raw(obj.get("hash")),
    )  # type: ignore[return-value]


def _int_or_raw(value: object) -> object:
    # JSON true is not the integer 1 here, though Python would compare them equal.
    return repr(value) if isinstance(value, bool | float) else value


def _hex_or_raw(value: object) -> object:
    if isinstance(value, str) and len(value) == 2 * DIGEST_SIZE:
        with contextlib.suppress(ValueError):
            return bytes.fromhex(value)
    return value


def _parse_line(line: str, number: int) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ChainFormatError(f"line {number}: not JSON ({e.msg})") from e
    if not isinstance(obj, dict):
        raise ChainFormatError(f"line {number}: not a JSON object")
    return obj


def _lenient_row(line: str) -> RowTuple:
    try:
        return row_from_line(json.loads(line))
    except (json.JSONDecodeError, RecursionError):
        return row_from_line(None)


class _ExportLookup:
    """Random access over an export file, for classifying a break (a second pass)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _rows(self) -> Iterator[RowTuple]:
        with open(self.path, encoding="utf-8", errors="surrogateescape") as f:
            next(f, None)
            for line in f:
                row = _lenient_row(line)
                if malformed_reason(row) is None:
                    yield row

    def row_at(self, position: int) -> RowTuple | None:
        return next((r for r in self._rows() if r[0] == position), None)

    def position_of_hash(self, stored_hash: bytes, after: int) -> int | None:
        return next((r[0] for r in self._rows() if r[0] > after and r[6] == stored_hash), None)


def verify_export(
    path: str, anchor: tuple[int, bytes] | None = None, batch_size: int = 1000
) -> ChainReport:
    """Verify an export file (§7).

    Raises :class:`ChainFormatError` only when the file is no export (its first line
    is not a genesis record); every later fault is a break at its position.
    """
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        first = f.readline()
        if not first:
            raise ChainFormatError("empty file: no genesis record")
        obj = _parse_line(first, 1)
        if obj.get("type") != "genesis":
            raise ChainFormatError("the first line is not a genesis record")
        start, start_hash = anchor if anchor else (0, b"")
        try:
            genesis = genesis_from_json(obj)
        except ChainFormatError as e:
            failure = ChainBreak(0, "genesis", str(e))
            return ChainReport(str(obj.get("ledger_id", "")), start, 0, start, start_hash, failure)
        if not anchor:
            start_hash = genesis.genesis_hash
        broken = check_genesis(genesis)
        if broken:
            return ChainReport(genesis.ledger_id, start, 0, start, start_hash, broken)
        verifier = ChainVerifier(genesis.digest(), start, start_hash)
        batch: list[RowTuple] = []
        for line in f:
            batch.append(_lenient_row(line))
            if len(batch) >= batch_size and (found := _feed(verifier, batch, path)):
                return verifier.report(genesis.ledger_id, start, found)
            if len(batch) >= batch_size:
                batch = []
        found = _feed(verifier, batch, path) if batch else None
        return verifier.report(genesis.ledger_id, start, found)


def _feed(verifier: ChainVerifier, batch: list[RowTuple], path: str) -> ChainBreak | None:
    index = verifier.feed(batch)
    return None if index is None else verifier.classify(batch[index], _ExportLookup(path))


def format_report(report: ChainReport) -> str:
    """One human line: the count and head, or the first bad position and its kind."""
    if report.failure:
        f = report.failure
        return f"FAIL position {f.position}: {f.kind}: {f.detail}"
    return (
        f"OK {report.count} rows verified (positions {report.start_position + 1}.."
        f"{report.head_position}); head {report.head_position} {report.head_hash.hex()}"
    )


def _parse_anchor(text: str) -> tuple[int, bytes]:
    position, _, hex_hash = text.partition(":")
    try:
        value = bytes.fromhex(hex_hash)
        return int(position), value
    except ValueError as e:
        raise ChainFormatError(f"--anchor must be POSITION:HEXHASH, got {text!r}") from e


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description="Verify a govledger JSON Lines export offline.")
    parser.add_argument("file", help="export written by `govledger export`")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument("--anchor", help="POSITION:HEXHASH of a trusted row before the first")
    args = parser.parse_args(argv)
    try:
        anchor = _parse_anchor(args.anchor) if args.anchor else None
        report = verify_export(args.file, anchor)
    except (OSError, ChainFormatError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json()) if args.json else format_report(report), file=out)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
