"""账本状态 / Ledger health: head, verified head, newest checkpoint, verify, proofs, evidence.

Everything shown comes from the ledger's own modules: ledger/verify.py (the
recorded head, the verify run), ledger/checkpoints.py (the signed note and
its cosignatures), ledger/tree.py (RFC 9162 §2.1.3 inclusion proofs),
ledger/evidence.py and ledger/evidence_verify.py (checkpoint-format §13).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from api.console.health import ledger_health
from api.console.labels import BREAK_NAMES, SIGNATURE_STANDINGS
from api.console.session import Session
from api.console.web import SECURITY_HEADERS, check_csrf, console_state, page, redirect, render
from api.deps import services
from ledger import note
from ledger.chain import Genesis, RowTuple
from ledger.checkpoints import (
    CheckpointStore,
    checkpoint_status,
    ledger_origin,
    load_trusted_keys,
    load_witness_keys,
)
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.evidence import build_bundle
from ledger.evidence_verify import BundleError, BundleReport, verify_bundle
from ledger.store.connect import open_reader
from ledger.tree import Database, InclusionProof, b64, open_ledger_tree
from security.policy import Permission

router = APIRouter()
Viewer = Annotated[Session, Depends(page(Permission.OPEN_CONSOLE))]
Verifier = Annotated[Session, Depends(page(Permission.VERIFY))]
Exporter = Annotated[Session, Depends(page(Permission.EXPORT))]
MAX_BUNDLE_BYTES = 32 * 1024 * 1024


@router.get("/")
def home(_: Viewer) -> Response:
    return redirect("/ledger")


@router.get("/ledger")
def ledger_page(request: Request, session: Viewer) -> Response:
    run = console_state(request).verify_jobs.current()
    settings = services(request).settings
    return render(
        request,
        "ledger.html",
        session,
        {
            "health": ledger_health(settings),
            "witnessing": _witnessing(settings),
            "run": run.to_json() if run else None,
            "break_names": BREAK_NAMES,
            "standings": SIGNATURE_STANDINGS,
        },
    )


def _witnessing(settings: Settings) -> dict[str, Any] | None:
    """The witnessing state (checkpoint-format §11) for the page; ``None`` without log keys or
    when it cannot be read (the checkpoint card then says what is wrong)."""
    try:
        status = checkpoint_status(settings, _genesis(settings))
    except LedgerError:
        return None
    return status.to_json() if status is not None else None


# ---------------------------------------------------------------- 校验


@router.post("/ledger/verify")
async def start_verify(request: Request, session: Verifier) -> Response:
    """Start (or join) the incremental verify; JSON for the page's script, else back to the page."""
    supplied = request.headers.get("x-csrf-token")
    if supplied is None:
        supplied = str((await request.form()).get("csrf", ""))
    check_csrf(session, supplied)
    run = console_state(request).verify_jobs.start(session.principal.subject)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(run.to_json(), headers=SECURITY_HEADERS)
    return redirect("/ledger")


@router.get("/ledger/verify")
def verify_status(request: Request, _: Verifier) -> JSONResponse:
    run = console_state(request).verify_jobs.current()
    return JSONResponse(run.to_json() if run else None, headers=SECURITY_HEADERS)


# ---------------------------------------------------------------- 证明与证据包


@dataclass(frozen=True)
class ProofView:
    position: int
    row: RowTuple
    proof: InclusionProof
    against_checkpoint: int | None  # the id of the signed checkpoint whose root it reaches


def _proof_view(settings: Settings, position: int) -> ProofView:
    """The row at ``position`` and its proof in the newest checkpoint's tree when it covers the
    row (so the root can be compared with the signed note), else in the head's tree."""
    with open_ledger_tree(settings) as tree:
        tree.integrate()
        if not 1 <= position <= tree.size:
            raise LedgerError(f"账本共有 {tree.size} 条记录，没有位置 {position}")
        latest = CheckpointStore(tree.database).latest()
        covered = latest is not None and position <= latest.tree_size
        size = latest.tree_size if latest is not None and covered else tree.size
        proof = tree.inclusion(position, size)
        row = tree.reader.row_at(position)
    assert row is not None  # inside the tree, so in the chain
    return ProofView(position, row, proof, latest.id if latest and covered else None)


