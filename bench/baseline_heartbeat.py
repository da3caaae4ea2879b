"""The bare-Flask heartbeat baseline: parse the JSON, update one SQLite row, answer the ack."""

import os
import sqlite3
import threading
import time
from pathlib import Path

from flask import Flask, jsonify, request

DB_ENV = "BENCH_HEARTBEAT_DB"
DEVICE_HEADER = "X-Telecentre-Device"  # which row to update; the signature is not checked


def _connect(path: str | Path) -> sqlite3.Connection:
    """Open the database in autocommit mode with the controller's SQLite settings."""
    conn = sqlite3.connect(path, timeout=15, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=15000")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def create_db(path: Path, ids: list[int]) -> Path:
    """Create a SQLite file with one device row per id."""
    conn = _connect(path)
    try:
        conn.execute(
            "CREATE TABLE devices (id INTEGER PRIMARY KEY, last_seen REAL,"
            " seq INTEGER NOT NULL DEFAULT 0)"
        )
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO devices (id) VALUES (?)", ((i,) for i in ids))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path


def create_app(db_path: str | None = None) -> Flask:
    """Return the baseline app writing to db_path (default: $BENCH_HEARTBEAT_DB)."""
    app = Flask(__name__)
    path = db_path or os.environ[DB_ENV]
    local = threading.local()  # one connection per worker thread, opened on first use

    def connection() -> sqlite3.Connection:
        """Return this thread's connection to the device database."""
        if not hasattr(local, "conn"):
            local.conn = _connect(path)
        return local.conn

    @app.post("/api/agent/v1/heartbeat")
    def heartbeat():
        """Record the newest record's sequence number on the device's row and acknowledge it."""
        data = request.get_json()
        seq = max(int(record["seq"]) for record in data["records"])
        device_id = int(request.headers[DEVICE_HEADER])
        connection().execute(
            "UPDATE devices SET last_seen=?, seq=? WHERE id=?", (time.time(), seq, device_id)
        )
        return jsonify(ack=seq)

    return app
