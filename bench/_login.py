"""Login POST to first forwarded packet: the real gateway daemon and portal in a namespace.

The gateway runs unenrolled with a cached policy that allows click-through, so the figure is
the gateway's own path (portal → socket → nftables), not the controller's answer time.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from bench._figures import BenchError
from tests.gateway.netlab import in_ns  # one way into a namespace, for tests and bench

PORTAL = "http://10.77.0.1:8080"
POLICY = {"methods": ["click"], "session_seconds": 3600, "daily_seconds": None,
          "idle_timeout_seconds": None, "session_bytes": None, "rate_down_kbit": None,
          "rate_up_kbit": None, "opening_hours": None, "timezone": "Europe/Warsaw"}  # fmt: skip


def _spawn(ns: str, argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, *argv],
        stdout=subprocess.PIPE,
        stderr=out,
        env={**os.environ, **env},
    )
    out.close()
    if "ready" not in proc.stdout.readline().decode():
        proc.kill()
        raise BenchError(f"{argv[1]} did not start: {log.read_text()[-500:]}")
    return proc


def _first_packet(server: tuple[str, int], deadline: float) -> float:
    """Connect until the SYN gets through; the moment it did."""
    while time.perf_counter() < deadline:
        with socket.socket() as s:
            s.settimeout(0.05)
            try:
                s.connect(server)
                return time.perf_counter()
            except OSError:
                continue
    raise BenchError("no packet was forwarded after the login")


def measure(ns: dict, tmp: Path, server: tuple[str, int], rounds: int = 50) -> list[float]:
    """Seconds from the login POST to the first forwarded packet, per round."""
    state = tmp / "state"
    state.mkdir()
    (state / "policy.json").write_text(json.dumps({"policy": POLICY, "pseudonym_salt": "00" * 16}))
    sock = str(tmp / "gw.sock")
    env = {"TELECENTRE_GATEWAY_CONFIG": "/nonexistent", "TELECENTRE_GATEWAY_SOCKET": sock}
    procs = [_spawn(ns["gw"], ["-m", "agents.gateway.main", "run", "--state-dir", str(state),
                               "--lan-if", "lan0", "--wan-if", "wan0", "--portal-port", "8080"],
                    env, tmp / "gateway.log")]  # fmt: skip
    try:
        procs.append(_spawn(ns["gw"], ["-m", "captive_portal.main", "--gateway-socket", sock,
                                       "--port", "8080", "--url", PORTAL], {},
                            tmp / "portal.log"))  # fmt: skip
        return in_ns(ns["cl"], lambda: _rounds(server, rounds))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            proc.stdout.close()


def _rounds(server: tuple[str, int], rounds: int) -> list[float]:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    took = []
    for _ in range(rounds):
        page = opener.open(PORTAL + "/", timeout=5).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "method": "click", "terms": "yes"})
        started = time.perf_counter()
        opener.open(urllib.request.Request(PORTAL + "/login", data=form.encode()), timeout=5)

        took.append(_first_packet(server, started + 2) - started)
        logout = urllib.parse.urlencode({"csrf_token": token}).encode()
        opener.open(urllib.request.Request(PORTAL + "/logout", data=logout), timeout=5).read()
    return took
