"""Every kind of tampering is detected and named at the right position, on both backends."""

from __future__ import annotations

import hashlib

import pytest

from ledger.chain import ChainReport, entry_input
from ledger.config import Settings
from ledger.store.connect import open_reader
from ledger.verify import HeadRecord, verify_ledger
from tests.conftest import Attacker, Ledger

N = 40


def verify(settings: Settings, *, full: bool = False, record: bool = True) -> ChainReport:
    reader = open_reader(settings)
    try:
        head_record = HeadRecord(settings.state_dir) if record else None
        return verify_ledger(reader, head_record, full=full, batch_size=7)
    finally:
        reader.close()


def assert_break(report: ChainReport, position: int, kind: str) -> None:
    assert report.failure is not None, "verification passed on a tampered ledger"
    assert (report.failure.kind, report.failure.position) == (kind, position), report.failure


def test_untouched_ledger_verifies(ledger: Ledger) -> None:
    ledger.append(N, per_transaction=3)
    report = verify(ledger.settings)
    assert report.ok, report.failure
    assert (report.count, report.head_position) == (N, N)


def test_changed_byte_of_state_is_altered(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    state = bytearray(attacker.row(17)[3])
    state[5] ^= 0x01
    attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (bytes(state), 17))
    assert_break(verify(ledger.settings), 17, "altered")


def test_changed_topic_is_altered(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    attacker.execute("UPDATE {t} SET topic = ? WHERE {pos} = ?", ("forged:Topic", 3))
    assert_break(verify(ledger.settings), 3, "altered")


def test_deleted_row_is_missing(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    attacker.execute("DELETE FROM {t} WHERE {pos} = ?", (21,))
    assert_break(verify(ledger.settings), 21, "missing")


def test_forged_row_pushed_in_is_inserted(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    oid, _, topic, _, prev, _ = attacker.row(12)
    attacker.shift_up_from(12)
    forged = (oid, 99, topic, b"forged access record", prev, b"\x00" * 32)
    attacker.insert(12, forged)
    assert_break(verify(ledger.settings), 12, "inserted")


def test_forged_row_with_a_valid_hash_is_inserted(ledger: Ledger, attacker: Attacker) -> None:
    """A forger who knows the format computes a correct hash for the forged row itself."""
    ledger.append(N)
    oid, _, topic, _, prev, _ = attacker.row(12)
    attacker.shift_up_from(12)
    oid_text = oid.hex if hasattr(oid, "hex") and not isinstance(oid, str) else oid
    state = b"forged access record"
    forged_hash = hashlib.sha256(entry_input(12, prev, oid_text, 99, topic, state)).digest()
    attacker.insert(12, (oid, 99, topic, state, prev, forged_hash))
    assert_break(verify(ledger.settings), 12, "inserted")


def test_swapped_rows_are_reordered(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    row_a, row_b = attacker.row(8), attacker.row(30)
    attacker.execute("DELETE FROM {t} WHERE {pos} IN (?, ?)", (8, 30))
    attacker.insert(8, row_b)
    attacker.insert(30, row_a)
    assert_break(verify(ledger.settings), 8, "reordered")


def test_adjacent_swap_is_reordered(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    row_a, row_b = attacker.row(9), attacker.row(10)
    attacker.execute("DELETE FROM {t} WHERE {pos} IN (?, ?)", (9, 10))
    attacker.insert(9, row_b)
    attacker.insert(10, row_a)
    assert_break(verify(ledger.settings), 9, "reordered")


def test_row_rewritten_with_recomputed_hash_is_altered(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    oid, version, topic, _, prev, _ = attacker.row(25)
    oid_text = oid.hex if not isinstance(oid, str) else oid
    state = b'{"rows": 0}'
    new_hash = hashlib.sha256(entry_input(25, prev, oid_text, version, topic, state)).digest()
    attacker.execute("UPDATE {t} SET state = ?, hash = ? WHERE {pos} = ?", (state, new_hash, 25))
    assert_break(verify(ledger.settings), 25, "altered")


def test_tail_cut_after_a_verified_head_is_truncated(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(N)
    assert verify(ledger.settings).ok
    attacker.execute("DELETE FROM {t} WHERE {pos} > ?", (N - 10,))
    assert_break(verify(ledger.settings), N - 9, "truncated")


def test_incremental_run_checks_only_new_rows_but_still_sees_old_tampering(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    assert verify(ledger.settings).ok
    ledger.append(5)
    report = verify(ledger.settings)
    assert report.ok and report.count == 5 and report.head_position == N + 5
    # The recorded head itself is rewritten: the next incremental run notices.
    attacker.execute("UPDATE {t} SET hash = ? WHERE {pos} = ?", (b"\x01" * 32, N + 5))
    assert_break(verify(ledger.settings), N + 5, "altered")
    # A full run names the same row.
    assert_break(verify(ledger.settings, full=True), N + 5, "altered")


def test_genesis_record_tampering_is_detected(ledger: Ledger, attacker: Attacker) -> None:
    ledger.append(3)
    table = "stored_events_genesis" if attacker.backend == "sqlite" else "ledger_events_genesis"
    attacker.execute(f"UPDATE {table} SET created_at = ?", ("2019-01-01T00:00:00.000000Z",))
    report = verify(ledger.settings, record=False)
    assert report.failure is not None and report.failure.kind == "genesis"


@pytest.mark.parametrize("count", [0, 1])
def test_tiny_ledgers_verify(ledger: Ledger, count: int) -> None:
    ledger.append(count)
    report = verify(ledger.settings)
    assert report.ok and report.head_position == count
