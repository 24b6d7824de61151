"""Offline verifier of govledger evidence bundles (docs/checkpoint-format.md §13).

No database and no network: the standard library, ``cryptography``, and the
format modules beside it, which themselves import nothing else of govledger:
``ledger/errors.py``, ``chain.py`` (row hashes, ledger-format §4),
``merkle.py`` (RFC 9162 §2.1.3.2), ``note.py`` (c2sp.org/signed-note) and
``checkpoint.py`` (c2sp.org/tlog-checkpoint, tlog-cosignature), and for
``--report FILE`` ``report_issuance.py`` (docs/reports.md: the bundle holds the
issuance of this exact file). So nothing is
written twice, and an auditor gets them as one file::

    govledger evidence --position 17 -o bundle.json --verifier verify.pyz
    python3 verify.pyz bundle.json --log-keys-file published-keys.txt

(``python -m ledger.evidence_verify`` from a checkout does the same.) A
bundle is accepted only if it is byte for byte in canonical form, every key
and signature in it is used and valid, every log key it lists is one the
auditor pinned and signed the checkpoint, every event's entry hash recomputes
and its RFC 9162 inclusion proof leads to the signed root, and the first event
is row 1, linked to the genesis record. Altering any byte therefore fails.

Trust comes only from keys the auditor pins, never from keys the bundle
carries: without pinned log keys the verdict is ``self-consistent`` (anyone can
forge that), never ``verified``, and the command exits non-zero unless
``--self-consistent-only`` asked for exactly that; a ``--quorum`` counts only
pinned witness keys.
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
from ledger.checkpoint import (
    REVOKED,
    Checkpoint,
    CosignatureVerifier,
    key_file_lines,
    key_standing,
    open_checkpoint,
    require_cosignatures,
)
from ledger.errors import LedgerError, NoteError
from ledger.merkle import verify_inclusion
from ledger.report_issuance import NotIssuedError, file_sha256, issuance_in_bundle

__all__ = [
    "BUNDLE_FORMAT",
    "EXIT_FAILED",
    "EXIT_SELF_CONSISTENT",
    "EXIT_USAGE",
    "EXIT_VERIFIED",
    "SELF_CONSISTENT",
    "VERIFIED",
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
ZIPAPP_MODULES = (
    "__init__", "errors", "chain", "merkle", "note", "checkpoint", "evidence_verify",
    "report_issuance",  # --report FILE: the bundle proves this file's issuance (reports.md)
)  # fmt: skip
# The verdicts (checkpoint-format §13) and the command's exit codes.
VERIFIED, SELF_CONSISTENT = "verified", "self-consistent"
EXIT_VERIFIED, EXIT_FAILED, EXIT_USAGE, EXIT_SELF_CONSISTENT = 0, 1, 2, 3


class BundleError(LedgerError):
    """An evidence bundle that is malformed or does not verify."""


def canonical_json(value: Any) -> str:
    """The one serialisation a bundle may have: sorted keys, two-space indent, ASCII, newline."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


@dataclass(frozen=True)
class BundleReport:
    """What a bundle proves. ``pinned``: its log signature was checked against keys the
    caller pinned (verdict ``verified``); otherwise only against the keys it carries
    (``self-consistent``). ``cosigned_by`` lists pinned witnesses only; ``unpinned_witnesses``
    the cosignatures it carries from keys nobody pinned, which never count."""

    ledger_id: str
    genesis_hash: str
    origin: str
    tree_size: int
    root_hash: str
    positions: tuple[int, ...]
    signed_by: tuple[str, ...]
    cosigned_by: tuple[str, ...]
    unpinned_witnesses: tuple[str, ...]
    pinned: bool

    @property
    def verdict(self) -> str:
        return VERIFIED if self.pinned else SELF_CONSISTENT

    @property
    def ok(self) -> bool:
        return self.verdict == VERIFIED

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "ledger_id": self.ledger_id,
            "genesis_hash": self.genesis_hash,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "positions": list(self.positions),
            "signed_by": list(self.signed_by),
            "cosigned_by": list(self.cosigned_by),
            "unpinned_witnesses": list(self.unpinned_witnesses),
        }

    def summary(self) -> str:
        """One line: what the bundle holds and who signed it."""
        text = (
            f"{len(self.positions)} events (positions {', '.join(map(str, self.positions))}) "
            f"in {self.origin} at size {self.tree_size}; signed by {', '.join(self.signed_by)}"
        )
        if self.cosigned_by:
            text += f"; cosigned by {', '.join(self.cosigned_by)}"
        if self.unpinned_witnesses:
            text += (
                "; carries cosignatures by witness keys you did not pin (not counted): "
                + ", ".join(self.unpinned_witnesses)
            )
        return text


