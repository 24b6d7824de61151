"""Transparency-log checkpoints and their witness cosignatures.

Implements, on top of :mod:`ledger.note`:

* https://c2sp.org/tlog-checkpoint §Note text: the body is the origin line, the
  tree size in ASCII decimal without leading zeroes, the base64 RFC 6962/9162
  root hash, then optional non-empty extension lines; each line ends in a
  newline. §Signatures: the log signs the body as a signed note.
* https://c2sp.org/tlog-cosignature §Format and §Ed25519 signed message
  (``cosignature/v1``, signature type ``0x04``): key ID =
  ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``; the signature is the
  8-byte big-endian POSIX timestamp followed by an Ed25519 signature over
  ``"cosignature/v1\\ntime <timestamp>\\n" || checkpoint body``.

:func:`require_cosignatures` enforces a witness quorum. Malformed or unverified
checkpoints raise :class:`ledger.errors.NoteError`; an unusable witness policy
raises :class:`ledger.errors.ConfigurationError`.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger import note
from ledger.errors import ConfigurationError, NoteError
from ledger.merkle import HASH_SIZE

__all__ = [
    "ACTIVE",
    "COSIGNATURE_HEADER",
    "MAX_TIMESTAMP",
    "MAX_TREE_SIZE",
    "RETIRED",
    "REVOKED",
    "SIGNATURE_TYPE_COSIGNATURE_V1",
    "Checkpoint",
    "Cosignature",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosign",
    "cosignature_timestamp",
    "cosigned_message",
    "key_file_lines",
    "key_standing",
    "open_checkpoint",
    "require_cosignatures",
    "sign_checkpoint",
    "verify_cosignature",
]

SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04
COSIGNATURE_HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
"""tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1."""
MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes are uint64 in RFC 9162 and every checkpoint implementation."""

_TIMESTAMP_SIZE = 8
_COSIGNATURE_SIZE = _TIMESTAMP_SIZE + note.ED25519_SIGNATURE_SIZE
_DECIMAL = re.compile("0|[1-9][0-9]*")

ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"
"""The standings of a log key in a trusted keys file (docs/checkpoint-format.md §6)."""
_STANDING_PREFIXES = ((RETIRED, "retired "), (REVOKED, "revoked "))


def key_file_lines(text: str) -> list[str]:
    """The key lines of a keys file: stripped, without blank lines and ``#`` comments."""
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


def key_standing(line: str) -> tuple[str, str]:
    """``(standing, vkey)`` of one trusted-keys-file line: ``retired <vkey>``,
    ``revoked <vkey>``, or a bare ``<vkey>`` (active), checkpoint-format §6."""
    for standing, prefix in _STANDING_PREFIXES:
        if line.startswith(prefix):
            return standing, line.removeprefix(prefix).strip()
    return ACTIVE, line


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size and root hash, plus opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"checkpoint tree size {self.size} is outside 0..2^64-1")
        if len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        for extension in self.extensions:
            _check_line(extension, "extension line")

    def format(self) -> str:
        """The note body (text), newline-terminated."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = (self.origin, str(self.size), root, *self.extensions)
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body strictly (tlog-checkpoint §Note text)."""
        if not body.endswith("\n"):
            raise NoteError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint body needs origin, tree size and root hash lines")
        origin, size_line, root_line, *extensions = lines
        if not _DECIMAL.fullmatch(size_line):
            raise NoteError(
                f"checkpoint tree size {size_line!r} is not a decimal without leading zeroes"
            )
        root_hash = note.decode_base64(root_line, "checkpoint root hash")
        return cls(origin, int(size_line), root_hash, tuple(extensions))


def _check_line(line: str, what: str) -> None:
    if not line:
        raise NoteError(f"checkpoint {what} is empty")
    if any(ch < " " for ch in line):
        raise NoteError(f"checkpoint {what} contains a newline or control character")


