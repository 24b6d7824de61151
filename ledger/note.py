"""C2SP signed notes, Ed25519 signature type 0x01.

Implements https://c2sp.org/signed-note:

* §Format: text ending in a newline, a blank line, then one or more lines
  ``— <key name> base64(32-bit key ID || signature)``; valid UTF-8 with no
  control character other than newline; key names non-empty, without Unicode
  spaces or ``+``.
* §Signatures: unknown keys are ignored (even when they share a name *or* an ID
  with a known key); a signature from a known key must verify or the whole note
  is rejected; a note with no verified signature from a known key is rejected.
  Key ID = ``SHA-256(key name || 0x0A || signature type || public key)[:4]``.
* §Ed25519 signatures: RFC 8032 over the note text, signature type ``0x01``.

Keys use the verifier-key encoding of golang.org/x/mod/sumdb/note that
signed-note references: ``<name>+<hex8 key ID>+base64(type || public key)``, and
for signers ``PRIVATE+KEY+<name>+<hex8 key ID>+base64(type || 32-byte seed)``.

Beyond the spec, a verifier may list keys as *retired* (replaced: their
signatures still count) or *revoked* (withdrawn: their signatures never count),
docs/checkpoint-format.md §6. Every failure is a :class:`ledger.errors.NoteError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import NoteError

__all__ = [
    "ED25519_KEY_SIZE",
    "ED25519_SIGNATURE_SIZE",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "SIGNATURE_TYPE_ED25519",
    "Ed25519Signer",
    "Ed25519Verifier",
    "KeyString",
    "Note",
    "NoteSignature",
    "OpenedNote",
    "Signer",
    "Verifier",
    "check_key_name",
    "decode_base64",
    "generate_key",
    "key_id",
    "open",
    "parse",
    "sign",
    "verify_signatures",
]

SIGNATURE_TYPE_ED25519 = 0x01
MAX_SIGNATURES = 100
"""Signature lines accepted per note; the spec requires at least 16 (Go uses 100)."""
MAX_NOTE_BYTES = 1_000_000
"""Upper bound on an encoded note, so parsing cost stays bounded."""

ED25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
_KEY_ID_SIZE = 4
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_FORBIDDEN_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
_KEY_ID_HEX = re.compile("[0-9a-f]{8}")


def check_key_name(name: str) -> None:
    """Raise :class:`NoteError` unless ``name`` is a valid signed-note key name."""
    if not name:
        raise NoteError("key name is empty")
    if "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} contains a space or '+'")
    if _FORBIDDEN_CONTROL.search(name):
        raise NoteError(f"key name {name!r} contains a control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"key name {name!r} is not valid UTF-8") from None


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    """Key ID: ``SHA-256(name || 0x0A || signature type || public key)[:4]`` as a uint32."""
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    ).digest()
    return int.from_bytes(digest[:_KEY_ID_SIZE], "big")


def decode_base64(text: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 §4) in canonical form only, so one value has one encoding."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _check_text(text: str, what: str) -> bytes:
    """UTF-8 encoding of ``text`` after the §Format character rules."""
    if _FORBIDDEN_CONTROL.search(text):
        raise NoteError(f"{what} contains a control character other than newline")
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    if len(encoded) > MAX_NOTE_BYTES:
        raise NoteError(f"{what} exceeds {MAX_NOTE_BYTES} bytes")
    return encoded


@dataclass(frozen=True)
class KeyString:
    """Fields of an encoded key ``[PRIVATE+KEY+]<name>+<hex8 id>+base64(type || material)``.

    Parsing checks the syntax only; the key classes call :meth:`expect_shape` and
    :meth:`expect_id` to check the type, the material length and the key ID.
    """

    name: str
    key_id: int
    signature_type: int
    material: bytes
    private: bool = False

    @classmethod
    def parse(cls, text: str, *, private: bool) -> KeyString:
        kind = "signer key" if private else "verifier key"
        if private:
            if not text.startswith(_PRIVATE_KEY_PREFIX):
                raise NoteError(f"{kind} does not start with {_PRIVATE_KEY_PREFIX!r}")
            text = text[len(_PRIVATE_KEY_PREFIX) :]
        # Neither the name nor the hex ID may contain '+'; base64 may.
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise NoteError(f"{kind} is not of the form name+id+key")
        name, id_hex, encoded = parts
        check_key_name(name)
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise NoteError(f"{kind} ID {id_hex!r} is not 8 lowercase hex digits")
        raw = decode_base64(encoded, f"{kind} material")
        if len(raw) < 2:
            raise NoteError(f"{kind} material is too short")
        return cls(name, int(id_hex, 16), raw[0], raw[1:], private)

    def encode(self) -> str:
        material = base64.b64encode(bytes([self.signature_type]) + self.material).decode("ascii")
        text = f"{self.name}+{self.key_id:08x}+{material}"
        return _PRIVATE_KEY_PREFIX + text if self.private else text

    def expect_shape(self, signature_type: int, size: int) -> None:
        """Raise unless the key has this signature type and material size."""
        if self.signature_type != signature_type:
            raise NoteError(
                f"{self._kind} {self.name} has signature type 0x{self.signature_type:02x}, "
                f"expected 0x{signature_type:02x}"
            )
        if len(self.material) != size:
            raise NoteError(
                f"{self._kind} {self.name} has {len(self.material)} key bytes, not {size}"
            )

    def expect_id(self, derived_id: int) -> None:
        """Raise unless the declared key ID is the one the key hashes to."""
        if derived_id != self.key_id:
            raise NoteError(
                f"{self._kind} {self.name} declares ID {self.key_id:08x} but the key hashes to "
                f"{derived_id:08x}"
            )

    @property
    def _kind(self) -> str:
        return "signer key" if self.private else "verifier key"


class Verifier(Protocol):
    """One known public key: ``(name, key_id)`` selects it, :meth:`verify` checks a signature."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without the 4-byte key ID) is valid over ``message``."""
        ...


