"""Configuration order and the instance secret key."""

import os
import stat

import pytest

from controller import create_app


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.setenv("TELECENTRE_INSTANCE_PATH", str(tmp_path))
    return tmp_path


def test_secret_key_is_generated_once_with_owner_only_permissions(instance):
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    path = instance / "secret_key"
    assert first == second and len(first) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_broken_secret_file_stops_the_start(instance):
    (instance / "secret_key").write_text("short\n")
    with pytest.raises(RuntimeError, match="no usable value"):
        create_app()


def test_config_order_defaults_file_environment_overrides(instance, monkeypatch):
    (instance / "config.toml").write_text(
        'PROXY_FIX_X_FOR = 1\nLOGIN_RATE_LIMIT = "1 per hour"\nDATABASE_URL = "sqlite:///file.db"\n'
    )
    monkeypatch.setenv("TELECENTRE_LOGIN_RATE_LIMIT", "2 per hour")
    monkeypatch.setenv("TELECENTRE_DATABASE_URL", "sqlite:///env.db")
    app = create_app({"MAX_CONTENT_LENGTH": 99})
    assert app.config["PROXY_FIX_X_FOR"] == 1  # file over default
    assert app.config["LOGIN_RATE_LIMIT"] == "2 per hour"  # environment over file
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///env.db"
    assert app.config["MAX_CONTENT_LENGTH"] == 99  # the test's dict last
    assert app.config["BABEL_DEFAULT_LOCALE"] == "pl"


def test_default_database_is_sqlite_in_the_instance_folder(instance):
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'telecentre.sqlite3'}"
