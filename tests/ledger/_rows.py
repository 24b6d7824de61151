"""The rows of a ledger, read back after a full verify: what the write-path tests compare."""

from __future__ import annotations

from typing import Any

from ledger.chain import ChainReport
from ledger.config import Settings
from ledger.store.connect import open_reader
from ledger.verify import verify_ledger


def full_report(settings: Settings) -> ChainReport:
    """``verify --full``'s report on the ledger, whatever it says."""
    reader = open_reader(settings)
    try:
        return verify_ledger(reader, full=True)
    finally:
        reader.close()


def verified_rows(settings: Settings) -> list[Any]:
    """Every stored row, once ``verify --full`` has passed over them (it fails the test if not)."""
    reader = open_reader(settings)
    try:
        report = verify_ledger(reader, full=True)
        assert report.ok, report.failure
        return [row for batch in reader.iter_batches(0, 1000) for row in batch]
    finally:
        reader.close()
