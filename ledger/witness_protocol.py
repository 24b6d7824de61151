"""The C2SP tlog-witness wire format (docs/checkpoint-format.md §16).

https://c2sp.org/tlog-witness §add-checkpoint: the request body is an
``old <size>`` line, zero to 63 base64 consistency proof lines, an empty
line, then the checkpoint (a signed note); every line ends in U+000A. The
answer is one or more cosignature lines (200), or the size the witness last
cosigned (409, ``text/x.tlog.size``). §Monitor Retrieval Mechanism: the newest
cosigned checkpoint of a log is at ``<prefix>/<hex SHA-256 of its origin>/checkpoint``.

Only the format lives here, shared by the witness (ledger/witness_server.py)
and the log's client (ledger/witness_client.py); every refusal of a malformed
body is a :class:`WitnessRequestError` (HTTP 400).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from ledger.errors import LedgerError, NoteError
from ledger.merkle import HASH_SIZE
from ledger.note import MAX_NOTE_BYTES, NoteSignature, decode_base64

__all__ = [
    "ADD_CHECKPOINT",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "WitnessRequestError",
    "checkpoint_path",
    "format_cosignatures",
    "format_size",
    "origin_hash",
    "parse_cosignatures",
    "parse_size",
]

ADD_CHECKPOINT = "add-checkpoint"
MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_MAX_SIZE = 2**64 - 1
_PROOF_LINE_BYTES = 45  # 44 base64 characters and the newline
MAX_REQUEST_BYTES = 32 + MAX_PROOF_LINES * _PROOF_LINE_BYTES + 1 + MAX_NOTE_BYTES


class WitnessRequestError(LedgerError):
    """A request body that is not an add-checkpoint request (HTTP 400)."""


@dataclass(frozen=True)
class AddCheckpoint:
    """One add-checkpoint request: the old size, the proof from it, the checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def format(self) -> bytes:
        proof = "".join(base64.b64encode(p).decode("ascii") + "\n" for p in self.proof)
        return f"old {self.old_size}\n{proof}\n{self.checkpoint}".encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse strictly; the checkpoint note itself is checked by the witness."""
        if len(body) > MAX_REQUEST_BYTES:
            raise WitnessRequestError("the request body is too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessRequestError("the request body is not UTF-8") from None
        head, blank, checkpoint = text.partition("\n\n")
        if not blank or not checkpoint:
            raise WitnessRequestError("no empty line before the checkpoint")
        old_line, *proof_lines = head.split("\n")
        found = _OLD_LINE.fullmatch(old_line)
        if found is None or int(found.group(1)) > _MAX_SIZE:
            raise WitnessRequestError("the first line is not 'old <size>'")
        if len(proof_lines) > MAX_PROOF_LINES:
            raise WitnessRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            proof = tuple(decode_base64(line, "consistency proof line") for line in proof_lines)
        except NoteError as e:
            raise WitnessRequestError(str(e)) from None
        if any(len(p) != HASH_SIZE for p in proof):
            raise WitnessRequestError(f"a consistency proof line is not {HASH_SIZE} bytes")
        return cls(int(found.group(1)), proof, checkpoint)


def format_size(size: int) -> bytes:
    """The 409 body: the size last cosigned, in decimal, then a newline."""
    return f"{size}\n".encode("ascii")


def parse_size(body: bytes) -> int:
    text = body.decode("ascii", errors="replace")
    if not text.endswith("\n") or not _DECIMAL.fullmatch(text[:-1]):
        raise WitnessRequestError("the conflict body is not a tree size")
    return int(text[:-1])


def format_cosignatures(lines: list[str]) -> bytes:
    return "".join(lines).encode("utf-8")


def parse_cosignatures(body: bytes) -> list[NoteSignature]:
    """The 200 body: one or more note signature lines (``— <name> <base64>``)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRequestError("the cosignature body is not UTF-8") from None
    if not text.endswith("\n") or not text.startswith("\u2014 "):
        raise WitnessRequestError("the answer is not signature lines")
    try:
        return [NoteSignature.parse_line(line) for line in text[:-1].split("\n")]
    except NoteError as e:
        raise WitnessRequestError(f"the answer is not signature lines: {e}") from None


def origin_hash(origin: str) -> str:
    """tlog-witness §Monitor Retrieval Mechanism: lowercase hex SHA-256 of the origin."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def checkpoint_path(origin: str) -> str:
    return f"{origin_hash(origin)}/checkpoint"