class Signer(Protocol):
    """One private key that produces note signatures."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, message: bytes) -> bytes:
        """Signature over ``message``, without the 4-byte key ID."""
        ...


def _raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Ed25519Verifier:
    """Ed25519 public key for signature type 0x01."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise NoteError(f"Ed25519 public key must be {ED25519_KEY_SIZE} bytes")
        derived = key_id(self.name, SIGNATURE_TYPE_ED25519, self.public_key)
        object.__setattr__(self, "key_id", derived)
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @classmethod
    def from_string(cls, vkey: str) -> Ed25519Verifier:
        """Parse ``<name>+<hex8 id>+base64(0x01 || public key)``."""
        fields = KeyString.parse(vkey, private=False)
        fields.expect_shape(SIGNATURE_TYPE_ED25519, ED25519_KEY_SIZE)
        verifier = cls(fields.name, fields.material)
        fields.expect_id(verifier.key_id)
        return verifier

    def encode(self) -> str:
        return KeyString(self.name, self.key_id, SIGNATURE_TYPE_ED25519, self.public_key).encode()

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Ed25519Signer:
    """Ed25519 private key for signature type 0x01. The seed is kept out of ``repr``."""

    name: str
    seed: bytes = field(repr=False)
    key_id: int = field(init=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.seed) != ED25519_KEY_SIZE:
            raise NoteError(f"Ed25519 seed must be {ED25519_KEY_SIZE} bytes")
        private_key = Ed25519PrivateKey.from_private_bytes(self.seed)
        derived = key_id(self.name, SIGNATURE_TYPE_ED25519, _raw_public_key(private_key))
        object.__setattr__(self, "key_id", derived)
        object.__setattr__(self, "_key", private_key)

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(name, seed)

    @classmethod
    def from_string(cls, skey: str) -> Ed25519Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex8 id>+base64(0x01 || seed)``."""
        fields = KeyString.parse(skey, private=True)
        fields.expect_shape(SIGNATURE_TYPE_ED25519, ED25519_KEY_SIZE)
        signer = cls(fields.name, fields.material)
        fields.expect_id(signer.key_id)
        return signer

    def encode(self) -> str:
        return KeyString(
            self.name, self.key_id, SIGNATURE_TYPE_ED25519, self.seed, private=True
        ).encode()

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, _raw_public_key(self._key))

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def generate_key(name: str) -> tuple[Ed25519Signer, Ed25519Verifier]:
    """A fresh Ed25519 key pair under ``name``."""
    signer = Ed25519Signer.generate(name)
    return signer, signer.verifier()


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        """Parse one line (without its newline): ``— <name> base64(id || signature)``."""
        if not line.startswith(_SIGNATURE_PREFIX):
            raise NoteError(f"signature line does not start with an em dash and space: {line!r}")
        name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        if not space or not encoded:
            raise NoteError(f"signature line has no signature: {line!r}")
        check_key_name(name)
        raw = decode_base64(encoded, f"signature by {name}")
        if len(raw) <= _KEY_ID_SIZE:
            raise NoteError(f"signature by {name} is too short to hold a key ID and a signature")
        return cls(name, int.from_bytes(raw[:_KEY_ID_SIZE], "big"), raw[_KEY_ID_SIZE:])

    def line(self) -> str:
        """The encoded line, including its newline."""
        raw = self.key_id.to_bytes(_KEY_ID_SIZE, "big") + self.signature
        return f"{_SIGNATURE_PREFIX}{self.name} {base64.b64encode(raw).decode('ascii')}\n"

    @property
    def key(self) -> tuple[str, int]:
        """``(name, key_id)``: the tuple that identifies the signing key."""
        return self.name, self.key_id

    def label(self) -> str:
        return f"{self.name}+{self.key_id:08x}"


@dataclass(frozen=True)
class Note:
    """A note text with its signature lines, in order, not yet verified."""

    text: str
    signatures: tuple[NoteSignature, ...] = ()

    def __post_init__(self) -> None:
        _check_text(self.text, "note text")
        if not self.text.endswith("\n"):
            raise NoteError("note text must end with a newline")
        if len(self.signatures) > MAX_SIGNATURES:
            raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")

    def format(self) -> str:
        """The encoded note: text, blank line, signature lines."""
        if not self.signatures:
            raise NoteError("a note needs at least one signature")
        return self.text + "\n" + "".join(sig.line() for sig in self.signatures)

    def with_signature(self, signature: NoteSignature) -> Note:
        """This note plus ``signature``, replacing any earlier one by the same key."""
        kept = tuple(sig for sig in self.signatures if sig.key != signature.key)
        return Note(self.text, (*kept, signature))

    def signed_by(self, signer: Signer) -> Note:
        """This note plus a fresh signature by ``signer`` over the text."""
        signature = signer.sign(self.text.encode("utf-8"))
        return self.with_signature(NoteSignature(signer.name, signer.key_id, signature))


def parse(note: str | bytes) -> Note:
    """Parse an encoded note (§Format) without verifying any signature."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise NoteError(f"note exceeds {MAX_NOTE_BYTES} bytes")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    _check_text(note, "note")
    # The text ends at the *last* blank line: the text itself may hold blank lines.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise NoteError("note has no signature lines")
    if not block.endswith("\n"):
        raise NoteError("note does not end with a newline after its last signature")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(NoteSignature.parse_line(line) for line in lines))


