"""Proofs and signed checkpoints (RFC 9162 §2.1.3–2.1.4; C2SP tlog-checkpoint)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from api.deps import Caller, ServicesDep, require, services
from ledger.checkpoints import latest_checkpoint
from ledger.domain.bounds import MAX_POSITION
from ledger.errors import ProofError
from ledger.tree import LedgerTree, TreeConflictError, open_ledger_tree
from security.policy import Permission

router = APIRouter(tags=["proofs"])
Verifier = Annotated[Caller, Depends(require(Permission.VERIFY))]


# The 404 is JSON, unlike the note itself: declared so, for clients and schemathesis.
_NO_CHECKPOINT: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "no checkpoint issued yet",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
}


@router.get("/checkpoints/latest", response_class=PlainTextResponse, responses=_NO_CHECKPOINT)
def checkpoint_latest(request: Request) -> PlainTextResponse:
    """The newest signed checkpoint exactly as stored, with the cosignatures of its
    witnesses that verify (a C2SP signed note: public, it names only the tree size and root)."""
    served = latest_checkpoint(services(request).settings)  # no dependency: one thread hop
    if served is None:
        return PlainTextResponse('{"error": "no_checkpoint", "detail": "none issued yet"}',
                                 status_code=404, media_type="application/json")  # fmt: skip
    return PlainTextResponse(served, media_type="text/plain; charset=utf-8")


def _integrate(tree: LedgerTree, *, covering: int) -> None:
    """Bring the tree to the ledger's head. Under heavy ingestion several workers integrate
    at once and one may keep losing the race (``TreeConflictError``): then the tree as the
    winners left it serves, if it covers what was asked (the answer names its tree size);
    if not, the conflict stands (503, retry)."""
    try:
        tree.integrate()
    except TreeConflictError:
        if tree.refresh() < covering:
            raise


@router.get("/proofs/inclusion")
def inclusion_proof(
    _: Verifier,
    s: ServicesDep,
    position: Annotated[
        int, Query(ge=1, le=MAX_POSITION, description="ledger position (leaf index + 1)")
    ],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="tree size; default: the head")
    ] = None,
) -> dict[str, Any]:
    """``{"leaf_index", "tree_size", "leaf_hash", "proof", "root"}``, hashes in base64."""
    with open_ledger_tree(s.settings) as tree:
        _integrate(tree, covering=max(position, size or 0))
        tree_size = size or tree.size
        if not position <= tree_size <= tree.size:
            raise ProofError(f"position {position} in size {tree_size}: the tree has {tree.size}")
        body: dict[str, Any] = tree.inclusion(position, tree_size).to_json()
        return body


@router.get("/proofs/consistency")
def consistency_proof(
    _: Verifier,
    s: ServicesDep,
    size1: Annotated[int, Query(ge=1, le=MAX_POSITION, alias="from")],
    size2: Annotated[int | None, Query(ge=1, le=MAX_POSITION, alias="to")] = None,
) -> dict[str, Any]:
    """``{"size1", "size2", "root1", "root2", "proof"}``, hashes in base64."""
    with open_ledger_tree(s.settings) as tree:
        _integrate(tree, covering=max(size1, size2 or 0))
        to_size = size2 or tree.size
        if not size1 <= to_size <= tree.size:
            raise ProofError(f"sizes {size1}..{to_size}: the tree has {tree.size}")
        body: dict[str, Any] = tree.consistency(size1, to_size).to_json()
        return body
