"""Every kind of tampering is detected and named at the right position, on both backends."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from ledger.chain import ChainReport, entry_input
from ledger.config import Settings
from ledger.store.connect import open_reader
from ledger.verify import PinnedLocation, verify_ledger
from tests.conftest import Attacker, Ledger, PostgresURLs

N = 40


def verify(settings: Settings, *, full: bool = False, record: bool = True) -> ChainReport:
    reader = open_reader(settings)
    try:
        pinned = PinnedLocation.of(settings) if record else None
        return verify_ledger(reader, pinned, full=full, batch_size=7)
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


# ------------------------------------------------------------ the whole table (§2, §5)


@pytest.mark.parametrize("position", [0, -1])
def test_a_row_below_genesis_is_named_incremental_and_full(
    ledger: Ledger, attacker: Attacker, position: int
) -> None:
    ledger.append(N)
    assert verify(ledger.settings).ok
    oid, version, topic, state, prev, stored = attacker.row(5)
    attacker.insert(position, (oid, version + 10, topic, state, prev, stored))
    assert_break(verify(ledger.settings), position, "below_genesis")
    assert_break(verify(ledger.settings, full=True), position, "below_genesis")
    assert_break(verify(ledger.settings, record=False), position, "below_genesis")


def test_a_row_deleted_below_the_verified_head_is_missing_in_an_incremental_run(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    assert verify(ledger.settings).ok
    attacker.execute("DELETE FROM {t} WHERE {pos} = ?", (13,))
    assert_break(verify(ledger.settings), 13, "missing")


def test_a_second_row_at_a_position_is_a_duplicate(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    ledger = Ledger(postgres_settings)
    ledger.append(N)
    ledger.close()
    assert verify(postgres_settings).ok
    attacker = Attacker(postgres_settings, postgres_urls.admin)
    try:
        attacker.allow_duplicate_positions()
        _, _, topic, state, prev, stored = attacker.row(9)
        attacker.insert(9, (uuid.uuid4(), 1, topic, state, prev, stored))
        attacker.execute("DELETE FROM {t} WHERE {pos} = ?", (30,))  # the count stays N
    finally:
        attacker.close()
    assert_break(verify(postgres_settings), 9, "duplicate")
    assert_break(verify(postgres_settings, full=True), 9, "duplicate")


def test_a_row_after_the_head_record_is_beyond_head(
    postgres_settings: Settings, postgres_urls: PostgresURLs
) -> None:
    ledger = Ledger(postgres_settings)
    ledger.append(N)
    ledger.close()
    assert verify(postgres_settings).ok
    attacker = Attacker(postgres_settings, postgres_urls.admin)
    try:
        oid, version, topic, state, _, stored = attacker.row(N)
        digest, _ = attacker.chain_of()
        forged = digest(entry_input(N + 1, stored, oid.hex, version + 1, topic, state))
        attacker.insert(N + 1, (oid, version + 1, topic, state, stored, forged), cover_head=False)
    finally:
        attacker.close()
    assert_break(verify(postgres_settings), N + 1, "beyond_head")
    assert_break(verify(postgres_settings, full=True), N + 1, "beyond_head")


_SQLITE_MALFORMED = [
    ("NULL topic", "topic = NULL"),
    ("TEXT state", "state = CAST(state AS TEXT)"),
    ("topic not UTF-8", "topic = CAST(x'ff41' AS TEXT)"),
    ("text version", "originator_version = 'one'"),
    ("real version", "originator_version = 1.5"),
    ("31-byte hash", "hash = substr(hash, 1, 31)"),
    ("TEXT prev_hash", "prev_hash = hex(prev_hash)"),
    ("BLOB originator", "originator_id = CAST(originator_id AS BLOB)"),
]


@pytest.mark.parametrize(
    ("what", "change"), _SQLITE_MALFORMED, ids=[w for w, _ in _SQLITE_MALFORMED]
)
def test_a_malformed_sqlite_row_is_a_break_at_its_position(
    sqlite_settings: Settings, what: str, change: str
) -> None:
    """§5 rule 2: never a traceback, never 'ok': the position and the kind."""
    ledger = Ledger(sqlite_settings)
    ledger.append(N)
    ledger.close()
    assert verify(sqlite_settings).ok
    ledger = Ledger(sqlite_settings)
    ledger.append(5)
    ledger.close()
    attacker = Attacker(sqlite_settings, None)
    try:
        for position in (17, N + 3):
            attacker.execute(f"UPDATE {{t}} SET {change} WHERE {{pos}} = ?", (position,))
    finally:
        attacker.close()
    assert_break(verify(sqlite_settings, full=True), 17, "malformed")
    assert_break(verify(sqlite_settings), N + 3, "malformed")  # incremental: after the head


@pytest.mark.parametrize(
    "change", ["topic = NULL", "state = NULL", "hash = substring(hash from 1 for 31)"]
)
def test_a_malformed_postgres_row_is_a_break_at_its_position(
    postgres_settings: Settings, postgres_urls: PostgresURLs, change: str
) -> None:
    ledger = Ledger(postgres_settings)
    ledger.append(N)
    ledger.close()
    attacker = Attacker(postgres_settings, postgres_urls.admin)
    try:
        attacker.execute(f"UPDATE {{t}} SET {change} WHERE {{pos}} = ?", (17,))
    finally:
        attacker.close()
    assert_break(verify(postgres_settings, full=True), 17, "malformed")


# ------------------------------------------- rewrites that keep the chain (§8 row memory)


def test_cut_the_tail_and_append_as_many_is_named_at_the_first_replaced_row(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N, per_transaction=3)
    assert verify(ledger.settings).ok
    attacker.replace_tail(31)
    assert_break(verify(ledger.settings), 31, "rewritten")
    assert_break(verify(ledger.settings, full=True), 31, "rewritten")
    assert verify(ledger.settings, record=False).ok, "the chain alone cannot see it"


def test_cut_the_tail_and_append_more_is_named_at_the_first_replaced_row(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    assert verify(ledger.settings).ok
    attacker.replace_tail(N - 2, count=8)
    assert_break(verify(ledger.settings), N - 2, "rewritten")


def test_a_forged_row_inserted_with_later_rows_shifted_and_rehashed_is_inserted(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    assert verify(ledger.settings).ok
    oid, _, topic, _, prev, _ = attacker.row(12)
    attacker.shift_up_from(12)
    attacker.insert(12, (oid, 99, topic, b"forged access record", prev, b"\0" * 32))
    attacker.rechain_from(12)
    assert_break(verify(ledger.settings), 12, "inserted")
    assert_break(verify(ledger.settings, full=True), 12, "inserted")


def test_a_row_altered_with_every_later_hash_recomputed_is_rewritten_at_it(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    assert verify(ledger.settings).ok
    attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (b'{"rows":0}', 25))
    attacker.rechain_from(25)
    assert_break(verify(ledger.settings), 25, "rewritten")
    assert_break(verify(ledger.settings, full=True), 25, "rewritten")


def test_a_row_removed_with_later_rows_shifted_down_is_missing(
    ledger: Ledger, attacker: Attacker
) -> None:
    ledger.append(N)
    assert verify(ledger.settings).ok
    attacker.execute("DELETE FROM {t} WHERE {pos} = ?", (20,))
    attacker.execute("UPDATE {t} SET {pos} = -({pos} - 1) WHERE {pos} > ?", (20,))
    attacker.execute("UPDATE {t} SET {pos} = -{pos} WHERE {pos} < 0")
    assert_break(verify(ledger.settings), 20, "missing")
