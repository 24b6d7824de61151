"""bench/proofs.py, parts 4 and 5: static tiles over HTTP and witness round trips.

Real servers in child processes (``govledger serve``, ``govledger witness
serve``) on loopback ports, clients with keep-alive in this process; medians
of ``repeats`` runs.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from ledger import note
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.checkpoints import generate_key_file, issue_checkpoint
from ledger.config import Settings
from ledger.merkle import MerkleTree, leaf_hash
from ledger.store.connect import application_env
from ledger.tiles import TileReader, TileRef, tiles_for
from ledger.witness_client import collect_cosignatures
from ledger.witness_protocol import AddCheckpoint
from tests.served import GOVLEDGER, ROOT, Server, free_port, settings_env

ORIGIN = "bench.example/log"


def keyed(settings: Settings, directory: str) -> Settings:
    """The bench ledger with a log key, trusted keys file and origin."""
    key = Path(directory) / "log.key"
    if not key.exists():
        vkey = generate_key_file(str(key), ORIGIN)
        (Path(directory) / "trusted.txt").write_text(vkey + "\n")
    return settings.with_overrides(
        checkpoint_key_file=str(key),
        trusted_keys_file=str(Path(directory) / "trusted.txt"),
        checkpoint_origin=ORIGIN,
    )


def _sample(size: int, count: int) -> list[TileRef]:
    """A monitor's mix: level-0 tiles and entry bundles, some higher tiles."""
    rng = random.Random(17)
    refs = list(tiles_for(size))
    low = [r for r in refs if r.level <= 0]
    high = [r for r in refs if r.level > 0]
    return [rng.choice(high if i % 10 == 0 and high else low) for i in range(count)]


def tile_rates(settings: Settings, directory: str, count: int, repeats: int) -> dict[str, Any]:
    log = keyed(settings, directory)
    size = issue_checkpoint(log).checkpoint.tree_size
    refs = _sample(size, count)
    direct: list[float] = []
    with TileReader(log) as reader:
        for _ in range(repeats):
            started = time.perf_counter()
            for ref in refs:
                reader.read(ref, size)
            direct.append(count / (time.perf_counter() - started))
    served = log.with_overrides(checkpoint_key_file="", checkpoint_interval_seconds=3600)
    one: list[float] = []
    four: list[float] = []
    trivial: list[float] = []
    with Server(served) as server:
        for _ in range(repeats):
            tiles_s, healthz_s = _paired(server.url, refs)
            one.append(count / tiles_s)
            trivial.append(count / healthz_s)
            started = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda part: _fetch_all(server.url, part), _split(refs, 4)))
            four.append(count / (time.perf_counter() - started))
    return {
        "size": size,
        "direct": statistics.median(direct),
        "http_1": statistics.median(one),
        "http_4": statistics.median(four),
        "healthz": statistics.median(trivial),
    }


def _split(items: list[TileRef], parts: int) -> list[list[TileRef]]:
    return [items[i::parts] for i in range(parts)]


