"""The log as static tiles over HTTP, C2SP tlog-tiles (docs/checkpoint-format.md §15).

Mounted at ``/tlog``: ``checkpoint`` (the published checkpoint, mutable, not
cached), ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]`` (immutable).
Public, like ``/api/v1/checkpoints/latest``: they carry hashes and signatures
only, never a row. What lies beyond the published checkpoint's tree is 404.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import ServicesDep
from ledger.tiles import TileNotFoundError, TileReader, TileRef

router = APIRouter(tags=["tlog"])

_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
_MUTABLE = {"Cache-Control": "no-cache"}  # tlog-tiles: no caching beyond a few seconds


def _not_found(detail: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "detail": detail}, status_code=404)


@router.get("/checkpoint", response_model=None)
def tlog_checkpoint(s: ServicesDep) -> Response:
    """The published checkpoint: the newest that meets the witness policy, with the
    cosignatures of its witnesses that verify (``text/plain; charset=utf-8``)."""
    with TileReader(s.settings) as tiles:
        published = tiles.published()
    if published is None:
        return _not_found("no checkpoint issued yet")
    return Response(published.served, media_type="text/plain; charset=utf-8", headers=_MUTABLE)


@router.get("/tile/{path:path}", response_model=None)
def tlog_tile(path: str, s: ServicesDep) -> Response:
    """A hash tile or an entry bundle (``application/octet-stream``), within the published tree."""
    try:
        ref = TileRef.parse(f"tile/{path}")
        with TileReader(s.settings) as tiles:
            published = tiles.published()
            if published is None:
                return _not_found("no checkpoint issued yet")
            data = tiles.read(ref, published.checkpoint.size)
    except TileNotFoundError as e:
        return _not_found(str(e))
    return Response(data, media_type="application/octet-stream", headers=_IMMUTABLE)
