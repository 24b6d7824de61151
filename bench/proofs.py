"""Transparency-log costs at 1,000,000 leaves (SQLite): keeping the tree, proofs.

1. Builds a chained ledger of ``--leaves`` rows (~600-byte events, 1,000 per
   transaction) and integrates its tree, timing the integrator.
2. Append cost of keeping the tree, at that size. The tree is kept by a
   follower (ledger/tree.py): a second process integrates while the writer
   appends. Rounds alternate: appending ``--round`` events with no integrator,
   then with the follower running, timed until the events are appended *and*
   in the tree. Ratio = events/s with the tree kept / without (target >= 0.9).
   For reference, the same work done serially in one process is also shown.
3. Inclusion and consistency proof generation (from the database tree) and
   verification, random indices and sizes, median ms (target <= 5 each).
4. Static tiles (C2SP tlog-tiles, checkpoint-format §15) served by a real
   ``govledger serve`` (one worker) over HTTP with keep-alive, a mix of
   level-0 tiles, entry bundles and higher tiles of the whole tree, one client
   and four concurrent clients, beside the same server's ``GET /healthz`` (the
   framework's own floor per request, interleaved request by request with the
   tiles of the one-client run) and reading the same tiles without HTTP:
   tiles/s (target >= 300 per worker, and >= 0.5 of the /healthz rate).
5. Witness round trips (C2SP tlog-witness, §16) against a real
   ``govledger witness serve``: add-checkpoint requests each carrying a new
   checkpoint and its consistency proof, one log at a time and four logs at
   once (cosignatures/s, target >= 50); and the issuer's whole round with two
   witnesses (``collect_cosignatures``: old size from the stored cosignatures,
   the proof from the 1M-leaf tree, each line verified and stored), rounds/s.

Targets. Tiles: a monitor auditing a log of 1M entries fetches ~7,800
resources (level-0 tiles and entry bundles), and a mirror following the
ingest path at its measured 35k accesses/s needs ~280 new resources/s; 300
tiles/s per worker does the first in ~26 s and keeps up with the second. A
tile must cost no more than the service's own per-request work (ratio to
/healthz >= 0.5, measured side by side so a busy machine moves both); beyond
that, publish with ``tiles write`` and a plain web server. Witnesses: a city
office witnessing 20 districts that each issue every 5 min needs 0.07
cosignatures/s; 50/s (each one persisted before the answer)
lets one witness process serve thousands of logs or catch up a backlog of a
day's checkpoints of every district in seconds.

    .venv/bin/python bench/proofs.py [--leaves N] [--round N] [--repeats N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from _common import target
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment
from proofs_network import tile_rates, witness_rates

from ledger.config import Settings
from ledger.merkle import verify_consistency, verify_inclusion
from ledger.store.connect import application_env, init_ledger
from ledger.tree import LedgerTree, open_ledger_tree

STATE = os.urandom(600)
PER_TXN = 100
INTEGRATE_EVERY = 0.25  # seconds between follower passes: few, larger tree transactions


def events(n: int) -> list[StoredEvent]:
    return [StoredEvent(uuid.uuid4(), 1, "bench:Access.Recorded", STATE) for _ in range(n)]


def open_recorder(settings: Settings) -> tuple[Any, Any]:
    factory = InfrastructureFactory.construct(Environment(env=application_env(settings)))
    return factory, factory.application_recorder()


def build(settings: Settings, recorder: Any, count: int) -> float:
    started = time.perf_counter()
    for done in range(0, count, 1000):
        recorder.insert_events(events(min(1000, count - done)))
        if done and done % 200_000 == 0:
            print(f"  built {done:,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
    return time.perf_counter() - started


def append(recorder: Any, batches: list[list[StoredEvent]]) -> None:
    for batch in batches:
        recorder.insert_events(batch)


def _follower(url: str, go: Any, stop: Any) -> None:
    """The integrator process: keep the tree at the head while ``go`` is set."""
    with open_ledger_tree(Settings(database_url=url)) as tree:
        while not stop.is_set():
            if go.wait(0.05):
                tree.integrate()
                time.sleep(INTEGRATE_EVERY)


def head(tree: LedgerTree) -> int:
    return tree.reader.max_position()


def append_ratio(
    settings: Settings, recorder: Any, tree: LedgerTree, size: int, repeats: int
) -> dict[str, float]:
    """Median events/s: without the tree; with the follower (until appended, until
    integrated); and appending then integrating serially in one process."""
    context = multiprocessing.get_context("spawn")
    go, stop = context.Event(), context.Event()
    follower = context.Process(target=_follower, args=(settings.database_url, go, stop))
    follower.start()
    rates: dict[str, list[float]] = {"plain": [], "kept": [], "integrated": [], "serial": []}
    try:
        for _ in range(repeats):
            for kind in ("plain", "kept", "serial"):
                tree.integrate()  # catch up, untimed
                batches = [events(PER_TXN) for _ in range(size // PER_TXN)]
                started = time.perf_counter()
                if kind == "kept":
                    go.set()
                append(recorder, batches)
                appended = time.perf_counter() - started
                if kind == "kept":
                    while tree.store.size() < head(tree):
                        time.sleep(0.002)
                    go.clear()
                    rates["integrated"].append(size / (time.perf_counter() - started))
                    rates[kind].append(size / appended)
                    continue
                if kind == "serial":
                    tree.integrate()
                rates[kind].append(size / (time.perf_counter() - started))
    finally:
        stop.set()
        go.set()
        follower.join()
    tree.tree.refresh()
    return {kind: statistics.median(values) for kind, values in rates.items()}


def median_ms(samples: list[Callable[[], object]]) -> float:
    times = []
    for sample in samples:
        started = time.perf_counter()
        sample()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def proof_times(tree: LedgerTree, count: int) -> dict[str, float]:
    rng = random.Random(1)
    n = tree.size
    cases = [(rng.randint(1, n), n if i % 2 else rng.randint(n // 2, n)) for i in range(count)]
    cases = [(min(p, s), s) for p, s in cases]
    hash_fn = tree.hash_fn
    inclusions = [tree.inclusion(p, s) for p, s in cases[:5]]  # warm the page cache
    gen_inclusion = median_ms(
        [lambda p=p, s=s: inclusions.append(tree.inclusion(p, s)) for p, s in cases]
    )
    inclusions = inclusions[5:]
    ver_inclusion = median_ms(
        [
            lambda x=x: verify_inclusion(
                x.leaf_hash, x.leaf_index, x.tree_size, x.proof, x.root, hash_fn=hash_fn
            )
            for x in inclusions
        ]
    )
    pairs = [(rng.randint(1, n - 1), n if i % 2 else rng.randint(n // 2, n)) for i in range(count)]
    pairs = [(min(a, b), max(a, b)) for a, b in pairs]
    consistencies: list[Any] = []
    gen_consistency = median_ms(
        [lambda a=a, b=b: consistencies.append(tree.consistency(a, b)) for a, b in pairs]
    )
    ver_consistency = median_ms(
        [
            lambda c=c: verify_consistency(
                c.size1, c.size2, c.root1, c.root2, c.proof, hash_fn=hash_fn
            )
            for c in consistencies
        ]
    )
    return {
        "inclusion_generate_ms": gen_inclusion,
        "inclusion_verify_ms": ver_inclusion,
        "consistency_generate_ms": gen_consistency,
        "consistency_verify_ms": ver_consistency,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--round", type=int, default=50_000, help="events appended per round")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--proofs", type=int, default=500, help="proofs timed of each kind")
    parser.add_argument("--tiles", type=int, default=2_000, help="tiles fetched per run")
    parser.add_argument("--cosignatures", type=int, default=300, help="round trips per run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(database_url=f"sqlite:///{directory}/ledger.db", state_dir=directory)
        init_ledger(settings)
        factory, recorder = open_recorder(settings)
        print(f"building {args.leaves:,} rows ...", flush=True)
        built = build(settings, recorder, args.leaves)
        with open_ledger_tree(settings) as tree:
            started = time.perf_counter()
            tree.integrate()
            integrated = time.perf_counter() - started
            print(
                f"built in {built:.1f} s ({args.leaves / built:,.0f} rows/s); tree integrated "
                f"from scratch in {integrated:.1f} s ({args.leaves / integrated:,.0f} leaves/s)"
            )
            size = tree.size
            times = proof_times(tree, args.proofs)
            rates = append_ratio(settings, recorder, tree, args.round, args.repeats)
        factory.close()
        tiles = tile_rates(settings, directory, args.tiles, args.repeats)
        witnesses = witness_rates(settings, directory, args.cosignatures, args.repeats)

    print(f"\nappend from {size:,} leaves, {PER_TXN} events/txn, {args.round:,} per round:")
    plain = rates["plain"]
    rows = [
        ("without the tree", "plain"),
        ("follower running (writer)", "kept"),
        ("follower, until integrated", "integrated"),
        ("serial, one process", "serial"),
    ]
    for label, kind in rows:
        rate = rates[kind]
        print(f"  {label:<28} {rate:>9,.0f} events/s  ratio {rate / plain:.3f}")
    print(f"\nproofs at tree size {size:,} (median of {args.proofs}):")
    for name, value in times.items():
        print(f"  {name:<26} {value:.3f} ms")
    print(f"\nstatic tiles at tree size {tiles['size']:,} ({args.tiles} per run, median):")
    for label, key in (
        ("read without HTTP", "direct"),
        ("API GET /healthz (floor)", "healthz"),
        ("API, one client", "http_1"),
        ("API, four clients", "http_4"),
    ):
        ratio = tiles[key] / tiles["healthz"]
        print(f"  {label:<28} {tiles[key]:>9,.0f} /s  ratio to /healthz {ratio:.2f}")
    print(f"\nwitness round trips ({args.cosignatures} per run, median):")
    for label, key in (
        ("one log", "one_log"),
        ("four logs at once", "four_logs"),
    ):
        print(f"  {label:<28} {witnesses[key]:>9,.1f} cosignatures/s")
    print(f"  {'issuer round, 2 witnesses':<28} {witnesses['rounds']:>9,.1f} rounds/s")
    print()
    print(target("append_ratio_tree_kept", rates["kept"] / plain, 0.9))
    for name, value in times.items():
        print(target(name, value, 5, higher_is_better=False))
    print(target("tiles_served_per_s", tiles["http_1"], 300))
    print(target("tiles_to_healthz_ratio", tiles["http_1"] / tiles["healthz"], 0.5))
    print(target("witness_cosignatures_per_s", witnesses["one_log"], 50))


if __name__ == "__main__":
    main()