def sign_checkpoint(checkpoint: Checkpoint, signer: note.Signer) -> str:
    """The log's signed note over ``checkpoint`` (key name SHOULD equal the origin)."""
    return note.sign(checkpoint.format(), signer)


def open_checkpoint(
    signed: str | bytes,
    log_verifiers: Iterable[note.Verifier],
    *,
    origin: str | None = None,
    retired: Iterable[note.Verifier] = (),
    revoked: Collection[note.Verifier] = (),
) -> Checkpoint:
    """Verify the log's signature on ``signed`` and parse its body.

    Active (``log_verifiers``) and ``retired`` log keys count, ``revoked`` ones
    never do (docs/checkpoint-format.md §6). Cosignatures and other unknown
    signatures are tolerated (tlog-checkpoint §Signatures); check them with
    :func:`require_cosignatures`. If ``origin`` is given, a checkpoint from any
    other log is rejected.
    """
    opened = note.open(signed, log_verifiers, retired=retired, revoked=revoked)
    checkpoint = Checkpoint.parse(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """tlog-cosignature §Ed25519 signed message: header, time line, checkpoint body."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n".encode("ascii") + body


def _now() -> int:
    return int(time.time())


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's Ed25519 public key for ``cosignature/v1`` (type 0x04)."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        note.check_key_name(self.name)
        if len(self.public_key) != note.ED25519_KEY_SIZE:
            raise NoteError(f"Ed25519 public key must be {note.ED25519_KEY_SIZE} bytes")
        derived = note.key_id(self.name, SIGNATURE_TYPE_COSIGNATURE_V1, self.public_key)
        object.__setattr__(self, "key_id", derived)
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @classmethod
    def from_string(cls, vkey: str) -> CosignatureVerifier:
        """Parse a vkey ``<name>+<hex8 id>+base64(0x04 || public key)``."""
        fields = note.KeyString.parse(vkey, private=False)
        fields.expect_shape(SIGNATURE_TYPE_COSIGNATURE_V1, note.ED25519_KEY_SIZE)
        verifier = cls(fields.name, fields.material)
        fields.expect_id(verifier.key_id)
        return verifier

    def encode(self) -> str:
        return note.KeyString(
            self.name, self.key_id, SIGNATURE_TYPE_COSIGNATURE_V1, self.public_key
        ).encode()

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid timestamped cosignature over note text ``message``."""
        if len(signature) != _COSIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self._key.verify(signature[_TIMESTAMP_SIZE:], cosigned_message(message, timestamp))
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's Ed25519 private key for ``cosignature/v1``; ``clock`` gives POSIX seconds."""

    name: str
    seed: bytes = field(repr=False)
    clock: Callable[[], int] = field(default=_now, repr=False, compare=False)
    key_id: int = field(init=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        note.check_key_name(self.name)
        if len(self.seed) != note.ED25519_KEY_SIZE:
            raise NoteError(f"Ed25519 seed must be {note.ED25519_KEY_SIZE} bytes")
        private_key = Ed25519PrivateKey.from_private_bytes(self.seed)
        public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        derived = note.key_id(self.name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key)
        object.__setattr__(self, "key_id", derived)
        object.__setattr__(self, "_key", private_key)

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_string(cls, skey: str) -> CosignatureSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex8 id>+base64(0x04 || seed)`` (govledger convention)."""
        fields = note.KeyString.parse(skey, private=True)
        fields.expect_shape(SIGNATURE_TYPE_COSIGNATURE_V1, note.ED25519_KEY_SIZE)
        signer = cls(fields.name, fields.material)
        fields.expect_id(signer.key_id)
        return signer

    def encode(self) -> str:
        return note.KeyString(
            self.name, self.key_id, SIGNATURE_TYPE_COSIGNATURE_V1, self.seed, private=True
        ).encode()

    def verifier(self) -> CosignatureVerifier:
        public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return CosignatureVerifier(self.name, public_key)

    def sign(self, message: bytes) -> bytes:
        return self.sign_at(message, self.clock())

    def sign_at(self, message: bytes, timestamp: int) -> bytes:
        """``timestamp (u64, big-endian) || Ed25519(cosigned_message(message, timestamp))``."""
        _check_timestamp(timestamp)
        signature = self._key.sign(cosigned_message(message, timestamp))
        return timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which witness, and the time it vouched for the checkpoint."""

    witness: str
    key_id: int
    timestamp: int


def cosignature_timestamp(signature: note.NoteSignature) -> int:
    """The timestamp carried by a cosignature line (not verified)."""
    if len(signature.signature) != _COSIGNATURE_SIZE:
        raise NoteError(f"signature by {signature.label()} is not a cosignature/v1 signature")
    return int.from_bytes(signature.signature[:_TIMESTAMP_SIZE], "big")


def _parse_checkpoint_note(signed: str | bytes) -> note.Note:
    parsed = note.parse(signed)
    Checkpoint.parse(parsed.text)
    return parsed


def cosign(signed: str | bytes, witness: CosignatureSigner, *, timestamp: int | None = None) -> str:
    """Add ``witness``'s cosignature to the signed checkpoint ``signed``.

    Only formats the statement: the caller (the witness) must first have
    verified the log's signature and consistency with the last checkpoint it saw.
    A previous cosignature by the same key is replaced.
    """
    parsed = _parse_checkpoint_note(signed)
    message = parsed.text.encode("utf-8")
    when = witness.clock() if timestamp is None else timestamp
    signature = note.NoteSignature(witness.name, witness.key_id, witness.sign_at(message, when))
    return parsed.with_signature(signature).format()


def verify_cosignature(signed: str | bytes, witness: CosignatureVerifier) -> Cosignature:
    """Verify ``witness``'s cosignature on ``signed``; raise :class:`NoteError` if absent or bad."""
    verified = _verified_cosignatures(_parse_checkpoint_note(signed), [witness])
    if not verified:
        raise NoteError(f"checkpoint has no cosignature from witness {_label(witness)}")
    return verified[0]


def require_cosignatures(
    signed: str | bytes, witnesses: Sequence[CosignatureVerifier], quorum: int
) -> list[Cosignature]:
    """Require valid cosignatures from at least ``quorum`` of ``witnesses``.

    Returns the cosignatures found. Raises :class:`NoteError` naming the
    witnesses that did not cosign when the quorum is not met, or if any
    cosignature by a listed witness fails to verify. This does not check the
    log's own signature: call :func:`open_checkpoint` for that.
    """
    _check_policy(witnesses, quorum)
    verified = _verified_cosignatures(_parse_checkpoint_note(signed), witnesses)
    if len(verified) < quorum:
        present = {(c.witness, c.key_id) for c in verified}
        missing = [_label(w) for w in witnesses if (w.name, w.key_id) not in present]
        raise NoteError(
            f"cosignature quorum not met: {len(verified)} of {len(witnesses)} witnesses "
            f"cosigned, {quorum} required; missing: {', '.join(missing)}"
        )
    return verified


def _check_policy(witnesses: Sequence[CosignatureVerifier], quorum: int) -> None:
    if not 1 <= quorum <= len(witnesses):
        raise ConfigurationError(
            f"cosignature quorum {quorum} is not between 1 and the {len(witnesses)} witnesses"
        )
    # cosignature/v1 does not sign the witness name, so one key listed under two
    # names would let a single witness count twice.
    keys = [w.public_key for w in witnesses]
    if len(set(keys)) != len(keys):
        raise ConfigurationError("two witnesses in the cosignature policy share a public key")


def _verified_cosignatures(
    parsed: note.Note, witnesses: Iterable[CosignatureVerifier]
) -> list[Cosignature]:
    verified, _ = note.verify_signatures(parsed, witnesses)
    return [Cosignature(s.name, s.key_id, cosignature_timestamp(s)) for s in verified]


def _label(witness: CosignatureVerifier) -> str:
    return f"{witness.name}+{witness.key_id:08x}"
