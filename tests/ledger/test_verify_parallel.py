"""``verify --jobs`` (issue 20, ledger/verify_parallel.py): worker processes vouch for ranges of
rows, and the answer (first bad position, kind, count, head, the row memory written) is the
one-process run's, wherever the break falls against the ranges and the batches."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import partial

import pytest

from ledger import verify_parallel
from ledger.chain import ChainReport, hash_function
from ledger.config import Settings
from ledger.errors import StoreUnavailableError
from ledger.pins import PinStore, ledger_location
from ledger.store.base import RowReader
from ledger.store.connect import open_reader
from ledger.verify import Parallel, PinnedLocation, verify_ledger
from ledger.verify_parallel import Plan, _subtrees, fast_forward
from ledger.verify_roots import Frontier
from ops import ledger_cli
from tests.conftest import Attacker, Ledger

VERIFIED, HEAD = 40, 60


@pytest.fixture(autouse=True)
def finely(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranges of two batches, and no ledger too small to split."""
    monkeypatch.setattr(verify_parallel, "MIN_ROWS", 1)
    monkeypatch.setattr(verify_parallel, "CHUNK_BATCHES", 2)


def run(
    settings: Settings,
    *,
    jobs: int,
    batch: int,
    full: bool = False,
    record: bool = True,
    progress: list[int] | None = None,
) -> ChainReport:
    reader = open_reader(settings)
    try:
        return verify_ledger(
            reader,
            PinnedLocation.of(settings) if record else None,
            full=full,
            batch_size=batch,
            progress=progress.append if progress is not None else None,
            parallel=Parallel(jobs, partial(open_reader, settings)) if jobs > 1 else None,
        )
    finally:
        reader.close()


def two_verifiers(settings: Settings) -> tuple[Settings, Settings]:
    return replace(settings, state_dir=settings.state_dir + "-serial"), replace(
        settings, state_dir=settings.state_dir + "-parallel"
    )


def memory(settings: Settings) -> bytes:
    store = PinStore(settings.state_dir)
    pin = store.load(ledger_location(settings))
    assert pin is not None
    return store.memory(pin)


@pytest.mark.parametrize("batch", [1, 4, 7])
def test_a_clean_ledger_reports_and_remembers_as_one_process(ledger: Ledger, batch: int) -> None:
    ledger.append(VERIFIED, per_transaction=3)
    serial, parallel = two_verifiers(ledger.settings)
    assert run(serial, jobs=1, batch=batch) == run(parallel, jobs=2, batch=batch)
    ledger.append(HEAD - VERIFIED)
    one, two = run(serial, jobs=1, batch=batch), run(parallel, jobs=2, batch=batch)
    assert one == two and one.ok and (one.count, one.head_position) == (HEAD - VERIFIED, HEAD)
    assert memory(serial) == memory(parallel)
    assert len(memory(parallel)) == 8 * HEAD
    assert run(serial, jobs=1, batch=batch, full=True) == run(
        parallel, jobs=2, batch=batch, full=True
    )


def test_the_workers_vouch_up_to_the_last_batch_start(ledger: Ledger) -> None:
    ledger.append(HEAD - 1)
    reader = open_reader(ledger.settings)
    try:
        genesis, last = reader.genesis(), reader.row_at(HEAD - 4)
    finally:
        reader.close()
    assert last is not None
    plan = Plan("sha256", 0, genesis.genesis_hash, None, HEAD - 1, 4, b"", None, 0, False, None)
    advance = fast_forward(Parallel(2, partial(open_reader, ledger.settings)), plan)
    assert advance is not None
    assert (advance.position, advance.count, advance.hash) == (HEAD - 4, HEAD - 4, last[6])


def test_progress_counts_every_row_once(ledger: Ledger) -> None:
    ledger.append(HEAD, per_transaction=5)
    steps: list[int] = []
    assert run(ledger.settings, jobs=2, batch=7, full=True, progress=steps).ok
    assert sum(steps) == HEAD and len(steps) > 3


def _alter_state(attacker: Attacker, position: int) -> None:
    state = bytearray(attacker.row(position)[3])
    state[0] ^= 0x01
    attacker.execute("UPDATE {t} SET state = ? WHERE {pos} = ?", (bytes(state), position))


def _delete(attacker: Attacker, position: int) -> None:
    attacker.execute("DELETE FROM {t} WHERE {pos} = ?", (position,))


