"""Configuration: defaults, the instance folder file, TELECENTRE_* variables, overrides."""

import secrets
import tomllib
from datetime import timedelta
from pathlib import Path

from flask import Flask

from agents.common.spool import create_once

CONFIG_FILE = "config.toml"
SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
ID_FILE = "controller_id"


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
    AGENT_INTERVAL = 30  # seconds between agent heartbeats
    AGENT_HEARTBEAT_LANE = True  # common heartbeats answered without Flask (SQLite; fleet/lane.py)
    UI_REFRESH_SECONDS = 30  # live pages (dashboard, alerts, command progress) re-read this often
    # telecentre-scheduler: the process holding the lease runs jobs; others stand by.
    SCHEDULER_LEASE_SECONDS = 30  # a silent leader is replaced after this long
    SCHEDULER_TICK_SECONDS = 5  # renew the lease, sync schedules, pick up "run now"
    SCHEDULER_WORKERS = 4  # jobs running at once
    SCHEDULER_MISFIRE_GRACE_SECONDS = 3600  # a trigger missed by more is recorded as skipped
    SCHEDULER_POLL_SECONDS = 10  # rollouts re-read their commands' results this often
    RETENTION_COMMAND_DAYS = 180  # finished commands
    RETENTION_EVENT_DAYS = 1825  # device state changes (availability reports need them)
    RETENTION_RUN_DAYS = 90  # schedule runs
    RETENTION_SESSION_MONTHS = 12  # hotspot session details (reports keep monthly figures)
    SSH_CONNECT_TIMEOUT = 10  # seconds each for connect, SSH banner and authentication
    # /metrics: a bearer token (or `telecentre metrics token`) and/or networks allowed without
    # one (e.g. "127.0.0.1/32, ::1/128"). With neither, every scrape is refused.
    METRICS_TOKEN = None
    METRICS_ALLOW = ""
    METRICS_DISK_FLOOR = 0.8  # file systems at least this full get a series of their own


def load_config(app: Flask, overrides: dict | None) -> None:
    """Fill app.config in order: defaults, instance file, environment, overrides."""
    app.config.from_object(Defaults)
    app.config.from_file(CONFIG_FILE, load=tomllib.load, text=False, silent=True)
    app.config.from_prefixed_env("TELECENTRE")
    if overrides:
        app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_value(Path(app.instance_path), SECRET_FILE)
    if not app.config.get("CONTROLLER_ID"):
        # Told to agents at enrolment and stamped on every agent API answer.
        app.config["CONTROLLER_ID"] = instance_value(Path(app.instance_path), ID_FILE, 8)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        url = app.config.get("DATABASE_URL") or _sqlite_url(Path(app.instance_path))
        app.config["SQLALCHEMY_DATABASE_URI"] = url


def _sqlite_url(instance: Path) -> str:
    return f"sqlite:///{instance / 'telecentre.sqlite3'}"


def instance_value(instance: Path, name: str, nbytes: int = 32) -> str:
    """Read a random value kept in the instance folder, creating it once (owner-only)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / name
    create_once(path, (secrets.token_hex(nbytes) + "\n").encode())
    value = path.read_text().strip()
    if len(value) < 2 * nbytes:
        raise RuntimeError(f"{path} holds no usable value; remove it to regenerate")
    return value
