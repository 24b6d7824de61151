"""C2SP tlog-checkpoint bodies and tlog-cosignature cosignature/v1 witnesses."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import note
from ledger.checkpoint import (
    MAX_TIMESTAMP,
    MAX_TREE_SIZE,
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    cosign,
    cosignature_timestamp,
    open_checkpoint,
    require_cosignatures,
    sign_checkpoint,
    verify_cosignature,
)
from ledger.errors import ConfigurationError, NoteError
from ledger.merkle import leaf_hash, mth

ORIGIN = "govledger.local/ledger-7"
ROOT = leaf_hash(b"any 32-byte root will do")

# Examples from the text of c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_NOTE = (
    SPEC_BODY
    + "\n"
    + "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URY"
    "N7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    + "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZC"
    "B9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_COSIGNATURE_TIME = 1679315147  # the "time" line of the spec's signed-message example


@pytest.fixture(scope="module")
def log_key() -> note.Ed25519Signer:
    return note.Ed25519Signer.generate(ORIGIN)


@pytest.fixture(scope="module")
def witnesses() -> list[CosignatureSigner]:
    return [CosignatureSigner.generate(f"witness{i}.example/w") for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def checkpoint() -> Checkpoint:
    return Checkpoint(ORIGIN, 1234, ROOT)


@pytest.fixture(scope="module")
def signed(checkpoint: Checkpoint, log_key: note.Ed25519Signer) -> str:
    return sign_checkpoint(checkpoint, log_key)


def _drop_signature(signed_note: str, name: str) -> str:
    parsed = note.parse(signed_note)
    kept = tuple(sig for sig in parsed.signatures if sig.name != name)
    return note.Note(parsed.text, kept).format()


# --- checkpoint bodies ------------------------------------------------------------


def test_body_round_trip_and_layout() -> None:
    checkpoint = Checkpoint(ORIGIN, 42, ROOT, ("ext one", "ext-two"))
    body = checkpoint.format()
    assert body.split("\n") == [
        ORIGIN,
        "42",
        base64.b64encode(ROOT).decode(),
        "ext one",
        "ext-two",
        "",
    ]
    assert Checkpoint.parse(body) == checkpoint


def test_spec_example_body_parses() -> None:
    checkpoint = Checkpoint.parse(SPEC_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.format() == SPEC_BODY


def test_spec_example_cosignature_line_carries_its_timestamp() -> None:
    parsed = note.parse(SPEC_NOTE)
    witness_line = parsed.signatures[1]
    assert witness_line.name == "witness.example.com/w1"
    assert cosignature_timestamp(witness_line) == SPEC_COSIGNATURE_TIME
    with pytest.raises(NoteError):
        cosignature_timestamp(parsed.signatures[0])  # an Ed25519 log signature, no timestamp


@pytest.mark.parametrize("size", [0, 1, MAX_TREE_SIZE])
def test_edge_sizes_round_trip(size: int) -> None:
    checkpoint = Checkpoint(ORIGIN, size, ROOT)
    assert Checkpoint.parse(checkpoint.format()) == checkpoint


_ROOT_B64 = base64.b64encode(ROOT).decode()
_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical(encoded: str) -> str:
    # Set an unused low bit of the last base64 digit: it still decodes to the same bytes.
    digits = encoded.rstrip("=")
    last = _B64_ALPHABET[_B64_ALPHABET.index(digits[-1]) | 1]
    return digits[:-1] + last + encoded[len(digits) :]


MALFORMED_BODIES = {
    "no final newline": f"{ORIGIN}\n5\n{_ROOT_B64}",
    "two lines": f"{ORIGIN}\n5\n",
    "empty origin": f"\n5\n{_ROOT_B64}\n",
    "leading zero": f"{ORIGIN}\n05\n{_ROOT_B64}\n",
    "plus sign": f"{ORIGIN}\n+5\n{_ROOT_B64}\n",
    "negative": f"{ORIGIN}\n-5\n{_ROOT_B64}\n",
    "space in size": f"{ORIGIN}\n 5\n{_ROOT_B64}\n",
    "underscore in size": f"{ORIGIN}\n1_000\n{_ROOT_B64}\n",
    "non-ASCII digit": f"{ORIGIN}\n\u0665\n{_ROOT_B64}\n",
    "hex size": f"{ORIGIN}\n0x5\n{_ROOT_B64}\n",
    "size above uint64": f"{ORIGIN}\n{MAX_TREE_SIZE + 1}\n{_ROOT_B64}\n",
    "empty size": f"{ORIGIN}\n\n{_ROOT_B64}\n",
    "root not base64": f"{ORIGIN}\n5\nnot base64!\n",
    "root of 31 bytes": f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n",
    "root as hex": f"{ORIGIN}\n5\n{ROOT.hex()}\n",
    "root non-canonical": f"{ORIGIN}\n5\n{_non_canonical(_ROOT_B64)}\n",
    "empty extension line": f"{ORIGIN}\n5\n{_ROOT_B64}\n\n",
    "CRLF": f"{ORIGIN}\r\n5\r\n{_ROOT_B64}\r\n",
    "control character in extension": f"{ORIGIN}\n5\n{_ROOT_B64}\next\x00\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_BODIES))
def test_malformed_body_is_rejected(case: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(MALFORMED_BODIES[case])


def test_malformed_body_table_starts_from_a_valid_body() -> None:
    assert _ROOT_B64.endswith("="), "the non-canonical case needs a padded root"
    assert Checkpoint.parse(f"{ORIGIN}\n5\n{_ROOT_B64}\n") == Checkpoint(ORIGIN, 5, ROOT)
    assert _non_canonical(_ROOT_B64) != _ROOT_B64
    assert base64.b64decode(_non_canonical(_ROOT_B64)) == ROOT


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        (ORIGIN, -1, ROOT, ()),
        (ORIGIN, MAX_TREE_SIZE + 1, ROOT, ()),
        (ORIGIN, 1, ROOT[:31], ()),
        (ORIGIN, 1, ROOT, ("",)),
        (ORIGIN, 1, ROOT, ("two\nlines",)),
    ],
)
def test_invalid_checkpoint_is_not_constructed(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(NoteError):
        Checkpoint(origin, size, root, extensions)


# --- the log's signature -----------------------------------------------------------


def test_signed_checkpoint_opens_under_the_log_key(
    checkpoint: Checkpoint, signed: str, log_key: note.Ed25519Signer
) -> None:
    assert open_checkpoint(signed, [log_key.verifier()], origin=ORIGIN) == checkpoint


def test_checkpoint_from_another_log_or_key_is_rejected(
    signed: str, log_key: note.Ed25519Signer
) -> None:
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(signed, [log_key.verifier()], origin="govledger.local/other")
    stranger = note.Ed25519Signer.generate(ORIGIN)
    with pytest.raises(NoteError, match="known key"):
        open_checkpoint(signed, [stranger.verifier()])


def test_signed_note_that_is_not_a_checkpoint_is_rejected(log_key: note.Ed25519Signer) -> None:
    not_a_checkpoint = note.sign("hello\nworld\n", log_key)
    with pytest.raises(NoteError):
        open_checkpoint(not_a_checkpoint, [log_key.verifier()])


# --- cosignatures --------------------------------------------------------------------


def test_cosignature_follows_the_spec_byte_layout(
    signed: str, checkpoint: Checkpoint, witnesses: list[CosignatureSigner]
) -> None:
    witness = witnesses[0]
    cosigned = cosign(signed, witness, timestamp=1_700_000_000)
    line = note.parse(cosigned).signatures[-1]
    public_key = witness.verifier().public_key
    raw = line.key_id.to_bytes(4, "big") + line.signature

    expected_id = hashlib.sha256(witness.name.encode() + b"\n\x04" + public_key).digest()[:4]
    assert raw[:4] == expected_id
    assert int.from_bytes(raw[4:12], "big") == 1_700_000_000
    assert len(raw) == 4 + 8 + 64
    message = b"cosignature/v1\ntime 1700000000\n" + checkpoint.format().encode()
    Ed25519PublicKey.from_public_bytes(public_key).verify(raw[12:], message)

    assert verify_cosignature(cosigned, witness.verifier()).timestamp == 1_700_000_000


def test_cosignature_key_id_differs_from_plain_ed25519_key_id(
    witnesses: list[CosignatureSigner],
) -> None:
    witness = witnesses[0]
    plain = note.Ed25519Signer(witness.name, witness.seed)
    assert plain.key_id != witness.key_id
    assert plain.verifier().public_key == witness.verifier().public_key


def test_cosigner_clock_supplies_the_timestamp(signed: str) -> None:
    witness = CosignatureSigner.generate("clocked.example/w")
    ticking = CosignatureSigner(witness.name, witness.seed, clock=lambda: 1234)
    cosigned = cosign(signed, ticking)
    assert verify_cosignature(cosigned, ticking.verifier()).timestamp == 1234


def test_log_signature_and_cosignatures_do_not_interfere(
    signed: str, log_key: note.Ed25519Signer, witnesses: list[CosignatureSigner]
) -> None:
    cosigned = cosign(cosign(signed, witnesses[0]), witnesses[1])
    # The log's verifier ignores cosignatures as unknown keys...
    opened = note.open(cosigned, [log_key.verifier()])
    assert len(opened.verified) == 1
    assert len(opened.unverified) == 2
    # ...and a cosignature is not an Ed25519 (0x01) signature by the same key.
    same_key_plain = note.Ed25519Signer(witnesses[0].name, witnesses[0].seed).verifier()
    only_cosigned = _drop_signature(cosigned, ORIGIN)
    with pytest.raises(NoteError, match="known key"):
        note.open(only_cosigned, [same_key_plain])


def test_cosignature_over_a_changed_body_fails(
    signed: str, witnesses: list[CosignatureSigner]
) -> None:
    cosigned = note.parse(cosign(signed, witnesses[0]))
    other_body = Checkpoint(ORIGIN, 1235, ROOT).format()
    moved = note.Note(other_body, cosigned.signatures).format()
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(moved, witnesses[0].verifier())


def test_cosignature_with_a_changed_timestamp_fails(
    signed: str, witnesses: list[CosignatureSigner]
) -> None:
    cosigned = note.parse(cosign(signed, witnesses[0], timestamp=1000))
    line = cosigned.signatures[-1]
    later = note.NoteSignature(
        line.name, line.key_id, (1001).to_bytes(8, "big") + line.signature[8:]
    )
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(cosigned.with_signature(later).format(), witnesses[0].verifier())


def test_timestamps_beyond_2_63_are_refused(
    signed: str, checkpoint: Checkpoint, witnesses: list[CosignatureSigner]
) -> None:
    witness = witnesses[0]
    with pytest.raises(NoteError):
        cosign(signed, witness, timestamp=MAX_TIMESTAMP + 1)
    # A correctly signed statement with an out-of-range time is still rejected.
    too_late = MAX_TIMESTAMP + 1
    message = f"cosignature/v1\ntime {too_late}\n".encode() + checkpoint.format().encode()
    raw_signature = note.Ed25519Signer(witness.name, witness.seed).sign(message)
    forged = note.NoteSignature(
        witness.name, witness.key_id, too_late.to_bytes(8, "big") + raw_signature
    )
    with pytest.raises(NoteError):
        verify_cosignature(note.parse(signed).with_signature(forged).format(), witness.verifier())
    assert cosign(signed, witness, timestamp=MAX_TIMESTAMP)


def test_missing_cosignature_names_the_witness(
    signed: str, witnesses: list[CosignatureSigner]
) -> None:
    witness = witnesses[2].verifier()
    with pytest.raises(NoteError, match=witness.name):
        verify_cosignature(cosign(signed, witnesses[0]), witness)


def test_cosigning_again_replaces_the_earlier_cosignature(
    signed: str, witnesses: list[CosignatureSigner]
) -> None:
    twice = cosign(cosign(signed, witnesses[0], timestamp=1), witnesses[0], timestamp=2)
    assert len(note.parse(twice).signatures) == 2
    assert verify_cosignature(twice, witnesses[0].verifier()).timestamp == 2


def test_cosigning_something_that_is_not_a_checkpoint_is_refused(
    log_key: note.Ed25519Signer, witnesses: list[CosignatureSigner]
) -> None:
    with pytest.raises(NoteError):
        cosign(note.sign("hello\n", log_key), witnesses[0])


def test_cosigner_keys_encode_and_parse(witnesses: list[CosignatureSigner]) -> None:
    witness = witnesses[0]
    vkey = witness.verifier().encode()
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 0x04
    assert CosignatureVerifier.from_string(vkey) == witness.verifier()
    assert CosignatureSigner.from_string(witness.encode()).verifier() == witness.verifier()
    plain_vkey = note.Ed25519Signer(witness.name, witness.seed).verifier().encode()
    with pytest.raises(NoteError, match="type"):
        CosignatureVerifier.from_string(plain_vkey)


# --- quorum -------------------------------------------------------------------------


def test_quorum_met(signed: str, witnesses: list[CosignatureSigner]) -> None:
    cosigned = cosign(cosign(signed, witnesses[0]), witnesses[1])
    policy = [w.verifier() for w in witnesses]
    found = require_cosignatures(cosigned, policy, quorum=2)
    assert sorted(c.witness for c in found) == sorted([witnesses[0].name, witnesses[1].name])


def test_dropping_one_cosignature_under_two_of_three_names_the_missing(
    signed: str, witnesses: list[CosignatureSigner]
) -> None:
    cosigned = cosign(cosign(signed, witnesses[0]), witnesses[1])
    dropped = _drop_signature(cosigned, witnesses[1].name)
    policy = [w.verifier() for w in witnesses]
    with pytest.raises(NoteError, match="quorum not met") as failure:
        require_cosignatures(dropped, policy, quorum=2)
    missing = str(failure.value).split("missing:", 1)[1]
    assert witnesses[1].name in missing
    assert witnesses[2].name in missing
    assert witnesses[0].name not in missing


def test_invalid_cosignature_by_a_policy_witness_rejects(
    signed: str, witnesses: list[CosignatureSigner]
) -> None:
    cosigned = note.parse(cosign(cosign(signed, witnesses[0]), witnesses[1]))
    line = cosigned.signatures[-1]
    flipped_last_byte = bytes([line.signature[-1] ^ 0x01])
    broken = note.NoteSignature(line.name, line.key_id, line.signature[:-1] + flipped_last_byte)
    policy = [w.verifier() for w in witnesses]
    with pytest.raises(NoteError, match="does not verify"):
        require_cosignatures(cosigned.with_signature(broken).format(), policy, quorum=1)


def test_cosignatures_from_outside_the_policy_do_not_count(
    signed: str, witnesses: list[CosignatureSigner]
) -> None:
    outsider = CosignatureSigner.generate("outsider.example/w")
    cosigned = cosign(cosign(signed, witnesses[0]), outsider)
    with pytest.raises(NoteError, match="quorum not met"):
        require_cosignatures(cosigned, [w.verifier() for w in witnesses], quorum=2)


@pytest.mark.parametrize("quorum", [0, 4])
def test_unsatisfiable_quorum_is_a_configuration_error(
    quorum: int, signed: str, witnesses: list[CosignatureSigner]
) -> None:
    with pytest.raises(ConfigurationError):
        require_cosignatures(signed, [w.verifier() for w in witnesses], quorum=quorum)


def test_one_key_under_two_names_cannot_count_twice(
    signed: str, witnesses: list[CosignatureSigner]
) -> None:
    twin = CosignatureSigner("twin.example/w", witnesses[0].seed)
    cosigned = cosign(cosign(signed, witnesses[0]), twin)
    with pytest.raises(ConfigurationError, match="share a public key"):
        require_cosignatures(cosigned, [witnesses[0].verifier(), twin.verifier()], quorum=2)


# --- docs/checkpoint-format.md §9 stays true ------------------------------------------


def test_documented_example_verifies() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "checkpoint-format.md"
    example = doc.read_text(encoding="utf-8").split("## 9. Example", 1)[1]
    keys_block, note_block = re.findall(r"```\n(.*?)```", example, flags=re.DOTALL)[:2]
    log_vkey, witness_vkey = keys_block.split()
    log_verifier = note.Ed25519Verifier.from_string(log_vkey)
    witness = CosignatureVerifier.from_string(witness_vkey)

    checkpoint = open_checkpoint(note_block, [log_verifier], origin="govledger.local/example")
    rows = [hashlib.sha256(f"example row {p}".encode()).digest() for p in (1, 2, 3)]
    assert checkpoint.size == len(rows)
    assert checkpoint.root_hash == mth([leaf_hash(row) for row in rows])
    [cosignature] = require_cosignatures(note_block, [witness], quorum=1)
    assert cosignature.timestamp == 1700000000
