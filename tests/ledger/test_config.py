"""Settings: defaults, file, variables, and clear errors; secrets stay out of messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import DatabaseURL, Settings, load_settings
from ledger.errors import ConfigurationError


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
