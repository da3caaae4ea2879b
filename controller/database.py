"""Database engine set-up: SQLite pragmas, write transactions, migrations folder."""

from contextlib import contextmanager
from pathlib import Path

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from controller.extensions import db

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def configure(app: Flask) -> None:
    """Tune engine options for the configured backend and hook write transactions."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {}).setdefault("timeout", 15)
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
    if db.session().in_transaction():
        db.session.commit()  # a read-only transaction: nothing to write, it ends the snapshot
    g.sql = db.session.connection(execution_options={"sqlite_immediate": True})
    return g.sql


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
        cur.execute("PRAGMA busy_timeout=15000")
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
        immediate = conn.get_execution_options().get("sqlite_immediate")
        # Straight to the driver: this runs for every transaction, and a full SQLAlchemy
        # execution costs more than SQLite's BEGIN itself.
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
