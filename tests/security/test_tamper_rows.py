"""The tamper suite, rows (issue 13 items 1 and 5; docs/security.md): every kind of change to
the event table, on both backends, and what plain, full and pinned-trust ``govledger verify``
answer: the exit code, the kind and the exact first bad position.

See tests/security/tamper_scene.py for the scene: rows 1..40 verified (and checkpointed,
cosigned) before the attack, rows 41..50 not yet. A change below the verified head that keeps
every stored hash is, by design, not re-read by incremental runs (ledger-format §5): those are
``Expect.full_only``, found by the scheduled ``--full`` run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from ledger.chain import entry_input
from tests.security.tamper_scene import (
    HEAD,
    OK,
    VERIFIED,
    Expect,
    Scene,
    Tamper,
    brk,
    cases,
    check_tamper,
)

Act = Callable[[Scene], None]


def set_field(position: int, assignment: str, *params: object) -> Act:
    def act(s: Scene) -> None:
        s.attacker.execute(f"UPDATE {{t}} SET {assignment} WHERE {{pos}} = ?", (*params, position))

    return act


def flip_state(position: int) -> Act:
    def act(s: Scene) -> None:
        state = bytearray(s.attacker.row(position)[3])
        state[3] ^= 0x01
        s.attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (bytes(state), position))

    return act


def new_originator(position: int) -> Act:
    def act(s: Scene) -> None:
        other = uuid.uuid4()
        value = other if s.backend == "postgresql" else other.hex
        s.attacker.execute("UPDATE {t} SET originator_id = ? WHERE {pos} = ?", (value, position))

    return act


def delete(first: int, last: int | None = None) -> Act:
    def act(s: Scene) -> None:
        s.attacker.execute(
            "DELETE FROM {t} WHERE {pos} >= ? AND {pos} <= ?",
            (first, first if last is None else last),
        )

    return act


def swap(a: int, b: int) -> Act:
    def act(s: Scene) -> None:
        row_a, row_b = s.attacker.row(a), s.attacker.row(b)
        s.attacker.execute("DELETE FROM {t} WHERE {pos} IN (?, ?)", (a, b))
        s.attacker.insert(a, row_b)
        s.attacker.insert(b, row_a)

    return act


def put_in(position: int, *, valid_hash: bool, rehash: bool = False) -> Act:
    """A forged row at ``position``, the rows from there pushed down one place."""

    def act(s: Scene) -> None:
        oid, _, topic, _, prev, _ = s.attacker.row(position)
        digest, _ = s.attacker.chain_of()
        text = oid.hex if isinstance(oid, uuid.UUID) else oid
        state = b'{"forged":"access"}'
        forged = digest(entry_input(position, prev, text, 99, topic, state))
        s.attacker.shift_up_from(position)
        s.attacker.insert(
            position, (oid, 99, topic, state, prev, forged if valid_hash else b"\0" * 32)
        )
        if rehash:
            s.attacker.rechain_from(position)

    return act


def rewrite_row(position: int, *, onward: bool) -> Act:
    """Another state at ``position``, its hash recomputed (and every later one, ``onward``)."""

    def act(s: Scene) -> None:
        s.attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (b'{"rows":0}', position))
        if onward:
            s.attacker.rechain_from(position)
        else:
            digest, _ = s.attacker.chain_of()
            row = s.attacker.rows_from(position)[0]
            new = digest(entry_input(*row[:1], row[5], *row[1:5]))
            s.attacker.execute("UPDATE {t} SET hash = ? WHERE {pos} = ?", (new, position))

    return act


def replace_tail(position: int, count: int | None = None) -> Act:
    return lambda s: s.attacker.replace_tail(position, count)


def below_genesis(position: int) -> Act:
    def act(s: Scene) -> None:
        oid, version, topic, state, prev, stored = s.attacker.row(5)
        s.attacker.insert(position, (oid, version + 100, topic, state, prev, stored))

    return act


def far_row(position: int) -> Act:
    def act(s: Scene) -> None:
        oid, _, topic, state, _, stored = s.attacker.row(HEAD)
        s.attacker.insert(position, (oid, 1000, topic, state, stored, stored))

    return act


def twin_row(position: int) -> Act:
    """A second row at ``position`` (and one row fewer elsewhere, so the count holds)."""

    def act(s: Scene) -> None:
        s.attacker.allow_duplicate_positions()
        _, _, topic, state, prev, stored = s.attacker.row(position)
        s.attacker.insert(position, (uuid.uuid4(), 1, topic, state, prev, stored))
        s.attacker.execute("DELETE FROM {t} WHERE {pos} = ?", (30,))

    return act


def after_the_head_record(s: Scene) -> None:
    oid, version, topic, state, _, stored = s.attacker.row(HEAD)
    digest, _ = s.attacker.chain_of()
    forged = digest(entry_input(HEAD + 1, stored, oid.hex, version + 1, topic, state))
    s.attacker.insert(HEAD + 1, (oid, version + 1, topic, state, stored, forged), cover_head=False)


def head_record_back(s: Scene) -> None:
    s.attacker.set_head_record(45, s.attacker.row(45)[5])


def head_record_hash(s: Scene) -> None:
    s.attacker.set_head_record(HEAD, b"\x09" * 32)


SQLITE, POSTGRES = ("sqlite",), ("postgresql",)
every, full_only = Expect.every, Expect.full_only

TAMPERS = [
    Tamper(
        "state byte changed below the verified head", flip_state(17), full_only(brk("altered", 17))
    ),
    Tamper("state byte changed after the verified head", flip_state(45), every(brk("altered", 45))),
    Tamper("topic changed", set_field(44, "topic = ?", "forged:Topic"), every(brk("altered", 44))),
    Tamper("version changed", set_field(46, "originator_version = 7"), every(brk("altered", 46))),
    Tamper("originator changed", new_originator(42), every(brk("altered", 42))),
    Tamper("hash overwritten", set_field(47, "hash = ?", b"\x01" * 32), every(brk("altered", 47))),
    Tamper(
        "prev_hash overwritten",
        set_field(43, "prev_hash = ?", b"\x02" * 32),
        every(brk("altered", 43)),
    ),
    Tamper(
        "the verified head's hash overwritten",
        set_field(VERIFIED, "hash = ?", b"\x03" * 32),
        every(brk("altered", VERIFIED)),
    ),
    Tamper("row deleted below the verified head", delete(21), every(brk("missing", 21))),
    Tamper("row deleted after the verified head", delete(48), every(brk("missing", 48))),
    Tamper("tail cut below the verified head", delete(31, HEAD), every(brk("truncated", 31))),
    Tamper(
        "rows nobody verified yet cut (undetectable: no record of them)",
        delete(46, HEAD),
        every(OK),
    ),
    Tamper("the whole ledger emptied", delete(1, HEAD), every(brk("truncated", 1))),
    Tamper("rows swapped below the verified head", swap(8, 30), full_only(brk("reordered", 8))),
    Tamper(
        "adjacent rows swapped after the verified head", swap(44, 45), every(brk("reordered", 44))
    ),
    Tamper(
        "forged row put in, later rows pushed down",
        put_in(12, valid_hash=False),
        every(brk("inserted", 12)),
    ),
    Tamper(
        "forged row with a valid hash put in, later rows pushed down",
        put_in(12, valid_hash=True),
        every(brk("inserted", 12)),
    ),
    Tamper(
        "forged row put in, later rows pushed down and re-hashed",
        put_in(12, valid_hash=True, rehash=True),
        every(brk("inserted", 12)),
    ),
    Tamper(
        "forged row put in after the verified head",
        put_in(45, valid_hash=True),
        every(brk("inserted", 45)),
    ),
    Tamper(
        "row altered, every later hash recomputed",
        rewrite_row(25, onward=True),
        every(brk("rewritten", 25)),
    ),
    Tamper(
        "row altered with its own hash recomputed",
        rewrite_row(25, onward=False),
        full_only(brk("altered", 25)),
    ),
    Tamper(
        "the last rows cut and as many chained rows appended",
        replace_tail(31),
        every(brk("rewritten", 31)),
    ),
    Tamper(
        "the tail cut and more chained rows appended",
        replace_tail(38, 15),
        every(brk("rewritten", 38)),
    ),
    Tamper(
        "the tail cut and fewer chained rows appended",
        replace_tail(31, 5),
        every(brk("rewritten", 31)),
    ),
    Tamper("a row at position 0", below_genesis(0), every(brk("below_genesis", 0))),
    Tamper("a row at position -1", below_genesis(-1), every(brk("below_genesis", -1))),
    Tamper("a row far beyond the head", far_row(2**40), every(brk("missing", HEAD + 1))),
    Tamper("a gap after the head", far_row(HEAD + 5), every(brk("missing", HEAD + 1))),
    Tamper(
        "NULL topic after the verified head",
        set_field(43, "topic = NULL"),
        every(brk("malformed", 43)),
    ),
    Tamper(
        "NULL topic below the verified head",
        set_field(33, "topic = NULL"),
        full_only(brk("malformed", 33)),
    ),
    Tamper("NULL state", set_field(44, "state = NULL"), every(brk("malformed", 44))),
    Tamper(
        "state stored as TEXT",
        set_field(44, "state = CAST(state AS TEXT)"),
        every(brk("malformed", 44)),
        SQLITE,
    ),
    Tamper(
        "hash of 31 bytes",
        set_field(46, "hash = substr(hash, 1, 31)"),
        every(brk("malformed", 46)),
        SQLITE,
    ),
    Tamper(
        "hash of 31 bytes",
        set_field(46, "hash = substring(hash from 1 for 31)"),
        every(brk("malformed", 46)),
        POSTGRES,
    ),
    Tamper(
        "version stored as text",
        set_field(42, "originator_version = 'one'"),
        every(brk("malformed", 42)),
        SQLITE,
    ),
    Tamper(
        "topic bytes that are not UTF-8",
        set_field(41, "topic = CAST(x'ff41' AS TEXT)"),
        every(brk("malformed", 41)),
        SQLITE,
    ),
    Tamper(
        "prev_hash stored as TEXT",
        set_field(43, "prev_hash = hex(prev_hash)"),
        every(brk("malformed", 43)),
        SQLITE,
    ),
    Tamper("two rows at one position", twin_row(9), every(brk("duplicate", 9)), POSTGRES),
    Tamper(
        "a chained row after the head record",
        after_the_head_record,
        every(brk("beyond_head", HEAD + 1)),
        POSTGRES,
    ),
    Tamper("the head record moved back", head_record_back, every(brk("beyond_head", 46)), POSTGRES),
    Tamper(
        "the head record's hash edited", head_record_hash, every(brk("head_record", HEAD)), POSTGRES
    ),
]

CASES = cases(TAMPERS)


@pytest.mark.parametrize(("tamper", "backend"), CASES)
def test_tampering_is_named_by_every_mode(
    tamper: Tamper, backend: str, scene_for: Callable[[str], Scene]
) -> None:
    check_tamper(tamper, scene_for(backend))


def test_the_suite_covers_at_least_thirty_kinds() -> None:
    assert len({t.name for t in TAMPERS}) >= 30
