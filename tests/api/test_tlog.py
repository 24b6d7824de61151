"""The demo log served as tiles by the API and by a plain web server (checkpoint-format §15).

The client of ``tests/tlog_client.py`` (written from C2SP tlog-tiles, sharing no
code with the server) audits the demo year: it verifies the checkpoint with the
published key, rebuilds the root from the tiles, checks every entry, and
verifies inclusion and consistency proofs it builds from the tiles.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import GovLedger
from ledger.checkpoints import (
    create_log_keys,
    issue_checkpoint,
    load_signer,
    public_keys,
    witness_checkpoint,
)
from ledger.config import Settings
from ledger.store.connect import application_env, init_ledger
from ledger.tiles import write_tiles
from ops.demo import load_demo
from tests import tlog_client
from tests.conftest import Ledger
from tests.served import free_port


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """A small demo year with the keys ``govledger init`` makes and one checkpoint."""
    directory = tmp_path_factory.mktemp("demo")
    settings = Settings(
        database_url=f"sqlite:///{directory / 'ledger.db'}", state_dir=str(directory / "state")
    )
    genesis = init_ledger(settings)
    create_log_keys(settings, genesis.ledger_id)
    app = GovLedger(env=application_env(settings))
    try:
        load_demo(app, accesses=400, seed=3, requests=60)
    finally:
        app.close()
    issue_checkpoint(settings)
    return settings, public_keys(settings)[0]


@pytest.fixture
def client(demo_log: tuple[Settings, str]) -> Iterator[TestClient]:
    settings, _ = demo_log
    # The service's own checkpoint schedule finds the tree unchanged and reuses the note.
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client


def test_the_api_serves_the_demo_log_as_tiles(
    demo_log: tuple[Settings, str], client: TestClient
) -> None:
    _, vkey = demo_log
    fetch = tlog_client.http_fetcher(client, "/tlog/")
    audit = tlog_client.audit(fetch, vkey)
    assert audit.checkpoint.size > 256  # full tiles and partial ones
    checkpoint = client.get("/tlog/checkpoint")
    assert checkpoint.headers["content-type"] == "text/plain; charset=utf-8"
    assert checkpoint.headers["cache-control"] == "no-cache"
    tile = client.get("/tlog/tile/0/000")
    assert tile.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(tile.content) == 8192
    assert client.get("/api/v1/checkpoints/latest").text == checkpoint.text


def test_beyond_the_tree_and_bad_paths_are_404_with_an_error_body(
    demo_log: tuple[Settings, str], client: TestClient
) -> None:
    size = int(client.get("/tlog/checkpoint").text.split("\n")[1])
    full, partial = divmod(size, 256)
    for path in (
        f"/tlog/tile/0/{full:03d}",  # the full tile is not complete yet
        f"/tlog/tile/0/{full:03d}.p/{partial + 1}",
        f"/tlog/tile/entries/{full + 1:03d}.p/1",
        "/tlog/tile/0/1",
        "/tlog/tile/x/000",
    ):
        reply = client.get(path)
        assert reply.status_code == 404, path
        assert reply.json()["error"] == "not_found"


def test_consistency_across_checkpoints_over_http(
    demo_log: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, vkey = demo_log
    with TestClient(create_app(settings)) as client:
        fetch = tlog_client.http_fetcher(client, "/tlog")
        before = tlog_client.audit(fetch, vkey, sample=8)
        more = Ledger(settings)
        try:
            more.append(300, per_transaction=60)
        finally:
            more.close()
        issue_checkpoint(settings)
        after = tlog_client.audit(fetch, vkey, previous=before.checkpoint, sample=8)
    assert after.checkpoint.size > before.checkpoint.size


def test_under_a_quorum_the_published_checkpoint_is_the_witnessed_one(
    demo_log: tuple[Settings, str], tmp_path: Path
) -> None:
    """The tiles follow what verifiers trust: a checkpoint waiting for its witnesses is not
    published, so a client never gets a tree its policy would refuse."""
    settings, vkey = demo_log
    from ledger.checkpoints import generate_key_file  # noqa: PLC0415

    witness_vkey = generate_key_file(str(tmp_path / "w.key"), "witness.example/w", witness=True)
    (tmp_path / "witnesses.txt").write_text(witness_vkey + "\n")
    quorum = settings.with_overrides(
        witness_keys_file=str(tmp_path / "witnesses.txt"), witness_quorum=1
    )
    with TestClient(create_app(quorum.with_overrides(checkpoint_interval_seconds=3600))) as client:
        assert client.get("/tlog/checkpoint").status_code == 404  # nothing witnessed yet
        witness_checkpoint(quorum, str(tmp_path / "w.key"), str(tmp_path / "w.state"))
        served = client.get("/tlog/checkpoint").text.encode()
    checkpoint = tlog_client.open_checkpoint(served, tlog_client.parse_vkey(vkey, 0x01))
    witness = tlog_client.parse_vkey(witness_vkey, 0x04)
    assert tlog_client.verify_cosignature(checkpoint, witness) > 0
    assert load_signer(quorum).name == checkpoint.origin


class _PlainServer:
    """``python -m http.server`` on the mirror: a plain web server, nothing of govledger."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/checkpoint", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.05)  # poll while it starts, bounded by the deadline
        raise RuntimeError("http.server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def test_tiles_written_as_files_served_by_a_plain_web_server(
    demo_log: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, vkey = demo_log
    mirror = tmp_path / "www"
    write_tiles(settings, str(mirror))
    server = _PlainServer(mirror)
    try:
        with httpx.Client(timeout=10) as http:
            # http.server types files by their name: only the checkpoint needs a configured
            # type (text/plain) on a real server; the tiles come as octet streams here.
            def fetch(path: str) -> bytes:
                reply = http.get(f"http://127.0.0.1:{server.port}/{path}")
                if reply.status_code == 404:
                    raise tlog_client.NotFoundError(path)
                if path != "checkpoint":
                    assert reply.headers["content-type"] == "application/octet-stream"
                return reply.content

            audit = tlog_client.audit(fetch, vkey)
    finally:
        server.stop()
    with TestClient(create_app(settings)) as client:
        api_audit = tlog_client.audit(tlog_client.http_fetcher(client, "/tlog"), vkey)
    assert audit.entries == api_audit.entries[: len(audit.entries)]
