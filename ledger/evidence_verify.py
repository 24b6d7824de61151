"""Offline verifier of govledger evidence bundles (docs/checkpoint-format.md §13).

No database and no network: the standard library, ``cryptography``, and the
format modules beside it, which themselves import nothing else of govledger:
``ledger/errors.py``, ``chain.py`` (row hashes, ledger-format §4),
``merkle.py`` (RFC 9162 §2.1.3.2), ``note.py`` (c2sp.org/signed-note) and
``checkpoint.py`` (c2sp.org/tlog-checkpoint, tlog-cosignature). So nothing is
written twice, and an auditor gets them as one file::

    govledger evidence --position 17 -o bundle.json --verifier verify.pyz
    python3 verify.pyz bundle.json --log-keys-file published-keys.txt

(``python -m ledger.evidence_verify`` from a checkout does the same.) A
bundle is accepted only if it is byte for byte in canonical form, every key
and signature in it is used and valid, the checkpoint is signed by a log key
the auditor trusts, every event's entry hash recomputes and its RFC 9162
inclusion proof leads to the signed root, and the first event is row 1,
linked to the genesis record. Altering any byte therefore fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ledger import note
from ledger.chain import (
    ChainFormatError,
    Genesis,
    check_genesis,
    entry_hash,
    genesis_from_json,
    hash_function,
    row_from_json,
    row_to_json,
)
from ledger.checkpoint import Checkpoint, CosignatureVerifier, open_checkpoint, require_cosignatures
from ledger.errors import LedgerError, NoteError
from ledger.merkle import verify_inclusion

__all__ = [
    "BUNDLE_FORMAT",
    "BundleError",
    "BundleReport",
    "canonical_json",
    "main",
    "verify_bundle",
    "write_zipapp",
]

BUNDLE_FORMAT = "govledger-evidence/1"
BUNDLE_KEYS = ("checkpoint", "events", "format", "genesis", "log_keys", "witness_keys")
EVENT_KEYS = ("proof", "row")
# What the zipapp carries: this module and the format modules it needs, nothing else.
ZIPAPP_MODULES = ("__init__", "errors", "chain", "merkle", "note", "checkpoint", "evidence_verify")


class BundleError(LedgerError):
    """An evidence bundle that is malformed or does not verify."""


def canonical_json(value: Any) -> str:
    """The one serialisation a bundle may have: sorted keys, two-space indent, ASCII, newline."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


@dataclass(frozen=True)
class BundleReport:
    ledger_id: str
    origin: str
    tree_size: int
    positions: tuple[int, ...]
    signed_by: tuple[str, ...]
    cosigned_by: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "ledger_id": self.ledger_id,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "positions": list(self.positions),
            "signed_by": list(self.signed_by),
            "cosigned_by": list(self.cosigned_by),
        }


def verify_bundle(
    text: str,
    *,
    trusted_log_keys: Sequence[str] | None = None,
    trusted_witness_keys: Sequence[str] | None = None,
    quorum: int = 0,
    origin: str | None = None,
) -> BundleReport:
    """Verify an evidence bundle; raise :class:`BundleError` naming the first problem.

    ``trusted_log_keys``: the log's published vkeys as the auditor obtained them
    (default: the keys in the bundle, which then only prove self-consistency).
    ``trusted_witness_keys`` and ``quorum``: a witness policy (checkpoint-format §7).
    """
    try:
        return _verify(text, trusted_log_keys, trusted_witness_keys, quorum, origin)
    except (LedgerError, ChainFormatError) as e:
        if isinstance(e, BundleError):
            raise
        raise BundleError(str(e)) from None


