"""C2SP signed-note: the golang.org/x/mod reference vector plus rejection cases."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest

from ledger import note
from ledger.errors import NoteError
from tests.ledger._vectors import load_json, vector_path

TEXT = "ledger head\nsize 3\n"


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    return load_json(vector_path("signed-note", "go-sumdb-note.json"))


@pytest.fixture(scope="module")
def alice() -> note.Ed25519Signer:
    return note.Ed25519Signer.generate("alice.example/log")


@pytest.fixture(scope="module")
def bob() -> note.Ed25519Signer:
    return note.Ed25519Signer.generate("bob.example/log")


def _vkey_public_key(vkey: str) -> tuple[str, bytes, bytes]:
    """(name, key id, public key) split from a vkey by hand, independently of the module."""
    name, id_hex, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    assert raw[0] == 0x01
    return name, bytes.fromhex(id_hex), raw[1:]


def _reencode_line(name: str, raw: bytes) -> str:
    return f"\u2014 {name} {base64.b64encode(raw).decode()}\n"


# --- the reference vector: every clause of its "expect" field -----------------


def test_vector_verifies_under_verifier_key_and_opens_to_text(vector: dict[str, Any]) -> None:
    verifier = note.Ed25519Verifier.from_string(vector["verifier_key"])
    opened = note.open(vector["note"], [verifier])
    assert opened.text == vector["text"]
    assert [sig.key for sig in opened.verified] == [(verifier.name, verifier.key_id)]
    # Bytes input is the same note.
    assert note.open(vector["note"].encode("utf-8"), [verifier]).text == vector["text"]


def test_vector_signing_reproduces_the_note_byte_for_byte(vector: dict[str, Any]) -> None:
    signer = note.Ed25519Signer.from_string(vector["signer_key"])
    signed = note.sign(vector["text"], signer)
    assert signed.encode("utf-8") == vector["note"].encode("utf-8")
    assert signer.verifier() == note.Ed25519Verifier.from_string(vector["verifier_key"])


def test_vector_changing_any_text_byte_fails_verification(vector: dict[str, Any]) -> None:
    verifier = note.Ed25519Verifier.from_string(vector["verifier_key"])
    text: bytes = vector["text"].encode("utf-8")
    rest = vector["note"].encode("utf-8")[len(text) :]
    for position, byte in enumerate(text):
        # Keep the byte printable so the change reaches the signature check.
        replacement = ord(" ") if byte == ord("\n") else byte ^ 0x01
        tampered = text[:position] + bytes([replacement]) + text[position + 1 :] + rest
        try:
            note.parse(tampered)
        except NoteError:
            continue  # a changed newline can break the layout; rejected either way
        with pytest.raises(NoteError, match="does not verify"):
            note.open(tampered, [verifier])


def test_vector_key_id_formula(vector: dict[str, Any]) -> None:
    name, declared_id, public_key = _vkey_public_key(vector["verifier_key"])
    formula = hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + public_key).digest()[:4]
    assert formula == declared_id
    assert note.key_id(name, note.SIGNATURE_TYPE_ED25519, public_key) == int.from_bytes(
        formula, "big"
    )
    assert note.Ed25519Verifier(name, public_key).key_id == int.from_bytes(formula, "big")


def test_vector_keys_encode_back_to_the_same_strings(vector: dict[str, Any]) -> None:
    assert (
        note.Ed25519Verifier.from_string(vector["verifier_key"]).encode() == vector["verifier_key"]
    )
    assert note.Ed25519Signer.from_string(vector["signer_key"]).encode() == vector["signer_key"]


def test_signer_repr_does_not_leak_the_seed(vector: dict[str, Any]) -> None:
    signer = note.Ed25519Signer.from_string(vector["signer_key"])
    seed_b64 = base64.b64encode(signer.seed).decode()
    assert signer.seed.hex() not in repr(signer)
    assert seed_b64 not in repr(signer)


# --- generated keys -------------------------------------------------------------


def test_generated_key_round_trip(alice: note.Ed25519Signer, bob: note.Ed25519Signer) -> None:
    signed = note.sign(TEXT, alice, bob)
    opened = note.open(signed, [alice.verifier(), bob.verifier()])
    assert opened.text == TEXT
    assert {sig.name for sig in opened.verified} == {alice.name, bob.name}
    parsed_again = note.Ed25519Verifier.from_string(alice.verifier().encode())
    assert parsed_again == alice.verifier()
    assert note.Ed25519Signer.from_string(alice.encode()).verifier() == alice.verifier()


def test_text_may_contain_blank_lines(alice: note.Ed25519Signer) -> None:
    text = "first\n\nsecond\n\n"
    assert note.open(note.sign(text, alice), [alice.verifier()]).text == text


def test_resigning_replaces_the_signature_by_the_same_key(alice: note.Ed25519Signer) -> None:
    once = note.parse(note.sign(TEXT, alice))
    twice = once.signed_by(alice)
    assert len(twice.signatures) == 1


# --- unknown, invalid, retired and revoked keys ------------------------------


def test_note_from_unknown_key_is_rejected(
    alice: note.Ed25519Signer, bob: note.Ed25519Signer
) -> None:
    with pytest.raises(NoteError, match="no valid signature from a known key"):
        note.open(note.sign(TEXT, alice), [bob.verifier()])


def test_unknown_signatures_are_tolerated_but_not_counted(
    alice: note.Ed25519Signer, bob: note.Ed25519Signer
) -> None:
    same_name_other_key = note.Ed25519Signer.generate(alice.name)
    signed = note.parse(note.sign(TEXT, alice, bob, same_name_other_key))
    # A line that reuses alice's key ID under another name is also unknown.
    same_id_other_name = note.NoteSignature("mallory.example", alice.key_id, b"x" * 64)
    signed = signed.with_signature(same_id_other_name)
    opened = note.open(signed.format(), [alice.verifier()])
    assert [sig.key for sig in opened.verified] == [(alice.name, alice.key_id)]
    assert len(opened.unverified) == 3


def test_invalid_signature_by_a_known_key_rejects_the_note(
    alice: note.Ed25519Signer, bob: note.Ed25519Signer
) -> None:
    signed = note.parse(note.sign(TEXT, alice))
    forged = note.NoteSignature(bob.name, bob.key_id, bytes(64))
    with pytest.raises(NoteError, match=f"{bob.name}.*does not verify"):
        note.open(signed.with_signature(forged).format(), [alice.verifier(), bob.verifier()])


def test_signature_by_revoked_key_does_not_count(
    alice: note.Ed25519Signer, bob: note.Ed25519Signer
) -> None:
    old = alice.verifier()
    with pytest.raises(NoteError, match=f"revoked key.*{old.name}"):
        note.open(note.sign(TEXT, alice), [old, bob.verifier()], revoked=[old])
    # Listed as retired too, a revoked key still does not count.
    with pytest.raises(NoteError, match="revoked key"):
        note.open(note.sign(TEXT, alice), [], retired=[old], revoked=[old])
    # Alongside a signature by an active key, the revoked one is simply not counted.
    opened = note.open(note.sign(TEXT, alice, bob), [old, bob.verifier()], revoked=[old])
    assert [sig.name for sig in opened.verified] == [bob.name]
    assert [sig.name for sig in opened.unverified] == [alice.name]


def test_signature_by_retired_key_still_counts(alice: note.Ed25519Signer) -> None:
    """A retired key was replaced, not withdrawn: what it signed keeps verifying (§6)."""
    opened = note.open(note.sign(TEXT, alice), [], retired=[alice.verifier()])
    assert [sig.name for sig in opened.verified] == [alice.name]


def test_repeated_signature_by_one_key_counts_once(alice: note.Ed25519Signer) -> None:
    line = note.parse(note.sign(TEXT, alice)).signatures[0].line()
    doubled = TEXT + "\n" + line + line
    assert len(note.open(doubled, [alice.verifier()]).verified) == 1


def test_two_different_keys_with_one_name_and_id_are_ambiguous(
    alice: note.Ed25519Signer,
) -> None:
    @dataclass(frozen=True)
    class Impostor:
        name: str
        key_id: int

        def verify(self, message: bytes, signature: bytes) -> bool:
            return True

    impostor = Impostor(alice.name, alice.key_id)
    with pytest.raises(NoteError, match="share"):
        note.open(note.sign(TEXT, alice), [alice.verifier(), impostor])


# --- malformed notes ------------------------------------------------------------


def _valid_line(alice: note.Ed25519Signer) -> str:
    return note.parse(note.sign(TEXT, alice)).signatures[0].line()


def _b64_field(line: str) -> str:
    """The base64 field of a signature line, with its newline."""
    return line.rsplit(" ", 1)[1]


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical(line: str) -> str:
    # Set an unused low bit of the last base64 digit: it still decodes to the same bytes.
    encoded = line.rstrip("\n")
    digits = encoded.rstrip("=")
    padding = encoded[len(digits) :]
    last = _B64_ALPHABET[_B64_ALPHABET.index(digits[-1]) | 1]
    return digits[:-1] + last + padding + "\n"


MALFORMED_NOTES = {
    "no blank line": lambda line: TEXT + line,
    "no signature lines": lambda line: TEXT + "\n",
    "no final newline": lambda line: TEXT + "\n" + line.rstrip("\n"),
    "hyphen instead of em dash": lambda line: TEXT + "\n" + "-" + line[1:],
    "no space after em dash": lambda line: TEXT + "\n" + line.replace(" ", "", 1),
    "signature missing": lambda line: TEXT + "\n" + line.rsplit(" ", 1)[0] + "\n",
    "bad base64": lambda line: TEXT + "\n" + line.rsplit(" ", 1)[0] + " !!notbase64!!\n",
    "base64 without padding": lambda line: TEXT + "\n" + line.rstrip("=\n") + "\n",
    "non-canonical base64": lambda line: TEXT + "\n" + _non_canonical(line),
    "signature of only a key ID": lambda line: TEXT + "\n" + _reencode_line("k", b"abcd"),
    "plus in key name": lambda line: TEXT + "\n\u2014 a+b " + _b64_field(line),
    "unicode space in key name": lambda line: TEXT + "\n\u2014 a\u00a0b " + _b64_field(line),
    "empty key name": lambda line: TEXT + "\n\u2014  " + _b64_field(line),
    "tab in text": lambda line: "a\tb\n\n" + line,
    "carriage return": lambda line: "a\r\n\n" + line,
    "blank line after signatures": lambda line: TEXT + "\n" + line + "\n",
    "text after signatures": lambda line: TEXT + "\n" + line + "trailer\n",
    "too many signatures": lambda line: TEXT + "\n" + line * (note.MAX_SIGNATURES + 1),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_NOTES))
def test_malformed_note_is_rejected_by_the_parser(case: str, alice: note.Ed25519Signer) -> None:
    malformed = MALFORMED_NOTES[case](_valid_line(alice))
    with pytest.raises(NoteError):
        note.parse(malformed)


def test_the_unmodified_note_behind_the_malformed_cases_opens(alice: note.Ed25519Signer) -> None:
    # Guards the table above: each case must be broken by its own change only.
    line = _valid_line(alice)
    assert note.open(TEXT + "\n" + line, [alice.verifier()]).text == TEXT
    assert line.endswith("=\n"), "the padding cases need a padded signature"
    assert base64.b64decode(_b64_field(_non_canonical(line))) == base64.b64decode(_b64_field(line))
    most = note.parse(TEXT + "\n" + line * note.MAX_SIGNATURES)
    assert len(most.signatures) == note.MAX_SIGNATURES


def test_invalid_utf8_and_oversized_notes_are_rejected(alice: note.Ed25519Signer) -> None:
    line = _valid_line(alice).encode()
    with pytest.raises(NoteError, match="UTF-8"):
        note.open(b"caf\xe9\n\n" + line, [alice.verifier()])
    with pytest.raises(NoteError, match="exceeds"):
        note.open(b"a" * note.MAX_NOTE_BYTES + b"\n\n" + line, [alice.verifier()])


def test_at_least_sixteen_signatures_are_accepted(alice: note.Ed25519Signer) -> None:
    # signed-note: verifiers MUST accept at least 16 signatures.
    others = [note.Ed25519Signer.generate(f"w{i}.example") for i in range(note.MAX_SIGNATURES - 1)]
    signed = note.sign(TEXT, alice, *others)
    opened = note.open(signed, [alice.verifier()])
    assert len(opened.verified) == 1
    assert len(opened.unverified) == note.MAX_SIGNATURES - 1


@pytest.mark.parametrize("text", ["no newline", "", "tab\there\n"])
def test_signing_malformed_text_is_refused(text: str, alice: note.Ed25519Signer) -> None:
    with pytest.raises(NoteError):
        note.sign(text, alice)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname", "nbsp\u00a0name", "lone\ud800"])
def test_invalid_key_names_are_refused(name: str) -> None:
    with pytest.raises(NoteError):
        note.Ed25519Signer.generate(name)


# --- malformed keys -------------------------------------------------------------


def _vkey(name: str, id_hex: str, material: bytes) -> str:
    return f"{name}+{id_hex}+{base64.b64encode(material).decode()}"


def test_malformed_verifier_keys_are_rejected(vector: dict[str, Any]) -> None:
    name, declared_id, public_key = _vkey_public_key(vector["verifier_key"])
    good_id = declared_id.hex()
    bad_keys = [
        _vkey(name, "00000000", b"\x01" + public_key),  # ID does not match the key
        _vkey(name, good_id.upper(), b"\x01" + public_key),  # not the canonical hex
        _vkey(name, good_id[:7], b"\x01" + public_key),
        _vkey(name, good_id, b"\x04" + public_key),  # a cosignature key, not type 0x01
        _vkey(name, good_id, b"\x01" + public_key[:31]),
        _vkey(name, good_id, b"\x01"),
        f"{name}+{good_id}",
        vector["verifier_key"] + "=",
        "PRIVATE+KEY+" + vector["verifier_key"],
    ]
    for bad in bad_keys:
        with pytest.raises(NoteError):
            note.Ed25519Verifier.from_string(bad)


def test_malformed_signer_keys_are_rejected(vector: dict[str, Any]) -> None:
    skey: str = vector["signer_key"]
    bad_keys = [
        skey.removeprefix("PRIVATE+KEY+"),
        skey.replace("c74f20a3", "c74f20a4"),
        skey.replace("PeterNeumann", "PeterNeumann2"),  # ID no longer matches the name
    ]
    for bad in bad_keys:
        with pytest.raises(NoteError):
            note.Ed25519Signer.from_string(bad)