def _get(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    reply = client.get(url)
    if reply.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {reply.status_code}")
    return time.perf_counter() - started


def _fetch_all(base: str, refs: list[TileRef]) -> float:
    """Seconds to GET every tile, one after the other on one connection."""
    with httpx.Client(base_url=base, timeout=30) as client:
        return sum(_get(client, f"/tlog/{ref.path()}") for ref in refs)


def _paired(base: str, refs: list[TileRef]) -> tuple[float, float]:
    """Seconds spent on the tiles and on as many ``GET /healthz``, interleaved one by one so
    that a load that comes and goes on the machine weighs on both alike."""
    tiles = healthz = 0.0
    with httpx.Client(base_url=base, timeout=30) as client:
        for ref in refs:
            healthz += _get(client, "/healthz")
            tiles += _get(client, f"/tlog/{ref.path()}")
    return tiles, healthz


class _Witness:
    """``govledger witness serve`` in a child process, on a free loopback port."""

    def __init__(self, directory: Path, logs: list[tuple[str, str]]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.name = f"{directory.name}.bench.example"
        self.vkey = generate_key_file(str(directory / "w.key"), self.name, witness=True)
        (directory / "logs.txt").write_text("".join(f"{o} {k}\n" for o, k in logs))
        settings = Settings(
            database_url=f"sqlite:///{directory / 'none.db'}",
            state_dir=str(directory),
            witness_key_file=str(directory / "w.key"),
            witness_logs_file=str(directory / "logs.txt"),
            log_level="WARNING",
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(GOVLEDGER), "witness", "serve", "--port", str(self.port)],
            env=settings_env(settings),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("witness did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class _MemoryLog:
    """A log in memory that grows by one leaf per checkpoint, signed with its own key."""

    def __init__(self, origin: str) -> None:
        self.signer = note.Ed25519Signer.generate(origin)
        self.origin = origin
        self.tree = MerkleTree()
        self.witnessed = 0

    def next_request(self) -> bytes:
        old = self.tree.size
        self.tree.append(leaf_hash(os.urandom(32)))
        size = self.tree.size
        proof = tuple(self.tree.consistency_proof(old, size)) if old else ()
        signed = sign_checkpoint(Checkpoint(self.origin, size, self.tree.root()), self.signer)
        return AddCheckpoint(old, proof, signed).format()


def _round_trips(url: str, log: _MemoryLog, count: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            reply = client.post("/add-checkpoint", content=log.next_request())
            if reply.status_code != 200:
                raise RuntimeError(f"witness answered {reply.status_code}: {reply.text}")


def witness_rates(settings: Settings, directory: str, count: int, repeats: int) -> dict[str, float]:
    home = Path(directory) / "witnesses"
    memory = [_MemoryLog(f"district{i}.bench.example/log") for i in range(4)]
    log = keyed(settings, directory)
    log_vkey = (Path(directory) / "trusted.txt").read_text().split()[0]
    logs = [(m.origin, m.signer.verifier().encode()) for m in memory] + [(ORIGIN, log_vkey)]
    witnesses = [_Witness(home / name, logs) for name in ("w1", "w2")]
    try:
        one, four = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            _round_trips(witnesses[0].url, memory[0], count)
            one.append(count / (time.perf_counter() - started))
            threads = [
                threading.Thread(target=_round_trips, args=(witnesses[0].url, m, count // 4))
                for m in memory
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            four.append(4 * (count // 4) / (time.perf_counter() - started))
        rounds = _issuer_rounds(log, Path(directory), witnesses, max(repeats * 4, 10))
    finally:
        for witness in witnesses:
            witness.stop()
    return {
        "one_log": statistics.median(one),
        "four_logs": statistics.median(four),
        "rounds": rounds,
    }


def _issuer_rounds(log: Settings, directory: Path, witnesses: list[_Witness], rounds: int) -> float:
    """The issuer's ``collect_cosignatures`` after each new checkpoint: median rounds/s."""
    (directory / "witness-keys.txt").write_text("".join(w.vkey + "\n" for w in witnesses))
    (directory / "witness-urls.txt").write_text("".join(f"{w.name} {w.url}\n" for w in witnesses))
    issuer = log.with_overrides(
        witness_keys_file=str(directory / "witness-keys.txt"),
        witness_urls_file=str(directory / "witness-urls.txt"),
        witness_quorum=2,
    )
    factory = InfrastructureFactory.construct(Environment(env=application_env(issuer)))
    recorder: Any = factory.application_recorder()
    times = []
    try:
        for _ in range(rounds):
            recorder.insert_events(
                [StoredEvent(uuid.uuid4(), 1, "bench:Access.Recorded", b"x") for _ in range(10)]
            )
            issue_checkpoint(issuer)
            started = time.perf_counter()
            record = collect_cosignatures(issuer)
            times.append(time.perf_counter() - started)
            if record is None or not record.quorum_met:
                raise RuntimeError(f"round did not reach the quorum: {record}")
    finally:
        factory.close()
    return 1 / statistics.median(times)
