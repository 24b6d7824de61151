"""The collector pause of the batch path (ledger/gc_pause.py): held off inside, as before after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from ledger.gc_pause import collector_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_and_on_again_after_nested_pauses() -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_the_collector_resumes_when_the_last_of_two_threads_ends() -> None:
    gc.enable()
    inside, release = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with collector_paused():
            inside.set()
            release.wait(timeout=30)
        seen.append(gc.isenabled())

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(timeout=30)
    with collector_paused():
        pass
    assert not gc.isenabled()  # the other thread's batch is still under way
    release.set()
    thread.join(timeout=30)
    assert seen == [True] and gc.isenabled()


def test_an_error_inside_still_resumes_the_collector() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a refused batch")
    assert gc.isenabled()
