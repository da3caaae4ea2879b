"""The local Unix-socket API the captive portal calls: authorise, deauthorise, status.

One JSON object per line each way; a thread per connection. The client is named by its IP
address only (the portal's view of the TCP peer); the gateway finds the MAC itself.
Answers: ``{"ok": true, ...}`` or ``{"ok": false, "error": {"code": "…", ...}}``.
"""

import ipaddress
import json
import logging
import os
import socket
import socketserver
from pathlib import Path

from agents.gateway.policy import Refusal

log = logging.getLogger("telecentre-gateway")
MAX_LINE = 16 * 1024
METHODS = ("voucher", "click")
LANGUAGES = ("pl", "en")


def _error(code: str, **extra) -> dict:
    return {"ok": False, "error": {"code": code, **extra}}


def handle(gateway, request: dict) -> dict:
    """Answer one request (validated here: the portal is trusted, its input is not)."""
    if not isinstance(request, dict):
        return _error("bad_request")
    op, ip = request.get("op"), request.get("ip")
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        return _error("bad_request", field="ip")
    try:
        if op == "status":
            return gateway.status(ip)
        if op == "deauthorise":
            return gateway.deauthorise(ip)
        if op == "authorise":
            method, code = request.get("method"), request.get("code")
            if method not in METHODS:
                return _error("method_not_allowed")
            if code is not None and (not isinstance(code, str) or len(code) > 64):
                return _error("voucher_unknown")
            if method == "voucher" and not (code or "").strip():
                return _error("voucher_unknown")
            language = request.get("language") if request.get("language") in LANGUAGES else "pl"
            return gateway.authorise(ip, method, code, request.get("terms") is True, language)
    except Refusal as exc:
        extra = {"retry_after": exc.retry_after} if exc.retry_after is not None else {}
        return _error(exc.code, **extra)
    except Exception:  # the portal gets an answer whatever happens; the log gets the detail
        log.exception("socket request %s failed", op)
        return _error("gateway_error")
    return _error("bad_request", field="op")


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def handle(self) -> None:
        while True:
            try:
                line = self.rfile.readline(MAX_LINE + 1)
            except (OSError, TimeoutError):
                return
            if not line:
                return
            if len(line) > MAX_LINE:
                answer = _error("too_large")
            else:
                try:
                    answer = handle(self.server.gateway, json.loads(line))
                except ValueError:
                    answer = _error("bad_request")
            try:
                self.wfile.write(json.dumps(answer).encode() + b"\n")
                self.wfile.flush()
            except OSError:
                return


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The socket server; `serve_forever()` in a thread, `shutdown()` to stop."""

    daemon_threads = True

    def __init__(self, path: Path, gateway, mode: int = 0o660, group: str | None = None) -> None:
        path = Path(path)
        path.unlink(missing_ok=True)
        self.gateway = gateway
        super().__init__(str(path), _Handler)
        os.chmod(path, mode)
        if group:
            import grp

            os.chown(path, -1, grp.getgrnam(group).gr_gid)


def call(path: str, request: dict, timeout: float = 10.0) -> dict:
    """One request to the gateway's socket (the portal's side)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)