def sign(text: str, signer: Signer, *more: Signer) -> str:
    """Sign ``text`` (which must end with a newline) and return the encoded note."""
    note = Note(text)
    for each in (signer, *more):
        note = note.signed_by(each)
    return note.format()


def _index(verifiers: Iterable[Verifier]) -> dict[tuple[str, int], Verifier]:
    known: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        key = (verifier.name, verifier.key_id)
        if key in known and known[key] != verifier:
            raise NoteError(f"two different known keys share {verifier.name}+{verifier.key_id:08x}")
        known[key] = verifier
    return known


def verify_signatures(
    note: Note, verifiers: Iterable[Verifier]
) -> tuple[list[NoteSignature], list[NoteSignature]]:
    """Split ``note``'s signatures into (verified by a known key, from unknown keys).

    Each known key is counted once. Raises :class:`NoteError` if any signature
    line that names a known key fails to verify. Does not require the verified
    list to be non-empty; :func:`open` does.
    """
    known = _index(verifiers)
    message = note.text.encode("utf-8")
    verified: dict[tuple[str, int], NoteSignature] = {}
    unknown: list[NoteSignature] = []
    for signature in note.signatures:
        verifier = known.get(signature.key)
        if verifier is None:
            if signature not in unknown:
                unknown.append(signature)
            continue
        if not verifier.verify(message, signature.signature):
            raise NoteError(f"signature by known key {signature.label()} does not verify")
        verified.setdefault(signature.key, signature)
    return list(verified.values()), unknown


@dataclass(frozen=True)
class OpenedNote:
    """A note whose text may be trusted: at least one known, active key signed it."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]
    """Signatures from unknown or revoked keys: kept for the record, never counted."""


def open(  # shadows the builtin on purpose: call it as ``note.open``
    note: str | bytes,
    verifiers: Iterable[Verifier],
    *,
    retired: Iterable[Verifier] = (),
    revoked: Collection[Verifier] = (),
) -> OpenedNote:
    """Parse and verify ``note``; return its text once a known key that counts signed it.

    ``verifiers`` (active) and ``retired`` keys count (checkpoint-format §6).
    Keys listed in ``revoked`` are never counted, even if also listed in the
    others: a note signed only by revoked keys is rejected, and the error names
    them. Signatures from unknown keys are tolerated but not counted.
    """
    parsed = parse(note)
    revoked_keys = {(key.name, key.key_id) for key in revoked}
    counted = [k for k in (*verifiers, *retired) if (k.name, k.key_id) not in revoked_keys]
    verified, unverified = verify_signatures(parsed, counted)
    if not verified:
        by_revoked = [sig.label() for sig in unverified if sig.key in revoked_keys]
        if by_revoked:
            raise NoteError(
                f"note is signed only by revoked key(s) {', '.join(by_revoked)}; "
                "signatures by revoked keys do not count"
            )
        raise NoteError("note has no valid signature from a known key")
    return OpenedNote(parsed.text, tuple(verified), tuple(unverified))