def _verify(
    text: str,
    trusted_log_keys: Sequence[str] | None,
    trusted_witness_keys: Sequence[str] | None,
    quorum: int,
    origin: str | None,
) -> BundleReport:
    bundle = _parse(text)
    genesis = _genesis(bundle["genesis"])
    log_keys = _keys(bundle["log_keys"], note.Ed25519Verifier.from_string, "log key")
    witnesses = _keys(bundle["witness_keys"], CosignatureVerifier.from_string, "witness key")
    _require_pinned(log_keys, trusted_log_keys, "log key")
    _require_pinned(witnesses, trusted_witness_keys, "witness key")
    checkpoint = _checkpoint(bundle["checkpoint"], log_keys, witnesses, origin)
    if quorum > 0:
        pinned = [CosignatureVerifier.from_string(k) for k in trusted_witness_keys or ()]
        require_cosignatures(bundle["checkpoint"], pinned or witnesses, quorum)
    positions = _events(bundle["events"], genesis, checkpoint)
    return BundleReport(
        genesis.ledger_id,
        checkpoint.origin,
        checkpoint.size,
        positions,
        tuple(_label(k.name, k.key_id) for k in log_keys),
        tuple(_label(k.name, k.key_id) for k in witnesses),
    )


def _parse(text: str) -> dict[str, Any]:
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as e:
        raise BundleError(f"not JSON: {e.msg} at character {e.pos}") from None
    if not isinstance(bundle, dict) or tuple(sorted(bundle)) != BUNDLE_KEYS:
        raise BundleError(f"a bundle is an object with exactly the keys {', '.join(BUNDLE_KEYS)}")
    if canonical_json(bundle) != text:
        raise BundleError("the bundle is not in canonical form (it was edited)")
    if bundle["format"] != BUNDLE_FORMAT:
        raise BundleError(f"format {bundle['format']!r} is not {BUNDLE_FORMAT!r}")
    return bundle


def _genesis(obj: Any) -> Genesis:
    if not isinstance(obj, dict):
        raise BundleError("genesis is not an object")
    genesis = genesis_from_json(obj)
    if genesis.to_json() != obj:
        raise BundleError("the genesis record is not in canonical form")
    broken = check_genesis(genesis)
    if broken:
        raise BundleError(f"genesis: {broken.detail}")
    return genesis


def _keys(values: Any, parse: Any, what: str) -> list[Any]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BundleError(f"{what}s must be a list of strings")
    keys = [parse(v) for v in values]
    if [k.encode() for k in keys] != values or len(set(values)) != len(values):
        raise BundleError(f"{what}s are not canonical or repeat")
    return keys


def _require_pinned(keys: Sequence[Any], pinned: Sequence[str] | None, what: str) -> None:
    if pinned is None:
        return
    unknown = [k.encode() for k in keys if k.encode() not in set(pinned)]
    if unknown:
        raise BundleError(f"{what} {unknown[0]} is not among the keys you trust")


def _checkpoint(
    signed: Any,
    log_keys: Sequence[note.Ed25519Verifier],
    witnesses: Sequence[CosignatureVerifier],
    origin: str | None,
) -> Checkpoint:
    """c2sp.org/signed-note §Signatures, strictly: every line is by a listed key and verifies."""
    if not isinstance(signed, str):
        raise BundleError("checkpoint is not a string")
    parsed = note.parse(signed)
    if parsed.format() != signed:
        raise BundleError("the checkpoint note is not in canonical form")
    checkpoint = open_checkpoint(signed, log_keys, origin=origin)
    verified_log, _ = note.verify_signatures(parsed, log_keys)
    verified_witness, _ = note.verify_signatures(parsed, witnesses)
    if len(verified_log) != len(log_keys) or len(verified_witness) != len(witnesses):
        raise BundleError("a listed key did not sign the checkpoint")
    if len(verified_log) + len(verified_witness) != len(parsed.signatures):
        raise BundleError("the checkpoint carries a signature by a key the bundle does not list")
    return checkpoint


