"""``govledger prove | checkpoint | witness | evidence | tiles`` and ``keys public | generate``.

Wiring (ops/cli.py :func:`build_parser`): ``register(sub)`` adds the five
top-level commands; ``add_key_commands(keys_sub)`` adds ``public`` and
``generate`` to the ``keys`` group that ops/keys_cli.py creates. Handlers follow
ops/cli.py: ``(settings, args) -> int``, errors as :class:`LedgerError`
(one line, exit 2), nothing written when the input is bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger.checkpoints import (
    CheckpointStatus,
    Witnessing,
    checkpoint_round,
    checkpoint_status,
    generate_key_file,
    latest_checkpoint,
    load_issuer,
    load_witness_keys,
    public_keys,
    witness_checkpoint,
)
from ledger.config import Settings
from ledger.errors import LedgerError, ProofError
from ledger.evidence import build_bundle
from ledger.evidence_verify import write_zipapp
from ledger.store.connect import open_reader
from ledger.tiles import write_tiles
from ledger.tree import LedgerTree, open_ledger_tree
from ledger.witness_client import RoundRecord, collect_cosignatures
from ledger.witness_server import open_witness
from ops import argtypes
from ops.terminal import EXIT_FAILED, EXIT_OK, progress_bar

__all__ = ["add_key_commands", "register"]

Handler = Callable[[Settings, argparse.Namespace], int]


@contextmanager
def _bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    with progress_bar(max(total, 0), description) as advance:
        yield advance


def _integrate(tree: LedgerTree) -> int:
    """Bring the tree to the chain's head, with a progress bar on a terminal."""
    with _bar(tree.reader.max_position() - tree.size, "integrate") as advance:
        return tree.integrate(progress=advance)


# ---------------------------------------------------------------- prove


def cmd_prove(settings: Settings, args: argparse.Namespace) -> int:
    """RFC 9162 §2.1.3 inclusion or §2.1.4 consistency proof from the ledger's tree."""
    with open_ledger_tree(settings) as tree:
        head = tree.reader.max_position()
        if args.consistency:
            proof: Any = _consistency(tree, args, head)
        else:
            proof = _inclusion(tree, args, head)
    body = proof.to_json()
    if args.json:
        print(json.dumps(body))
    else:
        for key, value in body.items():
            shown = "\n  ".join(value) if isinstance(value, list) else value
            print(f"{key}: {shown}" if not isinstance(value, list) else f"{key}:\n  {shown}")
    return EXIT_OK


def _inclusion(tree: LedgerTree, args: argparse.Namespace, head: int) -> Any:
    if args.position is None:
        raise LedgerError("prove needs --position N (or --consistency --from A --to B)")
    size = args.size if args.size is not None else head
    if not 1 <= args.position <= size or size > head:
        raise ProofError(f"position {args.position} in size {size}: the log has {head} rows")
    _integrate(tree)
    return tree.inclusion(args.position, size)


def _consistency(tree: LedgerTree, args: argparse.Namespace, head: int) -> Any:
    if args.from_size is None:
        raise LedgerError("prove --consistency needs --from A [--to B]")
    to_size = args.to_size if args.to_size is not None else head
    if not 1 <= args.from_size <= to_size <= head:
        raise ProofError(f"sizes {args.from_size}..{to_size}: the log has {head} rows")
    _integrate(tree)
    return tree.consistency(args.from_size, to_size)


# ---------------------------------------------------------------- checkpoints


def cmd_checkpoint_issue(settings: Settings, args: argparse.Namespace) -> int:
    """Integrate, sign and store a checkpoint (c2sp.org/tlog-checkpoint), collect its
    witnesses' cosignatures (c2sp.org/tlog-witness) and write the tiles; print its note."""
    del args
    load_issuer(settings)  # a retired or unlisted key is refused before anything is written
    with open_ledger_tree(settings) as tree:
        _integrate(tree)
    done = checkpoint_round(settings)
    stored = done.issued.checkpoint
    what = "issued" if done.issued.new else "unchanged: newest is"
    print(f"{what} checkpoint {stored.id} (size {stored.tree_size})", file=sys.stderr)
    _print_round(done.witnesses)
    if done.tiles is not None:
        print(f"tiles of size {done.tiles.tree_size} written", file=sys.stderr)
    sys.stdout.write(stored.note)
    return EXIT_OK


def cmd_checkpoint_collect(settings: Settings, args: argparse.Namespace) -> int:
    """Ask the witnesses of ``witness_urls_file`` to cosign the newest checkpoint (§16)."""
    del args
    record = collect_cosignatures(settings)
    if record is None:
        raise LedgerError("no witness to ask: set GOVLEDGER_WITNESS_URLS_FILE")
    _print_round(record)
    return EXIT_OK


