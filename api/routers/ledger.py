"""The ledger itself: its head, and a cursor-paginated raw feed for auditors' own tools."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import Caller, ServicesDep, require
from api.schemas import FeedEvent, FeedPage, LedgerHead
from ledger.chain import row_to_json
from ledger.domain.bounds import MAX_POSITION
from ledger.store.connect import open_reader
from security.policy import Permission

router = APIRouter(tags=["ledger"])
FeedReader = Annotated[Caller, Depends(require(Permission.READ_LEDGER_FEED))]


@router.get("/ledger")
def ledger_head(s: ServicesDep) -> LedgerHead:
    """The ledger's identity and length (public: it reveals no record)."""
    reader = open_reader(s.settings)
    try:
        genesis = reader.genesis()
        return LedgerHead(
            ledger_id=genesis.ledger_id,
            hash_algorithm=genesis.hash_algorithm,
            created_at=genesis.created_at,
            head_position=reader.max_position(),
        )
    finally:
        reader.close()


@router.get("/ledger/events")
def ledger_feed(
    _: FeedReader,
    s: ServicesDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="last position already read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FeedPage:
    """Rows exactly as stored, with their chain hashes (docs/ledger-format.md §7), for replay
    and independent verification. Read on with ``after=next_after`` (from the read replica
    when one is set: a page may end short of the head, never differ from it)."""
    reader = open_reader(s.settings.reading())
    try:
        batch = next(iter(reader.iter_batches(after, limit)), [])
    finally:
        reader.close()
    events = [FeedEvent(**{k: v for k, v in row_to_json(r).items() if k != "type"}) for r in batch]
    return FeedPage(events=events, next_after=batch[-1][0] if batch else after)