def verify_bundle(
    text: str,
    *,
    trusted_log_keys: Sequence[str] | None = None,
    revoked_log_keys: Sequence[str] = (),
    trusted_witness_keys: Sequence[str] | None = None,
    quorum: int = 0,
    origin: str | None = None,
) -> BundleReport:
    """Verify an evidence bundle; raise :class:`BundleError` naming the first problem.

    ``trusted_log_keys``: the log's published vkeys (active and retired) as the
    auditor obtained them. Without them (``None``) the report's verdict is only
    ``self-consistent``: the bundle agrees with the keys it carries. ``revoked_log_keys``
    name keys withdrawn after a compromise. ``trusted_witness_keys`` and ``quorum``: a
    witness policy (checkpoint-format §7); a quorum counts pinned witness keys only.
    """
    if quorum < 0:
        raise BundleError(f"quorum {quorum} is negative")
    if quorum > 0 and not trusted_witness_keys:
        raise BundleError(
            "a witness quorum needs pinned witness keys: keys carried in the bundle never count"
        )
    if trusted_log_keys is not None and not trusted_log_keys:
        raise BundleError("no trusted log key was given (an empty or all-revoked keys file)")
    try:
        return _verify(
            text, trusted_log_keys, revoked_log_keys, trusted_witness_keys, quorum, origin
        )
    except (LedgerError, ChainFormatError) as e:
        if isinstance(e, BundleError):
            raise
        raise BundleError(str(e)) from None


def _verify(
    text: str,
    trusted_log_keys: Sequence[str] | None,
    revoked_log_keys: Sequence[str],
    trusted_witness_keys: Sequence[str] | None,
    quorum: int,
    origin: str | None,
) -> BundleReport:
    bundle = _parse(text)
    genesis = _genesis(bundle["genesis"])
    log_keys = _keys(bundle["log_keys"], note.Ed25519Verifier.from_string, "log key")
    witnesses = _keys(bundle["witness_keys"], CosignatureVerifier.from_string, "witness key")
    if trusted_log_keys is not None:
        _require_pinned(log_keys, trusted_log_keys, revoked_log_keys)
    checkpoint = _checkpoint(bundle["checkpoint"], log_keys, witnesses, origin)
    pinned = set(trusted_witness_keys or ())
    counted = [w for w in witnesses if w.encode() in pinned]
    if quorum > 0:
        policy = [CosignatureVerifier.from_string(k) for k in dict.fromkeys(pinned)]
        require_cosignatures(bundle["checkpoint"], policy, quorum)
    positions = _events(bundle["events"], genesis, checkpoint)
    return BundleReport(
        genesis.ledger_id,
        genesis.genesis_hash.hex(),
        checkpoint.origin,
        checkpoint.size,
        checkpoint.root_hash.hex(),
        positions,
        tuple(_label(k.name, k.key_id) for k in log_keys),
        tuple(_label(k.name, k.key_id) for k in counted),
        tuple(_label(k.name, k.key_id) for k in witnesses if k not in counted),
        pinned=trusted_log_keys is not None,
    )


def _parse(text: str) -> dict[str, Any]:
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as e:
        raise BundleError(f"not JSON: {e.msg} at character {e.pos}") from None
    except (ValueError, RecursionError):  # a number of too many digits; nested past the stack
        raise BundleError("not readable JSON: a number too long or nesting too deep") from None
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


def _require_pinned(
    keys: Sequence[note.Ed25519Verifier], pinned: Sequence[str], revoked: Sequence[str]
) -> None:
    """Every log key the bundle lists must be one the auditor pinned (and not revoked)."""
    for key in keys:
        if key.encode() in set(revoked):
            raise BundleError(f"log key {key.encode()} is revoked")
        if key.encode() not in set(pinned):
            raise BundleError(f"log key {key.encode()} is not among the keys you trust")


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


