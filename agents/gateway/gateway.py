"""The gateway's core: grants into the kernel, counters into session ends, records to the spool.

Services used by the socket API (authorise, deauthorise, status) and by the daemon's loops
(poll counters, sync with the controller). Clocks are injectable for tests.
"""

import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from agents.common.client import Client, ControllerError, Identity, Rejected
from agents.common.contract import pseudonym, voucher_hash
from agents.common.spool import Spool
from agents.gateway import metrics, neighbours, nft
from agents.gateway.policy import Cache, Grant, Refusal, offline_grant, start_of_day
from agents.gateway.sessions import Session, Store, end_reason, iso

log = logging.getLogger("telecentre-gateway")
UPDATE_EVERY = 60.0  # seconds between `update` records of a live session


# The controller limits wrong codes per visitor for ten minutes (controller/portal/sessions.py).
CONTROLLER_BRAKE_SECONDS = 600


class Attempts:
    """Failed voucher attempts per client in a sliding window (brute-force brake)."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, who: str, now: float) -> int:
        """Seconds until this client may try again, 0 when it may now."""
        with self._lock:
            seen = self._seen.get(who)
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if not seen:
                self._seen.pop(who, None)  # forget clients with nothing left in the window
                return 0
            return int(seen[0] + self.window - now) + 1 if len(seen) >= self.limit else 0

    def failed(self, who: str, now: float) -> None:
        """Count one failed attempt."""
        with self._lock:
            self._seen[who].append(now)


class Gateway:
    """Sessions of one hotspot gateway."""

    def __init__(
        self,
        state_dir: Path,
        net: nft.Network,
        identity: Identity | None,
        kernel: nft.Nft | None = None,
        clock=time.time,
        find_mac=neighbours.mac_of,
        find_ipv6=neighbours.ipv6_by_mac,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.net = net
        self.kernel = kernel or nft.Nft()
        self.store = Store(self.state_dir / "sessions.db")
        self.cache = Cache(self.state_dir / "policy.json")
        self.spool = Spool(self.state_dir / "spool")
        self.client = Client(identity, timeout=3.0) if identity else None
        self.clock = clock
        self.find_mac, self.find_ipv6 = find_mac, find_ipv6
        self.attempts = Attempts()
        self.metrics = metrics.Counters()
        self._lock = threading.RLock()
        # Records are spooled (fsync'd) by one worker, in order, off the visitor's login path.
        self._spooler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._updated: dict[str, float] = {}

    def _report(self, body: dict) -> None:
        self._spooler.submit(self.spool.append, "session", body)

    def flush(self) -> None:
        """Wait until every record handed over so far is on disk."""
        self._spooler.submit(lambda: None).result()

    # --- kernel -------------------------------------------------------------------------
    def _client(self, s: Session, now: float) -> nft.Client:
        return nft.Client(
            s.mac, s.ip, s.ipv6, s.seconds_left(now), s.rate_down_kbit, s.rate_up_kbit
        )

    def start(self) -> int:
        """Load the table with every live session back in it, in one transaction.

        Under the lock: a reload (a new walled garden) must neither drop a client authorised
        meanwhile nor race a poll that reads the counters it resets.
        """
        with self._lock:
            now = self.clock()
            live, gone = [], []
            for s in self.store.live():
                (live if s.seconds_left(now) > 0 else gone).append(s)
            for s in live:  # kernel counters restart at zero; keep what was counted before
                s.base_down, s.base_up = s.bytes_down, s.bytes_up
            self.store.save_many(live)
            self.kernel.load(self.net, [self._client(s, now) for s in live])
            for s in gone:
                self._finish(s, "expired", now, in_kernel=False)
        log.info("table loaded, %d live sessions restored", len(live))
        return len(live)

    # --- the portal's verbs -------------------------------------------------------------
    def _identify(self, ip: str) -> str:
        mac = self.find_mac(self.net.lan_if, ip)
        if not mac:
            raise Refusal("client_unknown")
        return mac

    def _live_for(self, mac: str | None = None, ip: str | None = None) -> Session | None:
        """The live session of exactly this device and/or address (an indexed lookup)."""
        for s in self.store.live_for(mac=mac if ip is None else None, ip=ip):
            if mac is None or s.mac == mac:
                return s
        return None

    def authorise(
        self, ip: str, method: str, code: str | None, terms: bool, language: str = "pl"
    ) -> dict:
        """Start a session for the client at ip (or return its live one)."""
        try:
            return self._authorise(ip, method, code, terms, language)
        except Refusal:
            self.metrics.authorised("refused")
            raise

    def _authorise(self, ip, method, code, terms, language) -> dict:
        now = self.clock()
        mac = self._identify(ip)
        with self._lock:
            live = self._live_for(mac=mac, ip=ip)
            if live is not None:
                return {"ok": True, "session": self._view(live, now)}
            wait = self.attempts.retry_after(mac, now)
            if wait:
                raise Refusal("too_many_attempts", retry_after=wait)
            session_id = str(uuid.uuid4())
            salt = self.cache.salt()
            alias = pseudonym(salt, mac)
            try:
                grant, digest, offline = self._grant(
                    session_id, method, code, terms, language, alias, mac, now
                )
            except Refusal as exc:
                if method == "voucher" and exc.code.startswith("voucher_"):
                    self.attempts.failed(mac, now)
                raise
            for other in self.store.live_for(mac=mac, ip=ip):
                self._finish(other, "logout", now)  # a new address or a reused one
            s = Session(
                session_id,
                mac,
                ip,
                [],  # IPv6 addresses join with the next poll (they appear later anyway)
                method,
                digest,
                alias,
                now,
                now + grant.seconds,
                grant.bytes,
                grant.idle_timeout_seconds,
                grant.rate_down_kbit,
                grant.rate_up_kbit,
                last_activity=now,
                offline=offline,
            )
            self.kernel.authorise(self._client(s, now))
            self.store.save(s)
            if digest:
                self.store.voucher_used(digest, mac, now)
            if offline:
                self._report(s.record("start"))
            self.metrics.authorised("granted_offline" if offline else "granted")
            log.info(
                "session %s started (%s%s)", session_id, method, ", offline" if offline else ""
            )
            return {"ok": True, "session": self._view(s, now)}

    def _grant(self, session_id, method, code, terms, language, alias, mac, now):
        """A grant from the controller, or from the cache when it cannot be reached."""
        if method not in ("voucher", "click"):
            raise Refusal("method_not_allowed")
        if self.client is not None:
            body = {
                "session_id": session_id,
                "method": method,
                "code": code if method == "voucher" else None,
                "terms_accepted": bool(terms),
                "pseudonym": alias,
                "language": language,
            }
            try:
                answer = self.client.post("/api/portal/v1/sessions", body)
                grant = Grant(
                    int(answer["seconds"]),
                    answer.get("bytes"),
                    answer.get("rate_down_kbit"),
                    answer.get("rate_up_kbit"),
                    answer.get("idle_timeout_seconds"),
                )
                digest = None
                if method == "voucher" and self.cache.data.get("voucher_key"):
                    digest = self._hash(code)
                return grant, digest, False
            except Rejected as exc:  # the controller answered, and said no: never the cache then
                log.info("controller refused the session: %s", exc)
                wait = CONTROLLER_BRAKE_SECONDS if exc.status == 429 else None
                raise Refusal(exc.code or "refused", exc.message, wait) from None
            except (ControllerError, KeyError, TypeError, ValueError) as exc:
                log.warning("controller unreachable, granting from the cache: %s", exc)
        when = datetime.fromtimestamp(now, UTC)
        since = start_of_day(self.cache.policy, when).timestamp()
        used, used_bytes = self.store.used_today(alias, since, now)
        digest = self._hash(code) if method == "voucher" and self.cache.policy else None
        devices = self.store.voucher_devices(digest) if digest else set()
        grant, digest = offline_grant(
            self.cache, method, code, terms, used, devices, mac, when, used_bytes
        )
        return grant, digest, True

    def _hash(self, code):
        return voucher_hash(self.cache.data.get("voucher_key", ""), code or "")

    def deauthorise(self, ip: str) -> dict:
        """End the session of the client at ip (logout)."""
        with self._lock:
            s = self._live_for(ip=ip)
            if s is None:
                return {"ok": True, "ended": False}
            try:  # only the device that owns the session may end it
                if self.find_mac(self.net.lan_if, ip) != s.mac:
                    raise Refusal("client_unknown")
            except OSError:
                raise Refusal("client_unknown") from None
            self._finish(s, "logout", self.clock())
            return {"ok": True, "ended": True}

    def status(self, ip: str) -> dict:
        """The live session of the client at ip, if this very device owns it."""
        now = self.clock()
        s = self._live_for(ip=ip)
        if s is None or s.seconds_left(now) == 0:
            return {"ok": True, "session": None, "portal": self.cache.public()}
        if self.find_mac(self.net.lan_if, ip, arp=False) not in (None, s.mac):
            return {"ok": True, "session": None, "portal": self.cache.public()}
        return {"ok": True, "session": self._view(s, now), "portal": self.cache.public()}

    def _view(self, s: Session, now: float) -> dict:
        return {
            "session_id": s.session_id,
            "method": s.method,
            "started_at": iso(s.started_at),
            "expires_at": iso(s.expires_at),
            "seconds_remaining": s.seconds_left(now),
            "bytes_remaining": s.bytes_left(),
            "offline": s.offline,
        }

    # --- the loops ----------------------------------------------------------------------
    def poll(self) -> list[tuple[str, str]]:
        """Read the counters and end what must end; returns (session_id, reason) pairs.

        Only sessions whose counters moved are written back, in one transaction: a poll of
        thousands of quiet sessions writes nothing.
        """
        counters = self.kernel.counters()
        now = self.clock()
        ended, changed = [], []
        with self._lock:
            live = self.store.live()
            if live:
                self._learn_ipv6(live, now)
            for s in live:
                up = counters.get(("clients", f"{s.mac} . {s.ip}"), 0)
                up += sum(counters.get(("clients6", f"{s.mac} . {a}"), 0) for a in s.ipv6)
                down = counters.get(("down4", s.ip), 0)
                down += sum(counters.get(("down6", a), 0) for a in s.ipv6)
                down, up = s.base_down + down, s.base_up + up
                down, up = max(down, s.bytes_down), max(up, s.bytes_up)
                reason = end_reason(s, now, down, up)
                if (down, up) != (s.bytes_down, s.bytes_up):
                    self.metrics.forwarded_bytes(down - s.bytes_down, up - s.bytes_up)
                    s.last_activity = now
                    s.bytes_down, s.bytes_up = down, up
                    changed.append(s)
                if reason:
                    self._finish(s, reason, now)
                    ended.append((s.session_id, reason))
                    continue
                if now - self._updated.setdefault(s.session_id, now) >= UPDATE_EVERY:
                    self._updated[s.session_id] = now
                    self._report(s.record("update"))
            self.store.save_many([s for s in changed if s.ended_at is None])
        return ended

    def _learn_ipv6(self, live: list[Session], now: float) -> None:
        """Authorise IPv6 addresses the neighbour table shows for a live session's MAC."""
        by_mac = self.find_ipv6(self.net.lan_if)
        for s in live:
            new = [a for a in by_mac.get(s.mac, []) if a not in s.ipv6]
            if new:
                s.ipv6 = sorted(s.ipv6 + new)
                self.kernel.authorise(self._client(s, now))
                self.store.save(s)

    def _finish(self, s: Session, reason: str, now: float, in_kernel: bool = True) -> None:
        if in_kernel:
            self.kernel.deauthorise(self._client(s, now))
        s.ended_at, s.end_reason = min(now, s.expires_at), reason
        self.store.save(s)
        self._updated.pop(s.session_id, None)
        self._report(s.record("end"))
        log.info("session %s ended: %s", s.session_id, reason)

    def end_session(self, session_id: str, reason: str = "admin") -> bool:
        """End a session by id (the controller's `end_session` command)."""
        with self._lock:
            s = self.store.get(session_id)
            if s is None or s.ended_at is not None:
                return False
            self._finish(s, reason, self.clock())
            return True
