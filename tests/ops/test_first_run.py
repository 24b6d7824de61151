"""Out of the box: ``make run`` (init, demo, serve) signs from the first minute (issue 17).

A newcomer sets nothing: the commands run in an empty directory with no
``GOVLEDGER_*`` variable, exactly as ``make run`` does from a fresh clone, and

* ``govledger init`` creates the log's signer key under the state directory
  (mode 0600, never overwritten) and the trusted keys file to publish;
* ``govledger serve`` issues a signed checkpoint on its schedule, the first one
  at start, so the console's ledger page shows it;
* the console's 下载证据包 gives a bundle that its 证据包核验 shows verified and that
  the offline verifier accepts with the key ``govledger keys public`` publishes
  (docs/checkpoint-format.md §11, §13).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.config import ENV_PREFIX
from tests.served import GOVLEDGER, free_port

pytestmark = pytest.mark.slow


def newcomer_env() -> dict[str, str]:
    """The environment of someone who configured nothing."""
    return {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}


def govledger(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GOVLEDGER), *args],
        cwd=cwd,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``make run`` in ``tmp_path``: init, a small demo, serve; yields (directory, base URL)."""
    init = govledger(tmp_path, "init")
    assert init.returncode == 0, init.stderr
    demo = govledger(
        tmp_path,
        "demo",
        "--if-empty",
        "--tokens",
        "var/demo-tokens.txt",
        "--accesses",
        "200",
        "--requests",
        "40",
    )
    assert demo.returncode == 0, demo.stderr
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(GOVLEDGER), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=newcomer_env(),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        yield tmp_path, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def wait_for_checkpoint(base: str, deadline_seconds: float = 120) -> str:
    """Poll the public checkpoint until the service's schedule has issued one."""
    deadline = time.monotonic() + deadline_seconds
    with httpx.Client(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                reply = client.get("/api/v1/checkpoints/latest")
                if reply.status_code == 200:
                    return reply.text
            except httpx.TransportError:
                pass  # still starting
            time.sleep(0.2)  # poll interval, bounded by the deadline
    raise AssertionError(f"no checkpoint issued within {deadline_seconds} s")


def token_of(directory: Path, role: str) -> str:
    for line in (directory / "var" / "demo-tokens.txt").read_text().splitlines():
        if line.startswith(f"{role}\t"):
            return line.split("\t")[2]
    raise AssertionError(f"no demo token for {role}")


def login(client: httpx.Client, token: str) -> None:
    form = client.get("/console/login")
    nonce = form.text.split('name="nonce" value="')[1].split('"')[0]
    reply = client.post("/console/login", data={"credential": token, "nonce": nonce})
    assert reply.status_code == 303, reply.text


def test_init_creates_the_log_key_and_the_trusted_keys_once(tmp_path: Path) -> None:
    first = govledger(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    key = tmp_path / "var" / "state" / "keys" / "checkpoint.key"
    trusted = tmp_path / "var" / "state" / "keys" / "trusted-keys.txt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    signer = key.read_text()
    assert signer.startswith("PRIVATE+KEY+govledger.local/")
    published = govledger(tmp_path, "keys", "public")
    assert published.returncode == 0, published.stderr
    assert published.stdout.splitlines() == [
        line for line in trusted.read_text().splitlines() if not line.startswith("#")
    ]
    assert "PRIVATE" not in published.stdout and "PRIVATE" not in trusted.read_text()
    # Not in the database: the key's secret part appears nowhere in the ledger file.
    # PRIVATE+KEY+<name>+<key hash>+<key>: the key is base64, which may hold "+" itself (a
    # key ending in one made rsplit give "", found in any file: a flaky 1 run in 64).
    secret = signer.strip().split("+", 4)[4]
    assert len(secret) >= 40
    assert secret.encode() not in (tmp_path / "var" / "govledger.db").read_bytes()
    again = govledger(tmp_path, "init")
    assert again.returncode == 0 and "created" not in again.stderr
    assert key.read_text() == signer


def test_make_run_signs_and_the_console_evidence_verifies_offline(
    served: tuple[Path, str],
) -> None:
    directory, base = served
    note = wait_for_checkpoint(base)
    published = govledger(directory, "keys", "public")
    assert published.returncode == 0, published.stderr
    keys_file = directory / "published-keys.txt"
    keys_file.write_text(published.stdout)
    log_key_name = published.stdout.split("+", 1)[0]
    assert f"\n\n— {log_key_name} " in note
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        login(client, token_of(directory, "auditor"))
        page = client.get("/console/ledger")
        assert page.status_code == 200 and 'id="checkpoint-size"' in page.text
        assert "尚未签发检查点" not in page.text
        bundle = client.get("/console/ledger/evidence", params={"position": 5})
        assert bundle.status_code == 200, bundle.text
        # 证据包核验 on the same console, with the keys init made: verified, green.
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        checked_here = client.post(
            "/console/ledger/evidence/check",
            data={"csrf": csrf},
            files={"bundle": ("bundle.json", bundle.content, "application/json")},
        )
        assert checked_here.status_code == 200 and 'class="ok verdict"' in checked_here.text
    (directory / "bundle.json").write_bytes(bundle.content)
    verifier = govledger(
        directory, "evidence", "--position", "1", "-o", "cli.json", "--verifier", "verify.pyz"
    )
    assert verifier.returncode == 0, verifier.stderr
    checked = subprocess.run(
        [sys.executable, "verify.pyz", "bundle.json", "--log-keys-file", str(keys_file)],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0 and checked.stdout.startswith("OK"), checked