def _read_keys(path: str | None, given: Sequence[str]) -> tuple[list[str] | None, list[str]]:
    """(trusted, revoked) vkeys from ``--log-key`` and a trusted keys file (§6): active and
    ``retired `` keys are trusted, ``revoked `` ones are not; ``None``: nothing was pinned."""
    if path is None and not given:
        return None, []
    trusted, revoked = list(given), list[str]()
    if path:
        for line in key_file_lines(Path(path).read_text(encoding="utf-8")):
            standing, key = key_standing(line)
            (revoked if standing == REVOKED else trusted).append(key)
    return [k for k in trusted if k not in revoked], revoked


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Verify a govledger evidence bundle offline.",
        epilog="Exit status: 0 verified, 1 failed, 2 usage or unreadable file, 3 self-consistent "
        "only (no log key pinned; 0 with --self-consistent-only).",
    )
    parser.add_argument("bundle", help="file written by `govledger evidence`")
    parser.add_argument("--log-key", action="append", default=[], help="a trusted log vkey")
    parser.add_argument("--log-keys-file", help="the log's published keys, one per line")
    parser.add_argument("--witness-keys-file", help="trusted witness vkeys, one per line")
    parser.add_argument(
        "--quorum", type=int, default=0, help="pinned witnesses' cosignatures required"
    )
    parser.add_argument("--origin", help="the log origin you expect")
    parser.add_argument(
        "--self-consistent-only",
        action="store_true",
        help="with no pinned log key, exit 0 after checking only that the bundle agrees with "
        "itself (which anyone can forge)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument(
        "--report",
        help="a report file: the bundle must also prove its issuance (docs/reports.md)",
    )
    return parser


def _usage_error(args: argparse.Namespace) -> str | None:
    pinned = bool(args.log_key or args.log_keys_file)
    if args.quorum < 0:
        return f"--quorum {args.quorum} is negative"
    if args.quorum > 0 and not args.witness_keys_file:
        return "--quorum needs --witness-keys-file: keys carried in the bundle never count"
    if args.self_consistent_only and pinned:
        return "--self-consistent-only cannot be combined with pinned log keys"
    return None


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    if (problem := _usage_error(args)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        trusted, revoked = _read_keys(args.log_keys_file, args.log_key)
        witnesses, _ = _read_keys(args.witness_keys_file, [])
        text = Path(args.bundle).read_bytes().decode("utf-8")
    except OSError as e:
        print(f"error: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except UnicodeDecodeError:
        print(f"error: {args.bundle} (or a keys file) is not UTF-8 text", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = verify_bundle(
            text,
            trusted_log_keys=trusted,
            revoked_log_keys=revoked,
            trusted_witness_keys=witnesses,
            quorum=args.quorum,
            origin=args.origin,
        )
    except BundleError as e:
        failed = {"ok": False, "verdict": "failed", "error": str(e)}
        print(json.dumps(failed) if args.json else f"FAIL {e}", file=out)
        return EXIT_FAILED
    return _answer(args, text, report, out)


def _answer(args: argparse.Namespace, text: str, report: BundleReport, out: TextIO) -> int:
    """Print the verdict on a verified bundle (and ``--report``'s file); the exit code."""
    if args.report:
        return _check_report(args, text, report, out)
    if args.json:
        print(json.dumps(report.to_json()), file=out)
    elif report.ok:
        print(f"OK {report.summary()}", file=out)
    else:
        print(
            "SELF-CONSISTENT ONLY \u2014 not verified against a trusted key: "
            f"{report.summary()} (keys the bundle carries; pass --log-keys-file with the "
            "log's published keys)",
            file=out,
        )
    if report.ok or args.self_consistent_only:
        return EXIT_VERIFIED
    return EXIT_SELF_CONSISTENT


def _check_report(args: argparse.Namespace, text: str, report: BundleReport, out: TextIO) -> int:
    """The bundle verified; does it hold the issuance of ``args.report``'s exact bytes?"""
    try:
        sha = file_sha256(Path(args.report))
        position, issuance = issuance_in_bundle(text, sha)
    except NotIssuedError as e:
        print(json.dumps({"ok": False, "verdict": "failed", "error": str(e)}) if args.json
              else f"FAIL {e}", file=out)  # fmt: skip
        return EXIT_FAILED
    except LedgerError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        body = {**report.to_json(), "report": {"sha256": sha, "position": position, **issuance}}
        print(json.dumps(body, ensure_ascii=False), file=out)
    else:
        verdict = "OK" if report.ok else "SELF-CONSISTENT ONLY (no pinned log key)"
        print(
            f"{verdict} {args.report} (SHA-256 {sha}) was issued: {issuance['kind']} report "
            f"{issuance['year']}, {issuance['format']}, as of ledger position "
            f"{issuance['as_of_position']}, recorded at position {position}; {report.summary()}",
            file=out,
        )
    return EXIT_VERIFIED if report.ok or args.self_consistent_only else EXIT_SELF_CONSISTENT


if __name__ == "__main__":
    sys.exit(main())