def _relink(attacker: Attacker, position: int) -> None:
    attacker.execute("UPDATE {t} SET prev_hash = ? WHERE {pos} = ?", (b"\x01" * 32, position))


TAMPERS = {"altered state": _alter_state, "deleted": _delete, "relinked": _relink}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
@pytest.mark.parametrize("position", [1, 8, 9, VERIFIED, HEAD])
def test_a_break_is_named_as_one_process_names_it(
    ledger: Ledger, attacker: Attacker, tamper: str, position: int
) -> None:
    ledger.append(VERIFIED, per_transaction=3)
    serial, parallel = two_verifiers(ledger.settings)
    run(serial, jobs=1, batch=4)
    run(parallel, jobs=1, batch=4)
    ledger.append(HEAD - VERIFIED)
    TAMPERS[tamper](attacker, position)
    for batch in (3, 4):
        for full in (False, True):
            one = run(serial, jobs=1, batch=batch, full=full)
            assert one == run(parallel, jobs=2, batch=batch, full=full), (batch, full)
            if full and tamper != "deleted":  # deleting the last row leaves a shorter ledger
                assert one.failure is not None and one.failure.position in (position - 1, position)


def test_workers_that_cannot_read_leave_the_run_to_one_process(ledger: Ledger) -> None:
    ledger.append(HEAD)

    def unreachable() -> RowReader:
        raise StoreUnavailableError("the workers' database is gone")

    reader = open_reader(ledger.settings)
    try:
        report = verify_ledger(reader, full=True, batch_size=4, parallel=Parallel(2, unreachable))
    finally:
        reader.close()
    assert report == run(ledger.settings, jobs=1, batch=4, full=True, record=False)
    assert report.ok and report.count == HEAD


def test_the_command_takes_jobs() -> None:
    parser = ledger_cli.argparse.ArgumentParser()
    ledger_cli.register(parser.add_subparsers())
    assert parser.parse_args(["verify", "--jobs", "3"]).jobs == 3
    assert parser.parse_args(["verify"]).jobs is None
    with pytest.raises(SystemExit):
        parser.parse_args(["verify", "--jobs", "0"])


@pytest.mark.parametrize("start", [0, 1, 5, 8])
@pytest.mark.parametrize("cuts", [(), (13,), (9, 16), (21,)])
def test_subtrees_extend_the_tree_as_its_leaves_do(start: int, cuts: tuple[int, ...]) -> None:
    digest = hash_function("sha256")
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(40)]
    one_by_one = Frontier(digest)
    one_by_one.extend(leaves[:start])
    by_subtrees = Frontier(digest, start, list(one_by_one.hashes))
    stack: list[tuple[int, int, bytes]] = []
    rows = [(p, "", 0, "", b"", b"", leaves[p - 1]) for p in range(start + 1, 31)]
    _subtrees(digest, stack, rows, cuts)  # type: ignore[arg-type]
    for node in stack:
        by_subtrees.extend_nodes([node])
        if by_subtrees.size in cuts:  # a cut is where the parent reads the root
            check = Frontier(digest)
            check.extend(leaves[: by_subtrees.size])
            assert by_subtrees.hashes == check.hashes
    one_by_one.extend(leaves[start:30])
    assert (by_subtrees.size, by_subtrees.root()) == (30, one_by_one.root())


@pytest.mark.parametrize("forged_root", [False, True])
def test_the_workers_grow_the_checkpoint_tree(ledger: Ledger, forged_root: bool) -> None:
    ledger.append(HEAD - 1)
    reader = open_reader(ledger.settings)
    try:
        genesis = reader.genesis()
        rows = [r for batch in reader.iter_batches(None, 100) for r in batch]
    finally:
        reader.close()
    digest = hash_function("sha256")
    tree = Frontier(digest)
    tree.extend(r[6] for r in rows[:30])
    root = b"\x00" * 32 if forged_root else tree.root()
    plan = Plan(
        "sha256", 0, genesis.genesis_hash, None, HEAD - 1, 4, b"", None, 0, False, None,
        ([], 30, root),
    )  # fmt: skip
    advance = fast_forward(Parallel(2, partial(open_reader, ledger.settings)), plan)
    assert advance is not None and advance.frontier is not None
    # Ranges of 8 rows: a forged root stops the workers' vouching before the range holding 30.
    assert advance.position == (24 if forged_root else HEAD - 4)
    expected = Frontier(digest)
    expected.extend(r[6] for r in rows[: advance.position])
    assert advance.frontier == expected.hashes
