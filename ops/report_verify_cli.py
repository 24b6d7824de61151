"""The command line of issuance: ``govledger report KIND … --issue`` and ``report verify FILE``.

docs/reports.md "Issuance and verification". Issuing records the written file's
SHA-256 with the report's kind, year and as-of position (ledger/commands/report_issue.py);
verifying answers whether and where this exact file was issued, with an inclusion
proof against a signed checkpoint, online or offline (ledger/report_evidence.py).
Issuing first checks the views against the ledger (projections/view_check.py, §Issued
from checked views): views that differ are refused in one line, nothing recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.domain.actor import Actor, Role
from ledger.errors import LedgerError
from ledger.report_evidence import FileVerification, NotIssuedError, file_sha256, verify_offline
from ops.terminal import EXIT_OK

EXIT_NOT_ISSUED = 1
# Who signs which report by default: 审计局 the audit, 网信办 the risk, 区发改局 the annual.
ISSUER_OF = {"audit": Role.AUDITOR, "risk": Role.SECURITY_OFFICER, "annual": Role.NDRC}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``report`` takes for issuing and verifying."""
    p.add_argument("file", nargs="?", help="with `verify`: the report file to verify")
    p.add_argument("--issue", action="store_true", help="record the written file as issued")
    p.add_argument("--actor-id", default="report-cli", help="who issues (with --issue)")
    p.add_argument(
        "--role",
        choices=sorted({r.value for r in ISSUER_OF.values()}),
        help="the issuing role (default: auditor for audit, security_officer for risk, "
        "ndrc for annual)",
    )
    p.add_argument("--evidence", help="with `verify`: check offline against this evidence bundle")
    p.add_argument("--evidence-out", help="with `verify`: write the evidence bundle here")
    p.add_argument("--log-keys-file", help="with `verify --evidence`: the log's published keys")
    p.add_argument("--json", action="store_true", help="with `verify`: print a JSON answer")


def issue_written(settings: Settings, args: argparse.Namespace, content: bytes, at: int) -> str:
    """Record the written report as issued; the line to print. Its model passed
    ``projections.view_check.check_issue`` before it was rendered and written (report_cli)."""
    from ledger.configured import open_ledger  # noqa: PLC0415

    role = Role(args.role) if args.role else ISSUER_OF[args.kind]
    app = open_ledger(settings)
    try:
        (issued,) = app.issue_report(
            Actor(args.actor_id, role, None),
            kind=args.kind,
            year=args.year,
            as_of_position=at,
            files=[(args.fmt, content)],
        )
    finally:
        app.close()
    verb = "issued" if issued.recorded else "already issued"
    return f"{verb}: SHA-256 {issued.sha256}, recorded at ledger position {issued.position}"


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    if not args.file:
        raise LedgerError("report verify: name the FILE to verify")
    path = Path(args.file)
    try:
        found = _offline(args, path) if args.evidence else _online(settings, args, path)
    except NotIssuedError as e:
        answer: dict[str, Any] = {"ok": False, "sha256": file_sha256(path), "error": str(e)}
        print(json.dumps(answer) if args.json else f"NOT ISSUED {e}")
        return EXIT_NOT_ISSUED
    print(json.dumps(found.to_json(), ensure_ascii=False) if args.json else found.summary())
    return EXIT_OK


def _offline(args: argparse.Namespace, path: Path) -> FileVerification:
    from ledger.evidence_verify import _read_keys  # noqa: PLC0415

    if not args.log_keys_file:
        raise LedgerError("report verify --evidence needs --log-keys-file (the published keys)")
    try:
        trusted, revoked = _read_keys(args.log_keys_file, [])
        bundle = Path(args.evidence).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LedgerError(f"cannot read the evidence or keys: {e}") from None
    return verify_offline(path, bundle, trusted_log_keys=trusted or [], revoked_log_keys=revoked)


def _online(settings: Settings, args: argparse.Namespace, path: Path) -> FileVerification:
    from ledger.configured import open_ledger  # noqa: PLC0415
    from ledger.evidence import build_bundle  # noqa: PLC0415

    sha = file_sha256(path)
    app = open_ledger(settings)
    try:
        position = app.issuance_position(sha)
    finally:
        app.close()
    if position is None:
        raise NotIssuedError(f"no issued report has SHA-256 {sha}")
    try:
        bundle = build_bundle(settings, [position])
    except LedgerError as e:
        raise LedgerError(f"issued at ledger position {position}, but no proof yet: {e}") from None
    if args.evidence_out:
        Path(args.evidence_out).write_text(bundle, encoding="utf-8")
        print(f"evidence written to {args.evidence_out}", file=sys.stderr)
    keys = json.loads(bundle)["log_keys"]
    return verify_offline(path, bundle, trusted_log_keys=keys)