@router.get("/ledger/proof")
def proof_page(
    request: Request,
    session: Verifier,
    position: Annotated[int, Query(ge=1, le=2**62)],
) -> Response:
    settings = services(request).settings
    try:
        view: ProofView | None = _proof_view(settings, position)
        error = ""
    except LedgerError as e:
        view, error = None, str(e)
    return render(
        request,
        "proof.html",
        session,
        {"position": position, "view": view, "error": error, "b64": b64},
        status_code=200 if view else 422,
    )


@router.get("/ledger/evidence")
def evidence_bundle(
    request: Request,
    session: Exporter,
    position: Annotated[int, Query(ge=1, le=2**62)],
) -> Response:
    """The evidence bundle of one row (and row 1), as ``govledger evidence`` writes it."""
    try:
        text = build_bundle(services(request).settings, [position])
    except LedgerError as e:
        return render(
            request,
            "proof.html",
            session,
            {"position": position, "view": None, "error": f"无法出具证据包：{e}", "b64": b64},
            status_code=422,
        )
    return Response(
        text,
        media_type="application/json",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="govledger-evidence-{position}.json"',
        },
    )


@router.post("/ledger/evidence/check")
async def check_bundle(
    request: Request,
    session: Verifier,
    bundle: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Verify an uploaded bundle against this ledger's own keys and witnesses (§13)."""
    check_csrf(session, csrf)
    raw = await bundle.read(MAX_BUNDLE_BYTES + 1)
    result: dict[str, Any]
    if len(raw) > MAX_BUNDLE_BYTES:
        result = {"ok": False, "error": f"文件超过 {MAX_BUNDLE_BYTES // 2**20} MiB"}
    else:
        result = _verify_upload(services(request).settings, raw)
    return render(
        request,
        "bundle_check.html",
        session,
        {"result": result, "filename": bundle.filename or ""},
        status_code=200 if result["ok"] else 422,
    )


class _RefusedError(Exception):
    """Why 证据包核验 refuses a bundle, in Chinese for the page."""


def _verify_upload(settings: Settings, raw: bytes) -> dict[str, Any]:
    """核验 against this ledger's own trust (checkpoint-format §13): its trusted log keys
    (active and retired), witness keys, quorum and origin; then the bundle must be of this
    ledger (its genesis) and its checkpoint one this ledger issued. Never green otherwise."""
    try:
        report = _check_upload(settings, raw)
    except _RefusedError as e:
        return {"ok": False, "error": str(e)}
    body: dict[str, Any] = report.to_json()
    body["pinned"] = True
    return body


def _check_upload(settings: Settings, raw: bytes) -> BundleReport:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _RefusedError("文件不是 UTF-8 文本") from None
    try:
        keys = load_trusted_keys(settings)
        witnesses = load_witness_keys(settings)
    except LedgerError as e:
        raise _RefusedError(f"本服务的公钥配置无法读取：{e}") from None
    if not keys.counted:
        raise _RefusedError(
            "本服务未配置受信任的账本公钥（GOVLEDGER_TRUSTED_KEYS_FILE），无法核验证据包"
        )
    genesis = _genesis(settings)
    try:
        report = verify_bundle(
            text,
            trusted_log_keys=[k.encode() for k in keys.counted],
            revoked_log_keys=[k.encode() for k in keys.revoked],
            trusted_witness_keys=[k.encode() for k in witnesses] or None,
            quorum=settings.witness_quorum,
            origin=ledger_origin(settings, genesis.ledger_id),
        )
    except BundleError as e:  # unreadable JSON too (a number too long, nesting too deep)
        raise _RefusedError(f"签名、证明或格式核验失败：{e}") from None
    if (report.ledger_id, report.genesis_hash) != (genesis.ledger_id, genesis.genesis_hash.hex()):
        raise _RefusedError(
            f"证据包属于另一账本（账本编号 {report.ledger_id}），不是本账本 {genesis.ledger_id}"
        )
    if not _issued_here(settings, text):
        raise _RefusedError("证据包中的检查点不是本账本签发的（与本账本存储的检查点不一致）")
    return report


def _issued_here(settings: Settings, text: str) -> bool:
    """Whether the bundle's checkpoint body (origin, size, root) is one this ledger stored."""
    body = note.parse(json.loads(text)["checkpoint"]).text
    database = Database(settings, readonly=True)
    try:
        return CheckpointStore(database).find(body) is not None
    finally:
        database.close()


def _genesis(settings: Settings) -> Genesis:
    reader = open_reader(settings)
    try:
        return reader.genesis()
    finally:
        reader.close()
