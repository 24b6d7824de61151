"""``govledger export``: the rows as JSON Lines (docs/ledger-format.md §7).

Every row the table holds is written, as stored (rows at 0 or below, repeats, rows
after the head record, malformed fields), so the file is a faithful copy the
standalone verifier judges like the store. Export checks what it writes with the
same chain verifier and names the first break, as ``verify`` would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from ledger.chain import ChainBreak, ChainVerifier, RowTuple, malformed_reason, row_to_json
from ledger.store.base import RowReader

EXPORT_BATCH_SIZE = 5000


@dataclass(frozen=True)
class Exported:
    count: int
    failure: ChainBreak | None  # the first break in what was written, if any


def export_jsonl(
    reader: RowReader,
    out: TextIO,
    *,
    start: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Exported:
    """Write the genesis record, then every row from ``start`` (all of them from 1)."""
    genesis = reader.genesis()
    out.write(json.dumps(genesis.to_json()) + "\n")
    anchor = max(start, 1) - 1
    anchor_row = reader.row_at(anchor) if anchor else None
    anchor_hash = anchor_row[6] if anchor_row else genesis.genesis_hash
    verifier = ChainVerifier(genesis.digest(), anchor, anchor_hash)
    failure: ChainBreak | None = None
    count = 0
    for batch in reader.iter_batches(None if anchor == 0 else anchor, EXPORT_BATCH_SIZE):
        out.writelines(json.dumps(_row_json(row)) + "\n" for row in batch)
        if failure is None and (index := verifier.feed(batch)) is not None:
            failure = verifier.classify(batch[index], reader)
        count += len(batch)
        if progress:
            progress(len(batch))
    head = reader.head_record() if hasattr(reader, "head_record") else None
    if failure is None and head is not None and head[0] != verifier.head_position:
        failure = _head_mismatch(head[0], verifier.head_position)
    return Exported(count, failure)


def _head_mismatch(recorded: int, last: int) -> ChainBreak:
    if recorded < last:
        return ChainBreak(recorded + 1, "beyond_head", f"a row after the head record's {recorded}")
    return ChainBreak(last + 1, "truncated", f"the log ends at {last}, before the head record's")


def _row_json(row: RowTuple) -> dict[str, Any]:
    """The row as exported (§7). A malformed field is written so that it cannot pass for a
    well-formed one: ``null``, ``{"text": …}`` where bytes belong, ``{"hex": …}`` where
    text belongs, ``{"value": …}`` otherwise; the verifier names the row ``malformed``."""
    if malformed_reason(row) is None:
        return row_to_json(row)
    position, oid, version, topic, state, prev, stored = row
    return {
        "type": "row",
        "position": position if type(position) is int else _odd(position),
        "originator_id": _text(oid),
        "originator_version": version if type(version) is int else _odd(version),
        "topic": _text(topic),
        "state": base64.b64encode(state).decode("ascii") if type(state) is bytes else _odd(state),
        "prev_hash": prev.hex() if type(prev) is bytes else _odd(prev),
        "hash": stored.hex() if type(stored) is bytes else _odd(stored),
    }


def _text(value: object) -> object:
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return {"text": value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")}
        return value
    return _odd(value)


def _odd(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, str):
        return {"text": value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")}
    return {"value": repr(value)}
