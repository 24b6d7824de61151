"""Several processes and threads appending at once never fork the chain or leave holes."""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.synchronize import Event as ProcessEvent

import pytest

from ledger.config import Settings
from ledger.store.connect import open_reader
from ledger.verify import verify_ledger
from tests.conftest import Ledger, make_events

PROCESSES = 4
THREADS_PER_PROCESS = 2
APPENDS_PER_PROCESS = 500  # one event per transaction: the most contended case


def _append_worker(settings: Settings, start: ProcessEvent, worker: int) -> None:
    ledger = Ledger(settings)
    try:
        per_thread = APPENDS_PER_PROCESS // THREADS_PER_PROCESS
        errors: list[BaseException] = []

        def run() -> None:
            try:
                for event in make_events(per_thread, state_size=32):
                    ledger.recorder.insert_events([event])
            except BaseException as e:  # reported to the parent through the exit code
                errors.append(e)

        threads = [threading.Thread(target=run) for _ in range(THREADS_PER_PROCESS)]
        start.wait()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
    finally:
        ledger.close()


@pytest.mark.slow
def test_processes_and_threads_never_fork_the_chain(settings: Settings) -> None:
    Ledger(settings).close()  # create the ledger once, before the race
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_append_worker, args=(settings, start, i)) for i in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    start.set()  # release every writer at once
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * PROCESSES

    expected = PROCESSES * APPENDS_PER_PROCESS
    reader = open_reader(settings)
    try:
        positions = [row[0] for batch in reader.iter_batches(0, 1000) for row in batch]
        report = verify_ledger(reader, full=True)
    finally:
        reader.close()
    assert positions == list(range(1, expected + 1)), "positions are not gapless and unique"
    assert report.ok, report.failure
    assert report.count == expected
