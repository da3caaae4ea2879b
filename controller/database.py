"""Database engine set-up: SQLite pragmas, write transactions, migrations folder."""

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g, has_app_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

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


def write_transaction() -> None:
    """Start a transaction that takes SQLite's write lock up front (read-then-write work
    outside a request: the scheduler, the CLI, tests), as write requests do."""
    db.session.rollback()
    db.session.connection(execution_options={"sqlite_immediate": True})


def begin_writing():
    """End the request's reading transaction and start one holding SQLite's write lock.

    For requests that check a lot before they write (a signature, a body): the checks run
    without the lock, so concurrent requests wait on each other only for the writes.
    """
    dialect, driver = statement_target()
    if dialect.name == "sqlite":
        # On the same connection: the reads so far loaded no objects, so ending them and
        # beginning again costs only SQLite's own two statements.
        if driver.in_transaction:
            driver.execute("COMMIT")
        begin_immediate(driver)


# Requests of the devices app (controller/devices_app.py) run on one pooled DBAPI connection
# each, checked out on first use: the hot statements (controller/prepared.py) run on it
# directly, and the ORM session, when a rarer step needs it, is bound to the same connection
# — one transaction, one write lock, without the session's per-request machinery otherwise.
_OWN_CONNECTION = "request_connection"


def use_request_connections(app: Flask) -> None:
    """Give each of app's requests its own pooled DBAPI connection, shared with the ORM."""
    app.extensions[_OWN_CONNECTION] = True
    registry = db.session.registry
    if not getattr(registry.createfunc, "joins_request_connection", False):
        registry.createfunc = _joining(registry.createfunc)
    # Teardown functions run in reverse: this one after Flask-SQLAlchemy's session removal.
    app.teardown_appcontext_funcs.insert(0, _release_request_connection)


def _own_connection() -> bool:
    return has_app_context() and _OWN_CONNECTION in current_app.extensions


def _request_dbapi():
    fairy = g.get("dbapi")
    if fairy is None:
        fairy = g.dbapi = db.engine.raw_connection()
        g.sql_target = (db.engine.dialect, fairy.driver_connection)
    return fairy


def _joining(default):
    def create(**options):
        if not _own_connection():
            return default(**options)
        connection = g.get("sql")
        if connection is None:
            connection = g.sql = Connection(db.engine, connection=_request_dbapi())
        session = Session(bind=connection, **options)
        session.connection()  # begun now, so the session's commit commits the connection
        return session

    create.joins_request_connection = True
    return create


def _release_request_connection(_exc=None) -> None:
    g.pop("sql_target", None)
    connection, fairy = g.pop("sql", None), g.pop("dbapi", None)
    if connection is not None:
        connection.close()  # returns the DBAPI connection to the pool, rolled back
    elif fairy is not None:
        fairy.close()


def statement_target():
    """(dialect, driver connection) that prepared statements of this request run on."""
    target = g.get("sql_target")  # the request's own connection, once checked out
    if target is not None:
        return target
    if _own_connection():
        _request_dbapi()
        return g.sql_target
    connection = db.session.connection()
    return connection.dialect, connection.connection.driver_connection


def commit() -> None:
    """Commit the request's work, whether it went through the ORM session or not."""
    if db.session.registry.has():
        db.session.commit()
    fairy = g.get("dbapi")
    if fairy is not None:
        fairy.commit()


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
        if driver.in_transaction:
            return  # begun by the request's own statements (use_request_connections)
        if conn.get_execution_options().get("sqlite_immediate"):
            begin_immediate(driver)
        else:
            driver.execute("BEGIN")


def begin_immediate(driver, polls: bool = False) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock in steps of at most 2 ms.

    SQLite's own busy handler sleeps 1, 2, 5, 10 … 100 ms between tries, so under concurrent
    writers most of a short write transaction's latency was sleep after the lock was free.
    Polling in small steps hands the lock over within about a millisecond. A connection that
    always `polls` (its busy timeout is 0 for good) saves setting the timeout each time.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.0001
    if not polls:
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
        if not polls:
            driver.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
