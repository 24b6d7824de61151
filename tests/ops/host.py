"""A district host as docs/install.md builds it, under a temporary root, on a private cluster.

The files install.md puts in /etc/govledger, /var/lib/govledger, /var/backups/govledger and
/run/govledger live under one temporary directory; the systemd units of ops/deploy/systemd are
run as systemd would run them — ``EnvironmentFile=`` overriding ``Environment=``,
``LoadCredential=`` files copied into a private credentials directory (``%d``),
``RuntimeDirectory=``/``StateDirectory=`` made, ``ExecStart=`` run — with only the paths, the
database port and the API port moved. Commands by hand go through ops/scripts/govledger-as,
as install.md says. The machine has no systemd: this is the closest faithful run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.ops.cluster import PrivateCluster
from tests.ops.conftest import BIN, free_port, running

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "ops" / "deploy"
GOVLEDGER_AS = ROOT / "ops" / "scripts" / "govledger-as"
ORIGIN = "govledger.test/walkthrough"


class Host:
    """Paths, environment and units of one installed host."""

    def __init__(self, cluster: PrivateCluster, root: Path) -> None:
        self.cluster = cluster
        self.root = root
        self.etc = root / "etc" / "govledger"
        self.var = root / "var" / "lib" / "govledger"
        self.backups = root / "var" / "backups" / "govledger"
        self.run = root / "run" / "govledger"
        self.api_port = free_port()

    # ------------------------------------------------------------ install.md §2

    def make_directories(self) -> None:
        for path, mode in (
            (self.etc, 0o755),
            (self.etc / "keys", 0o700),
            (self.etc / "pgpass", 0o700),
            (self.var, 0o750),
            (self.backups, 0o750),
        ):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(mode)
        example = (DEPLOY / "govledger.env.example").read_text(encoding="utf-8")
        env = self.translate(example)
        env = re.sub(r"^PGPORT=.*$", f"PGPORT={self.cluster.port}", env, flags=re.M)
        env = re.sub(
            r"^GOVLEDGER_API_PORT=.*$", f"GOVLEDGER_API_PORT={self.api_port}", env, flags=re.M
        )
        env = re.sub(
            r"^GOVLEDGER_CHECKPOINT_ORIGIN=.*$",
            f"GOVLEDGER_CHECKPOINT_ORIGIN={ORIGIN}",
            env,
            flags=re.M,
        )
        (self.etc / "govledger.env").write_text(env, encoding="utf-8")

    def translate(self, text: str) -> str:
        """The deployment's absolute paths and database address, moved under this root."""
        for path, here in (
            ("/opt/govledger/.venv/bin/govledger", str(BIN / "govledger")),
            ("/etc/govledger", str(self.etc)),
            ("/var/lib/govledger", str(self.var)),
            ("/var/backups/govledger", str(self.backups)),
            ("/run/govledger", str(self.run)),
            ("127.0.0.1:5432", f"127.0.0.1:{self.cluster.port}"),
        ):
            text = text.replace(path, here)
        return text

    def env_file(self) -> dict[str, str]:
        text = (self.etc / "govledger.env").read_text(encoding="utf-8")
        return dict(re.findall(r"^([A-Z_]+)=(.*)$", text, re.M))

    # ------------------------------------------------------------ commands by hand

    def govledger_as(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``govledger-as ARGV`` (install.md §5), as the current user standing for root."""
        env = _clean_env()
        env.update(
            GOVLEDGER_ETC=str(self.etc),
            GOVLEDGER_USER=_whoami(),
            GOVLEDGER_BIN=str(BIN / "govledger"),
        )
        return subprocess.run(
            [str(GOVLEDGER_AS), *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def govledger(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """The bare ``govledger`` of the install steps run as root (keys generate, pgpass)."""
        return subprocess.run(
            [str(BIN / "govledger"), *argv],
            env=_clean_env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # ------------------------------------------------------------ units

    def unit(self, name: str) -> tuple[list[str], dict[str, str]]:
        """``ExecStart=`` and the environment systemd would give unit ``name``."""
        text = self.translate((DEPLOY / "systemd" / name).read_text(encoding="utf-8"))
        credentials = self.run / "credentials" / name
        shutil.rmtree(credentials, ignore_errors=True)
        credentials.mkdir(parents=True, mode=0o700)
        for line in re.findall(r"^LoadCredential=(.*)$", text, re.M):
            credential, source = line.split(":", 1)
            target = credentials / credential
            shutil.copyfile(source, target)
            target.chmod(0o400)
        text = text.replace("%d", str(credentials))
        for kind, base in (
            ("RuntimeDirectory", self.root / "run"),
            ("StateDirectory", self.var.parent),
        ):
            for line in re.findall(rf"^{kind}=(.*)$", text, re.M):
                for directory in line.split():
                    (base / directory).mkdir(parents=True, exist_ok=True, mode=0o700)
        env = _clean_env()
        for line in re.findall(r"^Environment=(.*)$", text, re.M):
            key, value = line.split("=", 1)
            env[key] = value
        env.update(self.env_file())  # EnvironmentFile= overrides Environment= (systemd.exec)
        (exec_start,) = re.findall(r"^ExecStart=(.*)$", text, re.M)
        return exec_start.split(), env

    def run_unit(self, name: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A ``Type=oneshot`` unit, started once (``systemctl start NAME``)."""
        argv, env = self.unit(name)
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    @contextmanager
    def serving(self, name: str, ready_url: str | None = None) -> Iterator[Path]:
        """A long-running unit (``Type=exec``) until the block ends; yields its log."""
        argv, env = self.unit(name)
        log = self.root / f"{name}.log"

        def ready() -> bool:
            if ready_url is None:
                return True  # started and still running (running() checks)
            return httpx.get(ready_url, timeout=2).status_code == 200

        with running(argv, env, log, ready, name):
            yield log

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("GOVLEDGER_", "PG"))}


def _whoami() -> str:
    import pwd  # noqa: PLC0415 - Unix only, like the deployment

    return pwd.getpwuid(os.geteuid()).pw_name