def _print_round(record: RoundRecord | None) -> None:
    """One line per witness, then the quorum, on stderr (docs/witnesses.md)."""
    if record is None:
        return
    for result in record.witnesses:
        status = f" (HTTP {result.status})" if result.status else ""
        print(
            f"witness {result.witness}: {result.outcome.value}{status}: {result.detail}",
            file=sys.stderr,
        )
    met = "met" if record.quorum_met else "NOT met"
    print(
        f"checkpoint {record.checkpoint_id}: {record.cosignatures} cosignature(s), "
        f"quorum {record.quorum} {met}",
        file=sys.stderr,
    )


def cmd_checkpoint_latest(settings: Settings, args: argparse.Namespace) -> int:
    """Print the newest checkpoint with its witnesses' valid cosignatures, as served;
    ``--witnessed``: the newest that meets the witness quorum (what ``verify`` trusts)."""
    if args.witnessed:
        status = _status(settings)
        if status.failure is not None:
            raise LedgerError(f"untrusted: {status.failure.detail}")
        trusted = status.trusted_checkpoint
        if trusted is None:
            raise LedgerError("no checkpoint meets the witness quorum yet (run the witnesses)")
        served: str | None = trusted.cosigned(load_witness_keys(settings))
    else:
        served = latest_checkpoint(settings)
    if served is None:
        raise LedgerError("no checkpoint issued yet (run `govledger checkpoint issue`)")
    sys.stdout.write(served)
    return EXIT_OK


def _status(settings: Settings) -> CheckpointStatus:
    reader = open_reader(settings)
    try:
        genesis = reader.genesis()
    finally:
        reader.close()
    status = checkpoint_status(settings, genesis)
    if status is None:
        raise LedgerError("no trusted log key: set GOVLEDGER_TRUSTED_KEYS_FILE")
    return status


def cmd_checkpoint_status(settings: Settings, args: argparse.Namespace) -> int:
    """The witnessing state (checkpoint-format §11): none, witnessed, awaiting-witnesses
    (not tampering: the witnesses have not run yet) or untrusted (a break: exit 1)."""
    status = _status(settings)
    body = status.to_json()
    print(json.dumps(body) if args.json else _status_line(body))
    return EXIT_FAILED if status.state is Witnessing.UNTRUSTED else EXIT_OK


def _status_line(body: dict[str, Any]) -> str:
    witnessed = body["witnessed"]
    trusted = (
        f"checkpoint {witnessed['id']} (size {witnessed['tree_size']})" if witnessed else "none"
    )
    if body["state"] == Witnessing.UNTRUSTED:
        return f"untrusted: {body['failure']}"
    if body["state"] == Witnessing.AWAITING_WITNESSES:
        return (
            f"awaiting-witnesses: {body['awaiting']} checkpoint(s) since "
            f"{body['awaiting_since']}; newest witnessed: {trusted}"
        )
    return f"{body['state']}: newest witnessed: {trusted}"


# ---------------------------------------------------------------- witness


def cmd_witness(settings: Settings, args: argparse.Namespace) -> int:
    """Check and cosign the newest (or given) checkpoint (c2sp.org/tlog-cosignature)."""
    if not (args.key and args.state):
        raise LedgerError("witness needs --key FILE --state FILE (or: witness serve)")
    text = _read_text(args.checkpoint_file) if args.checkpoint_file else None
    result = witness_checkpoint(settings, args.key, args.state, text)
    what = "cosigned" if result.new else "already cosigned"
    print(f"{what} {result.checkpoint.origin} size {result.checkpoint.size}", file=sys.stderr)
    sys.stdout.write(result.served)
    return EXIT_OK


def cmd_witness_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Serve C2SP tlog-witness (add-checkpoint, the monitoring checkpoint, /metrics)."""
    import uvicorn  # noqa: PLC0415

    open_witness(settings)  # a missing key or logs file is one line here, not a traceback
    # By import string: ops does not import api (docs/architecture.md).
    uvicorn.run(
        "api.witness_app:create_witness_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
    )
    return EXIT_OK


def _read_text(path: str) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LedgerError(f"cannot read checkpoint file {path}: {e.__class__.__name__}") from None


# ---------------------------------------------------------------- evidence


def cmd_evidence(settings: Settings, args: argparse.Namespace) -> int:
    """Write an evidence bundle (and, on request, the offline verifier as one file)."""
    with _bar(len(args.positions), "evidence") as advance:
        text = build_bundle(settings, args.positions, progress=advance)
    _write_atomically(args.output, lambda path: path.write_text(text, encoding="utf-8"))
    if args.verifier:
        _write_atomically(args.verifier, write_zipapp)
    print(f"wrote evidence for {len(args.positions)} position(s) to {args.output}", file=sys.stderr)
    return EXIT_OK


def _write_atomically(target: str, write: Callable[[Path], object]) -> None:
    path = Path(target)
    if path.is_dir():
        raise LedgerError(f"{target} is a directory")
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        partial.replace(path)
    except OSError as e:
        raise LedgerError(f"cannot write {target}: {e.strerror}") from e
    finally:
        partial.unlink(missing_ok=True)


# ---------------------------------------------------------------- tiles


def cmd_tiles_write(settings: Settings, args: argparse.Namespace) -> int:
    """Write the published checkpoint's tiles as static files (c2sp.org/tlog-tiles)."""
    with progress_bar(0, "tiles") as advance:
        written = write_tiles(settings, args.directory, progress=advance)
    if written is None:
        raise LedgerError("no checkpoint to publish yet (issue one; under a quorum, witness it)")
    print(
        f"published tree size {written.tree_size} in {args.directory}: "
        f"{written.written} file(s) written, {written.present} full tile(s) already there",
        file=sys.stderr,
    )
    return EXIT_OK


