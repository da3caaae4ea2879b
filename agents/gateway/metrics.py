"""The gateway's Prometheus endpoint: `GET /metrics` in the text exposition format.

Served by the daemon on `metrics_address` (default port 9469, every address; the gateway's
nftables table keeps the visitors' LAN away from it). Names start with
``telecentre_gateway_``; no label ever names a visitor (no MAC, address or session).
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PORT = 9469
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RESULTS = ("granted", "granted_offline", "refused")


class Counters:
    """What the gateway counts for Prometheus since the daemon started (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.authorisations = dict.fromkeys(RESULTS, 0)
        self.forwarded = {"down": 0, "up": 0}
        self.controller_reachable: bool | None = None  # None: not asked yet / not enrolled

    def authorised(self, result: str) -> None:
        """Count one authorisation by its result (one of RESULTS)."""
        with self._lock:
            self.authorisations[result] += 1

    def forwarded_bytes(self, down: int, up: int) -> None:
        """Add bytes the kernel counted for visitors since the last poll."""
        with self._lock:
            self.forwarded["down"] += max(0, down)
            self.forwarded["up"] += max(0, up)

    def snapshot(self) -> tuple[dict, dict]:
        """Copies of the authorisation and byte counters."""
        with self._lock:
            return dict(self.authorisations), dict(self.forwarded)


def _family(lines: list[str], name: str, kind: str, text: str, samples: list) -> None:
    lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        pairs = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.append(f"{name}{{{pairs}}} {value}" if pairs else f"{name} {value}")


def exposition(gateway, version: str) -> str:
    """The metrics of a gateway as Prometheus text."""
    counts, forwarded = gateway.metrics.snapshot()
    reachable = gateway.metrics.controller_reachable
    p = "telecentre_gateway_"
    lines: list[str] = []
    _family(lines, p + "info", "gauge", "The gateway daemon's version.",
            [({"version": version}, 1)])  # fmt: skip
    _family(lines, p + "clients", "gauge", "Visitor sessions live on this gateway.",
            [({}, gateway.store.count_live())])  # fmt: skip
    _family(lines, p + "authorisations_total", "counter",
            "Login attempts by result (granted by the controller, from the cache, refused).",
            [({"result": r}, counts[r]) for r in RESULTS])  # fmt: skip
    _family(lines, p + "forwarded_bytes_total", "counter",
            "Bytes forwarded for visitors, as counted by the kernel per session.",
            [({"direction": d}, forwarded[d]) for d in ("down", "up")])  # fmt: skip
    _family(lines, p + "spool_records", "gauge",
            "Records waiting for the controller's acknowledgement.",
            [({}, len(gateway.spool))])  # fmt: skip
    _family(lines, p + "controller_reachable", "gauge",
            "1 when the last sync or heartbeat with the controller succeeded, else 0.",
            [({}, int(bool(reachable)))])  # fmt: skip
    return "\n".join(lines) + "\n"


def parse_address(text: str) -> tuple[str, int]:
    """`host:port`, `:port`, `[v6]:port` or a bare port → (host, port); ValueError if bad."""
    text = text.strip()
    host, _sep, port = text.rpartition(":") if ":" in text else ("", "", text)
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - the nft table guards the LAN side
    number = int(port)
    if not 0 <= number < 65536:  # 0: any free port (tests)
        raise ValueError(f"bad port in metrics address {text!r}")
    return host, number


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway, version: str) -> None:
        import socket

        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.gateway, self.version = gateway, version
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # an idle connection must not hold a thread for ever (no auth on this port)

    def log_message(self, *args) -> None:  # scrapes every 15 s need no log lines
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        body = exposition(self.server.gateway, self.server.version).encode()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(address: str, gateway, version: str) -> ThreadingHTTPServer:
    """Start serving /metrics in a daemon thread; returns the server (shutdown() stops it)."""
    server = _Server(parse_address(address), gateway, version)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
