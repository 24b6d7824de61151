"""Failover under load on the Patroni cluster, measured (issue 18; docs/operations.md §HA).

The three-node cluster of tests/ops/patroni_cluster.py (network namespaces, the
shipped ops/deploy/patroni/patroni.yml with the test's shorter failure timing:
ttl 15 s, loop_wait 1 s) and, beside it, a single PostgreSQL 15 primary on a
machine of its own. The exchange platform (tests/ops/patroni_agent.py ``load``:
batches of 20 and single accesses through the service in-process, every 503
retried until acknowledged) measures:

* ingestion throughput for a fixed window on the single primary, then on the
  synchronous cluster (every COMMIT waits for the standby's flush): the ratio;
* then, under load, ``--failovers`` power cuts of the primary's machine (SIGKILL
  to everything in its namespace), each followed by the machine's return as a
  replica: the time from the kill to the first successful write (a request sent
  after the kill and acknowledged);
* afterwards, how many acknowledged accesses the ledger lacks (acknowledged
  then lost), and ``govledger verify --full`` on the new primary.

Needs root, ``ip netns`` and Debian's patroni and etcd-server (installed by
ops/scripts/ensure-patroni.sh when missing).

    .venv/bin/python bench/failover.py [--failovers N] [--window SECONDS]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from _common import ROOT, target

sys.path.insert(0, str(ROOT))

from tests.ops.patroni_cluster import (
    TEST_TIMING,
    Load,
    PatroniCluster,
    SinglePrimary,
    cluster_unavailable,
    patroni_cluster,
)

ACKS_AFTER_FAILOVER = 3
THROUGHPUT_BATCH = 200


def throughput(
    cluster: PatroniCluster, url: str, home: Path, window: float
) -> tuple[float, dict[str, str]]:
    """Accesses acknowledged per second over ``window`` seconds against ``url`` (batches of
    THROUGHPUT_BATCH, so the database's commit, not the client, sets the pace); the setup."""
    home.mkdir()
    state = str(home / "state")
    setup: dict[str, str] = cluster.agent("setup", "--url", url, "--state", state)
    cluster.agent(
        "load", "--url", url, "--state", state, "--token", setup["token"],
        "--grant", setup["grant"], "--out", str(home / "books.json"), "--seconds", str(window),
        "--batch", str(THROUGHPUT_BATCH),
    )  # fmt: skip
    books = json.loads((home / "books.json").read_text(encoding="utf-8"))
    return len(books["acknowledged"]) / float(books["seconds"]), setup


def failovers(
    cluster: PatroniCluster, setup: dict[str, str], count: int
) -> tuple[list[float], dict[str, object]]:
    """``count`` power cuts of the primary under load; the delays and the final check."""
    home = cluster.home / "sync"
    state = str(home / "state")
    home = home / "failovers"
    home.mkdir()
    load = Load(cluster, cluster.url(), setup, home)
    delays: list[float] = []
    try:
        load.acknowledged_after(time.time(), ACKS_AFTER_FAILOVER)
        for n in range(1, count + 1):
            leader = cluster.leader()
            cluster.kill_machine(leader)
            killed_at = time.time()  # every process of the machine is gone now
            delays.append(load.acknowledged_after(killed_at, ACKS_AFTER_FAILOVER))
            cluster.await_members(1, not_leader=leader.name)
            cluster.boot(leader)
            cluster.await_members(2)
            print(
                f"  failover {n}/{count}: {leader.name} killed, writes again after "
                f"{delays[-1]:.1f} s; it rejoined as a replica",
                flush=True,
            )
    finally:
        books = load.stop()
    checked: dict[str, object] = cluster.agent(
        "check", "--url", cluster.url(), "--state", state,
        "--acknowledged", str(load.out), timeout=900,
    )  # fmt: skip
    checked["statuses"] = books["statuses"]
    return delays, checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--window", type=float, default=15.0, help="throughput window (s)")
    args = parser.parse_args()
    why = cluster_unavailable()
    if why is not None:
        print(f"bench/failover.py cannot run here: {why}", file=sys.stderr)
        return 1
    print(f"Patroni timing {TEST_TIMING}; throughput window {args.window:g} s", flush=True)
    with patroni_cluster() as cluster:
        solo = SinglePrimary(cluster.network, cluster.home)
        try:
            single, _ = throughput(cluster, solo.url(), cluster.home / "single", args.window)
        finally:
            solo.close()
        print(f"single primary:       {single:8.0f} accesses/s", flush=True)
        synchronous, setup = throughput(cluster, cluster.url(), cluster.home / "sync", args.window)
        print(f"synchronous cluster:  {synchronous:8.0f} accesses/s", flush=True)
        delays, checked = failovers(cluster, setup, args.failovers)
    ratio = synchronous / single
    lost = int(str(checked["missing"])) + int(str(checked["duplicated"]))
    print(
        f"time to first write after a kill: median {statistics.median(delays):.1f} s, "
        f"max {max(delays):.1f} s over {len(delays)} failovers"
    )
    print(
        f"acknowledged {checked['acknowledged']}, missing {checked['missing']}, "
        f"duplicated {checked['duplicated']}; answers {checked['statuses']}; "
        f"verify --full exit {checked['verify_returncode']}"
    )
    print(f"throughput ratio synchronous cluster / single primary: {ratio:.2f}")
    median, longest = statistics.median(delays), max(delays)
    print(target("failover_first_write_median_s", median, 30, higher_is_better=False))
    print(target("failover_first_write_max_s", longest, 45, higher_is_better=False))
    print(target("acknowledged_then_lost", lost, 0, higher_is_better=False))
    print(target("sync_cluster_throughput_ratio", ratio, 0.5))
    return 0 if checked["verify_returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
