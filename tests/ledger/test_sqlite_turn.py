"""Writers of one SQLite file take turns before SQLite's lock (ledger/store/sqlite_turn.py)."""

from __future__ import annotations

from pathlib import Path

from ledger.store.sqlite_turn import WriterTurn
from tests.conftest import Ledger, make_events
from tests.ledger._race import inserted_whole, race_to_one_chain


def test_a_turn_held_by_one_open_file_is_refused_to_another_until_given_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"")
    mine, theirs = WriterTurn(str(path), timeout=5), WriterTurn(str(path), timeout=0.01)
    other = theirs._open()
    assert other is not None
    with mine.taken():
        assert theirs._wait(other) is False  # waited out its timeout: SQLite decides then
    assert theirs._wait(other) is True


def test_a_turn_says_whether_another_writer_held_it(tmp_path: Path) -> None:
    """``waited`` and ``taken_if_free`` tell a streamed batch whether it is alone
    (ledger/store/sqlite_stream.py)."""
    path = tmp_path / "ledger.db"
    path.write_bytes(b"")
    mine, theirs = WriterTurn(str(path), timeout=5), WriterTurn(str(path), timeout=0.01)
    with mine.taken():
        assert mine.waited is False
        with theirs.taken_if_free() as free:
            assert free is False  # nothing held: the batch is built first
        with theirs.taken():  # waits out its timeout, then goes on to SQLite's own wait
            assert theirs.waited is True
    with mine.taken_if_free() as free:
        assert free is True and mine.waited is False
        with theirs.taken_if_free() as also:
            assert also is False
        with mine.taken_if_free() as again:  # another thread of this recorder: not free
            assert again is False
    with mine.taken():
        assert mine.waited is False


def test_no_file_no_turns() -> None:
    for name in (":memory:", "file:ledger?mode=memory&cache=shared"):
        turn = WriterTurn(name, timeout=1)
        assert not turn.enabled
        with turn.taken():
            pass


def test_two_recorders_writing_batches_at_once_keep_one_chain(sqlite_ledger: Ledger) -> None:
    events = make_events(400, state_size=32)
    batches = [events[i : i + 20] for i in range(0, len(events), 20)]
    orders = [batches[start::2] + batches for start in range(4)]
    race_to_one_chain(sqlite_ledger, events, orders, inserted_whole)
