"""The serving worker's garbage collector (api/collector.py): set while serving, given back."""

from __future__ import annotations

import gc

from api.collector import YOUNG_THRESHOLD, serving_collector


def test_serving_freezes_startup_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    startup = [[]]  # an object that exists when serving starts
    with serving_collector():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
        assert not any(obj is startup for obj in gc.get_objects())  # frozen: never scanned
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_collector_is_given_back_when_serving_fails() -> None:
    before = gc.get_threshold()
    try:
        with serving_collector():
            raise RuntimeError("the service stopped")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
