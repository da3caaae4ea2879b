"""Configuration: defaults, the instance folder file, TELECENTRE_* variables, overrides."""

import os
import secrets
import tomllib
from datetime import timedelta
from pathlib import Path

from flask import Flask

CONFIG_FILE = "config.toml"
SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


class Defaults:
    """Settings every deployment starts from."""

    DATABASE_URL = None  # None: SQLite file in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    BABEL_DEFAULT_LOCALE = "pl"
    BABEL_DEFAULT_TIMEZONE = "Europe/Warsaw"
    LANGUAGES = ("pl", "en")
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the login session
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute; 50 per hour"
    PROXY_FIX_X_FOR = 0  # number of trusted reverse proxies in front (nginx: 1)
    MAX_CONTENT_LENGTH = 1 * 1024 * 1024


def load_config(app: Flask, overrides: dict | None) -> None:
    """Fill app.config in order: defaults, instance file, environment, overrides."""
    app.config.from_object(Defaults)
    app.config.from_file(CONFIG_FILE, load=tomllib.load, text=False, silent=True)
    app.config.from_prefixed_env("TELECENTRE")
    if overrides:
        app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        url = app.config.get("DATABASE_URL") or _sqlite_url(Path(app.instance_path))
        app.config["SQLALCHEMY_DATABASE_URI"] = url


def _sqlite_url(instance: Path) -> str:
    return f"sqlite:///{instance / 'telecentre.sqlite3'}"


def _instance_secret(instance: Path) -> str:
    """Read the instance secret key, creating it once with owner-only permissions."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / SECRET_FILE
    if not path.exists():
        # Written to a private temp file and linked into place, so workers starting
        # together never read a half-written key and only one key ever wins.
        tmp = instance / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key; remove it to regenerate")
    return key