def _events(events: Any, genesis: Genesis, checkpoint: Checkpoint) -> tuple[int, ...]:
    """Each row recomputes (ledger-format §4) and is in the signed tree (RFC 9162 §2.1.3.2)."""
    if not isinstance(events, list) or not events:
        raise BundleError("events must be a non-empty list")
    digest = hash_function(genesis.hash_algorithm)
    positions: list[int] = []
    for number, event in enumerate(events, start=1):
        if not isinstance(event, dict) or tuple(sorted(event)) != EVENT_KEYS:
            raise BundleError(f"event {number}: an object with exactly the keys proof and row")
        row = row_from_json(event["row"])
        if row_to_json(row) != event["row"]:
            raise BundleError(f"event {number}: the row is not in canonical form")
        position, prev, stored = row[0], row[5], row[6]
        if positions and position <= positions[-1]:
            raise BundleError(f"event {number}: positions must increase")
        if not positions and (position != 1 or prev != genesis.genesis_hash):
            raise BundleError("the first event must be row 1, linked to the genesis record")
        if entry_hash(digest, row) != stored:
            raise BundleError(f"row {position} does not match its hash")
        proof = [_base64(p, f"row {position} proof") for p in _strings(event["proof"])]
        leaf = digest(b"\x00" + stored)
        try:
            verify_inclusion(
                leaf, position - 1, checkpoint.size, proof, checkpoint.root_hash, hash_fn=digest
            )
        except LedgerError as e:
            raise BundleError(f"row {position}: {e}") from None
        positions.append(position)
    return tuple(positions)


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BundleError("a proof is a list of base64 strings")
    return values


def _base64(text: str, what: str) -> bytes:
    try:
        return note.decode_base64(text, what)
    except NoteError as e:
        raise BundleError(str(e)) from None


def _label(name: str, key_id: int) -> str:
    return f"{name}+{key_id:08x}"


def write_zipapp(target: str | Path) -> None:
    """Write this verifier and its format modules as one runnable file (``python3 FILE``)."""
    here = Path(__file__).resolve().parent
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for module in ZIPAPP_MODULES:
            archive.write(here / f"{module}.py", f"ledger/{module}.py")
        archive.writestr(
            "__main__.py",
            "import sys\nfrom ledger.evidence_verify import main\nsys.exit(main())\n",
        )


def _read_keys(path: str | None, given: Sequence[str]) -> list[str] | None:
    if path is None and not given:
        return None
    keys = list(given)
    if path:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            text = line.strip()
            # A trusted keys file marks withdrawn keys "retired ": they are not trusted.
            if text and not text.startswith(("#", "retired ")):
                keys.append(text)
    return keys


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description="Verify a govledger evidence bundle offline.")
    parser.add_argument("bundle", help="file written by `govledger evidence`")
    parser.add_argument("--log-key", action="append", default=[], help="a trusted log vkey")
    parser.add_argument("--log-keys-file", help="the log's published keys, one per line")
    parser.add_argument("--witness-keys-file", help="trusted witness vkeys, one per line")
    parser.add_argument("--quorum", type=int, default=0, help="witness cosignatures required")
    parser.add_argument("--origin", help="the log origin you expect")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    args = parser.parse_args(argv)
    try:
        text = Path(args.bundle).read_bytes().decode("utf-8")
        report = verify_bundle(
            text,
            trusted_log_keys=_read_keys(args.log_keys_file, args.log_key),
            trusted_witness_keys=_read_keys(args.witness_keys_file, []),
            quorum=args.quorum,
            origin=args.origin,
        )
    except (OSError, UnicodeDecodeError) as e:
        print(f"error: cannot read {args.bundle}: {e}", file=sys.stderr)
        return 2
    except BundleError as e:
        print(json.dumps({"ok": False, "error": str(e)}) if args.json else f"FAIL {e}", file=out)
        return 1
    if args.json:
        print(json.dumps(report.to_json()), file=out)
    else:
        print(
            f"OK {len(report.positions)} events (positions "
            f"{', '.join(map(str, report.positions))}) in {report.origin} at size "
            f"{report.tree_size}; signed by {', '.join(report.signed_by)}"
            + (f"; cosigned by {', '.join(report.cosigned_by)}" if report.cosigned_by else ""),
            file=out,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