# ---------------------------------------------------------------- keys


def cmd_keys_public(settings: Settings, args: argparse.Namespace) -> int:
    """Print the log's verifier keys (name+hash+base64), prefixed ``retired `` or ``revoked ``."""
    del args
    for line in public_keys(settings):
        print(line)
    return EXIT_OK


def cmd_keys_generate(settings: Settings, args: argparse.Namespace) -> int:
    """Write a new signer key file (mode 0600) and print its verifier key."""
    del settings
    print(generate_key_file(args.output, args.name, witness=args.witness))
    return EXIT_OK


# ---------------------------------------------------------------- parsers


def register(subparsers: Any) -> None:
    """Add ``prove``, ``checkpoint``, ``witness`` and ``evidence`` to the top-level commands."""
    p = subparsers.add_parser("prove", help="inclusion or consistency proof (RFC 9162)")
    p.add_argument("--position", type=argtypes.position, help="ledger position of the row to prove")
    p.add_argument("--size", type=argtypes.position, help="tree size (default: the head)")
    p.add_argument("--consistency", action="store_true", help="prove size --from extends --to")
    p.add_argument("--from", dest="from_size", type=argtypes.position, help="older tree size")
    p.add_argument(
        "--to", dest="to_size", type=argtypes.position, help="newer tree size (default: head)"
    )
    p.add_argument("--json", action="store_true", help="print JSON, hashes in base64")
    p.set_defaults(func=cmd_prove)

    p = subparsers.add_parser("checkpoint", help="signed checkpoints (C2SP tlog-checkpoint)")
    actions = p.add_subparsers(dest="checkpoint_command", required=True)
    actions.add_parser("issue", help="integrate the tree, sign and store").set_defaults(
        func=cmd_checkpoint_issue
    )
    latest = actions.add_parser("latest", help="print the newest checkpoint as served")
    latest.add_argument(
        "--witnessed", action="store_true", help="the newest that meets the witness quorum"
    )
    latest.set_defaults(func=cmd_checkpoint_latest)
    actions.add_parser(
        "collect", help="ask the witnesses over HTTP to cosign the newest checkpoint"
    ).set_defaults(func=cmd_checkpoint_collect)
    status = actions.add_parser("status", help="witnessed, awaiting witnesses, or untrusted")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_checkpoint_status)

    p = subparsers.add_parser("witness", help="check consistency and cosign the checkpoint")
    p.add_argument("--key", help="the witness's signer key file")
    p.add_argument("--state", help="the witness's own state file")
    p.add_argument("--checkpoint-file", help="checkpoint note to cosign (default: the newest)")
    p.set_defaults(func=cmd_witness)
    actions = p.add_subparsers(dest="witness_command")
    serve = actions.add_parser(
        "serve", help="serve C2SP tlog-witness for other hosts' logs (no ledger database)"
    )
    serve.add_argument("--host", help="address to bind (default GOVLEDGER_API_HOST)")
    serve.add_argument("--port", type=int, help="port (default GOVLEDGER_API_PORT)")
    serve.set_defaults(func=cmd_witness_serve)

    p = subparsers.add_parser("evidence", help="evidence bundle verifiable offline")
    p.add_argument(
        "--position", dest="positions", type=argtypes.position, action="append", required=True
    )
    p.add_argument("-o", "--output", required=True, help="bundle file to write")
    p.add_argument("--verifier", help="also write the offline verifier (a .pyz) here")
    p.set_defaults(func=cmd_evidence)

    p = subparsers.add_parser("tiles", help="the log as static tiles (C2SP tlog-tiles)")
    actions = p.add_subparsers(dest="tiles_command", required=True)
    write = actions.add_parser("write", help="write the published tiles into a directory")
    write.add_argument("directory", help="directory a plain web server serves as the log prefix")
    write.set_defaults(func=cmd_tiles_write)


def add_key_commands(keys_subparsers: Any) -> None:
    """Add ``public`` and ``generate`` to an existing ``keys`` sub-command group."""
    p = keys_subparsers.add_parser("public", help="print the log's verifier keys")
    p.set_defaults(func=cmd_keys_public)
    p = keys_subparsers.add_parser("generate", help="write a new checkpoint signer key file")
    p.add_argument("--name", required=True, help="key name (should equal the log origin)")
    p.add_argument("-o", "--output", required=True, help="key file to create (mode 0600)")
    p.add_argument("--witness", action="store_true", help="a witness cosignature key (0x04)")
    p.set_defaults(func=cmd_keys_generate)
