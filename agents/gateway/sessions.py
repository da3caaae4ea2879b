"""Visitor sessions on the gateway: a durable local store and the end-of-session decisions.

The store is SQLite in the state dir (WAL, synchronous writes), so live sessions survive a
restart of the daemon and go back into the kernel in one transaction. It also counts, per
day, what offline grants need: voucher uses and each pseudonym's time.
"""

import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

END_REASONS = ("expired", "idle", "data_cap", "logout", "admin")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, mac TEXT NOT NULL, ip TEXT NOT NULL, ipv6 TEXT NOT NULL,
    method TEXT NOT NULL, voucher_hash TEXT, pseudonym TEXT NOT NULL,
    started_at REAL NOT NULL, expires_at REAL NOT NULL, bytes_cap INTEGER,
    idle_timeout INTEGER, rate_down_kbit INTEGER, rate_up_kbit INTEGER,
    base_down INTEGER NOT NULL DEFAULT 0, base_up INTEGER NOT NULL DEFAULT 0,
    bytes_down INTEGER NOT NULL DEFAULT 0, bytes_up INTEGER NOT NULL DEFAULT 0,
    last_activity REAL NOT NULL, offline INTEGER NOT NULL DEFAULT 0,
    ended_at REAL, end_reason TEXT);
CREATE INDEX IF NOT EXISTS sessions_live ON sessions (ended_at);
CREATE INDEX IF NOT EXISTS sessions_live_ip ON sessions (ip) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_live_mac ON sessions (mac) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_pseudonym ON sessions (pseudonym, started_at);
CREATE TABLE IF NOT EXISTS voucher_uses (voucher_hash TEXT NOT NULL, mac TEXT NOT NULL,
    at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS voucher_uses_hash ON voucher_uses (voucher_hash);
"""
KEEP_ENDED = 8 * 86400  # seconds an ended session stays in the store (today's quotas need it)


@dataclass
class Session:
    """One visitor session as the gateway enforces it."""

    session_id: str
    mac: str
    ip: str
    ipv6: list[str]
    method: str
    voucher_hash: str | None
    pseudonym: str
    started_at: float
    expires_at: float
    bytes_cap: int | None
    idle_timeout: int | None
    rate_down_kbit: int | None
    rate_up_kbit: int | None
    base_down: int = 0  # bytes counted before the last restart (kernel counters restart at 0)
    base_up: int = 0
    bytes_down: int = 0
    bytes_up: int = 0
    last_activity: float = field(default_factory=time.time)
    offline: bool = False
    ended_at: float | None = None
    end_reason: str | None = None

    def seconds_left(self, now: float) -> int:
        """Whole seconds until the grant runs out (0 when it has)."""
        return max(0, int(self.expires_at - now))

    def bytes_left(self) -> int | None:
        """Bytes left under the cap, or None without a cap."""
        if self.bytes_cap is None:
            return None
        return max(0, self.bytes_cap - self.bytes_down - self.bytes_up)

    def record(self, event: str) -> dict:
        """The `session` record body of the portal contract."""
        return {
            "session_id": self.session_id,
            "event": event,
            "pseudonym": self.pseudonym,
            "method": self.method,
            "voucher_hash": self.voucher_hash,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at) if self.ended_at else None,
            "bytes_down": self.bytes_down,
            "bytes_up": self.bytes_up,
            "end_reason": self.end_reason,
            "offline": self.offline,
        }


def iso(ts: float) -> str:
    """ISO 8601 with a UTC offset."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def end_reason(s: Session, now: float, down: int, up: int) -> str | None:
    """Why a live session must end now, given its current cumulative counters, or None."""
    if now >= s.expires_at:
        return "expired"
    if s.bytes_cap is not None and down + up >= s.bytes_cap:
        return "data_cap"
    active = s.last_activity if (down, up) == (s.bytes_down, s.bytes_up) else now
    if s.idle_timeout and now - active >= s.idle_timeout:
        return "idle"
    return None


_FIELDS = list(Session.__dataclass_fields__)
_INSERT = "INSERT OR REPLACE INTO sessions ({}) VALUES ({})".format(  # noqa: S608 - fixed names
    ", ".join(_FIELDS), ", ".join(f":{f}" for f in _FIELDS)
)
_SELECT = "SELECT {} FROM sessions WHERE ".format(", ".join(_FIELDS))  # noqa: S608


def _values(s: Session) -> dict:
    values = asdict(s)
    values["ipv6"] = ",".join(s.ipv6)
    return values


class Store:
    """Sessions in SQLite; thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of the daemon; a power cut may lose the last
        # commits, and with them the kernel's table, which a power cut empties as well.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _row(self, row) -> Session:
        data = dict(zip(_FIELDS, row, strict=True))
        data["ipv6"] = [a for a in data["ipv6"].split(",") if a]
        data["offline"] = bool(data["offline"])
        return Session(**data)

    def save(self, s: Session) -> None:
        """Insert or replace one session."""
        with self._lock:
            self._db.execute(_INSERT, _values(s))

    def save_many(self, sessions: list[Session]) -> None:
        """Save several sessions in one transaction."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_INSERT, [_values(s) for s in sessions])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _select(self, where: str, args: tuple = ()) -> list[Session]:
        with self._lock:
            rows = self._db.execute(_SELECT + where, args).fetchall()
        return [self._row(r) for r in rows]

    def live(self) -> list[Session]:
        """Sessions not ended."""
        return self._select("ended_at IS NULL")

    def live_for(self, mac: str | None = None, ip: str | None = None) -> list[Session]:
        """Live sessions of a device or an address (either matching), through the indexes."""
        if mac is not None and ip is not None:
            return self._select(
                "ended_at IS NULL AND ip = ? UNION " + _SELECT + "ended_at IS NULL AND mac = ?",
                (ip, mac),
            )
        if ip is not None:
            return self._select("ended_at IS NULL AND ip = ?", (ip,))
        return self._select("ended_at IS NULL AND mac = ?", (mac,))

    def prune(self, now: float) -> int:
        """Forget sessions that ended more than KEEP_ENDED ago; returns how many.

        They were reported to the controller long before (the spool holds what was not), and
        nothing on the gateway asks for them: offline quotas read today's sessions.
        """
        with self._lock:
            return self._db.execute(
                "DELETE FROM sessions WHERE ended_at < ?", (now - KEEP_ENDED,)
            ).rowcount

    def count_live(self) -> int:
        """How many sessions are live."""
        with self._lock:
            return self._db.execute(
                "SELECT count(*) FROM sessions WHERE ended_at IS NULL"
            ).fetchone()[0]

    def get(self, session_id: str) -> Session | None:
        """One session by id."""
        found = self._select("session_id = ?", (session_id,))
        return found[0] if found else None

    def used_today(self, pseudonym: str, since: float, now: float) -> tuple[int, int]:
        """Seconds and bytes this visitor has used on this gateway since a time (offline quotas)."""
        seconds = data = 0
        for s in self._select("pseudonym = ? AND started_at >= ?", (pseudonym, since)):
            seconds += int(min(s.ended_at or now, s.expires_at, now) - s.started_at)
            data += s.bytes_down + s.bytes_up
        return seconds, data

    def voucher_used(self, voucher_hash: str, mac: str, now: float) -> None:
        """Count one use of a voucher by a device (for offline checks)."""
        with self._lock:
            self._db.execute("INSERT INTO voucher_uses VALUES (?, ?, ?)", (voucher_hash, mac, now))

    def voucher_devices(self, voucher_hash: str) -> set[str]:
        """The devices that used a voucher on this gateway."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT mac FROM voucher_uses WHERE voucher_hash = ?", (voucher_hash,)
            ).fetchall()
        return {r[0] for r in rows}
