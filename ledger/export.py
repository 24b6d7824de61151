"""``govledger export``: the rows as JSON Lines (docs/ledger-format.md §7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from ledger.chain import row_to_json
from ledger.store.base import RowReader

EXPORT_BATCH_SIZE = 5000


def export_jsonl(
    reader: RowReader,
    out: TextIO,
    *,
    start: int = 1,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the genesis record, then every row from ``start``; returns the row count."""
    out.write(json.dumps(reader.genesis().to_json()) + "\n")
    count = 0
    for batch in reader.iter_batches(max(start, 1) - 1, EXPORT_BATCH_SIZE):
        out.writelines(json.dumps(row_to_json(row)) + "\n" for row in batch)
        count += len(batch)
        if progress:
            progress(len(batch))
    return count
