"""The bare-Flask baseline: 50 device rows from SQLite via stdlib sqlite3 and flask.jsonify."""

import math
import os
import sqlite3
import threading
from pathlib import Path

from flask import Flask, jsonify, request

DB_ENV = "BENCH_BASELINE_DB"
COLUMNS = ("id", "name", "hostname", "mac", "ip", "kind", "state", "office_id")
KINDS = ("pc", "infomat", "hotspot")
STATES = ("online", "offline", "unknown")


def create_db(path: Path, count: int = 1000, offices: int = 7) -> Path:
    """Create and fill a SQLite file with `count` device-like rows."""
    rows = [
        (i, f"PC-{i:04d}", f"pc-{i:04d}", f"02:00:00:00:{i >> 8:02x}:{i & 0xFF:02x}",
         f"10.{i >> 8}.{i & 0xFF}.10", KINDS[i % 3], STATES[i % 3], i % offices + 1)
        for i in range(1, count + 1)
    ]  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE device (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " hostname TEXT NOT NULL, mac TEXT NOT NULL UNIQUE, ip TEXT, kind TEXT NOT NULL,"
            " state TEXT NOT NULL, office_id INTEGER NOT NULL)"
        )
        conn.executemany(f"INSERT INTO device VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    conn.close()
    return path


def create_app(db_path: str | None = None) -> Flask:
    """Return the baseline app reading devices from db_path (default: $BENCH_BASELINE_DB)."""
    app = Flask(__name__)
    path = db_path or os.environ[DB_ENV]
    local = threading.local()  # one connection per worker thread, opened on first use

    def connection() -> sqlite3.Connection:
        """Return this thread's read-only connection to the device database."""
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        return local.conn

    @app.get("/api/v1/devices")
    def devices():
        """Return one page of devices in the same envelope the controller uses."""
        page = max(request.args.get("page", 1, type=int), 1)
        per_page = min(max(request.args.get("per_page", 50, type=int), 1), 200)
        conn = connection()
        total = conn.execute("SELECT count(*) FROM device").fetchone()[0]
        cursor = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM device ORDER BY id LIMIT ? OFFSET ?",
            (per_page, (page - 1) * per_page),
        )
        items = [dict(zip(COLUMNS, row, strict=True)) for row in cursor]
        pages = math.ceil(total / per_page)
        return jsonify(items=items, total=total, page=page, per_page=per_page, pages=pages)

    return app
