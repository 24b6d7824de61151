"""Settings: read once, here, from an optional TOML file and ``GOVLEDGER_*`` variables.

This is the only module that reads the process environment. Entry points
(the CLI in ``ops``, the ASGI factory in ``api``) call :func:`load_settings`
once and pass the result down. Variables override the file; the file
overrides the defaults. ``docs/configuration.md`` lists every setting.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.chain import HASH_ALGORITHMS
from ledger.errors import ConfigurationError

ENV_PREFIX = "GOVLEDGER_"
DEFAULT_DATABASE_URL = "sqlite:///var/govledger.db"
LOG_FORMATS = ("json", "text")
# libpq's choices for a multi-host URL (docs/configuration.md §High availability).
TARGET_SESSION_ATTRS = ("any", "read-write", "read-only", "primary", "standby", "prefer-standby")


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed ``GOVLEDGER_DATABASE_URL``: ``sqlite:///PATH`` or ``postgresql://…``."""

    backend: str  # "sqlite" or "postgresql"
    path: str = ""  # sqlite: file path, or ":memory:"
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = field(default="", repr=False)
    dbname: str = ""
    # A multi-host URL (``postgresql://u@h1:5432,h2:5432/db``, libpq's form): every
    # (host, port); ``host``/``port`` are the first. libpq tries them in turn and keeps
    # the first whose session matches ``target_session_attrs`` (e.g. the primary).
    hosts: tuple[tuple[str, int], ...] = ()
    target_session_attrs: str = ""

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            # sqlite:///relative/file.db and sqlite:////absolute/file.db, as SQLAlchemy spells them.
            path = parts.path[1:] if parts.path.startswith("/") else parts.path
            if not path:
                raise ConfigurationError(f"database URL {cls._redact(url)!r} names no file")
            return cls(backend="sqlite", path=path)
        if parts.scheme in ("postgresql", "postgres"):
            dbname = parts.path.lstrip("/")
            if "," in parts.netloc.rpartition("@")[2]:
                return cls._parse_hosts(url, parts.netloc, dbname, parts.query)
            if not (parts.hostname and dbname):
                raise ConfigurationError(
                    f"database URL {cls._redact(url)!r} needs a host and a database name"
                )
            try:
                port = parts.port or 5432
            except ValueError as e:
                raise ConfigurationError(f"database URL {cls._redact(url)!r}: bad port") from e
            return cls(
                backend="postgresql",
                host=parts.hostname,
                port=port,
                user=unquote(parts.username or ""),
                password=unquote(parts.password or ""),
                dbname=unquote(dbname),
                hosts=((parts.hostname, port),),
                target_session_attrs=cls._session_attrs(url, parts.query),
            )
        raise ConfigurationError(
            f"database URL {cls._redact(url)!r}: scheme must be sqlite:/// or postgresql://"
        )

    @classmethod
    def _parse_hosts(cls, url: str, netloc: str, dbname: str, query: str) -> DatabaseURL:
        """``user:password@h1:p1,h2:p2,…`` (libpq's multi-host URL; IPv6 in brackets)."""
        userinfo, _, hostlist = netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        hosts: list[tuple[str, int]] = []
        for item in hostlist.split(","):
            host, port = item, "5432"
            if item.startswith("["):
                host, _, rest = item[1:].partition("]")
                port = rest[1:] if rest.startswith(":") else port
            elif ":" in item:
                host, _, port = item.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigurationError(f"database URL {cls._redact(url)!r}: bad host {item!r}")
            hosts.append((host.lower(), int(port)))
        if not dbname:
            raise ConfigurationError(f"database URL {cls._redact(url)!r} needs a database name")
        return cls(
            backend="postgresql",
            host=hosts[0][0],
            port=hosts[0][1],
            user=unquote(user),
            password=unquote(password),
            dbname=unquote(dbname),
            hosts=tuple(hosts),
            # Several hosts are there to follow the primary: read-write unless told otherwise.
            target_session_attrs=cls._session_attrs(url, query) or "read-write",
        )

    @classmethod
    def _session_attrs(cls, url: str, query: str) -> str:
        values = parse_qs(query).get("target_session_attrs", [""])
        if values[-1] and values[-1] not in TARGET_SESSION_ATTRS:
            raise ConfigurationError(
                f"database URL {cls._redact(url)!r}: target_session_attrs must be one of "
                + ", ".join(TARGET_SESSION_ATTRS)
            )
        return values[-1]

    @property
    def host_list(self) -> str:
        """libpq's ``host`` parameter: every host, comma-separated."""
        return ",".join(h for h, _ in self.hosts) if self.hosts else self.host

    @property
    def port_list(self) -> str:
        """libpq's ``port`` parameter: one port per host, comma-separated."""
        return ",".join(str(p) for _, p in self.hosts) if self.hosts else str(self.port)

    @staticmethod
    def _redact(url: str) -> str:
        parts = urlsplit(url)
        if parts.password:
            return url.replace(f":{parts.password}@", ":***@")
        return url

    def redacted(self) -> str:
        """The URL without its password: the only form that may reach logs or errors."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.path}"
        user = f"{self.user}:***@" if self.password else (f"{self.user}@" if self.user else "")
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.hosts)
        hosts = hosts or f"{self.host}:{self.port}"
        attrs = f"?target_session_attrs={self.target_session_attrs}" if len(self.hosts) > 1 else ""
        return f"postgresql://{user}{hosts}/{self.dbname}{attrs}"


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, with its default. See docs/configuration.md."""

    database_url: str = DEFAULT_DATABASE_URL
    # Reads where staleness is acceptable (docs/configuration.md §Reads on a replica): a
    # streaming replica's URL (or several hosts with target_session_attrs=prefer-standby).
    database_read_url: str = ""
    # Only used when a ledger is created; afterwards the genesis record decides.
    hash_algorithm: str = ""
    state_dir: str = "var/state"
    create_schema: bool = True
    postgres_app_role: str = ""
    # `govledger init` grants the documented role layout (ops/layout.py, docs/install.md).
    postgres_layout: bool = False
    postgres_pool_size: int = 5
    postgres_schema: str = "public"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Bearer JWTs from an existing OIDC provider (empty issuer: API keys only).
    jwt_issuer: str = ""
    jwt_audience: str = "govledger"
    jwt_public_key_file: str = ""
    jwt_algorithms: str = "RS256,ES256,EdDSA"
    # Largest batch of access events one request may carry (one transaction).
    max_batch_size: int = 10_000
    # Reliability (issue #7): a request waits this long for a database connection before
    # answering 503; a request body larger than max_request_bytes is refused with 413.
    postgres_timeout_seconds: int = 5
    max_request_bytes: int = 16 * 1024 * 1024
    # Signed checkpoints (docs/checkpoint-format.md). Keys live in files, never in the database.
    checkpoint_origin: str = ""  # default: govledger.local/<ledger id>
    checkpoint_key_file: str = ""  # PRIVATE+KEY+... signer key of this log
    checkpoint_interval_seconds: int = 300
    trusted_keys_file: str = ""  # verifier keys of the log, one per line; "retired " prefix
    witness_keys_file: str = ""  # verifier keys of witnesses, one per line
    witness_quorum: int = 0
    # Witnesses over HTTP (C2SP tlog-witness, docs/witnesses.md). The log's side: which
    # witnesses to ask ("<witness key name> <URL>" a line) and how long to wait for one.
    witness_urls_file: str = ""
    witness_timeout_seconds: int = 10
    # A witness's side (`govledger witness serve`): its cosignature key, the logs it
    # witnesses ("<origin> <log key>" a line) and its own state (default <state_dir>/witness.db).
    witness_key_file: str = ""
    witness_logs_file: str = ""
    witness_state_file: str = ""
    # Static tiles (C2SP tlog-tiles): the issuer also writes them here after every round.
    tiles_dir: str = ""
    # Projections (docs/projections.md): read models, as-of snapshots, findings, anomalies.
    projection_batch_size: int = 10_000  # ledger rows per projection transaction
    projection_snapshot_interval: int = 20_000  # positions between as-of snapshots
    projection_follow_seconds: int = 2  # how often `projections run --follow` polls
    # Scheduled issuance by the worker (ops/report_schedule.py): the annual report when the
    # year ends; the risk report from this MM-DD on (empty: off). Both of the year ended.
    report_issue_annual: bool = False
    report_issue_risk_on: str = ""
    finding_zombie_days: int = 180  # I1: an active system unused this long is a candidate
    anomaly_work_start_hour: int = 8  # local (CST) working window for off-hours access
    anomaly_work_end_hour: int = 20
    anomaly_burst_count: int = 5  # refused/flagged accesses by one accessor …
    anomaly_burst_minutes: int = 60  # … within this window make a burst
    anomaly_baseline_days: int = 28  # rolling baseline of daily volume
    anomaly_baseline_min_days: int = 7  # history needed before volume is judged
    anomaly_volume_factor: int = 3  # a day above factor x baseline mean is unusual …
    anomaly_volume_min: int = 30  # … and at least this many accesses
    anomaly_first_access_warmup_days: int = 14  # first-access alerts after this much history
    anomaly_response_hours: int = 72  # an anomaly still 待处置 after this is overdue (console)
    # Operations (docs/operations.md). Metrics files of the API's worker processes, summed at
    # scrape; empty: one process's registry (right for one worker only).
    metrics_dir: str = ""
    # Structured logs on stderr: "json" (one object per line) or "text"; never a secret.
    log_format: str = "json"
    log_level: str = "INFO"
    # Web console sessions (api/console): signing key file (empty: a random key per process,
    # so sessions end when the service restarts) and how long a session lasts.
    console_session_key_file: str = ""
    console_session_minutes: int = 15
    # Data subjects of accesses (docs/ledger-format.md §9.1, docs/privacy.md): the secret of
    # the blind index, a file outside the database (mode 0600; default on SQLite
    # <state_dir>/keys/subject-index.key, created by `govledger init`).
    subject_index_key_file: str = ""
    # Facts and their business time (docs/facts.md §6, docs/configuration.md "Facts"): no
    # business time before this CST day; none later than the clock plus this skew.
    earliest_business_date: str = "2018-01-01"
    clock_skew_seconds: int = 300
    # The calendar in force (docs/facts.md §3): the State Council's notices shipped with
    # govledger, extended or corrected by this TOML file; response limits per sharing type.
    calendar_file: str = ""
    response_working_days: int = 10

    @property
    def database(self) -> DatabaseURL:
        return DatabaseURL.parse(self.database_url)

    def reading(self) -> Settings:
        """These settings for a read that may be stale: on ``database_read_url`` when set
        (never creating anything there), else unchanged."""
        if not self.database_read_url:
            return self
        return replace(self, database_url=self.database_read_url, create_schema=False)

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)

    def validate(self) -> Settings:
        self.database  # noqa: B018 - parsing raises ConfigurationError on a bad URL
        if self.database_read_url:
            read = DatabaseURL.parse(self.database_read_url)
            if read.backend != "postgresql" or self.database.backend != "postgresql":
                raise ConfigurationError(
                    "GOVLEDGER_DATABASE_READ_URL is for a PostgreSQL replica of a PostgreSQL ledger"
                )
        if self.hash_algorithm and self.hash_algorithm not in HASH_ALGORITHMS:
            known = ", ".join(HASH_ALGORITHMS)
            raise ConfigurationError(
                f"GOVLEDGER_HASH_ALGORITHM={self.hash_algorithm!r} is not one of: {known}"
            )
        if self.log_format not in LOG_FORMATS:
            raise ConfigurationError(
                f"GOVLEDGER_LOG_FORMAT={self.log_format!r} is not one of: {', '.join(LOG_FORMATS)}"
            )
        return self


def _coerce(name: str, raw: object, default: object) -> object:
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "y", "on"):
            return True
        if text in ("0", "false", "no", "n", "off"):
            return False
        raise ConfigurationError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a boolean")
    if isinstance(default, int):
        try:
            return int(str(raw))
        except ValueError as e:
            raise ConfigurationError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not an integer") from e
    return str(raw)


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: str | None = None
) -> Settings:
    """Defaults, then the TOML file (``GOVLEDGER_CONFIG``), then ``GOVLEDGER_*`` variables."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    path = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        values.update(_read_config_file(Path(path)))
    for f in fields(Settings):
        key = f"{ENV_PREFIX}{f.name.upper()}"
        if key in env:
            values[f.name] = env[key]
    defaults = Settings()
    coerced = {k: _coerce(k, v, getattr(defaults, k)) for k, v in values.items()}
    return Settings(**coerced).validate()  # type: ignore[arg-type]


def _read_config_file(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(f"cannot read config file {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigurationError(f"config file {path} is not valid TOML: {e}") from e
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(f"config file {path}: unknown settings {', '.join(unknown)}")
    return dict(data)
