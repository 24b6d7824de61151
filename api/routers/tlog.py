"""The log as static tiles over HTTP, C2SP tlog-tiles (docs/checkpoint-format.md §15).

Mounted at ``/tlog``: ``checkpoint`` (the published checkpoint, mutable, not
cached), ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]`` (immutable).
Public, like ``/api/v1/checkpoints/latest``: they carry hashes and signatures
only, never a row. What lies beyond the published checkpoint's tree is 404.
The routes take the request rather than a dependency: a sync dependency costs
a second thread-pool hop per request, more than reading a tile (bench/proofs.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.deps import services
from ledger.config import Settings
from ledger.tiles import TileNotFoundError, TileReader, TileRef

router = APIRouter(tags=["tlog"])

_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
_MUTABLE = {"Cache-Control": "no-cache"}  # tlog-tiles: no caching beyond a few seconds


_kept = threading.local()
_KEPT_PER_THREAD = 4


@contextmanager
def _tiles(settings: Settings) -> Iterator[TileReader]:
    """A reader for this request. On SQLite each worker thread keeps its own (a connection
    re-reads the schema when opened, which cost more than the tile); PostgreSQL connections
    are opened per request, as the proof routes do, so a thread pool never holds dozens."""
    if settings.database.backend != "sqlite":
        with TileReader(settings) as reader:
            yield reader
        return
    readers: dict[Settings, TileReader] = _kept.__dict__.setdefault("readers", {})
    reader = readers.pop(settings) if settings in readers else TileReader(settings)
    try:
        yield reader
    except TileNotFoundError:
        readers[settings] = reader  # a 404 is an answer, the connection is fine
        raise
    except BaseException:
        reader.close()
        raise
    if len(readers) >= _KEPT_PER_THREAD:  # another ledger's readers (tests build many apps)
        for other in readers.values():
            other.close()
        readers.clear()
    readers[settings] = reader


def _not_found(detail: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "detail": detail}, status_code=404)


@router.get("/checkpoint", response_model=None)
def tlog_checkpoint(request: Request) -> Response:
    """The published checkpoint: the newest that meets the witness policy, with the
    cosignatures of its witnesses that verify (``text/plain; charset=utf-8``)."""
    with _tiles(services(request).settings) as tiles:
        published = tiles.published()
    if published is None:
        return _not_found("no checkpoint issued yet")
    return Response(published.served, media_type="text/plain; charset=utf-8", headers=_MUTABLE)


@router.get("/tile/{path:path}", response_model=None)
def tlog_tile(path: str, request: Request) -> Response:
    """A hash tile or an entry bundle (``application/octet-stream``), within the published tree."""
    try:
        ref = TileRef.parse(f"tile/{path}")
        with _tiles(services(request).settings) as tiles:
            published = tiles.published()
            if published is None:
                return _not_found("no checkpoint issued yet")
            data = tiles.read(ref, published.checkpoint.size)
    except TileNotFoundError as e:
        return _not_found(str(e))
    return Response(data, media_type="application/octet-stream", headers=_IMMUTABLE)
