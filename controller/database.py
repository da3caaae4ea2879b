"""Database engine set-up: SQLite pragmas, write transactions, migrations folder."""

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from controller.extensions import db

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT = 15.0  # seconds a writer waits for another one before "database is locked"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def configure(app: Flask) -> None:
    """Tune engine options for the configured backend and hook write transactions."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {}).setdefault("timeout", BUSY_TIMEOUT)
        app.before_request(_begin_immediate_for_writes)
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


@contextmanager
def outside_transaction():
    """Run slow work (password hashing) between transactions, then resume writing.

    Objects loaded before are expired and reload in the new transaction, which takes
    SQLite's write lock up front again, as the request's first one did.
    """
    db.session.rollback()
    try:
        yield
    finally:
        db.session.connection(execution_options={"sqlite_immediate": True})


def begin_writing():
    """End the request's reading transaction and start one holding SQLite's write lock.

    For requests that check a lot before they write (a signature, a body): the checks run
    without the lock, so concurrent requests wait on each other only for the writes. Returns
    the connection of the new transaction (also kept as g.sql for prepared statements).
    """
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        # On the same connection, under the session's transaction: the reads so far loaded no
        # objects, so ending them and beginning again costs only SQLite's own two statements.
        driver = connection.connection.driver_connection
        if driver.in_transaction:
            driver.execute("COMMIT")
        _begin_immediate(driver)
    g.sql = connection
    return connection


def _begin_immediate_for_writes() -> None:
    # A request that may write takes SQLite's write lock up front, so a
    # read-then-write never fails half-way with "database is locked".
    if request.method not in _SAFE_METHODS and not db.session().in_transaction():
        db.session.connection(execution_options={"sqlite_immediate": True})


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_conn, _record) -> None:
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling is broken).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        # SQLite's own lower() folds only ASCII; Polish names need Ł → ł like PostgreSQL does.
        dbapi_conn.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        # Straight to the driver: this runs for every transaction, and a full SQLAlchemy
        # execution costs more than SQLite's BEGIN itself.
        driver = conn.connection.driver_connection
        if conn.get_execution_options().get("sqlite_immediate"):
            _begin_immediate(driver)
        else:
            driver.execute("BEGIN")


def _begin_immediate(driver) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock in steps of at most 2 ms.

    SQLite's own busy handler sleeps 1, 2, 5, 10 … 100 ms between tries, so under concurrent
    writers most of a short write transaction's latency was sleep after the lock was free.
    Polling in small steps hands the lock over within about a millisecond.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.0001
    driver.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 1.5, 0.002)
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
