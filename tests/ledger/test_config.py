"""Settings: defaults, file, variables, and clear errors; secrets stay out of messages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ledger.config import DatabaseURL, Settings, load_settings
from ledger.errors import ConfigurationError
from ledger.store.conninfo import postgres_conninfo


def test_defaults_point_at_an_embedded_sqlite_file() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.database.backend == "sqlite" and settings.database.path == "var/govledger.db"


def test_variables_override_the_file(tmp_path: Path) -> None:
    config = tmp_path / "govledger.toml"
    config.write_text('api_port = 9000\nstate_dir = "/srv/state"\n', encoding="utf-8")
    settings = load_settings({"GOVLEDGER_CONFIG": str(config), "GOVLEDGER_API_PORT": "9100"})
    assert (settings.api_port, settings.state_dir) == (9100, "/srv/state")


def test_postgres_url_is_parsed_and_redacted() -> None:
    db = DatabaseURL.parse("postgresql://ledger:p%40ss@db.local:6543/govledger")
    assert (db.user, db.password, db.host, db.port, db.dbname) == (
        "ledger",
        "p@ss",
        "db.local",
        6543,
        "govledger",
    )
    assert "p@ss" not in db.redacted() and "p@ss" not in repr(db)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GOVLEDGER_API_PORT": "eighty"}, "is not an integer"),
        ({"GOVLEDGER_CREATE_SCHEMA": "perhaps"}, "is not a boolean"),
        ({"GOVLEDGER_DATABASE_URL": "postgresql://u:hunter2@/x"}, "needs a host"),
        ({"GOVLEDGER_CONFIG": "/nonexistent/govledger.toml"}, "cannot read config file"),
    ],
)
def test_bad_settings_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_settings(environ)
    assert "hunter2" not in str(caught.value)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("databse_url = 'sqlite:///x.db'\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unknown settings databse_url"):
        load_settings({}, config_file=str(config))


def test_a_multi_host_url_follows_the_primary() -> None:
    """Patroni's nodes in libpq's multi-host form (docs/configuration.md §High availability)."""
    db = DatabaseURL.parse("postgresql://app:s3cret@10.0.0.1:5432,10.0.0.2,DB3:6000/govledger")
    assert db.hosts == (("10.0.0.1", 5432), ("10.0.0.2", 5432), ("db3", 6000))
    assert (db.host_list, db.port_list) == ("10.0.0.1,10.0.0.2,db3", "5432,5432,6000")
    assert db.target_session_attrs == "read-write"  # several hosts: the primary by default
    assert "s3cret" not in db.redacted() and "10.0.0.2:5432" in db.redacted()
    conninfo = postgres_conninfo(db)
    assert conninfo["host"] == "10.0.0.1,10.0.0.2,db3"
    assert conninfo["target_session_attrs"] == "read-write"
    assert conninfo["keepalives"] == 1 and conninfo["tcp_user_timeout"] > 0
    standby = DatabaseURL.parse("postgresql://u@h1,h2/db?target_session_attrs=prefer-standby")
    assert standby.target_session_attrs == "prefer-standby"
    assert DatabaseURL.parse("postgresql://u@h1/db").target_session_attrs == ""
    for bad in (
        "postgresql://u@h1,h2/db?target_session_attrs=anything",
        "postgresql://u@h1,h2:x/db",
        "postgresql://u@h1,h2/",
    ):
        with pytest.raises(ConfigurationError):
            DatabaseURL.parse(bad)


def test_no_primary_in_time_is_store_unavailable_not_ten_retries(tmp_path: Path) -> None:
    """A pool that cannot connect answers at once (a 503 upstream), instead of eventsourcing's
    ten retries of a wait for a connection (docs/operations.md §High availability)."""
    from eventsourcing.persistence import InfrastructureFactory  # noqa: PLC0415
    from eventsourcing.utils import Environment  # noqa: PLC0415

    from ledger.errors import StoreUnavailableError  # noqa: PLC0415
    from ledger.store.connect import application_env  # noqa: PLC0415

    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1,127.0.0.1:2/none",
        postgres_timeout_seconds=1,
        state_dir=str(tmp_path),
    )
    factory = InfrastructureFactory.construct(
        Environment(env=application_env(settings, create=False))
    )
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError), factory.datastore.get_connection():
            pass
        assert time.monotonic() - started < 5
    finally:
        factory.close()
